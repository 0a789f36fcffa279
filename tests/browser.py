"""Helpers to drive a Streamlit page in Playwright."""
from __future__ import annotations

RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(page, timeout=60000):
    """Wait until the script has run to the end and no element is stale."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout)


def open_page(page, url, timeout=90000):
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    wait_idle(page, timeout)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=timeout)


def chart_y(page, index=0, trace=0):
    """The y data of a trace of the index-th Plotly chart on the page, as a list."""
    return page.evaluate(
        """([i, t]) => { const el = document.querySelectorAll('.js-plotly-plot')[i];
                         return Array.from(el._fullData[t].y, Number); }""", [index, trace])


def chart_names(page, index=0):
    return page.evaluate("(i) => document.querySelectorAll('.js-plotly-plot')[i].data.map(d => d.name)", index)


def exceptions(page) -> int:
    return page.locator("[data-testid='stException']").count()


def slider(page, label):
    return page.get_by_role("slider", name=label)
