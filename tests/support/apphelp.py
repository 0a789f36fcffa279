"""Helpers for page tests: run a page under AppTest and read its Plotly figures back as arrays."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
from streamlit.testing.v1 import AppTest

from rnnviz.i18n import language
from tests.support import ROOT


def run_page(path: str, query: dict | None = None, timeout: float = 120) -> AppTest:
    """Open the app as a user does (home page as entry point), switch to `path`, run once."""
    at = AppTest.from_file(str(ROOT / "viz_app.py"), default_timeout=timeout)
    if path != "viz_app.py":
        at.switch_page(path)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def decode(value):
    """A Plotly JSON array: plain list, or numpy's base64 typed array {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            arr = arr.reshape([int(s) for s in str(shape).split(",")])
        return arr
    return np.asarray(value)


def figures(at: AppTest) -> dict:
    """{chart key: figure dict} for every Plotly chart on the page (keys from `key=`)."""
    out = {}
    for el in at.get("plotly_chart"):
        # element ids look like "$$ID-<hash>-<user key>"
        out[el.proto.id.split("-", 2)[-1]] = json.loads(el.proto.spec)
    return out


def trace_named(fig: dict, startswith: str) -> dict:
    for tr in fig["data"]:
        if str(tr.get("name", "")).startswith(startswith):
            return tr
    raise KeyError(f"no trace named {startswith!r} in {[t.get('name') for t in fig['data']]}")


def texts(at: AppTest) -> str:
    """All markdown / captions / metrics / alerts text of the page, for message assertions."""
    parts = []
    for kind in ("markdown", "caption", "warning", "error", "info", "latex", "title", "subheader"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label}: {m.value} ({m.delta})" for m in at.metric]
    return "\n".join(parts)


def said(elements) -> str:
    """What alerts say as a reader sees it: markdown escapes ("\\:", "\\[") read as the characters."""
    return " ".join(re.sub(r"\\(.)", r"\1", str(e.value)).replace("\u2060", "") for e in elements)


def url_notes(at: AppTest) -> str:
    """The page's warnings as a reader sees them: link values, shown as code spans, in quotes."""
    return re.sub(r"`([^`]*)`", r"'\1'", " ".join(w.value for w in at.warning))


def switch_language(at: AppTest, lang: str) -> AppTest:
    """The sidebar's language switch set to `lang`, and the page run. The test's side of AppTest sends the
    page's widget values as the page shows them (options translated by the app's `_`): in the page's
    language until now, which a `language()` block gives it here (the page itself runs in its own thread)."""
    with language(at.segmented_control(key="lang").value):
        at.segmented_control(key="lang").set_value(lang).run()
    assert not at.exception
    return at


def raised(read, data) -> BaseException:
    """The exception `read(data)` raises (it must raise one)."""
    try:
        read(data)
    except Exception as exc:  # noqa: BLE001 - any, returned to the test
        return exc
    raise AssertionError(f"{read.__name__} accepted the data")
