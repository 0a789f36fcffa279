"""A class on one link: S students open the teacher's preset at once, then move a slider at random
moments; 1 replica against 2 behind nginx (what `make serve` runs).

    python benchmarks/bench_classroom.py [--students 30] [--minutes 2] [--replicas 1,2] [--preset vanishing]

Each student is a Playwright browser context in one headless Chromium. For each configuration:
- the teacher opens the app once on every replica (the server is up and checked before class);
- all S students open the preset link at the same moment: seconds until each sees the preset's chart
  with the right numbers (first chart);
- for --minutes, each student waits a random 1-8 s, presses an arrow key on "Recurrent gain" and waits
  until the chart shows the numbers for the slider's new value: slider -> chart latency.
Every chart a student sees is checked against the engine's own numbers for that student's slider value
(the preset's Scenario traced by the engine, not through the app). A chart that holds other
numbers is counted as a session with wrong numbers; a chart that never updates (120 s), as a timeout.

Where the time goes, server against clients:
- server: every script run is recorded by benchmarks/profiled_streamlit.py (wall and CPU seconds, and
  stack samples: engine, figures, serialisation, Streamlit, waiting for a shared computation; cache
  misses, i.e. runs that computed rather than shared the traces);
- CPU seconds of each group of processes (/proc): replicas, nginx, the browsers (all of Chromium's
  processes), this driver; and the rest of the machine, which should be near zero for a clean figure;
- the browsers' main-thread long tasks (> 50 ms), summed over the students.
Peak resident memory (VmHWM) per replica. Run it on a quiet machine; `uptime` is printed with it.
On one machine the browsers compete with the server for its cores; `--browsers-nice 19` starts them at
a lower priority, so that the replicas get a core first (as with the students' browsers on their own
machines) and the server's share is measured without waiting behind them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

import rnnviz  # noqa: E402
from deploy.processes import free_port, group_members, peak_rss_mb  # noqa: E402
from deploy.serve import Classroom, cores, sessions  # noqa: E402
from rnnviz.files.lessons import get_preset  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process

PROFILED = [sys.executable, str(ROOT / "benchmarks" / "profiled_streamlit.py")]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-renderer-backgrounding",
                 "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]
SLIDER = "Recurrent gain"
UPDATE_TIMEOUT = 120_000  # ms
PAUSE = (1.0, 8.0)  # seconds a student waits between two moves (uniform)
MEAN_PAUSE = sum(PAUSE) / 2
POLL = 25  # ms between checks of a chart: the latencies' resolution, and little work for the browsers
# The first chart (Gradient Flow's gradient norms); trace 0 is the RNN's log10 ||dL/dh_k||.
MATCHES = """([n, w]) => { const el = document.querySelectorAll('.js-plotly-plot')[0];
  if (!el || !el._fullData || !el._fullData[0]) return false;
  const y = el._fullData[0].y;
  return y.length === n && Math.abs(y[0] - w) <= 1e-9 * Math.max(1, Math.abs(w)); }"""
CHART_Y = "() => Array.from(document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].y, Number)"
LONG_TASKS = """window.__busy = 0; window.__tasks = 0;
  new PerformanceObserver(l => { for (const e of l.getEntries()) { window.__busy += e.duration; window.__tasks++; } })
    .observe({type: 'longtask', buffered: true});"""


# --------------------------------------------------------------------------- the numbers to expect
class Oracle:
    """The RNN's log10 ||dL/dh_k|| for every slider value, computed by the engine directly."""

    def __init__(self, preset_name: str, lo: float, hi: float):
        self.preset = get_preset(preset_name)
        self.curves = {}
        for g in np.round(np.arange(lo, hi + 1e-9, 0.01), 2):
            scenario = self.preset.scenario(cell="rnn", recurrent_gain=float(g))
            self.curves[f"{g:.2f}"] = scenario.trace().log10_grad_norm

    def matches(self, value: str, y) -> bool:
        want = self.curves[value]
        return len(y) == len(want) and np.allclose(np.asarray(y, float), want, rtol=1e-9, atol=0)

    def whose(self, y) -> str | None:
        return next((v for v in self.curves if self.matches(v, y)), None)


def preset_url(base: str, preset) -> str:
    page = Path(preset.page).stem.split("_", 1)[1]
    return f"{base}/{page}?{urlencode(preset.query())}"


# --------------------------------------------------------------------------- CPU seconds by group
def _stat(pid: int):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # ppid, utime+stime


def cpu_snapshot(room: Classroom) -> dict[int, tuple[str, float]]:
    """{pid: (group, CPU seconds)} for this driver's process tree."""
    stats = {int(p.name): s for p in Path("/proc").glob("[0-9]*") if (s := _stat(int(p.name)))}
    children = defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    replicas = {pid for r in room.replicas for pid in group_members(r.pid)}
    nginx = set(group_members(room.nginx.pid)) if room.nginx else set()
    out, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        comm = Path(f"/proc/{pid}/comm").read_text().strip() if Path(f"/proc/{pid}/comm").exists() else ""
        group = ("replicas" if pid in replicas else "nginx" if pid in nginx
                 else "browsers" if "chrom" in comm else "driver")
        out[pid] = (group, stats[pid][1])
    return out


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (all processes)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: dict, after: dict) -> Counter:
    used = Counter()
    for pid, (group, t) in after.items():
        used[group] += t - (before[pid][1] if pid in before else 0.0)
    return used


# --------------------------------------------------------------------------- one student
class Student:
    def __init__(self, i: int, seed: int):
        self.i, self.rng = i, random.Random(seed * 1000 + i)
        self.first_chart = None
        self.latencies: list[float] = []
        self.wrong = self.stale = self.timeouts = self.dropped = self.errors = 0
        self.history: set[str] = set()
        self.seen_wrong: list[tuple[str, str | None]] = []

    async def open(self, page, url, oracle, start_value, t0):
        await page.goto(url, wait_until="commit", timeout=600_000)
        await page.wait_for_function(MATCHES, arg=[len(oracle.curves[start_value]),
                                                    float(oracle.curves[start_value][0])],
                                     polling=POLL, timeout=600_000)
        self.first_chart = time.perf_counter() - t0
        await self.check(page, oracle, start_value)

    async def check(self, page, oracle, value: str):
        """The chart must hold this student's numbers: those of `value`. A chart still showing one of the
        student's earlier values is stale (counted with the timeouts); anything else is someone else's."""
        self.history.add(value)
        y = await page.evaluate(CHART_Y)
        if not oracle.matches(value, y):
            whose = oracle.whose(y)
            if whose in self.history:
                self.stale += 1
            else:
                self.wrong += 1
                self.seen_wrong.append((value, whose))
        self.errors = max(self.errors, await page.locator("[data-testid='stException']").count())

    @staticmethod
    async def changed(slider, value: str, timeout: float = 2.0) -> str | None:
        """The slider's new value once it differs from `value`, or None after `timeout` seconds."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            now = await slider.get_attribute("aria-valuetext")
            if now != value:
                return now
            await asyncio.sleep(0.02)
        return None

    async def move_sliders(self, page, oracle, until: float, lo: float, hi: float):
        slider = page.get_by_role("slider", name=SLIDER)
        while True:
            await asyncio.sleep(self.rng.uniform(*PAUSE))
            if time.perf_counter() > until:
                return
            value = await slider.get_attribute("aria-valuetext")
            key = "ArrowRight" if (self.rng.random() < 0.5 or float(value) <= lo) and float(value) < hi \
                else "ArrowLeft"
            await slider.focus()
            for _ in range(5):  # a press that lands during a rerun can be dropped by the widget
                t0 = time.perf_counter()
                await slider.press(key)
                new = await self.changed(slider, value)
                if new is not None:
                    break
                self.dropped += 1
            else:
                continue
            want = oracle.curves[new]
            try:
                await page.wait_for_function(MATCHES, arg=[len(want), float(want[0])], polling=POLL,
                                             timeout=UPDATE_TIMEOUT)
                self.latencies.append(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001 - never showed this value's numbers
                self.timeouts += 1
            await self.check(page, oracle, new)


# --------------------------------------------------------------------------- one configuration
def read_profiles(room: Classroom) -> list[dict]:
    runs = []
    for path in room.run_dir.glob("profile-*.jsonl"):
        runs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return runs


def pct(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def chromium_at(niceness: int, run_dir: Path) -> str:
    """Chromium itself, or a launcher that starts it (and so every process it starts) at a lower priority:
    with the browsers niced, the replicas get a core first, as they would with the students' browsers on
    their own machines, and the server's share of the latency is measured without waiting behind them."""
    if not niceness:
        return CHROMIUM
    launcher = run_dir / "chromium-niced"
    launcher.write_text(f'#!/bin/sh\nexec nice -n {int(niceness)} {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


def profiled_class(n_replicas: int) -> tuple[Classroom, Path]:
    """n replicas behind nginx, started, each recording its script runs (profiled_streamlit.py) in the run
    directory it returns (for read_profiles)."""
    run_dir = Path(tempfile.mkdtemp(prefix="rnnviz-classroom-"))
    room = Classroom(n_replicas, free_port(), replica_ports=[free_port() for _ in range(n_replicas)],
                     launcher=PROFILED, env={"RNNVIZ_PROFILE_LOG": str(run_dir / "profile-{pid}.jsonl")},
                     run_dir=run_dir)
    return room.start(), run_dir


async def run_config(p, n_replicas: int, args, oracle: Oracle) -> dict:
    room, run_dir = profiled_class(n_replicas)
    load_start = os.getloadavg()
    browser = None
    try:
        browser = await p.chromium.launch(executable_path=chromium_at(args.browsers_nice, run_dir), args=CHROMIUM_ARGS)
        # The teacher checks the app on every replica before class (imports torch, loads the engine).
        warm = await browser.new_page(viewport={"width": 1280, "height": 800})
        for r in room.replicas:
            await warm.goto(r.url + "/", wait_until="commit")
            await warm.wait_for_selector(".js-plotly-plot .main-svg", timeout=600_000)
        await warm.close()

        start_value = f"{oracle.preset.values()['recurrent_gain']:.2f}"
        url = preset_url(room.url, oracle.preset)
        students = [Student(i, args.seed) for i in range(args.students)]
        pages = []
        for _ in students:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
            await ctx.add_init_script(LONG_TASKS)
            pages.append(await ctx.new_page())

        cpu0, m0, t_open = cpu_snapshot(room), machine_cpu(), time.time()
        t0 = time.perf_counter()
        await asyncio.gather(*(s.open(pg, url, oracle, start_value, t0) for s, pg in zip(students, pages)))
        open_wall = time.perf_counter() - t0
        cpu1, m1, t_slide = cpu_snapshot(room), machine_cpu(), time.time()
        busy0 = [await pg.evaluate("() => window.__busy") for pg in pages]

        t1 = time.perf_counter()
        until = t1 + 60 * args.minutes
        lo, hi = args.range
        await asyncio.gather(*(s.move_sliders(pg, oracle, until, lo, hi) for s, pg in zip(students, pages)))
        slide_wall = time.perf_counter() - t1
        cpu2, m2, t_end = cpu_snapshot(room), machine_cpu(), time.time()
        busy1 = [await pg.evaluate("() => window.__busy") for pg in pages]
        for s, pg in zip(students, pages):  # the last look: each chart still holds its own numbers
            await s.check(pg, oracle, await pg.get_by_role("slider", name=SLIDER).get_attribute("aria-valuetext"))
        per_replica = [sessions(r.url) for r in room.replicas]
        rss = [peak_rss_mb(r.pid) for r in room.replicas]
    finally:
        if browser is not None:
            await browser.close()
        room.stop()
    runs = read_profiles(room)
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"replicas": n_replicas, "browsers_nice": args.browsers_nice, "students": students,
            "load": (load_start, os.getloadavg()),
            "open_wall": open_wall, "slide_wall": slide_wall,
            "cpu_open": cpu_delta(cpu0, cpu1), "cpu_slide": cpu_delta(cpu1, cpu2),
            "machine_open": m1 - m0, "machine_slide": m2 - m1, "rss": rss, "sessions": per_replica,
            "busy_ms": sum(b1 - b0 for b0, b1 in zip(busy0, busy1)),
            "runs_open": [r for r in runs if t_open <= r["start"] < t_slide],
            "runs_slide": [r for r in runs if t_slide <= r["start"] < t_end]}


# --------------------------------------------------------------------------- report
def print_runs(runs: list[dict]) -> list[float]:
    """Where the server's script runs went (benchmarks/profiled_streamlit.py's records); returns the seconds
    until each run handed its first chart to Streamlit."""
    walls = [r["wall"] for r in runs]
    where = Counter()
    for r in runs:
        where.update(r["where"])
    total = sum(where.values()) or 1
    misses = sum(1 for r in runs if r["misses"])
    firsts = [r["first_chart"] for r in runs if r.get("first_chart") is not None]
    print(f"    server script runs: {len(runs)}, first chart handed to Streamlit after p50 "
          f"{pct(firsts, 50):.2f} s p95 {pct(firsts, 95):.2f} s; whole run p50 {pct(walls, 50):.2f} s "
          f"p95 {pct(walls, 95):.2f} s, CPU/wall {sum(r['cpu'] for r in runs) / max(sum(walls), 1e-9):.2f}; "
          f"{misses} computed the traces (cache miss), {len(runs) - misses} shared them")
    print("    where the script runs' wall time went: "
          + ", ".join(f"{k} {v / total:.0%}" for k, v in where.most_common()))
    functions = Counter()
    for r in runs:
        functions.update(r.get("functions", {}))
    if functions:
        print("    of which, by rnnviz function: "
              + ", ".join(f"{k} {v / total:.0%}" for k, v in functions.most_common(6)))
    return firsts


def report(res: dict, n_cores: int) -> None:
    st = res["students"]
    first = [s.first_chart for s in st]
    lat = [x for s in st for x in s.latencies]
    moves = len(lat) + sum(s.timeouts for s in st)
    niced = f", browsers at niceness {res['browsers_nice']}" if res["browsers_nice"] else ""
    print(f"\n== {res['replicas']} replica(s) behind nginx, {len(st)} students{niced}  (load average at start "
          f"{'/'.join(f'{x:.1f}' for x in res['load'][0])}, at end {'/'.join(f'{x:.1f}' for x in res['load'][1])})")
    print(f"  first chart, all open at once : median {pct(first, 50):6.1f} s  p95 {pct(first, 95):6.1f} s  "
          f"max {max(first):6.1f} s")
    print(f"  slider -> chart ({moves} moves)  : p50 {pct(lat, 50):6.2f} s  p95 {pct(lat, 95):6.2f} s  "
          f"max {max(lat, default=float('nan')):6.2f} s   timeouts {sum(s.timeouts for s in st)} "
          f"(then stale: {sum(s.stale for s in st)}), dropped key presses {sum(s.dropped for s in st)}")
    print(f"  sessions with wrong numbers   : {sum(1 for s in st if s.wrong)}"
          + (f"  {[s.seen_wrong for s in st if s.wrong][:3]}" if any(s.wrong for s in st) else ""))
    print(f"  exception boxes               : {sum(s.errors for s in st)}")
    print(f"  peak RSS per replica (VmHWM)  : {', '.join(f'{m:.0f} MB' for m in res['rss'])}")
    print(f"  sessions per replica          : {', '.join(str(s.get('active', '?')) for s in res['sessions'])}")
    for phase, wall, cpu, machine, runs in (("opening", res["open_wall"], res["cpu_open"], res["machine_open"],
                                             res["runs_open"]),
                                            ("sliders", res["slide_wall"], res["cpu_slide"], res["machine_slide"],
                                             res["runs_slide"])):
        ours = sum(cpu.values())
        shares = ", ".join(f"{g} {cpu[g]:.0f} s ({cpu[g] / max(ours, 1e-9):.0%})"
                           for g in ("replicas", "browsers", "nginx", "driver"))
        print(f"  CPU while {phase:8s} ({wall:5.0f} s wall, {n_cores} cores): {shares}; "
              f"the rest of the machine {max(0.0, machine - ours):.0f} s")
        if runs:
            firsts = print_runs(runs)
            if phase == "sliders" and lat and firsts:
                print(f"    client latency p50 minus the server's first-chart p50: "
                      f"{pct(lat, 50) - pct(firsts, 50):.2f} s (sending, the browser's rendering, waiting for a core)")
    if moves:
        per_move = res["cpu_slide"]["replicas"] / moves
        rate = n_cores / per_move
        print(f"  server CPU per slider move    : {per_move:.2f} s; with all {n_cores} cores the replicas alone could "
              f"keep up with {rate:.1f} moves/s, about {rate * MEAN_PAUSE:.0f} students moving every "
              f"{MEAN_PAUSE:.1f} s (browsers elsewhere)")
    if res["slide_wall"]:
        print(f"  browsers' main-thread long tasks while sliding: {res['busy_ms'] / 1000:.0f} s summed over "
              f"{len(st)} students ({res['busy_ms'] / 1000 / res['slide_wall']:.2f} cores' worth)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=max(30, 15 * cores()),
                    help="students (browser contexts); default 30, or 15 per core where there are more")
    ap.add_argument("--minutes", type=float, default=2.0, help="how long the students move sliders")
    ap.add_argument("--replicas", default="1,2", help="configurations to compare, e.g. 1,2,4")
    ap.add_argument("--preset", default="vanishing", help="the preset link everyone opens (Gradient Flow)")
    ap.add_argument("--range", type=float, nargs=2, default=(0.5, 1.2), help="gain values students move within")
    ap.add_argument("--seed", type=int, default=0, help="seed of the students' random moments")
    ap.add_argument("--browsers-nice", type=int, default=0, metavar="N",
                    help="run the browsers at niceness N (e.g. 19): the server gets a core first, as with the "
                         "students' browsers on their own machines; the end-to-end latency then includes the "
                         "browsers' wait")
    args = ap.parse_args()
    oracle = Oracle(args.preset, *args.range)
    print("command:", " ".join(["python", *sys.argv]))
    print("uptime at start:", os.popen("uptime").read().strip())

    async def run_all():
        async with async_playwright() as p:
            return [await run_config(p, int(n), args, oracle) for n in args.replicas.split(",")]

    results = asyncio.run(run_all())  # every server is stopped before anything is printed
    for res in results:
        report(res, cores())
    if len(results) > 1:
        print("\n== comparison (slider -> chart p50 / p95, first chart median)")
        for res in results:
            lat = [x for s in res["students"] for x in s.latencies]
            first = [s.first_chart for s in res["students"]]
            print(f"  {res['replicas']} replica(s): {pct(lat, 50):.2f} s / {pct(lat, 95):.2f} s, "
                  f"{pct(first, 50):.1f} s")
    print("uptime at end:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
