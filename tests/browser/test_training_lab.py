"""The Training Lab in a real browser: a training run started with Train and stopped with Stop keeps
what it learned (its loss curve up to the step it stopped at) and shows no exception."""
import re

import pytest

from tests.support.browser import chart_names, chart_y, exceptions, wait_idle

pytestmark = pytest.mark.browser


def test_stop_button_keeps_what_was_learned(page, app_url):
    page.goto(f"{app_url}/Training_Lab?cells=GRU&train_steps=5000")
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
    wait_idle(page, 90000)
    page.get_by_test_id("stButton").get_by_role("button", name="Train").click()
    progress = page.get_by_text(re.compile(r"Training GRU \(1 of 1\): step \d+ of 5000"))
    progress.wait_for(timeout=60000)
    page.wait_for_timeout(1500)  # let it learn a little
    # the toolbar has a Stop button of its own: take the page's
    page.get_by_test_id("stButton").get_by_role("button", name="Stop").click()
    stopped = page.get_by_test_id("stAlert").filter(has_text="training was stopped at step")
    stopped.wait_for(timeout=60000)
    wait_idle(page)
    k = int(re.search(r"stopped at step (\d+) of 5000", stopped.inner_text()).group(1))
    assert 0 < k < 5000
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert chart_names(page, 0)[0] == "GRU · training loss (each batch)"
    assert len(chart_y(page, 0, 0)) == k  # the loss of every step learned, and no more
    assert page.get_by_test_id("stButton").get_by_role("button", name="GRU in Step Through").is_visible()
    assert exceptions(page) == 0


def test_classroom_link_keeps_the_train_button_and_enlarges_the_title(page, app_url):
    page.goto(f"{app_url}/Training_Lab?controls=hidden&present=true")
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
    wait_idle(page, 90000)
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert page.get_by_test_id("stButton").get_by_role("button", name="Train").is_visible()
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('h1 [data-heading-text]'))"
                         ".fontSize)")
    assert size >= 40  # the heading's text, not only its box, is large on a projector
    assert exceptions(page) == 0
