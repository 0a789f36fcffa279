"""Step Through: move a time cursor through the sequence and watch states and gates."""
import numpy as np
import streamlit as st

from rnnviz import cells, plots, ui
from rnnviz.deep import StackedTrace
from rnnviz.i18n import _
from rnnviz.spec import Scenario

ctx = ui.page_setup("Step Through")
st.title(_("Step through a recurrent network"))

NAMES = ["cell", "activation", "init", "recurrent_gain", "input_gain", "forget_bias", "seq_len", "hidden_size",
         "seed", "input_kind", "text", *ui.DEPTH_KNOBS]
notes = ui.check_url(NAMES)
with ui.controls():
    trained = ui.model_source()  # a model from the Training Lab, if any was trained in this session
    fixed = trained is not None  # its cell, weights and input come with it
    st.subheader(_("Cell"))
    cell = ui.knob("cell", disabled=fixed, options=cells.CELLS)
    activation = ui.knob("activation", disabled=fixed or cell != "rnn")
    layers, bidirectional, _residual = ui.depth_knobs(disabled=fixed)
    st.subheader(_("Weights"))
    gain = ui.knob("recurrent_gain", disabled=fixed)
    input_gain = ui.knob("input_gain", disabled=fixed)
    forget_bias = ui.knob("forget_bias", disabled=fixed or cell == "rnn")
    init = ui.knob("init", disabled=fixed)
    st.subheader(_("Sequence"))
    input_kind = ui.knob("input_kind", disabled=fixed)
    if input_kind == "text" and not fixed:
        ui.knob("text")
    T = ui.knob("seq_len", disabled=fixed)
    st.subheader(_("Size and seed"))
    H = ui.knob("hidden_size", disabled=fixed)
    seed = ui.knob("seed", number=True, help=_("Random seed of weights and inputs; for a trained model, which "
                                               "sample of its task it reads."))

if trained is None:
    scenario = Scenario.from_values(ui.shown(), loss="last")
    full = ui.cached_trace(scenario)  # every layer and direction of a stacked model (what the exports hold)
else:
    full = ui.trace_trained(trained, seed=seed)
    cell, activation = trained.model.cell, trained.model.activation
H, T = full.hidden_size, full.T
stacked = isinstance(full, StackedTrace)
notes += ui.check_url(["t", "unit"], {"t": (0, T - 1), "unit": (0, H - 1)})
ui.show_notes(notes)
alerts = dict(shown=_("grey in the heatmaps, shaded in the line charts"), gradient=False)
if not stacked:
    tr = full
    ui.overflow_alerts({cells.LABELS[cell]: tr}, **alerts)
what = (_("{a_cell} with {H} hidden units reads **{T} steps** of *{kind}* input.").format(
            a_cell=cells.article(cell, capital=True), H=H, T=T, kind=_(input_kind))
        + (" " + ui.stack_words(full) if stacked else "")
        if trained is None else
        _("**{title}**, with {H} hidden units, reads {what}.").format(
            title=ui.plain(trained.title[0].upper() + trained.title[1:]), H=H, what=trained.reads(seed, T)))
st.markdown(_(
    "{what} Move the cursor (or press ▶) "
    "and every panel shows the same step: the states and gates of all units over time, and the equations of one "
    "unit with the numbers of that step."
).format(what=what))
# On a projector the time controls and the main heatmaps come right under the text, whole on a 1024 × 768
# screen; a stacked model's layer selector follows them.
views = st.container() if ctx.present else None
if stacked:  # the layer and direction the views show (the grid of every layer follows them)
    tr = ui.layer_view(full, "step", scale=ctx.scale, grid=False, above=ctx.present)
    ui.overflow_alerts({cells.LABELS[cell]: tr}, **alerts)

for key, value in (("playing", False),):
    st.session_state.setdefault(key, value)


def _move(delta=None, to=None):
    t = st.session_state.get("t", 0)
    st.session_state["t"] = max(0, min(T - 1, to if to is not None else t + delta))
    if to == 0:
        st.session_state["playing"] = False


def _toggle_play():
    st.session_state["playing"] = not st.session_state["playing"]
    st.session_state["_restart_timer"] = True  # the fragment's timer is set on a full run
    if st.session_state["playing"] and st.session_state.get("t", 0) >= T - 1:
        st.session_state["t"] = 0


@st.fragment(run_every=0.6 if st.session_state["playing"] else None)
def stepper():
    if st.session_state.pop("_restart_timer", False):
        st.rerun()
    if st.session_state["playing"]:
        if st.session_state.get("t", 0) >= T - 1:
            st.session_state["playing"] = False
            st.rerun()
        else:
            _move(+1)
    # The time controls are the demonstration itself: their key must not start with "controls"
    # (the classroom link hides those containers).
    bar = st.container(key="stepper")
    # In presentation mode the larger labels need wider buttons (the slider still gets the most room).
    b1, b2, b3, b4, sl = bar.columns([1.3] * 4 + [2.6] if ctx.present else [1, 1, 1, 1, 3],
                                     vertical_alignment="bottom")
    b1.button(_("Reset"), icon=":material/first_page:", key="reset", help=_("Back to the first step"), on_click=_move,
              kwargs={"to": 0}, use_container_width=True)
    b2.button(_("Back"), icon=":material/chevron_left:", key="back", help=_("One step back"), on_click=_move,
              args=(-1,), use_container_width=True)
    playing = st.session_state["playing"]
    b3.button(_("Pause") if playing else _("Play"), icon=":material/pause:" if playing else ":material/play_arrow:",
              key="play", help=_("Play / pause: one step every 0.6 s"), on_click=_toggle_play,
              use_container_width=True)
    b4.button(_("Step"), icon=":material/chevron_right:", key="step", help=_("One step forward"), on_click=_move,
              args=(+1,), use_container_width=True)
    with sl:
        t = ui.knob("t", st, limits=(0, T - 1), label=_("Time step t"))
    ui.sync_url("t", t)
    hm = dict(cursor=t, scale=ctx.scale, height=240 if H <= 64 else 320)
    left, right = st.columns([1.15, 1])
    with left:
        ui.chart(plots.chain_diagram(T, t, cell=cell, scale=ctx.scale, window=5,
                                     title=ui.layer_name(*ui.picked_layer("step"), full.bidirectional) if stacked
                                     else None), key="chain")
        unit = ui.knob("unit", st, limits=(0, H - 1), number=True,
                       label=_("Unit (0 … {last}) shown in the equations").format(last=H - 1))
        st.latex(plots.cell_equations_tex(cell, activation, tr.step_terms(t, unit)))
        k = tr.forward_overflow_step
        if k is not None and t >= k:
            bad = int((~np.isfinite(tr.hidden[t])).sum())
            st.warning(_("**Step {t} is past the overflow at step {k}:** {bad} of {H} units are beyond float32 "
                         "here. In the equations ∞ stands for a value beyond float32's ±3.4 × 10³⁸, “overflow” for a "
                         "term that became undefined (∞ − ∞).").format(t=t, k=k, bad=bad, H=H),
                       icon=":material/warning:")
        shown = ", ".join(f"{v:.2f}" for v in tr.inputs[t][:8])
        st.caption(_("Step {t}: input x_t = ({x}). In each gate the first number is the input's contribution "
                     "W·x_t + b, the second the recurrent one W·h_(t−1) + b.").format(
                       t=t, x=shown + (", …" if tr.inputs.shape[1] > 8 else ""))
                   + (" " + ui.layer_input_words(*ui.picked_layer("step"), full.bidirectional) if stacked else ""))
    with right:
        ui.chart(plots.heatmap(tr.hidden, kind="state", title=_("Hidden state h (units × time)"), colorbar_title="h",
                               **hm), key="hm_h")
        if tr.cell is not None:
            ui.chart(plots.heatmap(tr.cell, kind="state", title=_("Cell state c"), colorbar_title="c", **hm),
                     key="hm_c")
    if tr.gate_names:
        ui.gate_heatmaps(tr, "hm", **hm)
    # Inside the fragment too: every chart with a cursor shows the step the buttons and Play move to.
    st.subheader(_("Chosen units over time"))
    units = st.multiselect(_("Units"), list(range(H)), default=list(range(min(4, H))), key="units", max_selections=8)
    lines = st.columns(2 if tr.cell is not None else 1)
    with lines[0]:
        ui.chart(plots.unit_lines(tr.hidden, units, title=_("Hidden state h_t"), cursor=t, scale=ctx.scale, ytitle="h"),
                 key="lines_h")
    if tr.cell is not None:
        with lines[1]:
            ui.chart(plots.unit_lines(tr.cell, units, title=_("Cell state c_t"), cursor=t, scale=ctx.scale,
                                      ytitle="c"), key="lines_c")


with views if views is not None else st.container():
    stepper()

if stacked:
    ui.layer_grid(full, "step", scale=ctx.scale)
st.subheader(_("Saturation"))
if tr.gate_names:
    ui.chart(plots.saturation_bars(tr.saturation(), scale=ctx.scale,
                                   title=_("How often each gate is shut (< 0.1) or wide open (> 0.9)")), key="sat")
    st.caption(_("Saturated gates pass (almost) no gradient through their own slope σ′ = σ(1 − σ) ≈ 0; an open "
                 "forget gate (f ≈ 1) is what carries the cell state, and its gradient, far back in time."))
else:
    sat = float((abs(tr.hidden) > 0.9).mean()) if activation in ("tanh", "sigmoid") else None
    st.markdown(_("A plain RNN has no gates. Its {activation} units are saturated (|h| > 0.9) in **{percent:.0f}%** "
                  "of (unit, step) values: there the slope act′ is small and the gradient shrinks.").format(
                    activation=activation, percent=100 * sat) if sat is not None else
                _("A plain RNN has no gates. ReLU and linear units do not saturate; their gradient depends on W_hh "
                  "alone (and on which ReLUs are active)."))

if trained is None:
    ui.scenario_export_box(full, scenario, key="export")
else:
    ui.model_export_box(full, trained.model, trained.title, key="export")

ui.finish("pages/1_Step_Through.py")
