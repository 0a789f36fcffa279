"""rnnviz home: what this is, one live figure, presets."""
import streamlit as st

from rnnviz import cells, i18n, plots, ui
from rnnviz.files.lessons import PRESETS
from rnnviz.i18n import _
from rnnviz.spec import Scenario

ctx = ui.page_setup("Home")

st.title(_("See inside a recurrent network"))
# On a projector (presentation mode) the chart comes right under the title, so that it is whole on a
# 1024 × 768 screen; its own slider moves the gain; the settings and the explanation follow it.
present = ctx.scale > 1
intro = st.container()
hero_slot = st.container() if present else None
controls = st.container(key="hero_controls")
hero_slot = hero_slot or st.container()
intro = st.container() if present else intro
intro.markdown(_(
    "An RNN learns by sending a gradient **backwards through time**. Each step back multiplies it by the "
    "step's Jacobian, so after many steps it either fades to nothing or blows up. "
    "Below, an RNN, an LSTM and a GRU read the same input (a single kick at t = 0)."
))

with controls:
    ui.show_notes(ui.check_url(["recurrent_gain", "seq_len"]))  # the same ranges as on every other page
    c1, c2 = st.columns(2)
with c1:
    gain = ui.knob("recurrent_gain", st, help=_("Every recurrent weight block is gain × an orthogonal matrix."))
with c2:
    T = ui.knob("seq_len", st)

hero = Scenario.from_values({"recurrent_gain": gain, "seq_len": T})  # every other setting at its default


LANG = i18n.current()  # the slider's curves are drawn in a background thread: in this page's language


def hero_figure(traces: dict, gain: float):
    with i18n.language(LANG):
        title = (_("Gradient reaching each step back (gain {gain:g})") if present else
                 _("How much of the loss at the last step reaches each earlier step (recurrent gain {gain:g})"))
        return plots.gradient_vs_lag({cells.LABELS[c]: tr for c, tr in traces.items()}, scale=ctx.scale,
                                     height=370 if present else 470, title=title.format(gain=gain))


# The chart with the gain slider in the figure, which switches precomputed curves in the browser while it is
# dragged (once the curves for these settings are computed: the next run after the first visit).
ui.slider_chart(hero_slot, lambda: hero_figure(ui.cached_traces(hero, cells.CELLS), gain), hero, cells.CELLS,
                "recurrent_gain", hero_figure, key="hero",
                figure_key=("hero", ctx.scale, LANG), scale=ctx.scale)
intro.info(_(
    "**What to look for:** drag the recurrent gain. Below 1 the RNN's gradient (red) drops by orders of "
    "magnitude with every step back: the network cannot learn from its distant past. Above 1 it explodes. "
    "The LSTM's cell path (dashed blue) and the GRU (green) keep it near 1, because their forget / update "
    "gates start open (bias 3)."),
    icon=":material/visibility:",
)

st.header(_("Lessons in one click"))
st.markdown(_("Each preset opens a page with the settings that show one idea. Every link can be shared: "
              "the address bar always holds the full state."))
lang = ui.language_params()  # a preset link keeps the language
cols = st.columns(3)
for n, preset in enumerate(PRESETS.values()):
    with cols[n % 3].container(border=True):
        st.markdown(f"#### {_(preset.title)}")
        st.markdown(_(preset.explanation))
        a, b = st.columns(2)
        a.page_link(preset.page, label=_("Open"), icon=":material/play_circle:",
                    query_params={**preset.query(), **lang})
        b.page_link(preset.page, label=_("Classroom"), icon=":material/co_present:",
                    help=_("No controls, large text: for a projector."),
                    query_params={**preset.query(), "controls": "hidden", "present": "true", **lang})

st.header(_("Pages"))
st.markdown(_(
    "- **Step Through**: move a cursor through a sequence and watch every unit's state and gates, with the "
    "equations of one unit filled in with the numbers of that step.\n"
    "- **Gradient Flow**: RNN, LSTM and GRU side by side: gradient norms, Jacobian products, the Pascanu bound, "
    "eigenvalues of W_hh and the memory horizon.\n"
    "- **One Neuron**: the one-unit picture: why a product of T factors fades or explodes, fixed points and the "
    "bistable neuron.\n"
    "- **Training Lab**: train RNN, LSTM and GRU side by side on a task that needs memory and watch the plain RNN "
    "stay at the baseline while the gated cells break through, with the gradient's reach as they learn.\n"
    "- **Translation**: an encoder squeezes a date written in words into one vector; a decoder writes it as "
    "2026-11-22. See the states and the single context vector, and what a fixed-size memory costs.\n"
    "- **Text Lab**: train a character language model in a minute, sample from it at a temperature, colour the "
    "text by one neuron and see how far back each prediction looks.\n"
    "- **Your Model**: upload the weights of your own RNN / LSTM / GRU and a sequence (CSV or text) and see all of "
    "the above for them; download traces, weights and a PyTorch script."
))
ui.finish("viz_app.py")
