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

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from . import configure
from . import inputs as inputs_mod
from .cells import LABELS
from .model import RecurrentModel, build_model
from .spec import KNOBS, PAGE_ONLY, ModelSpec, default_within, format_value, parse_query, query_string, to_query
from .tasks import get_task
from .trace import Trace, jacobian_cost, trace, trace_all

ROOT = Path(__file__).resolve().parent.parent
FAVICON = Path(__file__).resolve().parent / "favicon.png"  # a file, so the tab icon needs no network
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
h1 [data-heading-text], h2 [data-heading-text], h3 [data-heading-text] {font-size: inherit !important;}
[data-testid="stMetricValue"] {font-size: 2.1rem;}
h1 *, h2 *, h3 *, [data-testid="stMetricValue"] * {font-size: inherit !important;}
</style>
"""
_HIDDEN_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="collapsedControl"],
[data-testid="stExpandSidebarButton"], [class*="st-key-controls"] {display: none !important;}
</style>
"""

# Budget of multiply-adds for Jacobian products on one page view (about a quarter second).
JACOBIAN_BUDGET = 3e9
# URL parameters that are not knobs: the classroom mode and presentation mode.
_FLAGS = ("controls", "present")


@dataclass
class PageContext:
    """What a page needs to know about how it is being shown."""

    scale: float          # figure font scale (1, or larger in presentation mode)
    controls_hidden: bool  # classroom link: ?controls=hidden


def page_setup(title: str) -> PageContext:
    """Page config, navigation, classroom and presentation modes. Call first on every page."""
    _configure_process()
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
    st.set_page_config(page_title=f"{title} · rnnviz", page_icon=str(FAVICON), layout="wide",
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


_configured = []


def _configure_process():
    """Once per server process: one intra-op torch thread (see rnnviz.configure), unless
    RNNVIZ_TORCH_THREADS says otherwise."""
    if not _configured:
        configure(threads=int(os.environ.get("RNNVIZ_TORCH_THREADS", "1")))
        _configured.append(True)


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
        if name in PAGE_ONLY or name not in ss:
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
    """On a page's first run, seed these knobs' widgets from the URL (read by `spec.parse_query`).

    Valid values go into the widgets; each invalid one is replaced by the default and gets a
    human note (returned, for `show_notes`). Numbers keep to their knob's page range; `limits`
    narrows a knob's range on this page further: {name: (min, max)}. Later runs return [] (the
    URL is then the page's own).
    """
    if not st.session_state.get("_first_run", True):
        return []
    limits = {**{n: KNOBS[n].page_range for n in names if KNOBS[n].page_range}, **(limits or {})}
    notes = []
    for name in names:
        raw = _query_value(name)
        if raw is None:
            continue
        values, problems = parse_query({name: raw}, [name], limits, quote_value=inert)
        if problems:
            notes += problems
            st.session_state.pop(name, None)
        else:
            st.session_state[name] = widget_value(name, values[name])
    return notes


def inert(text: str) -> str:
    """Untrusted text (a link value, a file name) shown inert in markdown: as a code span, where
    nothing is a link, an autolinked address, an icon shortcode, a formula or HTML. Backticks,
    which would end the span, and control characters are replaced."""
    clean = "".join(" " if (ord(ch) < 32 or ord(ch) == 127) else "ˋ" if ch == "`" else ch for ch in str(text))
    return "`" + (clean.strip() or " ") + "`"


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
    """How a knob's value is shown in its widget and written in links ("LSTM"; "RNN,GRU" for a
    multi knob)."""
    return KNOBS[name].format(value)


def widget_value(name: str, value):
    """A validated knob value as its widget holds it: tokens for choices, a list of them for a
    multi knob, the number itself otherwise."""
    k = KNOBS[name]
    if k.kind == "multi":
        return [k.token(v) for v in value]
    return k.token(value) if k.kind == "choice" else value


def link_params(values: dict) -> dict:
    """Query parameters for a link that opens a page with these knob values (non-defaults only)."""
    return to_query(values)


def knob(name: str, container=None, *, limits: tuple | None = None, options=None, label: str | None = None,
         help: str | None = None, number: bool = False, disabled: bool = False):
    """The widget for one knob of KNOBS (its value also goes into the page's URL)."""
    value = _knob(name, container, limits=limits, options=options, label=label, help=help, number=number,
                  disabled=disabled)
    if value != ():  # an empty multi knob is not a shareable state
        st.session_state["_shown"][name] = value
    return value


def url_value(name: str, value):
    """Put the value of a page's own widget for knob `name` into the page's URL, as `knob` does for
    its widgets, when it is valid; an invalid one (e.g. too long) is left out of links."""
    try:
        st.session_state["_shown"][name] = KNOBS[name].validate(value)
    except ValueError:
        st.session_state["_shown"].pop(name, None)


def _knob(name, container, *, limits, options, label, help, number, disabled):
    k = KNOBS[name]
    c = container if container is not None else st
    ss = st.session_state
    common = dict(key=name, help=help or k.help, persist_state="session", disabled=disabled)
    text = label or k.label
    if k.kind == "text":
        return _text_knob(k, c, text, common)
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
    if k.kind == "multi":  # toggles; may come back empty (the page says what to do then)
        opts = list(options or k.choices)
        shown = [token(name, o) for o in opts]
        if name in ss and (not isinstance(ss[name], list) or not set(ss[name]) <= set(shown)):
            ss.pop(name)
        kw = {} if name in ss else {"default": [token(name, o) for o in k.default if o in opts]}
        picked = c.pills(text, shown, selection_mode="multi", **kw, **common) or []
        return tuple(o for o, s in zip(opts, shown) if s in picked)
    if k.values:  # a fixed set of numbers, e.g. a log-spaced grid of learning rates
        if name in ss and ss[name] not in k.values:
            ss.pop(name)
        kw = {} if name in ss else {"value": k.default}
        return c.select_slider(text, options=list(k.values), format_func=format_value, **kw, **common)
    lo, hi = limits or k.limits()
    if lo >= hi:  # one possible value (a one-step sequence, a tiny text): nothing to slide
        value = type(k.default)(lo) if k.kind == "int" else float(lo)
        ss.pop(name, None)
        c.caption(f"{text}: {format_value(value)} (the only possible value here)")
        return value
    default = default_within(name, (lo, hi))
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


def _text_knob(k, c, label, common):
    """A text box for a "text" knob: empty means the default; text the knob refuses (a control
    character pasted in) gets a note under the box and the default is used."""
    ss = st.session_state
    if k.name in ss and not isinstance(ss[k.name], str):
        ss.pop(k.name)
    kw = {} if k.name in ss else {"value": k.default}
    typed = c.text_input(label, max_chars=int(k.max), **kw, **common)
    if not typed:
        return k.default
    try:
        return k.validate(typed)
    except ValueError:
        c.warning(f"This text cannot be used: it must be {k.allowed()}. Using {inert(k.default)} instead.",
                  icon=":material/warning:")
        return k.default


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
        text = k.format(value)
        if st.query_params.get(name) != text:
            st.query_params[name] = text


def share_box(page: str, params: dict):
    """Sidebar links that reproduce this view: one as is, one for the class (controls hidden,
    presentation mode)."""
    base = (st.context.url or "").split("?", 1)[0]
    if not base:
        base = "/" + Path(page).stem.split("_", 1)[-1] if page != "viz_app.py" else "/"
    plain = {k: v for k, v in params.items() if k not in _FLAGS}
    query = query_string(plain)  # a typed text may hold spaces, "&" or "#"
    link = base + ("?" + query if query else "")
    classroom = base + "?" + "&".join(filter(None, [query, "controls=hidden", "present=true"]))
    with st.sidebar.expander("Share this view", icon=":material/share:"):
        st.markdown(f"[Link to exactly this view]({link})")
        st.markdown(f"[Classroom link (no controls, large text)]({classroom})")
        st.caption("Every setting is in the address bar, so a copied URL reproduces the numbers on screen.")


def overflow_alerts(traces: dict, container=None, *, shown: str = "shown as gaps", gradient: bool = True):
    """Say plainly where a trace exploded: an error when its state left float32's range (from which
    step, and how the page's figures show it), a warning when its gradient did (with `gradient`).
    `traces` is {label: Trace}."""
    c = container if container is not None else st
    for label, tr in traces.items():
        if tr.forward_overflow_step is not None:
            c.error(f"**{label} exploded:** its hidden state left float32's range at t = "
                    f"{tr.forward_overflow_step}. From there on the states are inf / NaN ({shown}).",
                    icon=":material/warning:")
        k = tr.backward_overflow_step
        if gradient and k is not None:
            top = int(np.nanargmax(tr.log10_grad_norm))
            c.warning(f"**{label}'s gradient exploded:** ‖∂L/∂h_k‖ passes float32's largest number at t = {k} "
                      f"and reaches 10^{tr.log10_grad_norm[top]:.0f} at t = {top}. torch's own float32 backward "
                      f"would return inf there; the figure shows the exact value.", icon=":material/warning:")


def chart(fig, key: str | None = None, **kwargs):
    """Show a figure with its own (large, fixed-meaning) styling rather than the theme's."""
    return st.plotly_chart(fig, theme=None, key=key, config=CHART_CONFIG, **kwargs)


# --------------------------------------------------------------------------- caches
def make_spec(cell: str, activation: str, init: str, hidden_size: int, recurrent_gain: float, input_gain: float,
              forget_bias: float, seed: int, input_kind: str, input_size: int = 1,
              text: str = inputs_mod.DEFAULT_TEXT, **_view) -> ModelSpec:
    """The ModelSpec a page's settings describe (the input size follows the input sequence)."""
    size = inputs_mod.input_size_for(input_kind, input_size, text)
    return ModelSpec(cell=cell, input_size=size, hidden_size=hidden_size, activation=activation, init=init,
                     recurrent_gain=recurrent_gain, input_gain=input_gain, forget_bias=forget_bias, seed=seed)


# Traces shared between sessions are bounded in memory: up to SHARED_TRACE_BYTES each (estimated),
# a few dozen of them; a larger trace is kept for its own session only (the latest one).
SHARED_TRACE_BYTES = 64 << 20
_BYTES_PER_STATE = {"rnn": 40, "lstm": 100, "gru": 80}  # arrays and factors per (time step, unit), measured


def _trace_bytes(cells, hidden_size: int, seq_len: int) -> float:
    return sum(_BYTES_PER_STATE[c] for c in cells) * hidden_size * seq_len


def cached_trace(cell: str, **settings) -> Trace:
    """The trace of one built model (see `cached_traces` for the caching)."""
    return cached_traces((cell,), **settings)[cell]


def cached_traces(cells: tuple, **settings) -> dict:
    """Traces of these cells on the same input and seed, computed in parallel. {cell: Trace}.

    Keyed on small scalars only. Small traces are shared read-only between sessions; a trace too
    large to share is kept for this session alone."""
    if _trace_bytes(cells, settings["hidden_size"], settings["seq_len"]) <= SHARED_TRACE_BYTES:
        return _shared_traces(tuple(cells), **settings)
    key = (tuple(cells), tuple(sorted(settings.items())))
    mine = st.session_state.get("_own_traces")
    if mine is None or mine[0] != key:
        mine = st.session_state["_own_traces"] = (key, _compute_traces(tuple(cells), **settings))
    return mine[1]


@st.cache_resource(max_entries=24, ttl=1800, show_spinner=False)
def _shared_traces(cells: tuple, **settings) -> dict:
    return _compute_traces(cells, **settings)


def _compute_traces(cells: tuple, activation: str, init: str, hidden_size: int, recurrent_gain: float,
                    input_gain: float, forget_bias: float, seed: int, seq_len: int, input_kind: str, loss: str,
                    input_size: int = 1, text: str = inputs_mod.DEFAULT_TEXT) -> dict:
    specs = {cell: make_spec(cell, activation, init, hidden_size, recurrent_gain, input_gain, forget_bias, seed,
                             input_kind, input_size, text) for cell in cells}
    size = next(iter(specs.values())).input_size
    x = inputs_mod.make(input_kind, seq_len, size, seed=seed, text=text)
    return trace_all({cell: build_model(spec) for cell, spec in specs.items()}, x, loss=loss)


def spec_export_box(tr: Trace, spec: ModelSpec, *, seq_len: int, input_kind: str, loss: str,
                    text: str = inputs_mod.DEFAULT_TEXT, key: str = "export", container=None):
    """export_box for a trace built from a spec: the files carry the spec, the script rebuilds it."""
    from .files import export

    name = f"rnnviz_{spec.cell}_T{seq_len}"
    export_box(tr, name, meta=spec, key=key, container=container, seq_len=seq_len, input_kind=input_kind,
               script=lambda: export.reproduce_script(spec, seq_len, input_kind, loss, text=text))


def jacobian_lag_limit(cell: str, H: int, T: int) -> int:
    """How many lags of Jacobian products fit the page's budget."""
    return int(min(T - 1, max(1, JACOBIAN_BUDGET // jacobian_cost(cell, H, 1))))


def controls(container=None):
    """A container for a page's controls: hidden in classroom links (?controls=hidden)."""
    c = container if container is not None else st.sidebar
    return c.container(key="controls_" + str(id(c) % 10000))


def export_box(tr: Trace, name: str, *, meta=None, script=None, model=None, key: str = "export",
               container=None, **settings):
    """Download buttons for a trace: CSV and NPZ (every array, with the settings as metadata), and
    optionally the model's weights and a PyTorch script reproducing the numbers. Files are built
    only when a button is clicked. `script` is a callable returning the script's text."""
    from .files import export

    c = container if container is not None else st.expander("Export these numbers", icon=":material/download:")
    cols = c.columns(4 if model is not None else 3)

    def csv():
        try:
            return export.trace_to_csv(tr, meta, **settings)
        except ValueError as exc:  # too large for a CSV: say so inside the file rather than fail
            return f"# {exc}\n# Use the NPZ export for this size.\n".encode()

    cols[0].download_button("Trace as CSV", csv, file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv",
                            icon=":material/table:", on_click="ignore")
    cols[1].download_button("Trace as NPZ", lambda: export.trace_to_npz(tr, meta, **settings),
                            file_name=f"{name}.npz", mime="application/octet-stream", key=f"{key}_npz",
                            icon=":material/data_array:", on_click="ignore")
    if script is not None:
        cols[2].download_button("PyTorch script", lambda: script().encode(), file_name=f"{name}.py",
                                mime="text/x-python", key=f"{key}_py", icon=":material/code:", on_click="ignore",
                                help="A short script using only PyTorch that recomputes these numbers.")
    if model is not None:
        cols[-1].download_button("Model weights (.pt)", lambda: export.model_to_bytes(model, meta),
                                 file_name=f"{name}.pt", mime="application/octet-stream", key=f"{key}_pt",
                                 icon=":material/save:", on_click="ignore",
                                 help="A state dict (weights only): torch.load(..., weights_only=True) reads it.")
    c.caption("Figures: the camera icon in each chart's toolbar saves a PNG.")


def model_export_box(tr: Trace, model: RecurrentModel, title: str, *, key: str = "export", container=None):
    """export_box for a trained or uploaded model: the files carry its weights and input."""
    from .files import export

    stem = "".join(ch if ch.isalnum() else "_" for ch in title)[:40].strip("_") or "model"
    export_box(tr, f"rnnviz_{stem}", meta={"source": title}, model=model, key=key, container=container,
               script=lambda: export.reproduce_script(model=model, x=tr.inputs, loss=tr.loss))


# --------------------------------------------------------------------------- trained models
# The Training Lab keeps the models it trained in this session (never in a shared cache), and the
# Your Model page the uploaded ones:
#   st.session_state[TRAINED_KEY] = {label: {"model": RecurrentModel, "task": task name or None,
#                                            "seq_len": int, "settings": dict, "x": input or None}}
# An uploaded model has no task: it reads the sequence uploaded with it ("x").
# The explorer pages offer them next to the model built from their settings.
TRAINED_KEY = "trained_models"
MODEL_SOURCE_KEY = "model_source"
_PICKED = "_model_source_picked"  # the last pick, kept outside the widget's own state
BUILT = "Built from the settings"


@dataclass
class TrainedModel:
    """A model trained in the Training Lab, as an explorer page receives it."""

    label: str
    model: RecurrentModel
    task: str | None
    seq_len: int
    settings: dict
    x: object = None  # an uploaded model's own input [T, I]

    @property
    def uploaded(self) -> bool:
        return self.task is None

    @property
    def short(self) -> str:
        """"Trained GRU" or "Your LSTM": a legend label."""
        return f"{'Your' if self.uploaded else 'Trained'} {LABELS[self.model.cell]}"

    def reads(self, seed: int, T: int) -> str:
        """What its trace reads, in words: for a model from Your Model, the sequence given there
        (settings["reads"], e.g. "the named sequence “sine” of Your Model")."""
        if self.uploaded:
            return f"{self.settings.get('reads') or 'the sequence given with it'} ({T} steps)"
        return f"sample {seed} of its task ({T} steps)"

    @property
    def title(self) -> str:
        """"the trained GRU (Adding problem, T=50)", or "your model (mine.pt)" for an upload."""
        if self.task is None:
            return f"your model ({self.label.split(' · ')[0]})"
        return f"the trained {self.label.split(' · ')[0]} ({get_task(self.task).title}, T={self.seq_len})"


def model_source(container=None) -> TrainedModel | None:
    """On an explorer page: when this session has trained models, a selectbox "Model" offering
    "Built from the settings" or one of them. Returns the trained model picked, or None (use the
    page's own settings). Shows nothing and returns None when nothing has been trained."""
    models = st.session_state.get(TRAINED_KEY) or {}
    if not models:
        return None
    ss = st.session_state
    options = [BUILT, *models]
    if ss.get(MODEL_SOURCE_KEY) not in options:
        ss.pop(MODEL_SOURCE_KEY, None)
    if ss.get(_PICKED) in options and (ss.get("_first_run", True) or MODEL_SOURCE_KEY not in ss):
        # A page switch: the previous page's widget state does not carry to this page's widget
        # (another element), so set it, as check_url does for the knobs.
        ss[MODEL_SOURCE_KEY] = ss[_PICKED]
    c = container if container is not None else st
    picked = c.selectbox("Model", options, key=MODEL_SOURCE_KEY, persist_state="session",
                         help="A model trained in the Training Lab in this session, or the untrained one the "
                              "settings below build.")
    ss[_PICKED] = picked
    if picked not in models:
        return None
    entry = models[picked]
    return TrainedModel(picked, entry["model"], entry["task"], entry["seq_len"], entry["settings"], entry.get("x"))


def trace_trained(picked: TrainedModel, seed: int = 0, loss: str | None = None) -> Trace:
    """Trace a trained model on sample `seed` of its own task, or an uploaded one on its sequence.
    Kept for this session (the model is this user's own): reruns reuse it and its Jacobian norms."""
    key = (picked.label, id(picked.model), id(picked.x), seed, loss)
    kept = st.session_state.setdefault("_trained_traces", {})
    if key not in kept:
        if picked.task is None:
            tr = trace(picked.model, picked.x, loss=loss or "last")
        else:
            task = get_task(picked.task)
            x, _ = task.sample(picked.seq_len, seed)
            tr = trace(picked.model, x, loss=loss or task.loss_on)
        while len(kept) >= 4:  # the last few, for switching back and forth
            kept.pop(next(iter(kept)))
        kept[key] = tr
    return kept[key]


def remember_trained(label: str, model: RecurrentModel, task: str | None, seq_len: int, settings: dict,
                     keep: int = 9, x=None) -> None:
    """Add a trained (or, with task None and its input `x`, uploaded) model to this session's list
    (the same label replaces the older one); at most `keep` models are kept, the oldest dropped first."""
    models = st.session_state.setdefault(TRAINED_KEY, {})
    if label in models and models[label]["model"] is model and models[label].get("x") is x:
        return
    models.pop(label, None)
    models[label] = {"model": model, "task": task, "seq_len": seq_len, "settings": settings, "x": x}
    while len(models) > keep:
        models.pop(next(iter(models)))


def open_trained(label: str, page: str):
    """Switch to an explorer page with the trained model `label` picked (and the shared settings)."""
    st.session_state[MODEL_SOURCE_KEY] = st.session_state[_PICKED] = label
    st.switch_page(page, query_params=_carried_params())
