"""What a class costs the server per page run when sessions share the slider's figure, against each
session putting it together itself (measured in the same run).

    python benchmarks/bench_shared_figures.py [--sessions 10] [--page viz_app.py] [--gain 1.3]

S sessions (Streamlit's AppTest, the script run as the server runs it, in this process) open the same
link once the slider's grid is there (its traces and figures are shared in every mode). Three modes,
alternated run by run so that changes in load touch them alike:
- "checked": each run puts the slider's figure together as a checked Plotly Figure (`plots.with_slider`)
  and the chart copies it (`to_dict`), and no figure is shared: how every page run worked before the
  figures were shared;
- "own": each run puts it together as a plain dict (`plots.slider_spec`), and no figure is shared (the
  cache is cleared before the run);
- "shared": the figure is taken from the cache, as a second student on the same link gets it.
Reports the CPU seconds per page run (median), for each page and language, and the ratios to "checked".
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

import rnnviz  # noqa: E402
from rnnviz import plots, ui  # noqa: E402
from rnnviz.i18n import _  # noqa: E402
from rnnviz.spec import KNOBS  # noqa: E402
from rnnviz.ui import cache  # noqa: E402
from tests.support.apphelp import figures, run_page  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process
KEYS = {"viz_app.py": "hero", "pages/2_Gradient_Flow.py": "grad"}


def checked_slider_chart(container, figure, scenario, cells, knob, build, *, key, figure_key, scale=1.0):
    """`ui.slider_chart` as it was: the figure drawn and the checked figure with its slider put together
    on every run, and copied by the chart."""
    figures, figure = cache.slider_figures(scenario, cells, knob, build, figure_key), figure()
    if figures is not None:
        value = scenario.values()[knob]
        figure = plots.with_slider({**figures, value: figure}, value, label=_(KNOBS[knob].label), scale=scale)
    ui.chart(figure, key=key, container=container)


def one_run(page: str, query: dict) -> tuple[float, bool]:
    c0 = time.process_time()
    at = run_page(page, query)
    cpu = time.process_time() - c0
    if at.exception:
        raise SystemExit(f"{page} {query}: {at.exception}")
    return cpu, bool(figures(at)[KEYS[page]].get("frames"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--page", action="append", choices=sorted(KEYS))
    ap.add_argument("--gain", default="1.3")
    args = ap.parse_args()
    os.environ.pop("RNNVIZ_FLUID", None)
    print(f"uptime: {os.popen('uptime').read().strip()}")
    for page in args.page or sorted(KEYS):
        for lang in ("en", "zh"):
            query = {"recurrent_gain": args.gain, "lang": lang}
            deadline = time.monotonic() + 300
            while not one_run(page, query)[1]:       # until the slider's grid is computed (in the background)
                if time.monotonic() > deadline:
                    raise SystemExit("the slider's grid was not computed within 300 s")
                time.sleep(1)
            checked, own, shared = [], [], []
            for _run in range(args.sessions):
                real, ui.slider_chart = ui.slider_chart, checked_slider_chart
                cache._shared_figures.clear()
                try:
                    checked.append(one_run(page, query)[0])
                finally:
                    ui.slider_chart = real
                cache._shared_figures.clear()
                own.append(one_run(page, query)[0])
                shared.append(one_run(page, query)[0])
            c, o, s = (statistics.median(x) for x in (checked, own, shared))
            print(f"{page:26s} {lang}: CPU per page run, median of {args.sessions}: checked {c * 1e3:5.0f} ms, "
                  f"own {o * 1e3:5.0f} ms ({o / c:.2f}), shared {s * 1e3:5.0f} ms ({s / c:.2f})")
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
