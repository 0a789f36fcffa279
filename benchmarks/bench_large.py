"""Gradient Flow's norms at the sliders' large ends, against a reference measured in the same run.

    python benchmarks/bench_large.py

1. Each step's own Jacobian norm at H = 512, T = 50 (all 50 steps; the LSTM's are 1024 x 1024):
   `Trace.step_jacobian_norms(50)` against torch.linalg.matrix_norm(J, 2) (an SVD) of the same
   Jacobians, and the largest relative difference between the two.
2. What Gradient Flow computes at T = 5000, H = 256 for each cell: the trace, the Jacobian products
   over the page's budget of lags, the last 61 step norms; the reference is the SVD of those 61
   step Jacobians.
Prints seconds and the ratio to the reference (below 1: faster than one SVD per step).
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz import ModelSpec, build_model  # noqa: E402
from rnnviz.ui.cache import jacobian_lag_limit  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one thread per process


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def svd_norms(tr, steps):
    return np.array([np.log10(float(torch.linalg.matrix_norm(torch.from_numpy(tr.step_jacobian(k)), 2)))
                     for k in steps])


def main():
    x50 = rnnviz.inputs.noise(50, 1, seed=1)
    for cell in ("rnn", "lstm", "gru"):  # compile (or load) every kernel first
        rnnviz.trace(build_model(ModelSpec(cell=cell, hidden_size=130)), x50[:3]).step_jacobian_norms(2)
    print("H = 512, T = 50: every step's own Jacobian norm")
    print(f"{'cell':5} {'trace s':>8} {'norms s':>8} {'SVD s':>8} {'ratio':>6} {'max rel diff':>13}")
    for cell in ("rnn", "lstm", "gru"):
        tr, t_trace = timed(rnnviz.trace, build_model(ModelSpec(cell=cell, hidden_size=512)), x50)
        got, t_norms = timed(tr.step_jacobian_norms, 50)
        want, t_ref = timed(svd_norms, tr, range(50))
        diff = float(np.max(np.abs(10 ** (got - want) - 1)))
        print(f"{cell.upper():5} {t_trace:8.2f} {t_norms:8.2f} {t_ref:8.2f} {t_norms / t_ref:6.2f} {diff:13.1e}",
              flush=True)
    print("\nT = 5000, H = 256: Gradient Flow's trace, Jacobian products over its budget, last 61 step norms")
    print(f"{'cell':5} {'trace s':>8} {'lags':>5} {'products s':>10} {'steps s':>8} {'SVD s':>8} {'ratio':>6}")
    x = rnnviz.inputs.noise(5000, 1, seed=2)
    for cell in ("rnn", "lstm", "gru"):
        tr, t_trace = timed(rnnviz.trace, build_model(ModelSpec(cell=cell, hidden_size=256)), x)
        lags = jacobian_lag_limit(cell, 256, tr.T)
        _, t_prod = timed(tr.jacobian_norms, lags)
        _, t_steps = timed(tr.step_jacobian_norms, 61)
        _, t_ref = timed(svd_norms, tr, range(tr.T - 61, tr.T))
        total = t_trace + t_prod + t_steps
        print(f"{cell.upper():5} {t_trace:8.2f} {lags:5d} {t_prod:10.2f} {t_steps:8.2f} {t_ref:8.2f} "
              f"{total / t_ref:6.2f}", flush=True)


if __name__ == "__main__":
    main()
