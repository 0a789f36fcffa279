"""How fast the date translator learns: held-out exact match against wall-clock seconds.

    python benchmarks/bench_seq2seq.py [--cell lstm] [--seconds 60] [--seed 0]

Trains the date translator (`rnnviz.labs.translator`) with its default settings on this machine and prints, at every
evaluation, the seconds since the start (evaluations included), the training steps, the
exact-match and per-character accuracy on the held-out dates, then exact match against input
length at a few moments of training and on a fresh held-out set at the end, and (what the
Translation page shows) exact match with filler words after / before the date.

    python benchmarks/bench_seq2seq.py --cell gru --seed 2 --target 0.95   # as the page trains
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz.labs import dates, translator  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=None, help="stop at this held-out exact match")
    args = parser.parse_args()
    config = translator.TrainConfig(cell=args.cell, seconds=args.seconds, seed=args.seed, target_accuracy=args.target)
    print(f"config: {config}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    model, history = translator.train(config)
    wall = time.perf_counter() - t0
    print(f"{'seconds':>8} {'steps':>6} {'exact match':>12} {'per char':>9} {'train loss':>11}")
    for s, n, a, c, l in zip(history.seconds, history.steps, history.accuracy, history.char_accuracy, history.loss):
        print(f"{s:8.1f} {n:6d} {a:12.3f} {c:9.3f} {l:11.4f}")
    for level in (0.5, 0.9, 0.95, 0.99):
        t = history.seconds_to(level)
        print(f"exact match >= {level:.2f} after {'never' if t is None else f'{t:.1f} s'}")
    print("exact match by input length (characters) during training:")
    picks = sorted({0, len(history.steps) // 4, len(history.steps) // 2, len(history.steps) - 1})
    for k in picks[1:]:
        bl = history.by_length[k]
        row = " ".join(f"{L}:{a:.2f}" for L, a in zip(bl.lengths, bl.accuracy))
        print(f"  at {history.seconds[k]:5.1f} s: {row}")
    fresh = dates.held_out(2000, seed=config.data_seed)
    print(f"fresh held-out set (2000 dates never trained on): exact match {translator.exact_match(model, fresh):.3f}")
    t1 = time.perf_counter()
    a = translator.assess(model, config.data_seed)
    print(f"filler words around {a.gap_n} held-out dates (assess: {time.perf_counter() - t1:.1f} s):")
    print(f"  {'characters':>10} {'after':>6} {'before':>7}")
    for g, x, y in zip(a.gaps, a.after, a.before):
        print(f"  {g:10d} {x:6.2f} {y:7.2f}")
    print(f"wall clock {wall:.1f} s, stop reason {history.stop_reason}, load average after {os.getloadavg()[0]:.2f}")
    _ = np


if __name__ == "__main__":
    main()
