"""Gradient Flow: the vanishing / exploding lab. RNN, LSTM and GRU (and the cells after them: LRU, minGRU,
minLSTM, S6) on the same input and seed."""
import streamlit as st

from rnnviz import cells, i18n, plots, ui
from rnnviz.deep import DIRECTIONS
from rnnviz.i18n import _
from rnnviz.spec import Scenario

ctx = ui.page_setup("Gradient Flow")
st.title(_("Gradient flow: why gradients vanish or explode"))
# On a projector (presentation mode) the main chart comes right under the title, whole on a 1024 × 768
# screen; the numbers and the explanation follow it.
present = ctx.scale > 1
top = st.container()
grad_slot = st.container() if present else None
metrics_box = st.container()
grad_slot = grad_slot or st.container()
(st.container() if present else top).markdown(_(
    r"The loss reaches step $k$ only through the product of every later step's Jacobian, "
    r"$\frac{\partial L}{\partial h_k} = \left(\frac{\partial h_{k+1}}{\partial h_k}\right)^{\!\top} \cdots "
    r"\left(\frac{\partial h_{T-1}}{\partial h_{T-2}}\right)^{\!\top} \frac{\partial L}{\partial h_{T-1}}$. "
    "A product of T factors shrinks or grows exponentially; the gates of an LSTM and a GRU can keep it near 1."
))

NAMES = ["recurrent_gain", "input_gain", "forget_bias", "seq_len", "hidden_size", "activation", "init", "seed",
         "input_kind", "loss", "flow_cells", "r_min", "r_max", "normalize", "negative", "d_state", *ui.DEPTH_KNOBS]
ui.show_notes(ui.check_url(NAMES))
with ui.controls():
    trained = ui.model_source()  # a model from the Training Lab, shown next to the built cells
    picked = ui.knob("flow_cells") or cells.CELLS
    modern = [c for c in picked if c in cells.MODERN_CELLS]
    layers, bidirectional, _residual = ui.depth_knobs()
    st.subheader(_("Weights"))
    gain = ui.knob("recurrent_gain")
    input_gain = ui.knob("input_gain")
    forget_bias = ui.knob("forget_bias")
    init = ui.knob("init")
    activation = ui.knob("activation")
    st.subheader(_("Sequence"))
    T = ui.knob("seq_len")
    input_kind = ui.knob("input_kind")
    loss = ui.knob("loss")
    st.subheader(_("Size and seed"))
    H = ui.knob("hidden_size")
    seed = ui.knob("seed", number=True)
    if modern:
        st.subheader(_("After the LSTM"))
        for name, used in (("r_min", "lru"), ("r_max", "lru"), ("normalize", "lru"), ("d_state", "s6")):
            if used in modern:
                ui.knob(name)
        if set(modern) - {"lru"}:
            ui.knob("negative")
    fraction = 1e-3

scenario = Scenario.from_values(ui.shown())   # the settings above, for each of the chosen cells
full = ui.cached_traces(scenario, picked)     # {cell: Trace}; RNN, LSTM, GRU stacked: every layer and direction
layer, direction = 0, 0
if layers > 1 or bidirectional:  # the curves below are the picked layer's (the cells after the LSTM have one)
    layer, direction = ui.layer_selector(layers, bidirectional, "flow_built", container=metrics_box, above=None)
    if modern:
        metrics_box.caption(_("The cells after the LSTM are built with one layer in one direction."))
traces = {cells.LABELS[c]: ui.one_layer(tr, layer, direction) for c, tr in full.items()}
dotted = ()
if trained is not None:
    trained_label = trained.short
    traces[trained_label] = ui.layer_view(ui.trace_trained(trained, seed=seed, loss=loss), "flow", grid=False,
                                          scale=ctx.scale, container=metrics_box)  # one layer of a stack
    dotted = (trained_label,)
    metrics_box.info(_("**{label}** (dotted) is {title}, reading {what}, not the input set here. The other curves "
                       "are the untrained cells the settings build.").format(
                         label=trained_label, title=ui.plain(trained.title),
                         what=trained.reads(seed, traces[trained_label].T)), icon=":material/model_training:")

# The main figure first: it is what a slider change is for, so it is computed and sent before the rest.
loss_text = _("the last step") if loss == "last" else _("every step")
LANG = i18n.current()  # the slider's curves are drawn in a background thread: in this page's language


def grad_figure(cell_traces: dict, gain: float):
    """The main chart of these traces ({label or cell: Trace, or the StackedTrace whose picked layer is
    drawn}); `gain` is in the slider under it."""
    shown = {cells.LABELS.get(c, c): ui.one_layer(tr, layer, direction) for c, tr in cell_traces.items()}
    with i18n.language(LANG):
        title = (_("‖∂L/∂h_k‖ · loss on {where} · ◆ horizon") if present else
                 _("‖∂L/∂h_k‖ against steps back · loss on {where} · ◆ horizon")).format(where=loss_text)
        if layers > 1 or bidirectional:  # the picked layer's curves
            title = _("Layer {layer} ({direction}): {title}").format(
                layer=layer + 1, direction=_(DIRECTIONS[direction]), title=title)
        return plots.gradient_vs_lag(shown, scale=ctx.scale, height=380 if present else 480,
                                     horizon_fraction=fraction, dotted=dotted, title=title)


if trained is None:  # with the gain slider in the figure: it redraws at once while dragged
    ui.slider_chart(grad_slot, lambda: grad_figure(traces, gain), scenario, tuple(picked), "recurrent_gain",
                    grad_figure, key="grad", figure_key=("grad", ctx.scale, fraction, LANG, layer, direction),
                    scale=ctx.scale)
else:
    ui.chart(grad_figure(traces, gain), key="grad", container=grad_slot)
# The charts below depend on the settings alone unless a trained model is shown: shared between sessions.
shared = None if trained is not None else (scenario, tuple(picked), ctx.scale, layer, direction)

# ---- what happened, in numbers (shown above the figure)
rnn = traces.get("RNN")
n_metrics = len(traces) + (rnn is not None)
per_row = 2 if ctx.scale > 1 else n_metrics if n_metrics <= 4 else 3  # rows narrow enough that no label is cut
cols = [c for _row in range(-(-n_metrics // per_row)) for c in metrics_box.columns(per_row)][:n_metrics]
for col, (label, tr) in zip(cols, traces.items()):
    h = tr.memory_horizon(fraction)
    col.metric(_("{label} horizon (steps)").format(label=label),
               f"{h}" if h is not None else (_("explodes") if tr.gradient_explodes else f"≥ {tr.T - 1}"),
               help=_("Memory horizon: steps back until ‖∂L/∂h_k‖ falls below 1/1000 of its value at the last "
                      "step. 'explodes': it grows instead (by over 1000×), so it never falls; the memory is "
                      "unusable, not perfect."))
if rnn is not None:
    threshold = 1 / rnn.gamma
    relation = ("≈" if abs(rnn.sigma_max - threshold) < 5e-4 * threshold
                else ">" if rnn.sigma_max > threshold else "<")
    cols[-1].metric(_("RNN σ_max vs 1/γ"), f"{rnn.sigma_max:.3f} {relation} {threshold:g}",
                    help=_("Pascanu et al. 2013: σ_max < 1/γ guarantees vanishing gradients; σ_max > 1/γ is needed "
                           "for them to explode (γ bounds the activation's slope: 1 for tanh, 1/4 for sigmoid)."))

ui.overflow_alerts(traces, metrics_box)

left, right = st.columns([3, 2])
with left:
    limits = {label: tr.T - 1 if tr.cell_type in cells.MODERN_CELLS  # diagonal: exact products cost O(T S)
              else ui.jacobian_lag_limit(tr.cell_type, tr.hidden_size, tr.T) for label, tr in traces.items()}
    jac = {label: tr.jacobian_norms(limits[label]) for label, tr in traces.items()}

    ui.shared_chart(shared and ("jac", *shared), lambda: plots.jacobian_vs_lag(
        traces, values=jac, scale=ctx.scale, height=430, dotted=dotted,
        title=_("‖∂h_{{T−1}}/∂h_k‖₂ · Pascanu bound dashed").format()), key="jac")
    short = [_("{label}: last {n} steps").format(label=label, n=limits[label])
             for label, tr in traces.items() if limits[label] < tr.T - 1]
    if short:
        st.caption(_("Each step of a Jacobian product costs H³ operations, so at this size they are computed over "
                     "{which}.").format(which=_(", ").join(short)))
with right:
    if modern:
        eigen = {label: (tr.cell_type, tr.eigenvalues if tr.cell_type in ("rnn", "lru") else tr.eigenvalue_trajectory)
                 for label, tr in traces.items() if tr.cell_type in ("rnn", *modern)}
        ui.shared_chart(shared and ("eig_all", *shared), lambda: plots.unit_circle(
            eigen, scale=ctx.scale, height=430, title=_("Eigenvalues λ")), key="eig_all")
        st.caption(_("RNN: the eigenvalues of W_hh. LRU: its fixed λ, inside the circle by construction. minGRU, "
                     "minLSTM, S6: their transition a_t is chosen by the input at every step (faint: every step; "
                     "solid: the last). A diagonal recurrence's gradient over k steps is the product of k of them."))
    elif rnn is not None:
        title = _("Eigenvalues of {block}").format(block="W_hh") if present else _("Eigenvalues of the RNN's W_hh")
        ui.shared_chart(shared and ("eig", *shared), lambda: plots.eigenvalue_plane(
            rnn, scale=ctx.scale, height=430, title=title), key="eig")
        st.caption(_("Spectral radius ρ = {rho:.3f}, largest singular value σ_max = {sigma:.3f}. For a linear RNN ρ "
                     "decides: ρ < 1 vanishes. With a nonlinearity the bound uses σ_max: (γ·σ_max)^(T−1−k) = "
                     "{g:.3f}^(T−1−k).").format(rho=rnn.spectral_radius, sigma=rnn.sigma_max,
                                                 g=rnn.gamma * rnn.sigma_max))

st.subheader(_("A product of T factors"))
first = next(iter(traces))
pick = st.segmented_control(_("Cell"), list(traces), default=first, key="chain_cell") or first
tr = traces[pick]
last = min(60, tr.T - 1)
norms = tr.step_jacobian_norms(last + 1)
ui.shared_chart(shared and ("chain", pick, *shared), lambda: plots.jacobian_chain(
    tr, last=last, step_norms=norms, product=jac[pick], scale=ctx.scale, height=540,
    title=_("{cell}: the Jacobian of each of the last {last} steps, and their product").format(cell=pick, last=last)),
    key="chain")
state = "(h, c)" if tr.cell_type == "lstm" else "h"
st.caption(_("Top: ‖∂s_k/∂s_(k−1)‖₂ of each step, s = {state}; orange bars (above 1) stretch, blue bars "
             "shrink. Bottom: multiplying them from the last step backwards (dashed) bounds the true norm of the "
             "product (solid); when they coincide every factor stretches the same direction, a gap means the "
             "factors' directions partly cancel.").format(state=state))

with st.expander(_("Export these numbers"), icon=":material/download:"):
    which = st.segmented_control(_("Cell to export"), list(traces), default=first, key="export_cell") or first
    cell_of = {cells.LABELS[c]: c for c in picked}
    if which in cell_of and cell_of[which] in cells.MODERN_CELLS:
        st.caption(_("Exports cover RNN, LSTM, GRU and trained models; the cells after the LSTM are not exported "
                     "yet."))
    elif which in cell_of:
        ui.scenario_export_box(full[cell_of[which]], scenario.replace(cell=cell_of[which]), key="export",
                               container=st.container())
    else:
        ui.model_export_box(ui.trace_trained(trained, seed=seed, loss=loss), trained.model, trained.title,
                            key="export", container=st.container())

with st.expander(_("What am I looking at?")):
    st.markdown(_(
        """
- **Top figure.** The probe loss is L = v·h on {where} (v = 1/√H in every direction). For each earlier
  step k the curve shows how large ∂L/∂h_k is: how much a change at step k would still change the loss. A
  straight line on this log scale is exponential decay (or growth); its slope is the average log of one step's
  contraction.
- **LSTM dashed line.** The cell state c has its own path back through time, ∂c_k/∂c_(k−1) = f_k (the forget
  gate), so with the forget gate open the gradient flows back almost untouched.
- **Memory horizon.** The number of steps back until the gradient has fallen to 1/1000 of its value at the
  end; a network cannot learn dependencies much longer than this.
- **Pascanu bound.** For an RNN, ‖∂h_(T−1)/∂h_k‖ ≤ (γ·σ_max(W_hh))^(T−1−k): below 1/γ the gradient must
  vanish. Exploding needs σ_max above 1/γ, but saturation of tanh often stops it.
- **Exact numbers.** Values beyond float64's range (10^±308) are still exact here: the backward pass keeps a
  separate power-of-two exponent. The dotted lines show where torch's float32 backward would give 0 or inf.
""").format(where=loss_text)
    )

ui.finish("pages/2_Gradient_Flow.py")
