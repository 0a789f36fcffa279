"""Depth and Time: the gradient of a stacked (and bidirectional) RNN, LSTM and GRU over layers x steps."""
import streamlit as st

from rnnviz import cells, plots, ui
from rnnviz.deep import DIRECTIONS
from rnnviz.i18n import _
from rnnviz.spec import KNOBS, Scenario

ctx = ui.page_setup("Depth and Time")
st.title(_("Depth and time: where the gradient reaches"))
st.markdown(_(
    r"In a stacked network the loss reaches the state $h_t^{(l)}$ of layer $l$ at step $t$ along two axes: "
    r"back through time in the same layer, $\partial h_{t+1}^{(l)}/\partial h_t^{(l)}$, and down through depth "
    r"at the same step, $\partial h_t^{(l+1)}/\partial h_t^{(l)}$. Each square below is "
    r"$\lVert\partial L/\partial h_t^{(l)}\rVert$, the sum over every path of the product of its factors."
))

NAMES = ["recurrent_gain", "input_gain", "num_layers", "residual", "bidirectional", "depth_loss", "seq_len",
         "hidden_size", "input_kind", "forget_bias", "seed"]
LIMITS = {"num_layers": (2, 4), "seq_len": (2, 1000), "hidden_size": (2, 64)}
ui.show_notes(ui.check_url(NAMES, LIMITS))
with ui.controls():
    st.subheader(_("Depth and direction"))
    layers = ui.knob("num_layers", limits=LIMITS["num_layers"])
    residual = ui.knob("residual")
    bidirectional = ui.knob("bidirectional")
    loss = ui.knob("depth_loss")
    st.subheader(_("Weights"))
    gain = ui.knob("recurrent_gain", label=_("Gain through time (W_hh)"))
    depth_gain = ui.knob("input_gain", label=_("Gain through depth (W_ih)"),
                         help=_("Scale of the weights between layers (orthogonal, like W_hh) and of the input "
                                "weights."))
    ui.knob("forget_bias")
    st.subheader(_("Sequence"))
    T = ui.knob("seq_len", limits=LIMITS["seq_len"])
    ui.knob("input_kind", options=[k for k in KNOBS["input_kind"].choices if k != "text"])
    st.subheader(_("Size and seed"))
    ui.knob("hidden_size", limits=LIMITS["hidden_size"])
    ui.knob("seed", number=True)

scenario = Scenario.from_values(ui.shown())
traces = {cells.LABELS[c]: tr for c, tr in ui.cached_depth_traces(scenario, loss, cells.CELLS).items()}
directions = list(range(2 if bidirectional else 1))
rows = [DIRECTIONS[d] for d in directions] if bidirectional else None
where = {"last": _("the last step"), "all": _("every step"), "tag": _("every step, one label each")}[loss]
skips = _("with residual connections") if residual else _("no residual connections")
height = (380 if ctx.present else 430) if bidirectional else 330  # two directions' rows: still whole on a projector
ui.chart(plots.depth_time_grids({label: [tr.grad_grid(d) for d in directions] for label, tr in traces.items()},
                                rows=rows, scale=ctx.scale, height=height,
                                title=_("‖∂L/∂h_t^(l)‖ · {layers} layers, {skips} · loss on {where}").format(
                                    layers=layers, skips=skips, where=where)), key="grid")

# ---- the gradient that reaches the first layer, in numbers
for col, (label, tr) in zip(st.columns(len(traces)), traces.items()):
    first = max(tr.grad_grid(d)[0, -d] for d in directions)  # each direction's first step
    col.metric(_("{label}: ‖∂L/∂h‖ at layer 1, first step").format(label=label), plots.sci(first),
               help=_("What reaches the bottom layer at the first step it reads (the larger of the two directions "
                      "for a bidirectional model): how much the first layer can learn from the start of the "
                      "sequence."))
ui.overflow_alerts({f"{label} layer {layer + 1} {DIRECTIONS[d]}": tr.trace(layer, d) for label, tr in traces.items()
                    for layer in range(layers) for d in directions}, st.container())

st.subheader(_("The two factors of every square"))
left, right = st.columns([1, 3])
pick = left.segmented_control(_("Cell"), list(traces), default="RNN", key="factor_cell") or "RNN"
d = 1 if bidirectional and left.toggle(_("Backward direction"), key="factor_backward") else 0
tr = traces[pick]
right.caption(_("Each factor's spectral norm: how much one step back in time (left) or one layer down (right) "
                "can stretch the gradient at most. Blue shrinks it, red grows it; the products of these factors "
                "along every path add up to the squares above.")
              + (_(" For the LSTM the step through time is that of the pair (h, c).") if pick == "LSTM" else ""))
ui.chart(plots.factor_grids(tr.time_step_norm_grid(d), tr.depth_step_norm_grid(d), scale=ctx.scale, height=330,
                            title=_("{cell} · {direction} direction").format(cell=pick, direction=_(DIRECTIONS[d]))),
         key="factors")

lstm = traces["LSTM"]
with st.expander(_("The LSTM's cell path ‖∂L/∂c_t^(l)‖")):
    ui.chart(plots.depth_time_grids({_("LSTM cell path"): [lstm.cell_grad_grid(d) for d in directions]}, rows=rows,
                                    scale=ctx.scale, height=380 if bidirectional else 300, colorbar_title="‖∂L/∂c‖"),
             key="cell_grid")

with st.expander(_("What does the class see?"), expanded=True):
    st.markdown(_(
        """
- **The tanh RNN fades along both axes.** Going left (back in time) every step multiplies by roughly the
  recurrent gain times tanh′ ≤ 1; going down every layer multiplies by the input weights times tanh′ again. With
  gain {gain:g} the squares darken towards the bottom-left corner: the first layer at the first steps gets almost
  no gradient, so it barely learns.
- **Residual connections keep depth alive.** A skip y⁽ˡ⁾ = h⁽ˡ⁾ + y⁽ˡ⁻¹⁾ adds a path down with factor exactly 1,
  so the columns no longer darken layer by layer. Switch them on and compare the bottom rows.
- **The LSTM and the GRU keep time alive.** Their forget and update gates near 1 pass the gradient back almost
  unchanged, so the rows stay bright far to the left, and the depth factor decides the rest.
- **Bidirectional.** The backward direction reads from the last step to the first, so its gradient fades to
  the right. With the loss on the last step only, each direction is asked only about its own final state.
  With a label at every step (tagging) each step's own loss is close by in both directions: every step learns.
- **Exact numbers.** Values far beyond float64's range (10^±308) keep their place on the scale: the backward
  pass carries its own power-of-two exponents.
""").format(gain=gain)
    )

ui.finish("pages/8_Depth_and_Time.py")
