"""One Neuron: the one-unit intuition. h_t = act(w h_{t-1} + u x_t + b)."""
import numpy as np
import streamlit as st

from rnnviz import dynamics, inputs, plots, ui
from rnnviz.i18n import N_, _

KINDS = {"stable": N_("stable"), "unstable": N_("unstable"), "semi-stable": N_("semi-stable"), "neutral": N_("neutral")}

ctx = ui.page_setup("One Neuron")
st.title(_("One neuron: why a product of many factors fades or explodes"))
figure = ctx.figure_slot()  # on a projector the first two charts come right under the title
st.markdown(_(
    r"One unit feeding itself: $h_t = \mathrm{act}(w\,h_{t-1} + u\,x_t + b)$. "
    r"Each step multiplies the gradient by one factor, $\frac{\partial h_t}{\partial h_{t-1}} = w\,"
    r"\mathrm{act}'(a_t)$, so $\frac{\partial h_T}{\partial h_k}$ is a product of $T-k$ factors: "
    "below 1 in size it fades exponentially, above 1 it explodes."
))
NAMES = ["w", "u", "b", "activation", "h0", "steps", "neuron_input"]
ui.show_notes(ui.check_url(NAMES))
with ui.controls():
    st.subheader(_("The neuron"))
    w = ui.knob("w")
    activation = ui.knob("activation")
    b = ui.knob("b")
    u = ui.knob("u")
    st.subheader(_("The sequence"))
    kind = ui.knob("neuron_input")
    T = ui.knob("steps")
    h0 = ui.knob("h0")

run = dynamics.one_neuron(w, u, b, activation, inputs.neuron_input(kind, T), h0)
b_eff = dynamics.effective_bias(b, u, kind)  # the map the iterates follow once the input is constant
fps = dynamics.fixed_points(w, b_eff, activation)
bistable = dynamics.bistable_range(w, activation)

c1, c2, c3 = st.columns(3)
g0 = run["log10_grad"][0]
c1.metric("|∂h_T/∂h_0|", plots.sci(g0),
          help=_("The gradient that reaches the first step: the product of all T factors."))
others = [f"{fp['h']:.4f} ({_(KINDS.get(fp['kind'], fp['kind']))}: {fp['note']})" for fp in fps if not fp["stable"]]
c2.metric(_("Stable fixed points h*"),
          ", ".join(f"{fp['h']:.3f}" + (_(" (neutral)") if fp["kind"] == "neutral" else "")
                    for fp in fps if fp["stable"]) or _("none"),
          help=_("States h* = act(w h* + b) the iterates settle into.")
               + "".join(f" {fp['h']:.4f}: {fp['note']}." for fp in fps if fp["kind"] == "neutral" and fp["stable"])
               + (_(" Not attracting from both sides: {which}.").format(which="; ".join(others)) if others
                  else _(" No unstable ones.")))
if bistable is not None:
    inside = bistable[0] < b_eff < bistable[1]
    c3.metric(_("Bistable for b in"), f"({bistable[0]:.4f}, {bistable[1]:.4f})",
              help=_("Two stable states coexist: the neuron can store one bit. Pascanu et al. (2013), Fig. 3."),
              delta=_("b is inside: two stable states") if inside else _("b is outside"), delta_color="off",
              delta_arrow="off")
else:
    c3.metric(_("Bistable range"), _("none"),
              help=_("Only saturating units with a large enough weight have two stable states: tanh needs w > 1, "
                     "sigmoid w > 4."))
finite = np.isfinite(run["h"])
huge = bool(np.nanmax(np.abs(np.where(finite, run["h"], np.nan))) > 1e6)
if not finite.all():
    first = int(np.argmax(~finite))
    st.error(_("The state exploded: h overflows at step {first}. Use a saturating activation or |w| < 1.").format(
        first=first),
             icon=":material/warning:")
elif huge:
    st.warning(_("The state explodes: |h_T| = {h}. A linear or ReLU unit with |w| > 1 grows without bound; the "
                 "trajectory is drawn on a log scale.").format(h=plots.sci(float(np.log10(abs(run["h"][-1]))))),
               icon=":material/warning:")

left, right = (figure or st).columns(2)
height = 380 if ctx.present else 320
with left:
    ui.chart(plots.neuron_trajectory(run["h"], scale=ctx.scale, height=height, title=_("The state h_t"), log=huge),
             key="traj")
with right:
    ui.chart(plots.neuron_gradient(run["log10_factor"], run["log10_grad"], scale=ctx.scale, height=height,
                                   title=_("∂h_T/∂h_k as a product of factors")), key="grad")
    st.caption(_("Bars: log10 of each step's factor |w·act′(a_t)| (orange above 1, blue below). Line: their sum "
                 "from step k to the end, log10 |∂h_T/∂h_k|."))

left, right = st.columns(2)
with left:
    # after the kick the iterates follow the map exactly
    grid, path = plots.cobweb_axis(run["h"], activation, start=1 if kind == "impulse" else 0)
    ui.chart(plots.cobweb(grid, dynamics.neuron_map(w, b_eff, activation, grid), path, fps, scale=ctx.scale,
                          title=_("Cobweb: iterating h ↦ act(w h + b)")), key="cobweb")
    st.caption(_("Up to the curve, across to the diagonal, repeat: each zig-zag is one time step. Filled dots are "
                 "stable fixed points (|slope| < 1, or a slope of exactly 1 whose cubic term pulls in), hollow ones "
                 "unstable or attracting from one side only (hover for which). ")
               + (_("With constant input the map is act(w h + u + b).") if kind == "constant" else ""))
with right:
    bs = plots.bias_grid(w, activation, b_eff, bistable)
    ui.chart(plots.bifurcation_diagram(dynamics.bifurcation(w, activation, bs), b_eff, bistable, scale=ctx.scale,
                                       title=_("Fixed points against the bias (w = {w:g})").format(w=w)), key="bif")
    st.caption(_("Try sigmoid with w = 5: for b between −2.66 and −2.34 the neuron has two stable states, and a "
                 "small push moves it from one to the other (a cliff in the loss). Saturated on an attractor, its "
                 "slope is far below 1, so the gradient vanishes fast."))

ui.finish("pages/3_One_Neuron.py")
