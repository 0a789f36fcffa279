"""The gain slider inside Gradient Flow's main chart, in Chromium: two students open the same link
(the second gets the figure the first one's visit put together), each drags the chart's own slider,
and the chart switches, without the server, to the engine's curves at the slider's value, for the
cells the link shows and no others."""
import re

import numpy as np
import pytest

from tests.support.browser import FRAMES, open_with_frames
from tests.support.engine import engine_trace

pytestmark = pytest.mark.browser

URL = "/Gradient_Flow?flow_cells=RNN,GRU&recurrent_gain=0.5&seq_len=80"
CURVE = ("(name) => { const el = document.querySelector('.js-plotly-plot'); "
         "const d = el._fullData.find(t => (t.name || '').startsWith(name)); "
         "return d ? Array.from(d.y, Number) : null; }")
NAMES = ("() => document.querySelector('.js-plotly-plot')._fullData.filter(t => t.visible !== false && t.name)"
         ".map(t => t.name)")
LABEL = "document.querySelector('.slider-group > .slider-label').textContent"


def drag_and_read(page) -> float:
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    rail = page.locator(".slider-rail-rect").first.bounding_box()
    y = rail["y"] + rail["height"] / 2
    grip = page.locator(".slider-grip-rect").first.bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    for f in (0.2, 0.3, 0.4):
        page.mouse.move(rail["x"] + f * rail["width"], y, steps=3)
    page.mouse.up()
    page.wait_for_function(f"() => !{LABEL}.trim().endsWith(' 0.5')")
    return float(re.search(r"([0-9.]+)\s*$", page.evaluate(f"() => {LABEL}")).group(1))


def test_two_students_drag_the_chart_slider_and_see_the_engines_curves(browser, app_url):
    for _student in range(2):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        assert open_with_frames(page, app_url + URL), "the chart never carried its slider's frames"
        assert page.evaluate(FRAMES) == 41
        np.testing.assert_allclose(page.evaluate(CURVE, "RNN"),
                                   engine_trace("rnn", recurrent_gain=0.5, seq_len=80).log10_grad_norm, rtol=1e-6)
        gain = drag_and_read(page)
        assert 0.5 < gain <= 2.5, gain
        for cell, name in (("rnn", "RNN"), ("gru", "GRU")):
            want = engine_trace(cell, recurrent_gain=gain, seq_len=80).log10_grad_norm
            w = float(want[0])
            page.wait_for_function(f"() => {{ const y = ({CURVE})('{name}'); "
                                   f"return y && Math.abs(y[0] - {w}) < 1e-6 * Math.max(1, {abs(w)}); }}")
            np.testing.assert_allclose(page.evaluate(CURVE, name), want, rtol=1e-6)
        names = page.evaluate(NAMES)
        assert any(n.startswith("RNN") for n in names) and not any(n.startswith("LSTM") for n in names), names
        assert page.locator("[data-testid='stException']").count() == 0
        context.close()
