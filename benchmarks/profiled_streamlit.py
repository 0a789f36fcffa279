"""`streamlit` that records where the time of every script run goes (for bench_classroom.py).

    RNNVIZ_PROFILE_LOG=/tmp/runs-{pid}.jsonl python benchmarks/profiled_streamlit.py run viz_app.py [options]

The app is not changed. One JSON line per script run ({pid} in the path is the process id):
  start      wall-clock time the run started (time.time())
  page       the page script that ran (file name)
  wall, cpu  seconds of the run, and CPU seconds of its thread (waiting for the GIL or a core is the gap)
  first_chart  seconds from the run's start until its first chart was handed to Streamlit to send
  where      seconds of the run's wall time by activity, from samples of its stack every 5 ms:
               engine cached    rnnviz computing inside an st.cache function (a cache miss: the result
                                is then shared by every session with the same settings)
               engine page      rnnviz computing called from the page (e.g. Jacobian norms, kept on a
                                shared trace: one session computes, the others wait for it)
               waiting shared   waiting for another session computing the same cached value
               figures          building Plotly figures (rnnviz's figure builders)
               serialise        st.plotly_chart: checking the figure, its JSON, hashing, the message
               streamlit        other Streamlit calls (widgets, markdown, metrics, ...)
               page             the page's own code and rnnviz.ui glue
  functions  seconds by the outermost rnnviz function of the engine and figure samples
  misses     how many cached values this run computed (and wrote)
Messages are serialised and sent by the server's event loop, outside the script thread: that time is
only in the process's total CPU, which the benchmark reads from /proc.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

INTERVAL = 0.005
_runs: dict[int, dict] = {}  # script thread id -> the record of its current run
_lock = threading.Lock()
_LOG = os.environ.get("RNNVIZ_PROFILE_LOG", "/tmp/rnnviz-profile-{pid}.jsonl").replace("{pid}", str(os.getpid()))


def _is_engine(path: str) -> bool:
    return "/rnnviz/" in path and not any(part in path for part in ("/rnnviz/ui", "/rnnviz/plots"))


def _category(frame) -> tuple[str, str | None]:
    """(activity, the outermost rnnviz function doing it) of a stack, innermost frame first."""
    frames = []
    f = frame
    while f is not None:
        frames.append((f.f_code.co_filename.replace("\\", "/"), f.f_code))
        f = f.f_back
    files = [path for path, _ in frames]
    innermost = files[0]

    def outermost(test):
        hits = [code for path, code in frames if test(path)]
        return f"{Path(hits[-1].co_filename).stem}.{hits[-1].co_qualname}" if hits else None

    if "/streamlit/runtime/caching/" in innermost and frame.f_code.co_name == "_hold_compute_lock":
        return "waiting shared", None
    engine = outermost(_is_engine)
    if engine:
        cached = any("/streamlit/runtime/caching/" in p for p in files)
        return ("engine cached" if cached else "engine page"), engine
    figures = outermost(lambda p: "/rnnviz/plots" in p)
    if figures:
        return "figures", figures
    if any(p.endswith("/streamlit/elements/plotly_chart.py") for p in files):
        return "serialise", None
    if "/streamlit/" in innermost and "/scriptrunner/" not in innermost:
        return "streamlit", None
    return "page", None


def _sampler():
    while True:
        time.sleep(INTERVAL)
        frames = sys._current_frames()
        with _lock:
            for tid, rec in _runs.items():
                frame = frames.get(tid)
                if frame is not None:
                    category, function = _category(frame)
                    rec["samples"][category] += 1
                    if function:
                        rec["functions"][function] += 1
                    if rec["page"] is None:
                        rec["page"] = _page_of(frame)


def _page_of(frame):
    root = os.getcwd()
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(root) and (path.endswith("viz_app.py") or "/pages/" in path):
            return os.path.basename(path)
        frame = frame.f_back
    return None


def install() -> None:
    import streamlit
    from streamlit.elements.plotly_chart import PlotlyMixin
    from streamlit.runtime.caching import cache_utils
    from streamlit.runtime.scriptrunner import script_runner

    run_script = script_runner.ScriptRunner._run_script
    store = cache_utils.CachedFunc._store_computed_value

    def profiled_run_script(self, rerun_data):
        tid = threading.get_ident()
        t0, c0 = time.perf_counter(), time.thread_time()
        rec = {"start": time.time(), "t0": t0, "page": None, "samples": Counter(), "functions": Counter(),
               "misses": 0, "first_chart": None}
        with _lock:
            _runs[tid] = rec
        try:
            return run_script(self, rerun_data)
        finally:
            wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            with _lock:
                _runs.pop(tid, None)
            n = sum(rec["samples"].values()) or 1
            line = {"start": rec["start"], "page": rec["page"], "wall": wall, "cpu": cpu, "misses": rec["misses"],
                    "first_chart": rec["first_chart"],
                    "where": {k: wall * v / n for k, v in rec["samples"].items()},
                    "functions": {k: wall * v / n for k, v in rec["functions"].items()}}
            with open(_LOG, "a") as out:
                out.write(json.dumps(line) + "\n")

    def counting_store(self, *args, **kwargs):
        rec = _runs.get(threading.get_ident())
        if rec is not None:
            rec["misses"] += 1
        return store(self, *args, **kwargs)

    plotly_chart = PlotlyMixin.plotly_chart

    def timed_plotly_chart(self, *args, **kwargs):
        out = plotly_chart(self, *args, **kwargs)
        rec = _runs.get(threading.get_ident())
        if rec is not None and rec["first_chart"] is None:
            rec["first_chart"] = time.perf_counter() - rec["t0"]
        return out

    script_runner.ScriptRunner._run_script = profiled_run_script
    PlotlyMixin.plotly_chart = timed_plotly_chart
    streamlit.plotly_chart = streamlit._main.plotly_chart  # st.plotly_chart was bound at import
    cache_utils.CachedFunc._store_computed_value = counting_store
    threading.Thread(target=_sampler, name="profile-sampler", daemon=True).start()


if __name__ == "__main__":
    install()
    from streamlit.web.cli import main

    sys.argv[0] = "streamlit"
    sys.exit(main())
