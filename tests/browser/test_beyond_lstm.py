"""The Beyond LSTM page and Gradient Flow with the cells after the LSTM, in a real browser: the figures
hold the engine's numbers, the negative-eigenvalue switch makes the parity counter right at every step,
the pills add a cell to the comparison and the address bar follows."""
import numpy as np
import pytest

from rnnviz import modern, modern_trace
from tests.support.browser import chart_names, exceptions, open_page, wait_idle

pytestmark = pytest.mark.browser


def trace_y(page, name):
    return page.evaluate("""(n) => { for (const el of document.querySelectorAll('.js-plotly-plot'))
        for (const d of el._fullData) if (String(d.name || '').startsWith(n)) return Array.from(d.y, Number);
        return null; }""", name)


def test_beyond_lstm_page_and_its_parity_switch(page, app_url):
    open_page(page, f"{app_url}/Beyond_LSTM")
    assert exceptions(page) == 0
    assert page.locator(".js-plotly-plot").count() == 5
    assert "Beyond LSTM" in page.locator("h1").first.inner_text()
    assert "Parity right" in page.get_by_test_id("stMetric").first.inner_text()
    assert "100%" not in page.get_by_test_id("stMetric").first.inner_text()
    page.get_by_text("Allow negative eigenvalues").click()
    page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=stMetric]'))"
                           ".some(m => m.innerText.includes('Parity right') && m.innerText.includes('100%'))",
                           timeout=60000)
    wait_idle(page)
    a = np.array(trace_y(page, "transition a_t"))
    assert a.min() < -0.999 and a.max() > 0.999
    assert exceptions(page) == 0


def test_gradient_flow_adds_a_modern_cell_from_its_pill(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow?flow_cells=RNN,LRU&r_min=0.99")
    assert exceptions(page) == 0
    names = [str(n).split(" ")[0] for n in chart_names(page, 0)]
    assert "LRU" in names and "RNN" in names
    x = np.zeros((200, 1), dtype=np.float32)
    x[0] = 1.0
    lru = modern_trace.trace(modern.build("lru", 1, 32, seed=0, r_min=0.99), x)
    np.testing.assert_allclose(trace_y(page, "LRU"), lru.log10_grad_norm, rtol=1e-9)
    page.get_by_test_id("stSidebar").get_by_role("button", name="minGRU", exact=True).click()
    page.wait_for_function("() => decodeURIComponent(location.search).includes('flow_cells=RNN,LRU,minGRU')",
                           timeout=60000)
    wait_idle(page)
    mingru = modern_trace.trace(modern.build("mingru", 1, 32, seed=0), x)
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(el => el.data.some(d => d.name === 'minGRU: last step'))", timeout=60000)
    np.testing.assert_allclose(trace_y(page, "minGRU"), mingru.log10_grad_norm, rtol=1e-9)
    assert exceptions(page) == 0
