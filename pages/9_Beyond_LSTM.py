"""Beyond LSTM: the recurrences designed around the gradient (LRU, minGRU, minLSTM, a selective SSM),
their eigenvalues on the unit circle, and why parity needs negative ones."""
import numpy as np
import streamlit as st

from rnnviz import beyond, cells, plots, ui
from rnnviz.i18n import _
from rnnviz.spec import Scenario

ctx = ui.page_setup("Beyond LSTM")


@st.cache_resource(max_entries=64, show_spinner=False)
def shared(name: str, *args):
    """beyond.<name>(*args), computed once per process: the same for every visitor, shared read-only
    (the radius sweep, the state sizes, the parity counter's run for a seed)."""
    return getattr(beyond, name)(*args)


st.title(_("Beyond LSTM: recurrences designed around the gradient"))
# On a projector the first two charts come right under the title; the section's heading and the text follow them.
figure = ctx.figure_slot()
heading = st.container() if ctx.present else st
st.markdown(_(
    r"The cells after the LSTM are **diagonal and linear** in their state: "
    r"$s_t = a_t \odot s_{t-1} + b_t$, with $a_t$ and $b_t$ computed from the input $x_t$ alone. "
    r"The step Jacobian $\partial s_t / \partial s_{t-1} = \mathrm{diag}(a_t)$, so its eigenvalues *are* the "
    r"transitions $a_t$, and the gradient $k$ steps back is a product of $k$ of them. The **LRU** fixes them "
    r"inside the unit circle ($\lambda = e^{-e^{\nu} + i\theta}$); **minGRU**, **minLSTM** and the selective "
    r"SSM (**S6**, Mamba's layer) let the input choose them at every step. No nonlinearity in the recurrence "
    r"means they train with a parallel scan over time."
))

NAMES = ["r_min", "r_max", "max_phase", "normalize", "negative", "d_state", "hidden_size", "seq_len", "input_kind",
         "seed", "loss"]
ui.show_notes(ui.check_url(NAMES, {"seq_len": (2, 2000), "hidden_size": (1, 128)}))
with ui.controls():
    st.subheader(_("LRU: the ring of eigenvalues"))
    for name in ("r_min", "r_max", "max_phase", "normalize"):
        ui.knob(name)
    st.subheader(_("minGRU, minLSTM, S6"))
    ui.knob("negative")
    ui.knob("d_state")
    st.subheader(_("Sequence and size"))
    ui.knob("seq_len", limits=(2, 2000))
    ui.knob("input_kind")
    ui.knob("loss")
    ui.knob("hidden_size", limits=(1, 128))
    ui.knob("seed", number=True)

scenario = Scenario.from_values(ui.shown())
shown = ("rnn", "lstm", "lru", "mingru", "minlstm", "s6")
traces = {cells.LABELS[c]: tr for c, tr in ui.cached_traces(scenario, shown).items()}

# ---- 1. the eigenvalues and the gradient, side by side with the classic cells
heading.header(_("1 · Eigenvalues on the unit circle, and what they do to the gradient"))
left, right = (figure or st).columns([2, 3])
height = 420 if ctx.present else 520
with left:
    eigen = {label: (tr.cell_type, tr.eigenvalues if tr.cell_type in ("rnn", "lru") else tr.eigenvalue_trajectory)
             for label, tr in traces.items() if tr.cell_type != "lstm"}
    circle = plots.unit_circle(eigen, scale=ctx.scale, height=height, title=_("Eigenvalues λ"))
    if ctx.present:  # a narrow column on a projector: the circle gets its whole width; the colours are those of
        circle.update_layout(showlegend=False)  # the legend beside it, the caption says what faint dots are
    ui.chart(circle, key="circle")
with right:
    ui.chart(plots.gradient_vs_lag(traces, scale=ctx.scale, height=height, horizon_fraction=1e-3,
                                   title=_("‖∂L/∂s_k‖ against steps back · ◆ horizon")), key="grad")
lru = traces["LRU"]
radii = np.abs(lru.eigenvalues)
(figure or st).caption(_(
    "The LRU's {n} eigenvalues have |λ| from {lo:.4f} to {hi:.4f}: its gradient k steps back is exactly "
    "|λ|^k per unit (no saturation, no matrix product), so its memory horizon is set by the ring you choose. "
    "The RNN's W_hh eigenvalues fall where its initialisation puts them; the input-dependent cells move "
    "theirs at every step (faint dots).").format(n=radii.size, lo=radii.min(), hi=radii.max()))
ui.overflow_alerts(traces, st.container())

# ---- 2. radius against horizon
st.header(_("2 · The radius sets the memory horizon"))
sweep_radii = np.array([0.5, 0.7, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999])
sweep = shared("radius_sweep", sweep_radii, 3000)
c1, c2 = st.columns([3, 2])
ui.chart(plots.radius_horizon(sweep.radii, sweep.measured, sweep.closed_form, T=sweep.T, fraction=sweep.fraction,
                              scale=ctx.scale, height=440, title=_("Memory horizon against |λ|")),
         key="horizon", container=c1)
c2.markdown(_(
    "Each dot is an LRU whose eigenvalues all have the radius on the axis, traced over {T} steps; its "
    "memory horizon is where the gradient falls below 1/1000 of its value at the end. The dashed line is the "
    r"closed form $\ln(10^{{-3}}) / \ln|\lambda| \approx 6.9 / (1 - |\lambda|)$: every extra 9 after the "
    "decimal point buys ten times the memory. Beyond the traced length the dot is missing: the horizon lies "
    "further back than the sequence. This is why the LRU paper initialises |λ| between 0.9 and 0.999, and "
    "closer to 1 for long-range tasks."
).format(T=sweep.T))

# ---- 3. the normalisation
st.header(_("3 · What the γ normalisation does"))
size_radii = np.array([0.5, 0.9, 0.99, 0.995, 0.999])
size = shared("state_size", size_radii)
c1, c2 = st.columns([3, 2])
ui.chart(plots.state_size(size.radii, size.measured, size.closed_form, scale=ctx.scale, height=440,
                          title=_("Size of the LRU's state on white noise")), key="gamma", container=c1)
c2.markdown(_(
    r"With $|\lambda|$ close to 1 the state sums many past inputs: on white noise its size grows like "
    r"$1/\sqrt{1 - |\lambda|^2}$ (red), ten times larger at 0.995 than at 0.5, so the next layer sees "
    r"inputs of very different sizes and training is unstable. The LRU multiplies its input by "
    r"$\gamma = \sqrt{1 - |\lambda|^2}$ (purple): the state keeps the same size at every radius, "
    "and long memory costs nothing in scale. Dots: measured on the traces; dashed: the closed form."
))

# ---- 4. parity and negative eigenvalues
st.header(_("4 · Parity needs negative eigenvalues"))
switch, pick = st.columns([3, 1], vertical_alignment="bottom")
negative = switch.toggle(_("Allow negative eigenvalues: transitions in [−1, 1]"), key="parity_negative",
                         help=_("The same weights; the transition sigmoid(−k) in [0, 1] becomes −tanh(k/2) in "
                                "[−1, 1] (Grazzi et al. 2024)."))
bits_seed = pick.number_input(_("Random bits (seed)"), min_value=0, max_value=10**6, value=0, step=1, key="parity_seed")
run = shared("parity_counter", shared("parity_bits", 40, int(bits_seed)), bool(negative))
a = run.trace.eigenvalue_trajectory[:, 0].real
c1, c2 = st.columns([2, 1])
ui.chart(plots.parity_counter(run.bits, run.parity, run.trace.hidden[:, 0], a, run.read, cell="mingru",
                              scale=ctx.scale, title=_("A one-unit minGRU counting 1-bits")), key="parity",
         container=c1)
c2.metric(_("Parity right"), f"{100 * run.accuracy:.0f}%", help=_("Steps where h_t > 1 equals the parity so far."))
c2.metric("‖∂L/∂h_0‖", plots.sci(run.trace.log10_grad_norm[0]),
          help=_("How much the first step still matters at the end."))
c2.markdown(_(
    "On a 1-bit the write gate opens (logit +12). **In [−1, 1]** the transition is −1: the state flips, "
    "h = 2 − h, and h counts 1-bits modulo 2, while |a| = 1 keeps the gradient alive. **In [0, 1]** the same "
    "gate gives a = 0: the state is overwritten and only says whether a 1 has been seen. No choice of weights "
    "helps: a product of numbers in [0, 1] cannot flip sign."
))
st.page_link("pages/4_Training_Lab.py", label=_("Train minGRU with and without negative eigenvalues on parity"),
             icon=":material/model_training:",
             query_params={"task": "parity", "cells": "minGRU,minGRU_neg", **ui.language_params()})

with st.expander(_("What am I looking at?")):
    st.markdown(_(
        """
- **LRU** (Orvieto et al. 2023): x_t = λ ⊙ x_(t−1) + γ ⊙ (B u_t), y_t = Re(C x_t) + D u_t, with complex λ on a
  ring r_min ≤ |λ| ≤ r_max and phases in [0, phase range].
- **minGRU / minLSTM** (Feng et al. 2024): the GRU and LSTM with their gates computed from the input only,
  h_t = (1 − z_t) h_(t−1) + z_t h̃_t: the transition 1 − z_t is the eigenvalue.
- **S6** (Gu and Dao 2023): Δ_t, B_t, C_t computed from the input; Ā = exp(Δ_t A) with A < 0 diagonal.
- **Exact numbers.** The gradient norms are exact far beyond float64 (10^−5000 is shown as such): the
  transitions are kept as logarithms.
"""
    ))

ui.finish("pages/9_Beyond_LSTM.py")
