"""The one engine module that imports Streamlit: page setup, shared widgets, URL state, caches.

Every page starts with `ctx = ui.page_setup("Title")` and ends with `ui.finish(page)`.
Widgets for the knobs come from `ui.knob(name)`, built from `rnnviz.spec.KNOBS` (one
definition of label, range and default).

The address bar always holds the page's state:
- on the first run of a page in a session (a pasted link, a preset, a page switch) the
  URL's values are validated (`check_url`) and seeded into the widgets; invalid ones are
  named in a note and replaced by defaults;
- at the end of every run `finish` writes the page's non-default values back to the URL,
  and the navigation links carry the shared values to the next page.
Widgets keep their values across pages (`persist_state="session"`). Streamlit's own
`bind="query-params"` is not used: it scopes parameters to one page and drops them on a
page switch, which would lose a preset's or the previous page's settings.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from . import inputs as inputs_mod
from .model import build_model
from .spec import KNOBS, ModelSpec
from .trace import Trace, trace, trace_all

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ("viz_app.py", "Home", ":material/home:"),
    ("pages/1_Step_Through.py", "Step Through", ":material/footprint:"),
    ("pages/2_Gradient_Flow.py", "Gradient Flow", ":material/trending_down:"),
    ("pages/3_One_Neuron.py", "One Neuron", ":material/replay:"),
    ("pages/4_Training_Lab.py", "Training Lab", ":material/model_training:"),
    ("pages/5_Translation.py", "Translation", ":material/translate:"),
    ("pages/6_Text_Lab.py", "Text Lab", ":material/text_fields:"),
    ("pages/7_Your_Model.py", "Your Model", ":material/upload_file:"),
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
h1 {font-size: 3rem !important;} h2 {font-size: 2.2rem !important;} h3 {font-size: 1.8rem !important;}
[data-testid="stMetricValue"] {font-size: 2.6rem;}
h1 *, h2 *, h3 *, [data-testid="stMetricValue"] * {font-size: inherit !important;}
</style>
"""
_HIDDEN_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="collapsedControl"],
[data-testid="stExpandSidebarButton"], [class*="st-key-controls"] {display: none !important;}
</style>
"""

# The same range for a shared knob on every page (the value follows the user between pages).
UI_LIMITS = {"seq_len": (2, 5000), "hidden_size": (1, 512), "input_size": (1, 16)}
# Budget of multiply-adds for Jacobian products on one page view (about a quarter second).
JACOBIAN_BUDGET = 3e9
# Knobs whose value belongs to one page only (a cursor, a unit index): never carried.
_PAGE_ONLY = {"t", "unit"}
# URL parameters that are not knobs: the classroom mode and presentation mode.
_FLAGS = ("controls", "present")


@dataclass
class PageContext:
    """What a page needs to know about how it is being shown."""

    scale: float          # figure font scale (1, or larger in presentation mode)
    controls_hidden: bool  # classroom link: ?controls=hidden


def page_setup(title: str, *, icon: str = ":material/replay:") -> PageContext:
    """Page config, navigation, classroom and presentation modes. Call first on every page."""
    ss = st.session_state
    first = ss.get("_page") != title  # first run of this page: a new visit, a link or a page switch
    ss["_page"] = title
    ss["_first_run"] = first
    ss["_shown"] = {}
    if first:
        ss["_controls_hidden"] = _query_value("controls") == "hidden"
        if _query_value("present") is not None:
            ss["present"] = _query_value("present") == "true"
    hidden = ss.get("_controls_hidden", False)
    st.set_page_config(page_title=f"{title} · rnnviz", page_icon=icon, layout="wide",
                       initial_sidebar_state="collapsed" if hidden else "expanded")
    st.html(_BASE_CSS)
    with st.sidebar:
        st.markdown("### rnnviz")
        # Filled by finish() at the end of the run, when every widget's value is known, so that the
        # links carry the current settings to the next page.
        ss["_nav"] = st.container()
        st.divider()
        present = st.toggle("Presentation mode (larger text)", key="present", persist_state="session",
                            help="Larger fonts in the page and the figures, for a projector.")
    if present:
        st.html(_PRESENT_CSS)
    if hidden:
        st.html(_HIDDEN_CSS)
    return PageContext(scale=1.35 if present else 1.0, controls_hidden=hidden)


def _query_value(name: str) -> str | None:
    try:
        values = st.query_params.get_all(name)
    except Exception:  # noqa: BLE001 - a malformed query string must never break the page
        return None
    return values[-1] if values else None


def _carried_params() -> dict:
    """The user's current shared settings as query parameters, so navigation keeps them."""
    ss = st.session_state
    values = {}
    for name in KNOBS:
        if name in _PAGE_ONLY or name not in ss:
            continue
        try:
            values[name] = KNOBS[name].validate(ss[name])
        except ValueError:
            continue
    flags = {"present": "true"} if ss.get("present") else {}
    if ss.get("_controls_hidden"):
        flags["controls"] = "hidden"
    return {**link_params(values), **flags}


# --------------------------------------------------------------------------- knobs
def check_url(names, limits: dict | None = None) -> list[str]:
    """On a page's first run, seed these knobs' widgets from the URL.

    Valid values go into the widgets; each invalid one is replaced by the default and gets a
    human note (returned, for `show_notes`). `limits` narrows a knob's range on this page:
    {name: (min, max)}. Later runs return [] (the URL is then the page's own).
    """
    if not st.session_state.get("_first_run", True):
        return []
    limits = {**{n: UI_LIMITS[n] for n in names if n in UI_LIMITS}, **(limits or {})}
    notes = []
    for name in names:
        raw = _query_value(name)
        if raw is None:
            continue
        knob = KNOBS[name]
        try:
            value = knob.validate(raw)
            lo, hi = limits.get(name, (None, None))
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ValueError(f"{name} must be in [{lo}, {hi}] on this page")
            st.session_state[name] = token(name, value) if knob.kind == "choice" else value
        except ValueError:
            allowed = knob.allowed()
            if name in limits:
                allowed = f"in [{limits[name][0]}, {limits[name][1]}] on this page"
            shown = raw if len(raw) <= 40 else raw[:40] + "…"
            notes.append(f"The link's value {name}={shown!r} was ignored: {name} must be {allowed}. "
                         f"Using {_fmt(_default(name, limits))} instead.")
            st.session_state.pop(name, None)
    return notes


def show_notes(notes: list[str], key: str = "url_notes"):
    """Show the URL notes of this page load until the user dismisses them."""
    if st.session_state.get("_first_run", True):
        st.session_state[key] = notes
    kept = st.session_state.get(key, [])
    if kept:
        box = st.container()
        for note in kept:
            box.warning(note, icon=":material/link_off:")
        if box.button("Dismiss", key=f"{key}_dismiss"):
            st.session_state[key] = []
            st.rerun()


def token(name: str, value) -> str:
    """How a knob's value is shown in its widget and written in links."""
    return str(value).upper() if name in ("cell", "tr_cell") else str(value)


def link_params(values: dict) -> dict:
    """Query parameters for a link that opens a page with these knob values (non-defaults only)."""
    out = {}
    for name, value in values.items():
        k = KNOBS[name]
        if value == k.default:
            continue
        out[name] = token(name, value) if k.kind == "choice" else _fmt(value)
    return out


def _default(name, limits):
    d = KNOBS[name].default
    lo, hi = (limits or {}).get(name, (None, None))
    if hi is not None and isinstance(d, (int, float)):
        d = min(d, hi)
    if lo is not None and isinstance(d, (int, float)):
        d = max(d, lo)
    return d


def _fmt(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def knob(name: str, container=None, *, limits: tuple | None = None, options=None, label: str | None = None,
         help: str | None = None, number: bool = False, disabled: bool = False):
    """The widget for one knob of KNOBS (its value also goes into the page's URL)."""
    value = _knob(name, container, limits=limits, options=options, label=label, help=help, number=number,
                  disabled=disabled)
    st.session_state["_shown"][name] = value
    return value


def _knob(name, container, *, limits, options, label, help, number, disabled):
    k = KNOBS[name]
    c = container if container is not None else st
    ss = st.session_state
    common = dict(key=name, help=help or k.help, persist_state="session", disabled=disabled)
    text = label or k.label
    if k.kind == "choice":
        # Options are shown as short tokens ("LSTM", "gaussian"), the same text links carry;
        # the longer descriptions go into the help text.
        opts = list(options or k.choices)
        shown = [token(name, o) for o in opts]
        descriptions = "; ".join(f"{token(name, o)}: {k.label_of(o)}" for o in opts if k.label_of(o) != o)
        if descriptions and not help:
            common["help"] = f"{k.help} ({descriptions})" if k.help else descriptions
        if ss.get(name) not in shown:
            ss.pop(name, None)
        kw = {} if name in ss else {"index": opts.index(k.default) if k.default in opts else 0}
        picked = c.selectbox(text, shown, **kw, **common)
        return opts[shown.index(picked)] if picked in shown else k.default
    lo, hi = limits or UI_LIMITS.get(name, (k.min, k.max))
    default = _default(name, {name: (lo, hi)})
    if name in ss:  # keep a carried or remembered value inside this page's range
        v = ss[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            ss.pop(name)
        elif not lo <= v <= hi:
            ss[name] = type(default)(min(max(v, lo), hi))
    kw = {} if name in ss else {"value": default}
    if k.kind == "int":
        lo, hi = int(lo), int(hi)
        if name in ss:
            ss[name] = int(ss[name])
        if number:
            return c.number_input(text, min_value=lo, max_value=hi, step=1, **kw, **common)
        return c.slider(text, min_value=lo, max_value=hi, step=1, **kw, **common)
    if name in ss:
        ss[name] = float(ss[name])
    return c.slider(text, min_value=float(lo), max_value=float(hi), step=float(k.step), **kw, **common)


def finish(page: str):
    """End of every page: the URL, navigation links that carry the settings, share links."""
    ss = st.session_state
    params = link_params(ss.get("_shown", {}))
    if ss.get("present"):
        params["present"] = "true"
    if ss.get("_controls_hidden"):
        params["controls"] = "hidden"
    try:
        current = {k: st.query_params.get_all(k)[-1] for k in st.query_params}
    except Exception:  # noqa: BLE001
        current = {}
    if current != params:
        st.query_params.from_dict(params)
    nav = ss.get("_nav")
    if nav is not None:
        carried = _carried_params()
        with nav:
            for path, label, page_icon in PAGES:
                if (ROOT / path).exists():
                    st.page_link(path, label=label, icon=page_icon, query_params=carried)
    share_box(page, params)


def sync_url(name: str, value):
    """Write one knob to the URL now (for widgets inside a fragment, whose reruns skip finish())."""
    k = KNOBS[name]
    if value == k.default:
        if name in st.query_params:
            del st.query_params[name]
    else:
        text = token(name, value) if k.kind == "choice" else _fmt(value)
        if st.query_params.get(name) != text:
            st.query_params[name] = text


def share_box(page: str, params: dict):
    """Sidebar links that reproduce this view: one as is, one for the class (controls hidden,
    presentation mode)."""
    base = (st.context.url or "").split("?", 1)[0]
    if not base:
        base = "/" + Path(page).stem.split("_", 1)[-1] if page != "viz_app.py" else "/"
    plain = {k: v for k, v in params.items() if k not in _FLAGS}
    query = "&".join(f"{k}={v}" for k, v in plain.items())
    link = base + ("?" + query if query else "")
    classroom = base + "?" + "&".join(filter(None, [query, "controls=hidden", "present=true"]))
    with st.sidebar.expander("Share this view", icon=":material/share:"):
        st.markdown(f"[Link to exactly this view]({link})")
        st.markdown(f"[Classroom link (no controls, large text)]({classroom})")
        st.caption("Every setting is in the address bar, so a copied URL reproduces the numbers on screen.")


def chart(fig, key: str | None = None, **kwargs):
    """Show a figure with its own (large, fixed-meaning) styling rather than the theme's."""
    return st.plotly_chart(fig, theme=None, key=key, config=CHART_CONFIG, **kwargs)


# --------------------------------------------------------------------------- caches
@st.cache_resource(max_entries=32, ttl=1800, show_spinner=False)
def cached_trace(cell: str, activation: str, init: str, hidden_size: int, recurrent_gain: float,
                 input_gain: float, forget_bias: float, seed: int, seq_len: int, input_kind: str,
                 loss: str, input_size: int = 1, text: str = inputs_mod.DEFAULT_TEXT) -> Trace:
    """A trace keyed on small scalars only. Shared read-only between sessions."""
    size = inputs_mod.input_size_for(input_kind, input_size, text)
    spec = ModelSpec(cell=cell, input_size=size, hidden_size=hidden_size, activation=activation, init=init,
                     recurrent_gain=recurrent_gain, input_gain=input_gain, forget_bias=forget_bias, seed=seed)
    x = inputs_mod.make(input_kind, seq_len, size, seed=seed, text=text)
    return trace(build_model(spec), x, loss=loss)


@st.cache_resource(max_entries=16, ttl=1800, show_spinner=False)
def cached_traces(cells: tuple, activation: str, init: str, hidden_size: int, recurrent_gain: float,
                  input_gain: float, forget_bias: float, seed: int, seq_len: int, input_kind: str, loss: str,
                  input_size: int = 1, text: str = inputs_mod.DEFAULT_TEXT) -> dict:
    """Traces of several cells on the same input and seed, computed in parallel. {cell: Trace}."""
    size = inputs_mod.input_size_for(input_kind, input_size, text)
    x = inputs_mod.make(input_kind, seq_len, size, seed=seed, text=text)
    models = {cell: build_model(ModelSpec(cell=cell, input_size=size, hidden_size=hidden_size,
                                          activation=activation, init=init, recurrent_gain=recurrent_gain,
                                          input_gain=input_gain, forget_bias=forget_bias, seed=seed))
              for cell in cells}
    return trace_all(models, x, loss=loss)


def jacobian_lag_limit(cell: str, H: int, T: int) -> int:
    """How many lags of Jacobian products fit the page's budget (each costs ~H^3, 2H^3 for LSTM)."""
    per_step = (2 if cell == "lstm" else 1) * float(H) ** 3
    return int(min(T - 1, max(50, JACOBIAN_BUDGET // per_step)))


def controls(container=None):
    """A container for a page's controls: hidden in classroom links (?controls=hidden)."""
    c = container if container is not None else st.sidebar
    return c.container(key="controls_" + str(id(c) % 10000))


def escape(text: str) -> str:
    return html.escape(str(text))
