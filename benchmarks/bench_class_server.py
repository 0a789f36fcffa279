"""The server's share of a class on one link, measured without browsers on the server's machine.

    python benchmarks/bench_class_server.py [--students 30] [--minutes 2] [--replicas 1,2,3] [--client-cost]

bench_classroom.py drives S students as Chromium contexts on this machine: their rendering shares the
server's cores, and on a 2-core machine it is most of the CPU (each Chromium spends 0.6-0.9 s of CPU
drawing one slider move of Gradient Flow, see --client-cost). Here each student is instead a
WebSocket client that speaks Streamlit's own protocol, as the app's page in a browser does: it opens
the preset link (a `rerun_script` message with the link's query string), reads the elements the
server sends, and moves the "Recurrent gain" slider by sending the slider's new value as the browser
would (a widget state). Nothing is drawn, so the server gets the machine's cores, as it does when the
students' browsers run on their own computers. Same preset, same pauses (1-8 s between two moves,
uniform), same range of values as bench_classroom.py.

For each configuration (by default 1 replica, one per core and `make serve`'s default, behind nginx):
- first chart: all S students open the link at the same moment; seconds until each has the main
  chart's numbers;
- slider -> chart: seconds from sending the slider's value until the main chart of that value has
  arrived (the server's share of a student's slider -> chart latency: a browser then draws it);
- every main chart a student receives is checked against the engine's own numbers for its slider
  value (the preset's Scenario traced directly): a chart that holds other numbers counts as a
  session with wrong numbers; an exception element, as an error;
- CPU seconds of the replicas, nginx and this driver, and peak resident memory per replica.

--client-cost also opens the link in one headless Chromium on the quiet machine (after the classes)
and measures the CPU its processes spend per slider move: what S browsers on this one machine
would need on top of the server, at the rate the students moved here.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import websockets  # noqa: E402
from bench_classroom import (  # noqa: E402
    PAUSE,
    SLIDER,
    Oracle,
    cpu_delta,
    cpu_snapshot,
    machine_cpu,
    pct,
    print_runs,
    profiled_class,
    read_profiles,
)
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

import rnnviz  # noqa: E402
from deploy.processes import peak_rss_mb  # noqa: E402
from deploy.serve import COOKIE, cores, default_replicas, sessions  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process

MAIN_CHART = "-grad"  # the element id of Gradient Flow's main chart ends with its key
TIMEOUT = 120.0  # seconds a script run may take before the move counts as a timeout


def decode(value) -> np.ndarray:
    """A Plotly JSON array: a list, or a base64 typed array {"dtype", "bdata"}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float)


class ProtocolStudent:
    """One student's page, as Streamlit's protocol: one WebSocket, one session on one replica."""

    def __init__(self, i: int, seed: int, base: str, page: str, query: str):
        self.i, self.rng = i, random.Random(seed * 1000 + i)
        self.base, self.page, self.query = base, page, query
        self.ws = None
        self.slider_id = None
        self.value = 0.0  # the slider's value, once the link has been opened
        self.first_chart = None
        self.latencies: list[float] = []
        self.runs: list[float] = []
        self.wrong = self.timeouts = self.errors = 0
        self.seen_wrong: list[tuple[str, str | None]] = []

    async def connect(self):
        # The page first, as a browser loads it: behind nginx its answer carries the routing cookie that
        # keeps this student on one replica (the WebSocket sends it back).
        def page_cookie():
            with urllib.request.urlopen(f"{self.base}/{self.page}?{self.query}", timeout=60) as r:
                return [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or [] if c.startswith(COOKIE)]
        cookies = await asyncio.to_thread(page_cookie)
        headers = {"Cookie": "; ".join(cookies)} if cookies else None
        self.ws = await websockets.connect(self.base.replace("http", "ws", 1) + "/_stcore/stream",
                                           subprotocols=["streamlit"], additional_headers=headers,
                                           max_size=None, open_timeout=120, ping_interval=None)

    async def rerun(self, value: float | None = None):
        """Run the page (with the slider at `value`, or as the link sets it): (elements, seconds until the
        main chart arrived or None, seconds until the run finished)."""
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        if value is not None:
            state = WidgetState(id=self.slider_id)
            state.double_array_value.data.extend([value])
            msg.rerun_script.widget_states.widgets.append(state)
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        elements, chart_at = [], None
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                elements.append(el)
                if (chart_at is None and el.WhichOneof("type") == "plotly_chart"
                        and el.plotly_chart.id.endswith(MAIN_CHART)):
                    chart_at = time.perf_counter() - t0
            elif kind == "script_finished":
                return elements, chart_at, time.perf_counter() - t0

    def check(self, elements, oracle: Oracle, value: str) -> None:
        self.errors += sum(1 for el in elements if el.WhichOneof("type") == "exception")
        charts = [el.plotly_chart for el in elements
                  if el.WhichOneof("type") == "plotly_chart" and el.plotly_chart.id.endswith(MAIN_CHART)]
        y = decode(json.loads(charts[-1].spec)["data"][0]["y"]) if charts else np.array([])
        if not oracle.matches(value, y):
            self.wrong += 1
            self.seen_wrong.append((value, oracle.whose(y)))

    async def open(self, oracle: Oracle, start_value: str, t0: float):
        await self.connect()
        sent = time.perf_counter()
        elements, chart_at, wall = await self.rerun()
        self.first_chart = sent - t0 + (chart_at if chart_at is not None else wall)
        self.slider_id = next(el.slider.id for el in elements
                              if el.WhichOneof("type") == "slider" and el.slider.label == SLIDER)
        self.value = float(start_value)
        self.check(elements, oracle, start_value)

    async def move_sliders(self, oracle: Oracle, until: float, lo: float, hi: float):
        while True:
            await asyncio.sleep(self.rng.uniform(*PAUSE))
            if time.perf_counter() > until:
                return
            up = (self.rng.random() < 0.5 or self.value <= lo + 1e-9) and self.value < hi - 1e-9
            self.value = round(self.value + (0.01 if up else -0.01), 2)
            try:
                elements, chart_at, wall = await self.rerun(self.value)
            except TimeoutError:
                self.timeouts += 1
                return  # the session's messages are out of step from here on
            self.runs.append(wall)
            if chart_at is None:  # the run ended without the main chart: counted once, as a timeout
                self.timeouts += 1
                self.errors += sum(1 for el in elements if el.WhichOneof("type") == "exception")
                continue
            self.latencies.append(chart_at)
            self.check(elements, oracle, f"{self.value:.2f}")

    async def close(self):
        if self.ws is not None:
            await self.ws.close()


async def run_config(n_replicas: int, args, oracle: Oracle) -> dict:
    room, run_dir = profiled_class(n_replicas)
    load_start = os.getloadavg()
    page = Path(oracle.preset.page).stem.split("_", 1)[1]
    query = urlencode(oracle.preset.query())
    start_value = f"{oracle.preset.values()['recurrent_gain']:.2f}"
    students = [ProtocolStudent(i, args.seed, room.url, page, query) for i in range(args.students)]
    try:
        # The teacher checks the app on every replica before class (imports torch, loads the engine).
        for r in room.replicas:
            teacher = ProtocolStudent(-1, args.seed, r.url, page, query)
            await teacher.open(oracle, start_value, time.perf_counter())
            await teacher.close()
        cpu0, m0 = cpu_snapshot(room), machine_cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(s.open(oracle, start_value, t0) for s in students))
        open_wall = time.perf_counter() - t0
        cpu1, m1, t_slide = cpu_snapshot(room), machine_cpu(), time.time()
        t1 = time.perf_counter()
        lo, hi = args.range
        await asyncio.gather(*(s.move_sliders(oracle, t1 + 60 * args.minutes, lo, hi) for s in students))
        slide_wall = time.perf_counter() - t1
        cpu2, m2, t_end = cpu_snapshot(room), machine_cpu(), time.time()
        per_replica = [sessions(r.url) for r in room.replicas]
        rss = [peak_rss_mb(r.pid) for r in room.replicas]
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
        room.stop()
    runs = read_profiles(room)
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"replicas": n_replicas, "students": students, "load": (load_start, os.getloadavg()),
            "open_wall": open_wall, "slide_wall": slide_wall,
            "cpu_open": cpu_delta(cpu0, cpu1), "cpu_slide": cpu_delta(cpu1, cpu2),
            "machine_open": m1 - m0, "machine_slide": m2 - m1, "rss": rss, "sessions": per_replica,
            "runs_slide": [r for r in runs if t_slide <= r["start"] < t_end]}


def report(res: dict, n_cores: int) -> dict:
    st = res["students"]
    first = [s.first_chart for s in st]
    lat = [x for s in st for x in s.latencies]
    moves = len(lat) + sum(s.timeouts for s in st)
    print(f"\n== {res['replicas']} replica(s) behind nginx, {len(st)} protocol students (no browsers)  "
          f"(load average at start {'/'.join(f'{x:.1f}' for x in res['load'][0])}, "
          f"at end {'/'.join(f'{x:.1f}' for x in res['load'][1])})")
    print(f"  first chart, all open at once : median {pct(first, 50):6.1f} s  p95 {pct(first, 95):6.1f} s  "
          f"max {max(first):6.1f} s")
    runs = [x for s in st for x in s.runs]
    print(f"  slider -> main chart sent ({moves} moves, {moves / max(res['slide_wall'], 1e-9):.1f} moves/s): "
          f"p50 {pct(lat, 50):5.2f} s  p95 {pct(lat, 95):5.2f} s  max {max(lat, default=float('nan')):5.2f} s; "
          f"whole script run p50 {pct(runs, 50):.2f} s p95 {pct(runs, 95):.2f} s; timeouts "
          f"{sum(s.timeouts for s in st)}")
    print(f"  sessions with wrong numbers   : {sum(1 for s in st if s.wrong)}"
          + (f"  {[s.seen_wrong for s in st if s.wrong][:3]}" if any(s.wrong for s in st) else ""))
    print(f"  exception elements            : {sum(s.errors for s in st)}")
    print(f"  peak RSS per replica (VmHWM)  : {', '.join(f'{m:.0f} MB' for m in res['rss'])}")
    print(f"  sessions per replica          : {', '.join(str(s.get('active', '?')) for s in res['sessions'])}")
    for phase, wall, cpu, machine in (("opening", res["open_wall"], res["cpu_open"], res["machine_open"]),
                                      ("sliders", res["slide_wall"], res["cpu_slide"], res["machine_slide"])):
        ours = sum(cpu.values())
        shares = ", ".join(f"{g} {cpu[g]:.0f} s ({cpu[g] / max(wall * n_cores, 1e-9):.0%} of the cores)"
                           for g in ("replicas", "nginx", "driver"))
        print(f"  CPU while {phase:8s} ({wall:5.0f} s wall, {n_cores} cores): {shares}; "
              f"the rest of the machine {max(0.0, machine - ours):.0f} s")
    if res["runs_slide"]:
        print_runs(res["runs_slide"])
    per_move = res["cpu_slide"]["replicas"] / max(moves, 1)
    print(f"  server CPU per slider move    : {per_move:.2f} s")
    return {"moves_per_s": moves / max(res["slide_wall"], 1e-9), "server_cpu_per_move": per_move}


# --------------------------------------------------------------------------- one browser's cost
def client_cost(oracle: Oracle, moves: int = 8) -> dict:
    """CPU seconds one headless Chromium spends per slider move of the preset (all its processes), alone
    on the machine, with the server's CPU per move in the same run."""
    from bench_classroom import CHROMIUM, CHROMIUM_ARGS, MATCHES, POLL, _stat, preset_url
    from playwright.sync_api import sync_playwright

    from deploy.processes import group_members, start_streamlit

    def chromium_cpu() -> float:
        total = 0.0
        for p in Path("/proc").glob("[0-9]*"):
            try:
                if "chrom" in (p / "comm").read_text():
                    total += _stat(int(p.name))[1]
            except (OSError, TypeError):
                continue
        return total

    def server_cpu(server) -> float:
        return sum(s[1] for pid in group_members(server.pid) if (s := _stat(pid)))

    server = start_streamlit(env={"RNNVIZ_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"})
    out = {"browser": [], "server": [], "latency": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                start = f"{oracle.preset.values()['recurrent_gain']:.2f}"
                page.goto(preset_url(server.url, oracle.preset))
                want = oracle.curves[start]
                page.wait_for_function(MATCHES, arg=[len(want), float(want[0])], polling=POLL, timeout=300_000)
                page.wait_for_timeout(8000)  # the in-chart slider's frames are computed in the background
                page.reload()
                page.wait_for_function(MATCHES, arg=[len(want), float(want[0])], polling=POLL, timeout=300_000)
                page.wait_for_timeout(3000)
                slider = page.get_by_role("slider", name=SLIDER)
                for k in range(moves):
                    value = slider.get_attribute("aria-valuetext")
                    new = f"{float(value) + (0.01 if k % 2 == 0 else -0.01):.2f}"
                    b0, s0, t0 = chromium_cpu(), server_cpu(server), time.perf_counter()
                    slider.focus()
                    slider.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
                    want = oracle.curves[new]
                    page.wait_for_function(MATCHES, arg=[len(want), float(want[0])], polling=POLL, timeout=120_000)
                    out["latency"].append(time.perf_counter() - t0)
                    page.wait_for_timeout(2500)  # everything the move set off has settled
                    out["browser"].append(chromium_cpu() - b0)
                    out["server"].append(server_cpu(server) - s0)
            finally:
                browser.close()
    finally:
        server.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=max(30, 15 * cores()))
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--replicas", default=",".join(str(n) for n in sorted({1, cores(), default_replicas()})),
                    help="configurations to compare (default: 1, one per core, and make serve's default)")
    ap.add_argument("--preset", default="vanishing")
    ap.add_argument("--range", type=float, nargs=2, default=(0.5, 1.2))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--client-cost", action="store_true",
                    help="also measure one Chromium's CPU per slider move, alone on the machine")
    args = ap.parse_args()
    oracle = Oracle(args.preset, *args.range)
    print("command:", " ".join(["python", *sys.argv]))
    print("uptime at start:", os.popen("uptime").read().strip())

    async def run_all():
        return [await run_config(int(n), args, oracle) for n in args.replicas.split(",")]

    results = asyncio.run(run_all())  # every server is stopped before anything is printed
    cost = client_cost(oracle) if args.client_cost else None
    rates = [report(res, cores()) for res in results]
    if cost:
        med = {k: float(np.median(v)) for k, v in cost.items()}
        print(f"\n== one headless Chromium alone on this machine, {len(cost['browser'])} slider moves of the preset")
        print(f"  CPU per slider move           : browser {med['browser']:.2f} s (median; "
              f"{min(cost['browser']):.2f}-{max(cost['browser']):.2f}), server {med['server']:.2f} s; "
              f"slider -> chart {med['latency']:.2f} s")
        for res, r in zip(results, rates):
            need = r["moves_per_s"] * med["browser"]
            print(f"  {len(res['students'])} browsers at the rate of the {res['replicas']}-replica run "
                  f"({r['moves_per_s']:.1f} moves/s) would need {need:.1f} cores for drawing alone, "
                  f"+ {r['moves_per_s'] * r['server_cpu_per_move']:.1f} for the server, of {cores()}")
    print("uptime at end:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
