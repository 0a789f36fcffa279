"""Presets say true things; the static report is self-contained, holds the data and renders offline."""
import base64
import html as html_lib
import json
import re
import subprocess
import sys

import numpy as np
import plotly.offline
import pytest

import rnnviz
from rnnviz import KNOBS, build_model, inputs, trace
from rnnviz.files.lessons import PRESETS, get_preset
from rnnviz.files.report import build_report, sci
from rnnviz.spec import PAGE_ONLY, Scenario, spec_fields
from tests.browser.test_chinese_pages import english_words
from tests.support import ROOT

SCREENSHOTS = ROOT / "screenshots"


def variant(preset, label):
    changes = dict(preset.compare)[label]
    return _trace_values({**preset.values(), **changes})


def log10_at_lag(tr, lag):
    return tr.log10_grad_norm[tr.T - 1 - lag]


# ------------------------------------------------------------------------------ presets

def test_every_preset_sets_every_knob_validly_and_opens_a_page_of_the_app():
    from rnnviz import ui

    pages = {path for path, _, _ in ui.PAGES}
    for p in PRESETS.values():
        assert set(p.query()) == set(KNOBS) - PAGE_ONLY | set(p.knobs)
        assert "text" not in p.query() and "tr_text" not in p.query()  # no long default text in every link
        for name, value in p.query().items():
            KNOBS[name].validate(value)  # the link's strings parse back
        assert p.page in pages
        assert p.title and len(p.explanation) > 200 and p.look_for
        assert p.values()["cell"] == p.scenario().cell and p.scenario().seq_len == p.values()["seq_len"]
    with pytest.raises(ValueError, match="unknown preset 'nope'; choose one of vanishing, exploding"):
        get_preset("nope")


def test_vanishing_preset_explanation_holds():
    p = PRESETS["vanishing"]
    rnn = _trace_values(p.values())
    assert log10_at_lag(rnn, 100) < -9                       # "less than 10^-9 ... after 100 steps"
    lstm = _trace_values({**p.values(), "cell": "lstm"})
    assert lstm.log10_cell_grad_norm.min() > -2             # "passes the gradient on almost unchanged"
    lags = np.arange(1, 150)
    slope = np.polyfit(lags, [log10_at_lag(rnn, k) for k in lags], 1)[0]
    assert slope < np.log10(0.8) + 0.02                      # at least 0.8 lost per step, a straight line


def test_exploding_preset_explanation_holds():
    p = PRESETS["exploding"]
    rnn = _trace_values(p.values())
    assert log10_at_lag(rnn, rnn.T - 1) > 18                 # "10^20 times larger for early steps"
    assert log10_at_lag(variant(p, "gain 1"), 199) < 0


def test_edge_of_chaos_preset_explanation_holds():
    p = PRESETS["edge-of-chaos"]
    edge = variant(p, "gain 1.2 (edge)").log10_grad_norm
    assert np.all(np.abs(edge) < 1.5)                        # level over all 500 steps
    assert log10_at_lag(variant(p, "gain 0.9 (ordered)"), 499) < -20
    assert log10_at_lag(variant(p, "gain 2 (chaotic)"), 499) > 10


def test_gate_bias_presets_explanations_hold():
    p = PRESETS["lstm-forget-bias"]
    closed, open_ = variant(p, "forget bias 0"), variant(p, "forget bias 3")
    rnn = _trace_values({**p.values(), "cell": "rnn"})
    assert log10_at_lag(closed, 199) < log10_at_lag(rnn, 199) - 5   # "even faster than a plain RNN"
    assert open_.log10_cell_grad_norm.min() > -2                   # "survives hundreds of steps"
    g = PRESETS["gru-update-gate"]
    assert variant(g, "update bias 3").log10_grad_norm.min() > -4  # "within a few orders of magnitude"
    assert variant(g, "update bias 0").memory_horizon() < 50       # "fades within a few dozen steps"


def test_relu_identity_preset_explanation_holds():
    p = PRESETS["relu-identity"]
    flat = variant(p, "gain 1").log10_grad_norm
    assert np.ptp(flat) < 0.3
    for label, gain in (("gain 0.9", 0.9), ("gain 1.05", 1.05)):
        assert log10_at_lag(variant(p, label), 199) == pytest.approx(199 * np.log10(gain), abs=0.6)


def test_sci_formats_far_beyond_float64():
    assert sci(-19.49) == "3.24 × 10⁻²⁰" and sci(400.2) == "1.58 × 10⁴⁰⁰" and sci(-0.7) == "0.2"
    assert sci(float("-inf")) == "0" and sci(2.9956) == "990"


# ------------------------------------------------------------------------------ the report

def _trace_values(values):
    return Scenario.from_values(values).trace()


def write_report(tmp_path_factory, *lang):
    out = tmp_path_factory.mktemp("report") / "report.html"
    run = subprocess.run([sys.executable, "-m", "rnnviz", "report", "--preset", "vanishing", "--out", str(out), *lang],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "no network needed" in run.stdout
    return out


@pytest.fixture(scope="module")
def vanishing_report(tmp_path_factory):
    return write_report(tmp_path_factory)


@pytest.fixture(scope="module")
def chinese_report(tmp_path_factory):
    return write_report(tmp_path_factory, "--lang", "zh")


def float_arrays(html: str) -> list[np.ndarray]:
    """Every float64 array plotly embedded in the page (base64 'bdata' fields)."""
    found = re.findall(r'"dtype":"f8","bdata":"((?:[^"\\]|\\.)*)"', html)
    return [np.frombuffer(base64.b64decode(json.loads(f'"{s}"')), dtype="<f8") for s in found]


def test_report_command_writes_a_self_contained_page_holding_the_figures_data(vanishing_report):
    html = vanishing_report.read_text(encoding="utf-8")
    bundle = plotly.offline.get_plotlyjs()
    assert html.count(bundle) == 1  # plotly.js inlined, once
    page = html.replace(bundle, "")
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link[^>]*\bhref=", page)
    assert not re.search(r"https?://", page)
    assert html.count("Plotly.newPlot(") == 4 and "Vanishing gradients" in html
    # the RNN's gradient curve, computed here independently, is in the page exactly
    p = PRESETS["vanishing"]
    spec = rnnviz.ModelSpec(**{k: v for k, v in p.values().items() if k in spec_fields()})
    tr = trace(build_model(spec), inputs.impulse(p.values()["seq_len"]), loss="last")
    arrays = float_arrays(html)
    assert any(a.shape == tr.log10_grad_norm.shape and np.array_equal(a, tr.log10_grad_norm) for a in arrays)
    ends = tr.log10_pascanu_bound[[0, -1]]  # the bound is a straight line, drawn through its two ends
    assert any(a.shape == ends.shape and np.array_equal(a, ends) for a in arrays)
    assert any(np.array_equal(a, tr.eigenvalues.real) for a in arrays)
    assert sci(tr.log10_grad_norm[0]) in html  # the number quoted under the figure


CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?(?: × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")


def page_text(html: str) -> str:
    """The text a reader sees outside the figures: no scripts, no style, no code spans (a command, a
    query, a version), tags removed."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<code>.*?</code>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def figures(html: str) -> list[tuple[list, dict]]:
    """(data, layout) of every Plotly.newPlot call of the page."""
    decoder, found = json.JSONDecoder(), []
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", html):
        data, end = decoder.raw_decode(html, m.end())
        layout, _ = decoder.raw_decode(html, re.compile(r",\s*").match(html, end).end())
        found.append((data, layout))
    return found


def figure_text(data: list, layout: dict) -> str:
    """What a figure writes: its title, axis titles, legend, annotations and hover texts (without their
    %{...} fields and tags)."""
    texts = [(layout.get("title") or {}).get("text") or ""]
    texts += [((axis.get("title") or {}).get("text") or "") for key, axis in layout.items()
              if re.fullmatch(r"[xy]axis\d*", key)]
    texts += [a.get("text", "") for a in layout.get("annotations", [])]
    texts += [t.get("name", "") for t in data if t.get("showlegend", True)]
    texts += [t.get("hovertemplate", "") for t in data]
    return re.sub(r"%\{[^}]*\}|<[^>]+>", " ", "\n".join(texts))


def numbers_of(html: str) -> list[list[str]]:
    """The numbers quoted under each figure, line by line."""
    items = re.findall(r"<li>(.*?)</li>", html)
    return [NUMBER.findall(html_lib.unescape(item)) for item in items]


def test_the_chinese_report_is_in_chinese_with_the_english_reports_numbers(vanishing_report, chinese_report):
    english, chinese = vanishing_report.read_text(encoding="utf-8"), chinese_report.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in chinese and '<html lang="en">' in english
    assert re.search(r"font-family:[^;]*Noto Sans CJK SC[^;]*;", chinese)  # a font stack with CJK glyphs
    assert "<h1>梯度消失</h1>" in chinese and "Vanishing gradients" not in chinese
    # every word outside the figures, and every word the figures write, is Chinese or an allowed name
    text = page_text(chinese)
    assert len(CJK.findall(text)) > 500
    assert english_words(text) == []
    assert len(figures(chinese)) == 4
    for data, layout in figures(chinese):
        words = figure_text(data, layout)
        assert CJK.search(words) and english_words(words) == [], words
    # the same numbers: every array drawn, to the last bit, and every number quoted under the figures
    en_arrays, zh_arrays = float_arrays(english), float_arrays(chinese)
    assert len(zh_arrays) == len(en_arrays) > 10
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(en_arrays, zh_arrays))
    assert numbers_of(chinese) == numbers_of(english) and len(numbers_of(english)) == 10
    p = PRESETS["vanishing"]
    tr = _trace_values(p.values())
    assert f"RNN：回溯 199 步的 ‖∂L/∂h‖ = {sci(tr.log10_grad_norm[0])}；" in chinese
    # the settings table in Chinese: the knobs' names and the page's name as the app shows them
    assert "<tr><th>循环增益</th><td>0.8</td></tr>" in chinese and "<b>梯度流</b>" in chinese
    assert "<code>python -m rnnviz report --preset vanishing --lang zh</code>" in chinese


def test_a_report_in_the_current_language_outside_a_block_is_english():
    from rnnviz.files.report import preset_sections
    from rnnviz.i18n import language

    with language("zh"):
        inherited = preset_sections("relu-identity")
    english = preset_sections("relu-identity")
    assert CJK.search(inherited[0].title) and not CJK.search(english[0].title)
    assert [NUMBER.findall(" ".join(s.numbers)) for s in inherited] == \
           [NUMBER.findall(" ".join(s.numbers)) for s in english]


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "vanishing"])
def test_every_preset_has_a_report(name):
    html = build_report(name)
    assert html.count("Plotly.newPlot(") == 4
    assert PRESETS[name].title.replace("'", "&#x27;") in html


def test_cli_refuses_an_unknown_preset():
    run = subprocess.run([sys.executable, "-m", "rnnviz", "report", "--preset", "nope", "--out", "x.html"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "invalid choice: 'nope'" in run.stderr and "vanishing" in run.stderr


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_renders_in_chromium_with_no_network(lang, request, browser):
    """Opened from disk with every network request refused, the report draws all its figures."""
    report = request.getfixturevalue({"en": "vanishing_report", "zh": "chinese_report"}[lang])
    requests, errors = [], []
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    try:
        def route(r):
            if r.request.url.startswith("file:"):
                return r.continue_()
            requests.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_selector(".plotly .main-svg", timeout=30000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 8")
        plots = page.locator(".js-plotly-plot")
        assert plots.count() == 4
        for k in range(4):  # every figure drew its curves: non-empty SVG paths
            paths = plots.nth(k).locator(".scatterlayer path.js-line, .scatterlayer path.point")
            assert paths.count() > 0
        assert page.locator(".js-plotly-plot .scatterlayer path.js-line").first.get_attribute("d")
        SCREENSHOTS.mkdir(exist_ok=True)
        if lang == "zh":  # the figures' own text drawn in Chinese
            drawn = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.gtitle, .xtitle, .ytitle, .legendtext'), e => e.textContent).join('\\n')""")
            assert CJK.search(drawn) and english_words(drawn) == [], drawn
        page.screenshot(path=str(SCREENSHOTS / f"report_vanishing_{lang}.png"), full_page=True)
    finally:
        context.close()
    assert requests == [], f"the page asked for the network: {requests}"
    assert errors == []
