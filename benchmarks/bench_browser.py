"""Slider change -> updated chart, measured in a real browser (headless Chromium), same run.

    python benchmarks/bench_browser.py [--rounds 15]

Prints the median time from a key press on the "Recurrent gain" slider to the moment the first
chart's data has changed, for (1) a minimal one-slider, one-heatmap Streamlit page, (2) the
Gradient Flow page at its defaults, (3) Gradient Flow at T=5000, H=256, and the ratio (2)/(1)
(target <= 2x) and (3) in seconds (target <= 1 s). Every press moves to a new gain value, so
each is a real recomputation, not a cache hit. Also prints the longest main-thread task the
browser saw during the updates (page responsiveness).

(4) The client-side slider inside Gradient Flow's main chart (precomputed frames): the mouse drags
its grip one step at a time, and the time from the browser's mousemove event to the animation frame
in which the chart's first trace holds new data is measured in the page (target <= 50 ms median),
against the server round trip of (2) in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from deploy.processes import start_streamlit, stop_all  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402
from tests.support.browser import open_with_frames  # noqa: E402

WATCH = """() => { window.__longest = 0;
  new PerformanceObserver(l => { for (const e of l.getEntries())
      window.__longest = Math.max(window.__longest, e.duration); }).observe({type: 'longtask', buffered: false}); }"""
SNAPSHOT = """() => { const el = document.querySelectorAll('.js-plotly-plot')[0];
  const d = el._fullData[0]; return JSON.stringify(Array.from(d.z ? d.z[0] : d.y).slice(0, 50)); }"""
CHANGED = """(before) => { const el = document.querySelectorAll('.js-plotly-plot')[0];
  if (!el || !el._fullData || !el._fullData[0]) return false;
  const d = el._fullData[0];
  return JSON.stringify(Array.from(d.z ? d.z[0] : d.y).slice(0, 50)) !== before; }"""


def measure(page, url: str, rounds: int) -> tuple[list[float], float]:
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120000)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120000)
    page.evaluate(WATCH)
    slider = page.get_by_role("slider", name="Recurrent gain")
    slider.focus()
    times = []
    for _ in range(rounds):
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120000)
        page.wait_for_timeout(300)
        before = page.evaluate(SNAPSHOT)
        t0 = time.perf_counter()
        slider.press("ArrowRight")
        page.wait_for_function(CHANGED, arg=before, polling="raf", timeout=120000)
        times.append(time.perf_counter() - t0)
    return times, page.evaluate("() => window.__longest")


ARM = """(before) => { window.__tick = undefined; let t0 = null;
  const el = document.querySelectorAll('.js-plotly-plot')[0];
  const key = () => JSON.stringify(Array.from(el._fullData[0].y).slice(0, 50));
  const onMove = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener('mousemove', onMove, true);
  const poll = () => {
    if (t0 !== null && key() !== before) {
      document.removeEventListener('mousemove', onMove, true); window.__tick = performance.now() - t0;
    } else requestAnimationFrame(poll); };
  requestAnimationFrame(poll); }"""


def measure_client(page, url: str, rounds: int) -> list[float]:
    """Drag the chart's own slider one step per round; seconds from mousemove to the changed trace."""
    open_with_frames(page, url)  # the first visit starts the grid's computation; a later one shows it
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    tick = page.locator(".slider-tick-rect")
    ticks = [tick.nth(i).bounding_box() for i in range(tick.count())]
    grip = page.locator(".slider-grip-rect").bounding_box()
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    start = min(range(len(ticks)), key=lambda i: abs(ticks[i]["x"] - grip["x"] - grip["width"] / 2))
    times = []
    for i in range(start + 1, min(start + 1 + rounds, len(ticks))):
        page.wait_for_timeout(150)
        page.evaluate(ARM, page.evaluate(SNAPSHOT))
        page.mouse.move(ticks[i]["x"] + ticks[i]["width"] / 2, y)
        page.wait_for_function("() => window.__tick !== undefined", timeout=30000)
        times.append(page.evaluate("() => window.__tick") / 1000)
    page.mouse.up()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    app = start_streamlit("viz_app.py")
    ref = start_streamlit(str(ROOT / "benchmarks" / "minimal_app.py"), cwd=ROOT / "benchmarks")
    app_url, ref_url = app.url, ref.url
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # warm both servers (first runs import torch / compile)
            measure(page, ref_url, 2)
            measure(page, f"{app_url}/Gradient_Flow?recurrent_gain=0.5", 2)
            results = {}
            # interleave the two pages so machine noise hits both alike
            minimal, flow = [], []
            long_min, long_flow = 0.0, 0.0
            for block in range(3):
                t, lt = measure(page, ref_url, args.rounds // 3)
                minimal += t
                long_min = max(long_min, lt)
                t, lt = measure(page, f"{app_url}/Gradient_Flow?recurrent_gain={0.6 + 0.3 * block:.2f}",
                                args.rounds // 3)
                flow += t
                long_flow = max(long_flow, lt)
            results["minimal"], results["flow"] = minimal, flow
            client = measure_client(page, f"{app_url}/Gradient_Flow?recurrent_gain=0.5", args.rounds)
            big, long_big = measure(page, f"{app_url}/Gradient_Flow?seq_len=5000&hidden_size=256", 5)
            browser.close()
    finally:
        stop_all([app, ref])  # gone before anything is printed: no server keeps burning CPU afterwards
    m, f, b = statistics.median(minimal), statistics.median(flow), statistics.median(big)
    print(f"machine load (1 min): {os.getloadavg()[0]:.2f}")
    print(f"minimal one-slider one-heatmap page : median {m * 1000:7.0f} ms  (n={len(minimal)}), "
          f"longest main-thread task {long_min:.0f} ms")
    print(f"Gradient Flow at defaults          : median {f * 1000:7.0f} ms  (n={len(flow)}), "
          f"longest main-thread task {long_flow:.0f} ms")
    print(f"  ratio                            : {f / m:5.2f}x  (target <= 2x)")
    c = statistics.median(client)
    print(f"Gradient Flow, the chart's own slider: median {c * 1000:7.1f} ms  (n={len(client)}, max "
          f"{max(client) * 1000:.1f} ms, target <= 50 ms): {f / c:.0f}x faster than the server round trip above")
    print(f"Gradient Flow at T=5000, H=256     : median {b * 1000:7.0f} ms  (n={len(big)}, target <= 1000 ms), "
          f"longest main-thread task {long_big:.0f} ms")


if __name__ == "__main__":
    main()
