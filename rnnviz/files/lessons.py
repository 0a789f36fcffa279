"""Named starting points for a lesson: a page, its knob values, a title and an explanation.

The home page links to them, the static report (`python -m rnnviz report --preset NAME`) draws
them. Each preset sets every knob of `spec.KNOBS` (those it does not name take their default),
so its link shows the same picture whatever the visitor had set before. `compare` lists
variants of the featured cell (label, knob changes) drawn together in one figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..i18n import N_
from ..spec import KNOBS, PAGE_ONLY, Scenario

GRADIENT_PAGE = "pages/2_Gradient_Flow.py"
STEP_PAGE = "pages/1_Step_Through.py"


@dataclass(frozen=True)
class Preset:
    name: str                 # slug used on the command line and in links
    title: str                # title, explanation, look_for and compare labels: English, marked with N_
    page: str                 # the page it opens (a path under the app root)
    knobs: dict               # knob name -> value; the others keep their defaults
    explanation: str          # one paragraph: what it shows and why
    look_for: str = ""        # one sentence for the figure: what to watch
    compare: tuple = field(default=())  # ((label, {knob: value}), ...) variants of the featured cell

    def __post_init__(self):
        for name, value in self.values().items():
            if KNOBS[name].validate(value) != value:
                raise ValueError(f"preset {self.name}: {name}={value!r} is not in canonical form")
        unknown = set(self.knobs) - set(KNOBS)
        for _, changes in self.compare:
            unknown |= set(changes) - set(KNOBS)
        if unknown:
            raise ValueError(f"preset {self.name}: unknown knobs {sorted(unknown)}")

    def values(self) -> dict[str, Any]:
        """Every knob's value under this preset (defaults filled in)."""
        return {name: self.knobs.get(name, knob.default) for name, knob in KNOBS.items()}

    def scenario(self, **changes) -> Scenario:
        """What the preset shows of its featured cell (with `changes` applied, e.g. cell="lstm")."""
        return Scenario.from_values(self.values(), **changes)

    def query(self) -> dict[str, str]:
        """URL query parameters that set every knob (defaults included: a link must not inherit state),
        except the page-only ones (a cursor, a typed text) the preset leaves alone: no page carries those."""
        return {name: KNOBS[name].format(value) for name, value in self.values().items()
                if name not in PAGE_ONLY or name in self.knobs}


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset(
        "vanishing", N_("Vanishing gradients"), GRADIENT_PAGE,
        dict(cell="rnn", recurrent_gain=0.8, forget_bias=3.0, seq_len=200),
        N_("A plain RNN multiplies the gradient by its step Jacobian W_hhᵀ·diag(tanh′) once per step back in "
        "time. With recurrent gain 0.8 every factor shrinks it by at least 0.8, so after 100 steps less than "
        "10⁻⁹ of the signal is left: the network cannot learn that something 100 steps ago mattered. The LSTM's "
        "cell path (forget gate open, bias 3) passes the gradient on almost unchanged."),
        N_("Each red curve falls in a straight line on the log scale: the same factor lost at every step; "
        "the smaller the gain, the steeper the line."),
        ((N_("gain 0.5"), {"recurrent_gain": 0.5}), (N_("gain 0.8"), {"recurrent_gain": 0.8}),
         (N_("gain 0.95"), {"recurrent_gain": 0.95})),
    ),
    Preset(
        "exploding", N_("Exploding gradients"), GRADIENT_PAGE,
        dict(cell="rnn", recurrent_gain=3.0, input_kind="noise", seq_len=200),
        N_("With recurrent gain 3 the tanh RNN is chaotic: two nearby states drift apart, and the gradient, "
        "which measures exactly that sensitivity, grows exponentially with every step back. A loss at the "
        "last step then sends back updates 10²⁰ times larger for early steps than for late ones; "
        "training steps overshoot. Gradient clipping (Pascanu et al. 2013) is the usual remedy."),
        N_("The red curve rises: the further back, the larger the gradient."),
        ((N_("gain 1"), {"recurrent_gain": 1.0}), (N_("gain 2"), {"recurrent_gain": 2.0}),
         (N_("gain 3"), {"recurrent_gain": 3.0})),
    ),
    Preset(
        "edge-of-chaos", N_("The edge of chaos"), GRADIENT_PAGE,
        dict(cell="rnn", init="gaussian", hidden_size=64, recurrent_gain=1.2, input_gain=0.1,
             input_kind="noise", seq_len=500),
        N_("A random tanh RNN is orderly when its weights are small (every perturbation dies out, and so does "
        "the gradient) and chaotic when they are large (perturbations and gradients grow). Between the two, "
        "here near gain 1.2 for this weak noise input, the gradient neither vanishes nor explodes over "
        "hundreds of steps: the regime where recurrent networks remember longest."),
        N_("Gain 0.9 vanishes, 2 explodes; near 1.2 the curve stays level across all 500 steps."),
        ((N_("gain 0.9 (ordered)"), {"recurrent_gain": 0.9}), (N_("gain 1.2 (edge)"), {"recurrent_gain": 1.2}),
         (N_("gain 2 (chaotic)"), {"recurrent_gain": 2.0})),
    ),
    Preset(
        "lstm-forget-bias", N_("LSTM: the forget gate keeps the memory"), STEP_PAGE,
        dict(cell="lstm", recurrent_gain=0.9, forget_bias=3.0, seq_len=200),
        N_("The LSTM's cell state c_t = f_t·c_{t−1} + i_t·g_t is a path on which the gradient is multiplied only by "
        "the forget gate f_t. With a forget bias of 3, f ≈ σ(3) = 0.95 at the start of training, so the "
        "gradient along the cell path survives hundreds of steps; with bias 0, f ≈ 0.5 roughly halves it at every "
        "step and the LSTM forgets even faster than a plain RNN (Gers et al. 2000; Jozefowicz et al. 2015)."),
        N_("Forget bias 0 vanishes, faster than the plain RNN above; bias 3 keeps the dashed cell-path curve near 1."),
        ((N_("forget bias 0"), {"forget_bias": 0.0}), (N_("forget bias 1"), {"forget_bias": 1.0}),
         (N_("forget bias 3"), {"forget_bias": 3.0})),
    ),
    Preset(
        "gru-update-gate", N_("GRU: the update gate keeps the memory"), GRADIENT_PAGE,
        dict(cell="gru", recurrent_gain=0.9, forget_bias=3.0, seq_len=200),
        N_("A GRU mixes its old state and a candidate: h_t = (1−z_t)·n_t + z_t·h_{t−1} (PyTorch's convention). "
        "Where the update gate z is near 1 the state is copied forward, and so is the gradient (the Jacobian "
        "contains diag(z)). An update-gate bias of 3 makes z ≈ 0.95 and the GRU remembers; with bias 0, "
        "z ≈ 0.5 and the gradient fades within a few dozen steps."),
        N_("Update bias 0 vanishes; bias 3 keeps the green curve within a few orders of magnitude over 200 steps."),
        ((N_("update bias 0"), {"forget_bias": 0.0}), (N_("update bias 1"), {"forget_bias": 1.0}),
         (N_("update bias 3"), {"forget_bias": 3.0})),
    ),
    Preset(
        "relu-identity", N_("ReLU RNN with identity weights (IRNN)"), GRADIENT_PAGE,
        dict(cell="rnn", activation="relu", init="identity", recurrent_gain=1.0, seq_len=200),
        N_("Le, Jaitly & Hinton (2015): start a ReLU RNN with W_hh = I and zero biases. Each active unit then "
        "copies its value forward (ReLU′ = 1), so the step Jacobian is the identity on the active units and "
        "the gradient neither vanishes nor explodes. The balance is knife-edge: gain 0.9 shrinks it by 0.9 "
        "per step, gain 1.05 grows it by 1.05."),
        N_("Gain 1 gives a flat line; 0.9 falls and 1.05 rises, each in a straight line on the log scale."),
        ((N_("gain 0.9"), {"recurrent_gain": 0.9}), (N_("gain 1"), {"recurrent_gain": 1.0}),
         (N_("gain 1.05"), {"recurrent_gain": 1.05})),
    ),
)}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a ValueError listing the names there are."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
