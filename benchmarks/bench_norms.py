"""Spectral norms of every step's Jacobian and of the Jacobian products against numpy's SVD.

    python benchmarks/bench_norms.py               # 4000 steps per cell (RNN, LSTM, GRU) at H in 33..128,
                                                   # then 2 models per cell at H = 256 and 512 (10 steps each)
    python benchmarks/bench_norms.py --lanczos     # the certified path on every size (no exact path)
    python benchmarks/bench_norms.py --steps 0     # the large sizes only

Random models (torch, Gaussian or orthogonal init, recurrent and input gains 0.5..2, random seeds)
on 40-step noise inputs. Prints, per cell, the steps whose norm is off by more than 1e-6 (step
Jacobians, float64) and by more than 1e-5 (products, float32 above 32 units), the worst relative
errors, and the seconds spent computing the norms.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz import ModelSpec, build_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="steps per cell")
    parser.add_argument("--lanczos", action="store_true", help="no exact path for the step norms")
    parser.add_argument("--large", type=int, default=2, help="models per cell at H = 256 and at H = 512")
    args = parser.parse_args()
    if args.lanczos:
        importlib.import_module("rnnviz.sweeps").EXACT_STEP_NORM_MAX = 0
    rnnviz.configure(threads=1)  # as the app runs: one thread per process
    print(f"{'cell':5} {'H':>7} {'steps':>6} {'step misses >1e-6':>18} {'worst':>9} {'product misses >1e-5':>21} "
          f"{'worst':>9} {'seconds':>8}")
    for c, cell in enumerate(("rnn", "lstm", "gru")):
        rng = np.random.default_rng(c)
        row = Tally()
        while row.steps < args.steps:
            row.add(cell, rng, int(rng.integers(33, 129)), 40)
        row.show(cell, "33..128")
    for c, cell in enumerate(("rnn", "lstm", "gru")):
        rng = np.random.default_rng(10 + c)
        for H in (256, 512):
            row = Tally()
            for _ in range(args.large):
                row.add(cell, rng, H, 10)
            row.show(cell, str(H))


class Tally:
    """Misses and worst relative errors of the norms of random models against numpy's SVD."""

    def __init__(self):
        self.steps = self.misses = self.p_misses = 0
        self.worst = self.p_worst = self.seconds = 0.0

    def add(self, cell: str, rng, H: int, T: int):
        init = ("torch", "gaussian", "orthogonal")[int(rng.integers(0, 3))]
        spec = ModelSpec(cell=cell, hidden_size=H, init=init,
                         recurrent_gain=float(rng.uniform(0.5, 2.0)), input_gain=float(rng.uniform(0.5, 2.0)),
                         seed=int(rng.integers(0, 10**6)))
        tr = rnnviz.trace(build_model(spec), rnnviz.inputs.noise(T, 1, seed=int(rng.integers(0, 10**6))))
        t0 = time.perf_counter()
        got, product = tr.log10_step_jacobian_norm, tr.log10_jacobian_norm
        self.seconds += time.perf_counter() - t0
        n = 2 * H if cell == "lstm" else H
        P = np.eye(n)
        for k in range(T - 1, -1, -1):
            J = tr.step_jacobian(k)
            rel = abs(10 ** (got[k] - np.log10(np.linalg.norm(J, 2))) - 1)
            p_rel = abs(10 ** (product[k] - np.log10(np.linalg.norm(P[:H, :H], 2))) - 1)
            self.misses += rel > 1e-6
            self.p_misses += p_rel > 1e-5
            self.worst, self.p_worst = max(self.worst, rel), max(self.p_worst, p_rel)
            P = P @ J
        self.steps += T

    def show(self, cell: str, sizes: str):
        print(f"{cell.upper():5} {sizes:>7} {self.steps:6d} {self.misses:18d} {self.worst:9.1e} {self.p_misses:21d} "
              f"{self.p_worst:9.1e} {self.seconds:8.1f}", flush=True)

if __name__ == "__main__":
    main()
