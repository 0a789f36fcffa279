"""The knobs of the cells after the LSTM (rnnviz.modern), as the keyword arguments of rnnviz.spec.Knob:
rnnviz.spec puts them into KNOBS (group "modern"), and ModelSpec carries them, so a link, a widget and
build_model read them like every other setting. The classic cells ignore them.

Also here: Gradient Flow's choice of cells to compare (group "view"). It imports only rnnviz.i18n's
marker N_ (rnnviz.spec reads this).
"""
import math

from .i18n import N_

# Radii a slider offers: every extra 9 after the decimal point is ten times the memory.
RADII = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999)

MODERN = (
    dict(name="r_min", label=N_("Smallest |λ| (LRU ring)"), default=0.9, kind="float", min=0.0, max=0.9999,
         values=RADII,
         help=N_("The LRU's eigenvalues start with |λ|² uniform in [r_min², r_max²] (Orvieto et al. 2023).")),
    dict(name="r_max", label=N_("Largest |λ| (LRU ring)"), default=0.999, kind="float", min=0.0, max=0.9999,
         values=RADII,
         help=N_("The outer radius of the LRU's ring of eigenvalues; r_min above r_max is read as r_max.")),
    dict(name="max_phase", label=N_("Phase range (LRU)"), default=2 * math.pi, kind="float", min=0.0, max=2 * math.pi,
         step=0.01, help=N_("The LRU's eigenvalue phases start uniform in [0, max_phase] (radians).")),
    dict(name="normalize", label=N_("γ normalisation (LRU)"), default="on", kind="choice", choices=("on", "off"),
         help=N_("γ = √(1 − |λ|²) scales the LRU's input, so the state's size does not grow as |λ| nears 1.")),
    dict(name="negative", label=N_("Eigenvalues (minGRU, minLSTM, S6)"), default="positive", kind="choice",
         choices=("positive", "negative"), labels={"positive": N_("in [0, 1]"), "negative": N_("in [−1, 1]")},
         help=N_("Input-dependent transitions in [0, 1], or in [−1, 1] as Grazzi et al. (2024) propose.")),
    dict(name="d_state", label=N_("States per channel N (S6)"), default=4, kind="int", min=1, max=64, step=1,
         help=N_("The selective SSM has H channels of N states each.")),
    dict(name="discretization", label=N_("Discretisation (S6)"), default="zoh", kind="choice", choices=("zoh", "euler"),
         labels={"zoh": N_("zero-order hold"), "euler": N_("Euler (B̄ = ΔB)")},
         help=N_("How the selective SSM turns its continuous-time A, B into one step's Ā, B̄.")),
)
