"""The knobs of stacked and bidirectional models (rnnviz.deep), as the keyword arguments of
rnnviz.spec.Knob: rnnviz.spec puts DEEP into KNOBS (group "model"; ModelSpec carries them) and
DEPTH_LOSS into the group "view", so a link, a widget and build_model read them like every other
setting. It imports only rnnviz.i18n's marker N_ (rnnviz.spec reads this).
"""

from .i18n import N_

DEEP = (
    dict(name="num_layers", label=N_("Layers"), default=1, kind="int", min=1, max=4, step=1,
         help=N_("Recurrent layers stacked on each other: layer l reads the states of layer l − 1 at the same step.")),
    dict(name="bidirectional", label=N_("Bidirectional"), default=False, kind="bool",
         help=N_("A second copy of every layer reads the sequence backwards, from the last step to the first; "
              "each layer passes both directions' states on.")),
    dict(name="residual", label=N_("Residual connections"), default=False, kind="bool",
         help=N_("Each layer above the first adds its input to its output (a skip connection): the gradient has "
              "a path through depth that no weight and no saturated unit can shrink.")),
)

# Where the loss of the Depth and Time page sits (rnnviz.deep.STACKED_LOSSES).
DEPTH_LOSS = dict(
    name="depth_loss", label=N_("Loss on"), default="last", kind="choice", choices=("last", "all", "tag"),
    labels={"last": N_("the last step of each direction (many-to-one)"),
            "all": N_("every step, one probe (many-to-many)"),
            "tag": N_("a label at every step (tagging)")},
    help=N_("Where the probe loss sits. For a bidirectional model the last step of the backward direction is the "
         "sequence's first step (torch's h_n). Tagging gives every step its own label vector."))
