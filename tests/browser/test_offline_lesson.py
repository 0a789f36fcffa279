"""An offline lesson (python -m rnnviz lesson) in Chromium with every network request refused: the
figure draws, and its slider, dragged with the mouse, switches the chart to the engine's numbers at
the slider's value without any server. In English and in Chinese (--lang zh), whose every word, in the
page and in the chart, is Chinese or an allowed name."""
import re

import numpy as np
import pytest

from rnnviz.__main__ import main
from rnnviz.files.offline import MAX_BYTES
from tests.browser.test_chinese_pages import english_words
from tests.support import ROOT
from tests.support.engine import engine_trace

pytestmark = pytest.mark.browser

Y0 = "() => Array.from(document.querySelector('.js-plotly-plot')._fullData[0].y, Number)"
SLIDER_LABEL = {"en": "Recurrent gain: ", "zh": "循环增益: "}
# What the reader sees: the page's text without its code spans (the command, the query) and the chart's words.
VISIBLE_TEXT = """() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('code, script, .js-plotly-plot').forEach(e => e.remove());
  document.body.appendChild(clone); clone.style.position = 'absolute'; clone.style.left = '-99999px';
  const text = clone.innerText; clone.remove();
  const chart = Array.from(document.querySelectorAll(
      '.gtitle, .xtitle, .ytitle, .legendtext, .annotation-text, .slider-label, .slider-group text'),
    e => e.textContent);
  return text + '\\n' + chart.join('\\n');
}"""


@pytest.fixture(scope="module", params=["en", "zh"])
def lesson_file(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("lesson") / f"lesson_{request.param}.html"
    assert main(["lesson", "--preset", "vanishing", "--out", str(out), "--lang", request.param]) == 0
    assert out.stat().st_size <= MAX_BYTES
    return request.param, out


def test_the_lesson_slider_works_with_no_network(browser, lesson_file):
    lang, path = lesson_file
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_offline(True)
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
                  else route.continue_())
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='true']", timeout=60000)
    assert [u for u in requests if not u.startswith("file:")] == []
    assert page.evaluate("document.documentElement.lang") == {"en": "en", "zh": "zh-CN"}[lang]

    current = page.locator(".slider-group > .slider-label").text_content()
    assert current.strip() == SLIDER_LABEL[lang] + "0.8"  # the preset's own value
    np.testing.assert_allclose(page.evaluate(Y0), engine_trace("rnn", recurrent_gain=0.8).log10_grad_norm,
                               rtol=1e-6)
    if lang == "zh":
        text = page.evaluate(VISIBLE_TEXT)
        assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 300
        assert english_words(text) == [], text
        assert "循环增益 0.8" in page.locator(".gtitle").text_content()
        (ROOT / "screenshots").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "screenshots" / "lesson_vanishing_zh.png"), full_page=True)

    rail = page.locator(".slider-rail-rect").bounding_box()
    page.mouse.move(rail["x"] + 0.3 * rail["width"], rail["y"] + rail["height"] / 2)  # drag the grip to the right
    page.mouse.down()
    for f in (0.4, 0.5, 0.6, 0.7):
        page.mouse.move(rail["x"] + f * rail["width"], rail["y"] + rail["height"] / 2, steps=3)
    page.mouse.up()
    label = "document.querySelector('.slider-group > .slider-label').textContent"
    page.wait_for_function(f"() => !{label}.endsWith(' 0.8')")
    gain = float(re.search(r"([0-9.]+)\s*$", page.locator(".slider-group > .slider-label").text_content()).group(1))
    assert 2.0 <= gain <= 3.5
    want = engine_trace("rnn", recurrent_gain=gain).log10_grad_norm
    w = float(want[0])
    page.wait_for_function(f"() => Math.abs(({Y0})()[0] - {w}) < 1e-6 * Math.max(1, {abs(w)})")
    np.testing.assert_allclose(page.evaluate(Y0), want, rtol=1e-6)
    assert f"{gain:g}" in page.locator(".gtitle").text_content()  # the title follows the slider
    if lang == "zh":  # and stays in Chinese
        dragged = page.evaluate(VISIBLE_TEXT)
        assert f"循环增益 {gain:g}" in dragged and english_words(dragged) == []
    assert [u for u in requests if not u.startswith("file:")] == []
    context.close()
