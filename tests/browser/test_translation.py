"""Translation in a real browser: a short training run and a Stop that keeps the model."""
import re

import pytest

from tests.support.browser import exceptions, open_page, wait_idle


@pytest.mark.browser
def test_browser_short_training_run(page, app_url):
    open_page(page, f"{app_url}/Translation?tr_hidden=16&tr_steps=30&tr_seconds=120&present=true")
    assert exceptions(page) == 0
    assert page.get_by_text("No model yet").is_visible()
    # presentation mode enlarges metric values and headings, including the elements inside them
    sizes = page.evaluate("""() => [document.querySelector('[data-testid=stMetricValue] p'),
                                     document.querySelector('h2 span')]
                                    .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert sizes[0] >= 40 and sizes[1] >= 34, sizes
    page.get_by_test_id("stButton").get_by_role("button", name="Train").click()
    page.get_by_test_id("stMetric").filter(has_text="Training time").wait_for(timeout=120000)
    wait_idle(page)
    metrics = " ".join(page.get_by_test_id("stMetric").all_inner_texts())
    assert "30 steps; reached its step limit" in metrics
    assert page.locator(".js-plotly-plot").count() >= 5
    assert exceptions(page) == 0


@pytest.mark.browser
def test_browser_stop_keeps_the_model(page, app_url):
    open_page(page, f"{app_url}/Translation?tr_hidden=32&tr_seconds=300")
    page.get_by_test_id("stButton").get_by_role("button", name="Train").click()
    page.wait_for_selector("text=/Step \\d+ ·/", timeout=60000)
    page.wait_for_timeout(1000)
    page.get_by_test_id("stButton").get_by_role("button", name="Stop").click()
    page.get_by_test_id("stMetric").filter(has_text="was stopped").wait_for(timeout=60000)
    wait_idle(page)
    seconds = page.get_by_test_id("stMetric").filter(has_text="Training time").inner_text()
    assert int(re.search(r"(\d+) s", seconds).group(1)) < 60  # stopped long before the 300 s budget
    assert page.get_by_role("slider", name="Hidden size H").is_enabled()
    assert exceptions(page) == 0


@pytest.mark.browser
@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
def test_browser_the_run_trained_in_advance_fits_a_projector(browser, app_url, size):
    """Presentation mode at the defaults: the stored run's accuracy chart, title included, is whole on the
    screen without scrolling, and the note saying what it is follows it."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    open_page(page, f"{app_url}/Translation?present=true", timeout=180000)
    wait_idle(page, 180000)
    assert exceptions(page) == 0
    box = page.evaluate("""() => { const el = document.querySelector('.js-plotly-plot');
        const r = el.getBoundingClientRect(), t = el.querySelector('.gtitle');
        return {top: r.top, bottom: r.bottom, right: r.right, title: t.textContent, tTop: t.getBoundingClientRect().top,
                header: document.querySelector('header').getBoundingClientRect().bottom,
                vw: window.innerWidth, vh: window.innerHeight}; }""")
    assert box["title"] == "Held-out dates translated right (LSTM, H = 128)", box
    assert box["header"] <= box["tTop"] and box["bottom"] <= box["vh"] and box["right"] <= box["vw"], box
    assert page.get_by_text("trained in advance at the default settings").is_visible()
    context.close()
