"""Lesson presets: a page and the knob values that make one phenomenon visible.

Each preset is a link (page + query parameters) and carries the sentence a teacher would say.
The values are validated against `rnnviz.spec.KNOBS` on import, and tests check that each
preset really shows what it promises.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .spec import KNOBS

GRADIENT_FLOW = "pages/2_Gradient_Flow.py"
STEP_THROUGH = "pages/1_Step_Through.py"
ONE_NEURON = "pages/3_One_Neuron.py"


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    page: str
    values: dict = field(default_factory=dict)
    explanation: str = ""
    look_for: str = ""

    def __post_init__(self):
        for name, value in self.values.items():
            KNOBS[name].validate(value)


PRESETS: dict[str, Preset] = {p.key: p for p in [
    Preset("vanishing", "Vanishing", GRADIENT_FLOW,
           {"recurrent_gain": 0.7, "seq_len": 200},
           "Every recurrent weight block is 0.7 × an orthogonal matrix, so each step back multiplies the RNN's "
           "gradient by at most 0.7: after 100 steps that is 0.7^100 ≈ 10⁻¹⁵.",
           "The red RNN line falls as a straight line on the log scale; its memory horizon is a few dozen steps."),
    Preset("exploding", "Exploding", GRADIENT_FLOW,
           {"recurrent_gain": 2.0, "seq_len": 200},
           "Gain 2: each step back can double the RNN's gradient. With a single input kick the state stays "
           "small, tanh stays in its linear range, and the gradient grows exponentially.",
           "The red line climbs by orders of magnitude; the Pascanu bound (γ·σ_max)^(T−1−k) = 2^(T−1−k) sits above."),
    Preset("edge-of-chaos", "Edge of chaos", GRADIENT_FLOW,
           {"recurrent_gain": 1.0, "seq_len": 500},
           "Gain exactly 1 with an orthogonal W_hh: the linearised dynamics neither shrink nor stretch, and the "
           "gradient survives hundreds of steps. Nudge the gain by 0.05 either way and it tips over.",
           "The red line stays within a decade or two of 1 across 500 steps."),
    Preset("lstm-forget-bias", "LSTM forget bias rescues memory", GRADIENT_FLOW,
           {"recurrent_gain": 0.7, "forget_bias": 3.0, "seq_len": 300},
           "The RNN forgets (gain 0.7), but the LSTM's forget gate starts open: σ(3) = 0.95 of the cell state "
           "passes on at every step, and so does the gradient along the cell path.",
           "The dashed blue cell path stays near 1 while the red RNN line dives. Drag the forget bias to 0: "
           "f = 0.5 halves the cell state at every step and the LSTM forgets as fast as the RNN."),
    Preset("gru-update-gate", "GRU update gate highway", STEP_THROUGH,
           {"cell": "gru", "forget_bias": 4.0, "input_kind": "sine", "seq_len": 120, "t": 60},
           "A GRU's new state is (1 − z)·n + z·h_(t−1). With update bias 4 the update gate z ≈ 0.98: each unit "
           "mostly copies its previous value, a highway for the state and for the gradient.",
           "The update-gate heatmap is bright yellow (z ≈ 1) and the hidden state changes slowly; in the "
           "equations h_t ≈ h_(t−1)."),
    Preset("relu-identity", "ReLU RNN with identity init", GRADIENT_FLOW,
           {"activation": "relu", "init": "identity", "recurrent_gain": 1.0, "input_kind": "sine",
            "seq_len": 300},
           "Le, Jaitly & Hinton's IRNN: ReLU units with W_hh = I. While a unit is active its Jacobian is the "
           "identity, so the gradient neither shrinks nor grows along it.",
           "The red line stays close to 1; compare init 'orthogonal' or gain 0.9, where it falls away."),
]}
