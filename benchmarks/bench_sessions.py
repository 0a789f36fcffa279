"""Eight browser sessions with different settings at the same time on one server.

    python benchmarks/bench_sessions.py [--sessions 8] [--seq-len 1000] [--hidden 64]

Each session opens Gradient Flow with its own recurrent gain; all then move their slider at
once. Prints how long until every session shows its own (checked) numbers, whether any saw an
error or another session's numbers, and the server's peak resident memory (VmHWM).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

import rnnviz  # noqa: E402
from deploy.processes import peak_rss_mb, start_streamlit  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402
from tests.support.browser import chart_y  # noqa: E402
from tests.support.engine import engine_trace  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=1000)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args()
    server = start_streamlit()
    url = server.url
    wrong = errors = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            gains = [round(0.5 + 0.1 * i, 2) for i in range(args.sessions)]
            pages = []
            t0 = time.perf_counter()
            for g in gains:
                pg = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                pg.goto(f"{url}/Gradient_Flow?recurrent_gain={g}&seq_len={args.seq_len}&hidden_size={args.hidden}",
                        wait_until="commit")
                pages.append(pg)
            for pg in pages:
                pg.wait_for_selector(".js-plotly-plot .main-svg", timeout=300000)
                pg.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=300000)
            t_open = time.perf_counter() - t0
            t0 = time.perf_counter()
            for pg in pages:
                s = pg.get_by_role("slider", name="Recurrent gain")
                s.focus()
                s.press("ArrowRight")
            for pg in pages:
                s = pg.get_by_role("slider", name="Recurrent gain")
                value = float(s.get_attribute("aria-valuetext"))
                want = engine_trace("rnn", recurrent_gain=value, seq_len=args.seq_len,
                                    hidden_size=args.hidden).log10_grad_norm
                pg.wait_for_function(
                    "(w) => Math.abs(document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].y[0] - w) < 1e-6",
                    arg=float(want[0]), timeout=300000)
                got = np.array(chart_y(pg))
                k = len(want) - 1 - np.array(pg.evaluate(
                    "() => Array.from(document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].x, Number)"),
                    dtype=int)
                wrong += not np.allclose(got, want[k], rtol=1e-9)
                errors += pg.locator("[data-testid='stException']").count()
            t_move = time.perf_counter() - t0
            browser.close()
        rss = peak_rss_mb(server.pid)
    finally:
        server.stop()  # gone before anything is printed: no server keeps burning CPU afterwards
    print(f"machine load (1 min): {os.getloadavg()[0]:.2f}")
    print(f"{args.sessions} sessions, Gradient Flow at T={args.seq_len}, H={args.hidden}")
    print(f"  all pages open and computed : {t_open:6.1f} s")
    print(f"  all moved a slider at once  : {t_move:6.1f} s until every chart showed its own new numbers")
    print(f"  sessions with wrong numbers : {wrong}")
    print(f"  exception boxes             : {errors}")
    print(f"  server peak RSS (VmHWM)     : {rss:6.0f} MB")


if __name__ == "__main__":
    main()
