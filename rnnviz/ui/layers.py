"""One layer of a stacked or bidirectional model, for the views that show one layer at a time.

    tr = ui.layer_view(tr, "user", scale=ctx.scale)   # a StackedTrace: its grid, a layer / direction
                                                        # selector, and the chosen layer's Trace
    ui.layer_grid(tr, "user", scale=ctx.scale)          # the grid alone
    layer, d = ui.picked_layer("user")                  # what that selector picked (0-based), after it
    layers, bidirectional, residual = ui.depth_knobs()  # a page's own models: its layers and directions
"""
from __future__ import annotations

import streamlit as st

from .. import plots
from ..deep import DIRECTIONS, StackedTrace
from ..i18n import _
from .knobs import knob
from .page import chart

DEPTH_KNOBS = ["num_layers", "bidirectional", "residual"]  # what depth_knobs shows (for ui.check_url)


def layer_view(tr, key: str, *, scale: float = 1.0, grid: bool = True, container=None, above: bool = False):
    """A Trace passes through unchanged. For a StackedTrace: (with `grid`) the heatmap of
    ‖∂L/∂h_t^(l)‖ over layers × steps, then a selector of layer (and direction), and the Trace of the
    layer picked: its gradient is the stacked model's total derivative at that layer. `above`: the page
    draws the views it picks for above the selector (on a projector), and the selector's words say so."""
    if not isinstance(tr, StackedTrace):
        return tr
    c = container if container is not None else st
    if grid:
        layer_grid(tr, key, scale=scale, container=c)
    layer, d = layer_selector(tr.num_layers, tr.bidirectional, key, container=c, above=above)
    if tr.projected:
        c.caption(_("This LSTM projects its output to {P} values (proj_size): h_t = W_hr m_t. Every gradient, "
                    "factor and unit shown is at m_t = o_t ⊙ tanh(c_t), the LSTM's own output of H = {H} units "
                    "before the projection.").format(P=tr.proj_size, H=tr.hidden_size))
    return tr.trace(layer, d)


def layer_grid(tr: StackedTrace, key: str, *, scale: float = 1.0, container=None):
    """The heatmap of ‖∂L/∂h_t^(l)‖ over layers × steps of a stacked model, both directions (chart key
    f"{key}_layers_grid")."""
    directions = list(range(tr.directions))
    rows = [DIRECTIONS[d] for d in directions] if tr.bidirectional else None
    name = plots.plain(_("{n} layers").format(n=tr.num_layers))
    chart(plots.depth_time_grids({name: [tr.grad_grid(d) for d in directions]},
                                 rows=rows, scale=scale, height=300 + 120 * (len(directions) - 1),
                                 title=_("‖∂L/∂m_t^(l)‖ of every layer, before the projection") if tr.projected
                                 else _("‖∂L/∂h_t^(l)‖ of every layer"),
                                 colorbar_title="‖∂L/∂m‖" if tr.projected else "‖∂L/∂h‖"),
          key=f"{key}_layers_grid", container=container)


def layer_selector(num_layers: int, bidirectional: bool, key: str, *, container=None,
                   above: bool | None = False) -> tuple[int, int]:
    """The selector of a layer (and direction) of a stacked model, with a caption saying what the views
    below (with `above`: above; with None: the page's charts, above and below it) show: (layer, direction),
    0-based (direction 1 is the backward one)."""
    c = container if container is not None else st
    ss = st.session_state
    if ss.get(f"{key}_layer") not in (None, *range(1, num_layers + 1)):  # kept from a deeper model than this one
        ss.pop(f"{key}_layer")
    left, right = c.columns(2)
    label = _("Layer shown") if above is None else _("Layer shown above") if above else _("Layer shown below")
    layer = left.segmented_control(label,
                                   list(range(1, num_layers + 1)), default=num_layers,
                                   key=f"{key}_layer") or num_layers
    d = 0
    if bidirectional:
        pick = right.segmented_control(_("Direction"), list(DIRECTIONS), default=DIRECTIONS[0], format_func=_,
                                       key=f"{key}_direction")
        d = DIRECTIONS.index(pick or DIRECTIONS[0])
    views = (_("The charts show layer {layer} ({direction}), whose gradient is the whole model's: what "
               "reaches it through time and from the layers above.") if above is None else
             _("The views above show layer {layer} ({direction}), whose gradient is the whole model's: what "
               "reaches it through time and from the layers above.") if above else
             _("The views below show layer {layer} ({direction}), whose gradient is the whole model's: what "
               "reaches it through time and from the layers above."))
    c.caption(views.format(layer=layer, direction=_(DIRECTIONS[d]))
              + (_(" The backward direction reads the sequence from its last step: its step 0 is the sequence's "
                   "last step.") if d else ""))
    ss[f"_{key}_picked"] = (layer - 1, d)
    return layer - 1, d


def picked_layer(key: str) -> tuple[int, int]:
    """(layer, direction) the selector `key` picked in this run, (0, 0) when it was not shown."""
    return st.session_state.get(f"_{key}_picked", (0, 0))


def layer_name(layer: int, direction: int, bidirectional: bool) -> str:
    """ "Layer 2 (backward)", "Layer 2": which layer of a stack a view shows (0-based arguments)."""
    if bidirectional:
        return _("Layer {layer} ({direction})").format(layer=layer + 1, direction=_(DIRECTIONS[direction]))
    return _("Layer {layer}").format(layer=layer + 1)


def one_layer(tr, layer: int, direction: int):
    """The Trace of `layer` in `direction` of a StackedTrace (a one-layer Trace passes through)."""
    return tr.trace(layer, direction) if isinstance(tr, StackedTrace) else tr


def depth_knobs(*, disabled: bool = False) -> tuple[int, bool, bool]:
    """The sidebar's knobs of a page's own stacked models (in the model's section, in the URL like every
    knob): layers, bidirectional and residual connections (which need a second layer)."""
    st.subheader(_("Layers and directions"))
    layers = knob("num_layers", disabled=disabled)
    bidirectional = knob("bidirectional", disabled=disabled)
    residual = knob("residual", disabled=disabled or layers == 1)
    return layers, bidirectional, residual


def stack_words(tr: StackedTrace) -> str:
    """What a stacked model is, in one sentence: "It has 3 layers, each in both directions, with residual
    connections between them." """
    if tr.num_layers == 1:
        return _("It reads the sequence in both directions.")
    if tr.residual:
        text = (_("It has {n} layers, each in both directions, with residual connections between them.")
                if tr.bidirectional else _("It has {n} layers, with residual connections between them."))
    else:
        text = _("It has {n} layers, each in both directions.") if tr.bidirectional else _("It has {n} layers.")
    return text.format(n=tr.num_layers)


def layer_input_words(layer: int, direction: int, bidirectional: bool) -> str:
    """What x_t is for the layer picked: the sequence or the states of the layer below, read backwards by the
    backward direction."""
    words = []
    if layer:
        words.append((_("Layer {layer} reads the states of layer {below} (both directions side by side) as its x_t.")
                      if bidirectional else _("Layer {layer} reads the states of layer {below} as its x_t.")).format(
            layer=layer + 1, below=layer))
    if direction:
        words.append(_("The backward direction's step t reads the sequence's step T − 1 − t."))
    return " ".join(words)
