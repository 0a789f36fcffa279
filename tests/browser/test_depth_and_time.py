"""Depth and Time in a real browser: the grid heatmaps hold the engine's numbers, the toggles and the
layers slider redraw them and reach the address bar, presentation mode loads, no exception box."""
import numpy as np
import pytest

import rnnviz
from rnnviz.deep import trace_stacked
from tests.support.browser import exceptions, open_page, set_slider, wait_idle

pytestmark = pytest.mark.browser


def _z(page, index=0, trace=0):
    return np.array(page.evaluate(
        """([i, t]) => Array.from(document.querySelectorAll('.js-plotly-plot')[i]._fullData[t].z,
                                   row => Array.from(row, v => v === null ? NaN : Number(v)))""", [index, trace]))


def _engine(cell="rnn", **over):
    spec = rnnviz.ModelSpec(cell=cell, num_layers=over.pop("num_layers", 2), **over)
    return trace_stacked(rnnviz.build_model(spec), rnnviz.inputs.make("impulse", 200, 1, seed=0)).grad_grid(0)


def test_grid_shows_engine_numbers_and_follows_the_controls(page, app_url):
    open_page(page, f"{app_url}/Depth_and_Time", timeout=300000)  # the first page may compile the kernels
    assert exceptions(page) == 0
    assert page.locator(".js-plotly-plot").count() >= 2
    np.testing.assert_allclose(_z(page), _engine(), rtol=1e-6)
    set_slider(page, "Layers", "3")
    page.wait_for_url("**num_layers=3", timeout=30000)
    wait_idle(page)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].z.length === 3",
                           timeout=30000)
    np.testing.assert_allclose(_z(page), _engine(num_layers=3), rtol=1e-6)
    page.get_by_test_id("stSidebarUserContent").get_by_text("Residual connections", exact=True).click()
    page.wait_for_url("**residual=true", timeout=30000)
    wait_idle(page)
    want = _engine(num_layers=3, residual=True)
    page.wait_for_function("(w) => Math.abs(document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].z[0][199]"
                           " - w) < 1e-4", arg=float(want[0, 199]), timeout=30000)
    np.testing.assert_allclose(_z(page), want, rtol=1e-6)
    assert exceptions(page) == 0


def test_bidirectional_link_in_presentation_mode(page, app_url):
    open_page(page, f"{app_url}/Depth_and_Time?bidirectional=true&num_layers=4&depth_loss=tag&present=true",
              timeout=300000)
    assert exceptions(page) == 0
    n = page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[0]._fullData.length")
    assert n == 6  # RNN, LSTM, GRU x forward, backward
