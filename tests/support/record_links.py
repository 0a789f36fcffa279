"""Record what every link in the link corpus shows, so that a refactor can prove links keep working.

    python tests/support/record_links.py --root DIR --out links.json          # generate and record
    python tests/support/record_links.py --root DIR --links links.json --out after.json   # re-record
    python tests/support/record_links.py --root DIR --links links.json --full dump/        # every text, for diffs

A link is a page and its query parameters: every preset (and its classroom version), every knob set
off its default on every page that shows it (every choice of a choice knob), every page with all of
its knobs off-default at once, with the knobs of the other pages (carried by the navigation), with the
classroom and presentation flags, and with invalid values whose notes must stay.

For each link the page runs once under Streamlit's AppTest, opened as a visitor opens it, and the
record holds what a user would see: every keyed widget's value, every chart's data and layout (numbers
rounded to 6 significant digits, then hashed), the alerts word for word, a hash of all other text, the
URL the page writes and (hashed) the settings its links carry, both as validated knob values, so a
change of spelling alone ("lstm" or "LSTM") is not a difference. The static report's figures of every
preset are recorded too.

`--root` is the app to record: this working tree, or a temporary worktree of another commit
(`git worktree add /tmp/base <commit>`). Nothing here imports the app's tests, so any commit with the
pages and `rnnviz/spec.py` can be recorded.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl

FLAGS = ("controls", "present")
HOME = "viz_app.py"
ST, GF, ON = "pages/1_Step_Through.py", "pages/2_Gradient_Flow.py", "pages/3_One_Neuron.py"
TL, TR, TX, YM = ("pages/4_Training_Lab.py", "pages/5_Translation.py", "pages/6_Text_Lab.py",
                  "pages/7_Your_Model.py")

# The knobs each page shows, and for numbers and texts the off-default values a link tries (every
# other choice of a choice knob is tried). Values are URL text, as a link carries them.
PAGES = {
    HOME: ["recurrent_gain", "seq_len"],
    ST: ["cell", "activation", "init", "recurrent_gain", "input_gain", "forget_bias", "seq_len", "hidden_size",
         "seed", "input_kind", "text", "t", "unit"],
    GF: ["recurrent_gain", "input_gain", "forget_bias", "seq_len", "hidden_size", "activation", "init", "seed",
         "input_kind", "loss"],
    ON: ["w", "u", "b", "activation", "h0", "steps", "neuron_input"],
    TL: ["task", "cells", "rnn_activation", "train_seq_len", "train_steps", "batch_size", "lr", "clip",
         "clip_threshold", "train_hidden", "train_seed"],
    TR: ["tr_cell", "tr_hidden", "tr_seconds", "tr_target", "tr_steps", "tr_seed", "tr_text"],
    TX: ["corpus", "cell", "lm_hidden", "seed", "lm_steps", "lm_seq_len", "lm_batch", "lm_lr", "temperature",
         "top_k", "sample_len", "sample_seed", "look_len", "lm_state", "lm_unit", "grad_pos"],
    YM: ["loss"],
}
VALUES = {
    "hidden_size": ["8", "100"], "recurrent_gain": ["0.5", "1.5"], "input_gain": ["2.5"],
    "forget_bias": ["0", "-2.5"], "seed": ["7"], "seq_len": ["60", "1000"], "text": ["hello, world & 100%"],
    "t": ["12"], "unit": ["3"],
    "w": ["1.5", "-0.7"], "u": ["0.5"], "b": ["-1.2"], "h0": ["0.4"], "steps": ["100"],
    "cells": ["rnn,gru", "lstm"], "train_seq_len": ["30"], "train_steps": ["500"], "batch_size": ["20"],
    "lr": ["0.01"], "clip_threshold": ["5"], "train_hidden": ["32"], "train_seed": ["3"],
    "lm_hidden": ["64"], "lm_steps": ["300"], "lm_seq_len": ["32"], "lm_batch": ["16"], "lm_lr": ["0.01"],
    "temperature": ["1.2"], "top_k": ["5"], "sample_len": ["100"], "sample_seed": ["4"], "look_len": ["500"],
    "lm_unit": ["5"], "grad_pos": ["50"],
    "tr_hidden": ["64"], "tr_seconds": ["30"], "tr_target": ["80"], "tr_steps": ["200"], "tr_seed": ["2"],
    "tr_text": ["22 Nov 2026"],
}
# A text knob needs its input kind to be read; a cursor needs a sequence long enough.
CONTEXT = {(ST, "text"): {"input_kind": "text"}}
INVALID = [
    (HOME, {"recurrent_gain": "lots", "seq_len": "999999"}),
    (HOME, {"recurrent_gain": "[Sign in](https://evil.example)"}),
    (ST, {"t": "900", "seq_len": "50"}),
    (ST, {"unit": "99999", "cell": "cnn", "hidden_size": "0"}),
    (ST, {"input_kind": "text", "seq_len": "30", "text": "two\nlines"}),
    (ST, {"input_kind": "text", "text": "x" * 401}),
    (GF, {"seed": "[Sign in](https://evil.example)", "seq_len": "![x](https://t.example/p.png)"}),
    (GF, {"loss": "sum", "init": "xavier", "forget_bias": "nan", "input_gain": "inf"}),
    (ON, {"w": "nan", "steps": "0", "neuron_input": "step", "h0": "1e308"}),
    (TL, {"task": "copy", "train_seq_len": "1"}),
    (TL, {"lr": "0.123", "cells": "rnn,foo", "clip": "sometimes", "batch_size": "-1"}),
    (TX, {"corpus": "bogus", "lm_hidden": "2", "temperature": "-1", "lm_state": "memory"}),
    (TX, {"corpus": "upload"}),
    (TR, {"tr_text": "x" * 200, "tr_cell": "rnn", "tr_target": "101"}),
    (YM, {"loss": "sum"}),
]
FLAG_SETS = [{"controls": "hidden", "present": "true"}, {"present": "true"}, {"controls": "hidden"}]
# The pages whose navigation links a record holds: those of the first recording. A page added later
# is linked from every page's navigation; that must not count as a change of what the old links show.
NAV_RECORDED = ("", "Step_Through", "Gradient_Flow", "One_Neuron", "Training_Lab", "Translation", "Text_Lab",
                "Your_Model")
# The Lessons page: every step of every lesson, a classroom link, and bad lesson / step values.
LESSONS_PAGE = "pages/10_Lessons.py"
LESSON_INVALID = [{"lesson": "12"}, {"lesson": "4", "step": "9"}, {"lesson": "two", "step": "-1"}]


def _knobs(root: Path):
    _importable(root)
    from rnnviz.spec import KNOBS  # the recorded commit's own table

    return KNOBS


def corpus(root: Path) -> list[dict]:
    """Every link of the corpus: [{"page": path, "query": {name: text}, "why": words}]."""
    knobs = _knobs(root)
    links = []

    def add(page, query, why):
        links.append({"page": page, "query": dict(query), "why": why})

    PRESETS = _presets()
    for preset in PRESETS.values():
        add(preset.page, preset.query(), f"preset {preset.name}")
        add(preset.page, {**preset.query(), "controls": "hidden", "present": "true"},
            f"preset {preset.name}, classroom")
    for page, names in PAGES.items():
        add(page, {}, "defaults")
        every = {}
        for name in names:
            knob = knobs[name]
            if knob.kind == "choice":
                values = [c for c in knob.choices if c != knob.default]
            else:
                values = VALUES[name]
            for value in values:
                add(page, {**CONTEXT.get((page, name), {}), name: value}, f"{name} off its default")
            every[name] = values[-1] if knob.kind == "choice" else values[0]
        add(page, {**every, **CONTEXT.get((page, "text"), {})}, "every knob of the page off its default")
        foreign = {n: (knobs[n].choices[-1] if knobs[n].kind == "choice" else VALUES[n][0])
                   for other, ns in PAGES.items() if other != page for n in ns if n not in names}
        add(page, foreign, "the other pages' knobs (carried by the navigation)")
        for flags in FLAG_SETS:
            add(page, flags, "flags " + ",".join(f"{k}={v}" for k, v in flags.items()))
    for page, query in INVALID:
        add(page, query, "invalid values")
    for query, why in _lesson_queries(root):
        add(LESSONS_PAGE, query, why)
    return links


def _lesson_queries(root: Path) -> list[tuple[dict, str]]:
    """Every step of every lesson of the recorded commit (none before lessons existed), one in
    classroom mode, and invalid values: [(query, why)]."""
    if not (root / LESSONS_PAGE).exists():
        return []
    from rnnviz.lessons import LESSONS

    steps = [{"lesson": str(lesson.number), "step": str(i)} for lesson in LESSONS
             for i in range(1, len(lesson.steps) + 1)]
    return [*((q, "a lesson step") for q in steps), ({**steps[0], "controls": "hidden", "present": "true"},
                                                      "a lesson step, classroom"),
            *((q, "invalid values") for q in LESSON_INVALID)]


def _importable(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def _presets() -> dict:
    """The recorded commit's presets (`rnnviz.files.lessons`, or `rnnviz.presets` before the app layer moved)."""
    try:
        from rnnviz.files.lessons import PRESETS
    except ImportError:
        from rnnviz.presets import PRESETS
    return PRESETS


# ------------------------------------------------------------------------------------------ recording
def _number(x: float):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(f"{x:.6g}")


def _decode(value):
    import numpy as np

    arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return arr.astype(np.float64).ravel().tolist() if arr.dtype.kind in "fiub" else arr.tolist()


def _canonical(obj):
    """A figure's JSON with typed arrays decoded and every float rounded to 6 significant digits."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            return [_canonical(v) for v in _decode(obj)]
        return {k: _canonical(v) for k, v in obj.items() if k != "uid"}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        return _number(obj)
    return obj


def _hash(obj) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _figure(spec: str) -> dict:
    fig = _canonical(json.loads(spec))
    summary = []
    for tr in fig.get("data", []):
        y = tr.get("z", tr.get("y", []))
        flat = [v for v in _flatten(y) if isinstance(v, float)]
        summary.append([tr.get("name"), tr.get("type"), len(flat), min(flat) if flat else None,
                        max(flat) if flat else None])
    return {"data": _hash(fig.get("data")), "layout": _hash(fig.get("layout")), "traces": summary}


def _flatten(v):
    if isinstance(v, list):
        for x in v:
            yield from _flatten(x)
    else:
        yield v


def _settings(query: str | dict, knobs) -> dict:
    """Query parameters as validated knob values (flags as they are; unknown keys dropped)."""
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query.items())
    out = {}
    for name, raw in pairs:
        raw = raw[-1] if isinstance(raw, list) else raw
        if name in FLAGS:
            out[name] = raw
        elif name in knobs:
            try:
                value = knobs[name].validate(raw)
            except ValueError:
                value = f"invalid {raw!r}"
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _value(v):
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    if isinstance(v, float):
        return _number(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


TEXT_KINDS = ("title", "header", "subheader", "markdown", "caption", "latex", "code", "html", "metric", "text")
ALERT_KINDS = ("error", "warning", "info", "success", "exception")


def record(root: Path, link: dict, timeout: float = 300, full: bool = False) -> dict:
    """What the page `link["page"]` shows for the query `link["query"]`, opened in a new session."""
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1.element_tree import Widget

    knobs = _knobs(root)
    at = AppTest.from_file(str(root / HOME), default_timeout=timeout)
    if link["page"] != HOME:
        at.switch_page(link["page"])
    for k, v in link["query"].items():
        at.query_params[k] = v
    # The in-chart slider (Home, Gradient Flow) appears once a background thread has computed its grid,
    # so whether a run shows it depends on what ran before: links are compared without it.
    fluid = os.environ.get("RNNVIZ_FLUID")
    os.environ["RNNVIZ_FLUID"] = "off"
    try:
        at.run()
    finally:
        if fluid is None:
            os.environ.pop("RNNVIZ_FLUID", None)
        else:
            os.environ["RNNVIZ_FLUID"] = fluid
    widgets, figures, alerts, texts, nav = {}, {}, [], [], []
    unkeyed = 0
    for node in _walk(at._tree):
        kind = getattr(node, "type", None)
        if isinstance(node, Widget):
            key = node.key if getattr(node, "key", None) else f"{kind}:{getattr(node, 'label', '')}"
            if key == "lang":  # the language chooser came later; an English link is what was recorded
                continue
            widgets[key] = _value(node.value)
        elif kind == "plotly_chart":
            key = node.proto.id.split("-", 2)[-1] if "-" in node.proto.id else ""
            if not key or node.proto.id.startswith("$$ID") and key == node.proto.id:
                unkeyed += 1
                key = f"#{unkeyed}"
            figures[key] = _figure(node.proto.spec)
        elif kind in ALERT_KINDS:
            alerts.append([kind, str(getattr(node, "value", "") or node.proto)])
        elif kind == "page_link" and (node.proto.page in NAV_RECORDED or link["page"] == LESSONS_PAGE):
            nav.append([node.proto.label, node.proto.page, _settings(node.proto.query_string, knobs)])
        elif kind == "metric":
            texts.append(f"metric {node.label}: {node.value} ({node.delta})")
        elif kind in TEXT_KINDS:
            texts.append(f"{kind} {getattr(node, 'value', None) or node.proto}")
    url = {k: at.query_params[k] for k in at.query_params}
    out = {"widgets": widgets, "figures": figures, "alerts": alerts, "texts": _hash(texts),
           "url": _settings({k: v for k, v in url.items()}, knobs), "page_links": _hash(nav)}
    if full:
        out["all_texts"] = texts
        out["all_page_links"] = nav
    return out


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def report_figures(root: Path) -> dict:
    """The static report's figures of every preset, hashed as the pages' are."""
    _importable(root)
    try:
        from rnnviz.files import report
    except ImportError:
        from rnnviz import report
    PRESETS = _presets()
    out = {}
    for name in PRESETS:
        sections = report.preset_sections(name)
        out[name] = [{"title": s.title, "figure": _figure(s.figure.to_json()), "text": s.text, "numbers": s.numbers}
                     for s in sections]
    return out


def link_id(link: dict) -> str:
    return link["page"] + "?" + "&".join(f"{k}={v}" for k, v in sorted(link["query"].items()))


def dumps(data: dict) -> str:
    """The corpus as JSON with one link per line (readable diffs)."""
    def one(obj):
        return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    lines = ",\n".join(one(link) for link in data["links"])
    return f'{{"links": [\n{lines}\n],\n"report": {one(data["report"])}}}\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]), help="the app's directory")
    parser.add_argument("--links", help="re-record the links of this corpus file instead of generating them")
    parser.add_argument("--out", help="write the corpus with its records here (JSON)")
    parser.add_argument("--full", help="also write every link's full record, texts included, into this directory")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    out = Path(args.out).resolve() if args.out else None
    full = Path(args.full).resolve() if args.full else None
    corpus_file = Path(args.links).resolve() if args.links else None
    os.chdir(root)
    links = json.loads(corpus_file.read_text())["links"] if corpus_file else corpus(root)
    results = []
    for n, link in enumerate(links, 1):
        rec = record(root, link, full=full is not None)
        print(f"[{n}/{len(links)}] {link_id(link)[:110]}", file=sys.stderr, flush=True)
        if full is not None:
            path = full / f"{n:03d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"link": link, **rec}, indent=1, ensure_ascii=False))
            rec.pop("all_texts")
            rec.pop("all_page_links")
        results.append({**link, "record": rec})
    data = {"links": results, "report": report_figures(root)}
    if out is not None:
        out.write_text(dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
