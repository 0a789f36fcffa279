"""Knob widgets and the address bar: every widget of a knob is built from `rnnviz.spec.KNOBS` (one
definition of label, range, default and spelling), and the URL is read and written by the spec's one
codec (`parse_query`, `to_query`).

The address bar always holds the page's state:
- on the first run of a page in a session (a pasted link, a preset, a page switch) the
  URL's values are validated (`check_url`) and seeded into the widgets; invalid ones are
  named in a note and replaced by defaults;
- at the end of every run `ui.finish` writes the page's non-default values back to the URL,
  and the navigation links carry the shared values to the next page (`carried_params`).
Widgets keep their values across pages (`persist_state="session"`). Streamlit's own
`bind="query-params"` is not used: it scopes parameters to one page and drops them on a
page switch, which would lose a preset's or the previous page's settings.
"""
from __future__ import annotations

import streamlit as st

from .. import i18n
from ..i18n import _
from ..spec import KNOBS, PAGE_ONLY, default_within, format_value, parse_query, to_query
from .untrusted import inert


def query_value(name: str) -> str | None:
    """The last value of a URL parameter, or None (a malformed query string never breaks the page)."""
    try:
        values = st.query_params.get_all(name)
    except Exception:  # noqa: BLE001 - a malformed query string must never break the page
        return None
    return values[-1] if values else None


def carried_params() -> dict:
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
    return {**link_params(values), **flags, **language_params()}


def language_params() -> dict:
    """{"lang": code} when the page is not in the default language: every link keeps the language."""
    lang = st.session_state.get("lang", i18n.DEFAULT)
    return {"lang": lang} if lang in i18n.LANGUAGES and lang != i18n.DEFAULT else {}


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
        raw = query_value(name)
        if raw is None:
            continue
        values, problems = parse_query({name: raw}, [name], limits, quote_value=inert)
        if problems:
            notes += problems
            st.session_state.pop(name, None)
        else:
            st.session_state[name] = widget_value(name, values[name])
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
        if box.button(_("Dismiss"), key=f"{key}_dismiss"):
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
         help: str | None = None, number: bool = False, disabled: bool = False, key: str | None = None):
    """The widget for one knob of KNOBS: its value also goes into the page's URL and follows the user
    to other pages. With `key`, a widget of the page's own under that key, built from the knob's
    definition (label, range, choices) but neither in the URL nor carried."""
    value = _knob(name, container, limits=limits, options=options, label=label, help=help, number=number,
                  disabled=disabled, key=key)
    if key is None and value != ():  # an empty multi knob is not a shareable state
        st.session_state["_shown"][name] = value
    return value


def shown() -> dict:
    """{name: value} of the knobs this run of the page has shown, which its link carries: a page
    builds its Scenario from them (`Scenario.from_values(ui.shown())`)."""
    return dict(st.session_state.get("_shown", {}))


def url_value(name: str, value):
    """Put the value of a page's own widget for knob `name` into the page's URL, as `knob` does for
    its widgets, when it is valid; an invalid one (e.g. too long) is left out of links."""
    try:
        st.session_state["_shown"][name] = KNOBS[name].validate(value)
    except ValueError:
        st.session_state["_shown"].pop(name, None)


def relabel(key: str):
    """Call before drawing a selectbox or radio whose options are shown in the reader's language
    (`format_func=_`).

    The browser holds such a widget's value as its label. After a language switch the options come in the
    new language, but the box went on showing the old label (and a radio lost its choice) until the user
    picked again. Setting the same value again on the first run in a new language makes Streamlit send it
    with its new label: the choice, and so the URL, stay as they were. (Pills and segmented controls follow
    the language by themselves.)"""
    ss = st.session_state
    drawn = ss.setdefault("_labels_language", {})  # {widget key: the language its value was last shown in}
    lang = i18n.current()
    if key in ss and drawn.get(key, lang) != lang:
        ss[key] = ss[key]
    drawn[key] = lang


def _knob(name, container, *, limits, options, label, help, number, disabled, key):
    k = KNOBS[name]
    c = container if container is not None else st
    ss = st.session_state
    common = dict(key=key or name, help=help or _(k.help), disabled=disabled)
    if key is None:
        common["persist_state"] = "session"
    name = key or name  # from here on: the widget's key in the session state
    text = label or _(k.label)
    if k.kind == "text":
        return _text_knob(k, c, text, common)
    if k.kind == "bool":
        if name in ss and not isinstance(ss[name], bool):
            ss.pop(name)
        return c.toggle(text, **({} if name in ss else {"value": k.default}), **common)
    if k.kind == "choice":
        # Options are shown as short tokens ("LSTM", "gaussian"), the same text links carry;
        # the longer descriptions go into the help text.
        opts = list(options or k.choices)
        shown = [k.token(o) for o in opts]
        descriptions = "; ".join(f"{_(k.token(o))}: {k.label_of(o)}" for o in opts if (k.labels or {}).get(o, o) != o)
        if descriptions and not help:
            common["help"] = f"{_(k.help)} ({descriptions})" if k.help else descriptions
        if ss.get(name) not in shown:
            ss.pop(name, None)
        relabel(name)
        kw = {} if name in ss else {"index": opts.index(k.default) if k.default in opts else 0}
        picked = c.selectbox(text, shown, format_func=_, **kw, **common)
        return opts[shown.index(picked)] if picked in shown else k.default
    if k.kind == "multi":  # toggles; may come back empty (the page says what to do then)
        opts = list(options or k.choices)
        shown = [k.token(o) for o in opts]
        if name in ss and (not isinstance(ss[name], list) or not set(ss[name]) <= set(shown)):
            ss.pop(name)
        kw = {} if name in ss else {"default": [k.token(o) for o in k.default if o in opts]}
        picked = c.pills(text, shown, selection_mode="multi", format_func=_, **kw, **common) or []
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
        c.caption(_("{label}: {value} (the only possible value here)").format(label=text, value=format_value(value)))
        return value
    default = default_within(k.name, (lo, hi))
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
    ss, key = st.session_state, common["key"]
    if key in ss and not isinstance(ss[key], str):
        ss.pop(key)
    kw = {} if key in ss else {"value": k.default}
    typed = c.text_input(label, max_chars=int(k.max), **kw, **common)
    if not typed:
        return k.default
    try:
        return k.validate(typed)
    except ValueError:
        c.warning(_("This text cannot be used: it must be {allowed}. Using {default} instead.").format(
                  allowed=k.allowed(), default=inert(k.default)),
                  icon=":material/warning:")
        return k.default


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


