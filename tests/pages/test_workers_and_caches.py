"""Training in worker processes, a fixed number at once, and the bounded cache shared between sessions:
a run trains in another process and its record comes back; runs beyond the trainers wait in order and
see their place; an ended script run stops its worker within seconds and keeps the record; the shared
cache keeps to its entries and bytes, makes room before it computes, and computes a key once for everyone
asking; a server process gives the memory of freed traces back to the system."""
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from rnnviz.ui import workers
from rnnviz.ui.cache import Bounded, nbytes


@dataclass(eq=False)
class FakeJob:
    record: object = None
    fraction: float = 0.0
    text: str = ""
    seen: list = field(default_factory=list)


def counting(steps: int, pause: float = 0.0):
    def work(report):
        for k in range(steps):
            if pause:
                time.sleep(pause)
            report({"step": k + 1, "pid": os.getpid()}, (k + 1) / steps, f"step {k + 1}", final=k == steps - 1)
        return "done"
    return work


def test_a_run_trains_in_another_process_and_its_record_comes_back():
    job = FakeJob()
    value = workers.run(job, counting(50), show=lambda chart, final: job.seen.append(job.fraction),
                        waiting=lambda ahead: None, alive=lambda: None)
    assert value == "done"
    assert job.record["step"] == 50 and job.record["pid"] != os.getpid()
    assert job.fraction == 1.0 and job.seen[-1] == 1.0


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class only")
def test_a_worker_trains_only_on_cpu_time_the_app_leaves_over():
    """Training never takes a core from a student's slider: the worker runs in the idle class, below
    any nice level, and the app keeps its own priority."""
    def work(report):
        report(None, 1.0, final=True)
        return os.sched_getscheduler(0), torch_threads()

    def torch_threads():
        import torch
        return torch.get_num_threads()

    policy, threads = workers.run(FakeJob(), work, show=lambda chart, final: None, waiting=lambda ahead: None,
                                  alive=lambda: None)
    assert policy == os.SCHED_IDLE and threads == 1
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_runs_beyond_the_trainers_wait_in_order_and_see_their_place(monkeypatch):
    monkeypatch.setenv("RNNVIZ_TRAINING_SLOTS", "1")
    places, order = {}, []

    def start(name, delay):
        time.sleep(delay)
        job = FakeJob()
        workers.run(job, counting(8, pause=0.1), show=lambda chart, final: None,
                    waiting=lambda ahead: places.setdefault(name, set()).add(ahead), alive=lambda: None)
        order.append((name, job.record["step"]))

    threads = [threading.Thread(target=start, args=(n, d)) for n, d in (("a", 0), ("b", 0.3), ("c", 0.6))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert order == [("a", 8), ("b", 8), ("c", 8)]
    assert "a" not in places and places["b"] == {1} and 2 in places["c"]    # c waited behind a and b
    assert workers.status() == (0, 0)


class Ended(Exception):
    """What Streamlit raises in a script run that a click or a closed tab ended."""


def test_an_ended_script_run_stops_its_worker_within_seconds_and_keeps_the_record():
    job, started = FakeJob(), time.monotonic()

    def alive():
        if time.monotonic() - started > 1.0:
            raise Ended

    def endless(report):
        k = 0
        try:
            while True:
                k += 1
                sum(i * i for i in range(20_000))
                report({"step": k, "pid": os.getpid()}, 0.5, f"step {k}")
        except BaseException:
            job.record = {"step": k, "pid": os.getpid(), "finished": True}   # as fit finishes its record
            raise

    with pytest.raises(Ended):
        workers.run(job, endless, show=lambda chart, final: None, waiting=lambda ahead: None, alive=alive)
    took = time.monotonic() - started
    assert took < 1.0 + workers.GRACE_SECONDS
    assert job.record["finished"] and job.record["step"] > 1
    with pytest.raises(ProcessLookupError):   # the worker is gone: no CPU burns for a closed tab
        os.kill(job.record["pid"], 0)


def test_the_shared_cache_keeps_to_its_entries_and_bytes():
    cache = Bounded(entries=3, max_bytes=10_000, seconds=60)
    for k in range(5):
        cache.get(k, lambda: np.zeros(100, dtype=np.uint8), nbytes)
    assert list(cache._items) == [2, 3, 4]                                     # the 3 latest
    for k in range(5):
        cache.get(k, lambda k=k: np.zeros(1000 * (k + 1), dtype=np.uint8), nbytes)
    assert list(cache._items) == [3, 4] and cache.nbytes == 9_000              # 4,000 + 5,000 bytes
    cache.get("big", lambda: np.zeros(20_000, dtype=np.uint8), nbytes)       # larger than it all: not kept
    assert "big" not in cache._items and cache.nbytes <= 10_000
    cache.get(9, lambda: np.zeros(9_000, dtype=np.uint8), nbytes)              # evicts until it fits
    assert list(cache._items) == [9] and cache.nbytes == 9_000


def test_the_shared_cache_makes_room_before_it_computes_a_large_value():
    """What is kept and what is being computed stay within the bound together: a view about to compute
    6,000 bytes first drops the least recently used values that would not leave room for it."""
    cache, seen = Bounded(entries=8, max_bytes=10_000, seconds=60), []
    for k in range(3):
        cache.get(k, lambda: np.zeros(3_000, dtype=np.uint8), nbytes)
    assert cache.nbytes == 9_000

    def compute():
        seen.append(cache.nbytes)       # what is kept while this is computed
        return np.zeros(6_000, dtype=np.uint8)

    cache.get("new", compute, nbytes, expected=6_000)
    assert seen == [3_000] and list(cache._items) == [2, "new"] and cache.nbytes == 9_000


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_server_process_gives_freed_trace_memory_back_to_the_system():
    """After one large block has been freed, glibc by default keeps later blocks of that size in its heap
    and never returns them: a replica's RSS would only grow. The app's Streamlit layer fixes the
    threshold on import, so 50 arrays of 4 MiB freed lower the RSS by about 200 MB."""
    code = textwrap.dedent("""
        import numpy as np
        import rnnviz.ui.sessions
        def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        x = np.ones(1 << 20); del x                      # an 8 MiB block freed first
        arrays = [np.ones(1 << 19) for _ in range(50)]   # 50 x 4 MiB
        before = rss()
        keep = arrays[-1]; del arrays                    # the last one stays: the heap cannot shrink from its top
        print(before - rss())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert float(out.stdout.split()[-1]) > 0.9 * 49 * 4 * 1.048576


def test_the_shared_cache_expires_and_computes_a_key_once_for_everyone():
    cache, calls = Bounded(entries=8, max_bytes=1 << 20, seconds=0.5), []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return np.ones(10)

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", compute, nbytes))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 6 and all(g is got[0] for g in got)
    time.sleep(0.6)
    cache.get("k", compute, nbytes)
    assert len(calls) == 2
