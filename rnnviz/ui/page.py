"""Page chrome: what every page shares. Each page starts with `ctx = ui.page_setup("Title")` and ends
with `ui.finish(page)`; in between, `ui.chart` shows a figure with the app's styling, `ui.controls`
holds the widgets a classroom link hides, and `ui.overflow_alerts` says where a trace exploded.

The pages and their titles are one table (`PAGES`), as are the page's styles, so that a translation
of the page chrome can replace them in one place.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from .. import cells, configure, i18n, plots
from ..files import sandbox
from ..i18n import N_, _
from ..spec import KNOBS, query_string
from . import sessions
from .cache import shared_figure, slider_spec
from .knobs import carried_params, language_params, link_params, query_value

ROOT = Path(__file__).resolve().parents[2]
FAVICON = Path(__file__).resolve().parents[1] / "favicon.png"  # a file, so the tab icon needs no network
PAGES = [
    ("viz_app.py", N_("Home"), ":material/home:"),
    ("pages/10_Lessons.py", N_("Lessons"), ":material/school:"),
    ("pages/1_Step_Through.py", N_("Step Through"), ":material/footprint:"),
    ("pages/2_Gradient_Flow.py", N_("Gradient Flow"), ":material/trending_down:"),
    ("pages/3_One_Neuron.py", N_("One Neuron"), ":material/replay:"),
    ("pages/4_Training_Lab.py", N_("Training Lab"), ":material/model_training:"),
    ("pages/5_Translation.py", N_("Translation"), ":material/translate:"),
    ("pages/6_Text_Lab.py", N_("Text Lab"), ":material/text_fields:"),
    ("pages/7_Your_Model.py", N_("Your Model"), ":material/upload_file:"),
    ("pages/8_Depth_and_Time.py", N_("Depth and Time"), ":material/stacks:"),
    ("pages/9_Beyond_LSTM.py", N_("Beyond LSTM"), ":material/all_inclusive:"),
]
# The chart toolbar's camera button saves a sharp PNG; pages may offer SVG too.
CHART_CONFIG = {"displaylogo": False,
                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "rnnviz"}}

_BASE_CSS = """
<style>
.block-container {padding-top: 2.2rem; padding-bottom: 2rem; max-width: 1600px;}
[data-testid="stMetricValue"] {font-size: 1.9rem;}
</style>
"""
_PRESENT_CSS = """
<style>
html, body, [class*="st-"], .stMarkdown p, .stMarkdown li {font-size: 1.25rem;}
.block-container {padding-top: 3.2rem;}
h1 {font-size: 2rem !important; padding-top: 0.15rem !important; line-height: 1.3 !important;}  \
/* room above CJK glyphs */
h2 {font-size: 2.2rem !important;} h3 {font-size: 1.8rem !important;}
h1 [data-heading-text], h2 [data-heading-text], h3 [data-heading-text] {font-size: inherit !important;}
[data-testid="stMetricValue"] {font-size: 2.1rem;}
h1 *, h2 *, h3 *, [data-testid="stMetricValue"] * {font-size: inherit !important;}
/* buttons: the larger labels keep to their button, on two lines where one is too narrow */
[data-testid="stMain"] button {padding-left: 0.5rem; padding-right: 0.5rem;}
[data-testid="stMain"] button p {white-space: normal;}
[data-testid="stMetricLabel"] p {white-space: normal;}  /* a metric's label on two lines rather than cut */
</style>
"""
_HIDDEN_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="collapsedControl"],
[data-testid="stExpandSidebarButton"], [class*="st-key-controls"] {display: none !important;}
</style>
"""

# URL parameters that are not knobs: the classroom mode, presentation mode and the language.
_FLAGS = ("controls", "present", "lang")


def _session_language():
    """The language of this session's page (the app's source for rnnviz.i18n), None outside a run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return st.session_state.get("lang") if get_script_run_ctx(suppress_warning=True) is not None else None


i18n.set_source(_session_language)


@dataclass
class PageContext:
    """What a page needs to know about how it is being shown."""

    scale: float          # figure font scale (1, or larger in presentation mode)
    controls_hidden: bool  # classroom link: ?controls=hidden

    @property
    def present(self) -> bool:
        """Presentation mode: large text for a projector."""
        return self.scale > 1

    def figure_slot(self):
        """Called under the page's title: in presentation mode a container there for the page's main figure, so
        that the figure is whole on a projector's screen (1280 × 720, 1024 × 768) and the page's text follows it;
        otherwise None, and the figure stays where the page draws it (`chart(..., container=None)`)."""
        return st.container() if self.present else None


def page_setup(title: str) -> PageContext:
    """Page config, navigation, classroom and presentation modes. Call first on every page."""
    _configure_process()
    ss = st.session_state
    first = ss.get("_page") != title  # first run of this page: a new visit, a link or a page switch
    ss["_page"] = title
    ss["_first_run"] = first
    ss["_shown"] = {}
    if first:
        ss["_controls_hidden"] = query_value("controls") == "hidden"
        if query_value("present") is not None:
            ss["present"] = query_value("present") == "true"
        ss["lang"] = i18n.parse(query_value("lang")) or i18n.DEFAULT  # an unknown value: English
    elif ss.get("lang") not in i18n.LANGUAGES:
        ss["lang"] = i18n.DEFAULT
    hidden = ss.get("_controls_hidden", False)
    # On a projector (presentation mode) the page gets the screen's whole width; the sidebar opens with its arrow.
    st.set_page_config(page_title=f"{_(title)} · rnnviz", page_icon=str(FAVICON), layout="wide",
                       initial_sidebar_state="collapsed" if hidden or ss.get("present") else "expanded")
    st.html(_BASE_CSS)
    with st.sidebar:
        st.markdown("### rnnviz")
        # Drawn now, before anything on the page can fail, and again by finish() at the end of the
        # run, when every widget's value is known, so that the links carry the current settings.
        ss["_nav"] = st.empty()
        _navigation(ss["_nav"])
    if not sessions.admit():
        st.warning(_(sessions.FULL), icon=":material/groups:")
        st.stop()
    with st.sidebar:
        st.divider()
        present = st.toggle(_("Presentation mode (larger text)"), key="present", persist_state="session",
                            help=_("Larger fonts in the page and the figures, for a projector."))
        st.segmented_control(_("Language"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, required=True,
                             key="lang")
    if present:
        st.html(_PRESENT_CSS)
    if hidden:
        st.html(_HIDDEN_CSS)
    return PageContext(scale=1.35 if present else 1.0, controls_hidden=hidden)


@functools.cache
def _configure_process():
    """Once per server process: one intra-op torch thread (see rnnviz.configure), unless
    RNNVIZ_TORCH_THREADS says otherwise."""
    configure(threads=int(os.environ.get("RNNVIZ_TORCH_THREADS", "1")))
    # The upload reader's server process starts in the background (a second or two), so that the
    # first upload of the day does not wait for it.
    threading.Thread(target=_start_upload_reader, name="rnnviz-upload-reader", daemon=True).start()


def _start_upload_reader():
    try:
        sandbox.warm_up()
    except Exception:  # noqa: BLE001 - the first upload starts it then, and says so if it cannot
        pass


def finish(page: str, keep=()):
    """End of every page: the URL, navigation links that carry the settings, share links. The knobs
    in `keep` stay in the URL even at their default (a lesson's number and step)."""
    ss = st.session_state
    shown = ss.get("_shown", {})
    params = {**{name: KNOBS[name].format(shown[name]) for name in keep if name in shown}, **link_params(shown)}
    if ss.get("present"):
        params["present"] = "true"
    if ss.get("_controls_hidden"):
        params["controls"] = "hidden"
    params.update(language_params())
    try:
        current = {k: st.query_params.get_all(k)[-1] for k in st.query_params}
    except Exception:  # noqa: BLE001
        current = {}
    if current != params:
        st.query_params.from_dict(params)
    nav = ss.get("_nav")
    if nav is not None:
        _navigation(nav)
    share_box(page, params)


def _navigation(placeholder):
    """The page links, carrying the current settings, drawn into `placeholder` (an st.empty)."""
    carried = carried_params()
    with placeholder.container():
        for path, label, page_icon in PAGES:
            if (ROOT / path).exists():
                st.page_link(path, label=_(label), icon=page_icon, query_params=carried)


def share_box(page: str, params: dict):
    """Sidebar links that reproduce this view: one as is, one for the class (controls hidden,
    presentation mode)."""
    base = (st.context.url or "").split("?", 1)[0]
    if not base:
        base = "/" + Path(page).stem.split("_", 1)[-1] if page != "viz_app.py" else "/"
    plain = {k: v for k, v in params.items() if k not in _FLAGS}
    if "lang" in params:  # a link keeps the language it was shared in
        plain["lang"] = params["lang"]
    query = query_string(plain)  # a typed text may hold spaces, "&" or "#"
    link = base + ("?" + query if query else "")
    classroom = base + "?" + "&".join(filter(None, [query, "controls=hidden", "present=true"]))
    with st.sidebar.expander(_("Share this view"), icon=":material/share:"):
        st.markdown(_("[Link to exactly this view]({link})").format(link=link))
        st.markdown(_("[Classroom link (no controls, large text)]({link})").format(link=classroom))
        st.caption(_("Every setting is in the address bar, so a copied URL reproduces the numbers on screen."))


def overflow_alerts(traces: dict, container=None, *, shown: str | None = None, gradient: bool = True):
    """Say plainly where a trace exploded: an error when its state left float32's range (from which
    step, and how the page's figures show it: `shown`, translated, default "shown as gaps"), a warning
    when its gradient did (with `gradient`). `traces` is {label: Trace}."""
    c = container if container is not None else st
    shown = shown or _("shown as gaps")
    for label, tr in traces.items():
        if tr.forward_overflow_step is not None:
            c.error(_("**{label} exploded:** its hidden state left float32's range at t = {t}. From there on the "
                      "states are inf / NaN ({shown}).").format(label=label, t=tr.forward_overflow_step, shown=shown),
                    icon=":material/warning:")
        k = tr.backward_overflow_step
        if gradient and k is not None:
            top = int(np.nanargmax(tr.log10_grad_norm))
            c.warning(_("**{label}'s gradient exploded:** ‖∂L/∂h_k‖ passes float32's largest number at t = {k} "
                        "and reaches 10^{power:.0f} at t = {top}. torch's own float32 backward would return inf "
                        "there; the figure shows the exact value.").format(
                          label=label, k=k, power=tr.log10_grad_norm[top], top=top), icon=":material/warning:")


def chart(fig, key: str | None = None, container=None, **kwargs):
    """Show a figure with its own (large, fixed-meaning) styling rather than the theme's."""
    c = container if container is not None else st
    return c.plotly_chart(fig, theme=None, key=key, config=CHART_CONFIG, **kwargs)


def slider_chart(container, figure, scenario, cells: tuple, knob: str, build, *, key: str, figure_key: tuple,
                 scale: float = 1.0) -> None:
    """Show `figure()` (`build(traces, value)` at the scenario's own value of `knob`) with a slider over
    the knob's grid in the figure, which switches precomputed frames in the browser, so that dragging it
    redraws at once (`figure_key` names what `build` draws, see `slider_figures`). The figure with its
    slider is shared between sessions, so `figure` is only called when no session has drawn it yet; until
    the grid for these settings has been computed (in the background, once per process) it is shown as it is."""
    c = container if container is not None else st
    spec = slider_spec(scenario, cells, knob, build, figure_key, figure, label=_(KNOBS[knob].label), scale=scale)
    chart(figure() if spec is None else Prebuilt(spec), key=key, container=c)


def shared_chart(figure_key: tuple | None, build, *, key: str, container=None) -> None:
    """Show `build()`, a figure every session with the same `figure_key` draws alike (the key names all it
    depends on: settings, cells, scale; the language is added here), put together once per process and
    shared read-only. `figure_key=None`: this session's own figure (e.g. of a model it trained)."""
    if figure_key is None:
        chart(build(), key=key, container=container)
    else:
        chart(Prebuilt(shared_figure((*figure_key, i18n.current()), build)), key=key, container=container)


class Prebuilt(go.Figure):
    """A figure that is already Plotly's plain dict, shared read-only between sessions: the chart asks a
    Figure for `to_dict()` and gets the dict as it is, instead of a copy checked anew on every page run."""

    def __init__(self, spec: dict):
        super().__init__()
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec


def gate_heatmaps(tr, key: str, **heatmap):
    """Every gate of a trace as a units × time heatmap, two to a row, each on its fixed scale (sigmoid
    gates in [0, 1], the tanh candidate in [-1, 1]); chart keys are f"{key}_{gate}"."""
    cols = st.columns(2)
    for n, name in enumerate(tr.gate_names):
        kind = cells.gate_kind(name)
        fig = plots.heatmap(tr.gates[name], kind=kind, title=plots.gate_title(tr.cell_type, name),
                            zmax=1.0 if kind == "state" else None, colorbar_title=cells.gate_symbol(tr.cell_type, name),
                            **heatmap)
        chart(fig, key=f"{key}_{name}", container=cols[n % 2])


def controls(container=None):
    """A container for a page's controls: hidden in classroom links (?controls=hidden)."""
    c = container if container is not None else st.sidebar
    return c.container(key="controls_" + str(id(c) % 10000))
