"""Parallel scan against the sequential loop: h_t = a_t h_t-1 + b_t, forward + backward (training).

    python benchmarks/bench_scan.py [--quick]

For T = 256 ... 8192 and two sizes (one sequence of 64 units; a batch of 16 x 64), real and complex,
it times rnnviz.scan.linear_loop, linear_scan and (real, positive only) log_scan in the same run, and
prints each as a ratio to the loop, with the largest deviation from a float64 loop (relative to the
largest state). Best of a few repeats; `uptime` first, since the machine is shared.
"""
from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from rnnviz.scan import linear_loop, linear_scan, log_scan  # noqa: E402

torch.set_num_threads(1)


def inputs(B, T, S, complex_):
    g = torch.Generator().manual_seed(T)
    mod = 0.9 + 0.1 * torch.rand(B, T, S, generator=g, dtype=torch.float64)
    b = torch.rand(B, T, S, generator=g, dtype=torch.float64)
    if complex_:
        return torch.polar(mod, 6.28 * torch.rand(B, T, S, generator=g, dtype=torch.float64)), b.to(torch.complex128)
    return mod, b


def timed(fn, a, b, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        a1, b1 = a.clone().requires_grad_(), b.clone().requires_grad_()
        t0 = time.perf_counter()
        h = fn(a1, b1)
        (h.real if h.is_complex() else h).sum().backward()
        best = min(best, time.perf_counter() - t0)
        out = h.detach()
    return best, out


def main():
    quick = "--quick" in sys.argv
    print("uptime:", os.popen("uptime").read().strip())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; forward + backward, best of repeats")
    lengths = (256, 1024) if quick else (256, 512, 1024, 2048, 4096, 8192)
    print(f"{'B x S':>8} {'dtype':>9} {'T':>5} {'loop s':>8} {'scan/loop':>9} {'log/loop':>8} "
          f"{'scan dev':>9} {'log dev':>8}")
    for B, S in ((1, 64), (16, 64)):
        for complex_ in (False, True):
            for T in lengths:
                a64, b64 = inputs(B, T, S, complex_)
                ref = linear_loop(a64, b64)
                scale = ref.abs().max()
                a, b = a64.to(torch.complex64 if complex_ else torch.float32), b64.to(
                    torch.complex64 if complex_ else torch.float32)
                repeats = 3 if B * S * T <= 2 ** 18 else 1
                t_loop, h_loop = timed(linear_loop, a, b, repeats)
                t_scan, h_scan = timed(linear_scan, a, b, repeats)
                dev = ((h_scan - ref).abs().max() / scale).item()
                log_cols = ("", "")
                if not complex_:
                    t_log, h_log = timed(lambda x, y: log_scan(x.log(), y.log()), a, b, repeats)
                    log_cols = (f"{t_log / t_loop:8.2f}", f"{((h_log - ref).abs().max() / scale).item():8.1e}")
                print(f"{B:>3} x {S:<3} {'complex64' if complex_ else 'float32':>9} {T:>5} {t_loop:8.3f} "
                      f"{t_scan / t_loop:9.2f} {log_cols[0]:>8} {dev:9.1e} {log_cols[1]:>8}", flush=True)
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
