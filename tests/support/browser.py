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


def set_slider(page, label, value: str, tries: int = 60):
    """Move a slider with the arrow keys until it reads `value` (a key press that lands during a rerun
    can be dropped by the widget, so the value is checked after each press)."""
    s = slider(page, label)
    s.focus()
    for _ in range(tries):
        now = s.get_attribute("aria-valuetext")
        if now == value:
            return
        s.press("ArrowRight" if float(now) < float(value) else "ArrowLeft")
        page.wait_for_timeout(50)
    assert s.get_attribute("aria-valuetext") == value


def wait_chart_y(page, want, index=0, trace=0, timeout=60000, rtol=1e-9):
    """Wait until the index-th chart's trace holds `want` (first value, then every value)."""
    want = [float(v) for v in want]
    page.wait_for_function(
        """([i, t, n, w]) => { const el = document.querySelectorAll('.js-plotly-plot')[i];
                               if (!el || !el._fullData || !el._fullData[t]) return false;
                               const y = el._fullData[t].y;
                               return y.length === n && Math.abs(y[0] - w) <= 1e-9 * Math.max(1, Math.abs(w)); }""",
        arg=[index, trace, len(want), want[0]], timeout=timeout)
    got = chart_y(page, index, trace)
    assert all(abs(g - w) <= rtol * max(1.0, abs(w)) for g, w in zip(got, want)), "chart differs from the engine"


FRAMES = ("() => { const el = document.querySelectorAll('.js-plotly-plot')[0]; "
          "return el && el._transitionData ? el._transitionData._frames.length : 0; }")


def open_with_frames(page, url: str, tries: int = 60) -> bool:
    """Open `url` until its first chart carries its slider's frames (the grid is computed in the background
    after the first visit); False if it never does."""
    for _ in range(tries):
        page.goto(url)
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=180000)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180000)
        if page.evaluate(FRAMES):
            return True
        page.wait_for_timeout(3000)
    return False
