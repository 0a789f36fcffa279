"""What reading an upload in the isolated worker costs, against torch.load in the same process.

    python benchmarks/bench_sandbox.py

For a typical upload (an LSTM state_dict, H=64: 70 kB) and a large one (H=700, I=700: 16 MB)
prints the median time of: torch.load(weights_only=True) in this process; the static scan alone;
`sandbox.load` (scan + worker + answer) with a warm reading server, uploads 0.3 s apart (the
reading server forks its next child between uploads); the same back to back (a burst: each
upload also waits for that fork); and once, the start of a reading server. The paced calls
are interleaved so that machine noise hits all alike.
"""
from __future__ import annotations

import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
from bench_trace import interleaved  # noqa: E402

from rnnviz.files import sandbox  # noqa: E402


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def main():
    print(f"load: {os.getloadavg()[0]:.2f} (1-minute average), {os.cpu_count()} cores")
    t0 = time.perf_counter()
    sandbox.warm_up()
    print(f"start of a reading server: {time.perf_counter() - t0:.2f} s (once per app process)")
    limits = sandbox.Limits(max_bytes=20 << 20)
    for title, module in (("LSTM H=64, I=3", torch.nn.LSTM(3, 64)), ("LSTM H=700, I=700", torch.nn.LSTM(700, 700))):
        data = saved(module.state_dict())
        rounds = 20 if len(data) < 1 << 20 else 8
        t = interleaved({
            "in-process torch.load": lambda d=data: torch.load(io.BytesIO(d), weights_only=True, map_location="cpu"),
            "scan only": lambda d=data: sandbox.scan(d, limits),
            "sandbox.load": lambda d=data: sandbox.load(d, limits),
        }, rounds=rounds, pause=0.3)
        t.update(interleaved({"sandbox.load, back to back": lambda d=data: sandbox.load(d, limits)}, rounds=rounds))
        print(f"\n{title}: {len(data) / 1e6:.2f} MB")
        for name, seconds in t.items():
            print(f"  {name:28s} {seconds * 1e3:8.1f} ms")
        print(f"  added by isolation           {(t['sandbox.load'] - t['in-process torch.load']) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
