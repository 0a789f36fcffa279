"""Time rnnviz.trace against torch's fused module, measured in the same run.

    python benchmarks/bench_trace.py            (--stacked: stacked models only; --grids: the factor grids only)

Prints medians and ratios. Targets (see the engine issue): a full trace of an LSTM with
H=64, T=500 (states, gates, grad_norm, cell_grad_norm) within 3x torch.nn.LSTM forward+backward;
with Jacobian norms within 10x; T=10000 (H=32) and H=512 (T=200) under 2 s each.

Stacked (issue "deep and bidirectional"): a 3-layer LSTM, H=64, T=500, traced within 2x of the fused
nn.LSTM(num_layers=3) forward+backward, unidirectional and bidirectional. "Trace" is what `trace` computes
before anything is read: every layer's and direction's states, gates and pre-activations, and the exact
gradient grids ||dL/dh_t^(l)|| and ||dL/dc_t^(l)|| (per unit too), the part arriving through depth and
||dL/dx_t||: all the Depth and Time page's heatmaps show. The factor grids (each step's Jacobian norm through
time and through depth) are computed when first read, for the one cell and direction the page's second chart
shows; they are timed on their own line, and by `factor_grids` at the page's largest setting (4 layers, H=64,
T=1000, bidirectional: target under 1 s for both directions) and its defaults. A bidirectional trace this
large runs its two directions in two threads: its wall time gains from a second core, its CPU time (both
threads) does not; it is timed in one thread too, and both ratios are printed.
"""
from __future__ import annotations

import importlib
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz.cells import step  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process


def median_time(fn, repeat=15, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, rounds=25, warmup=3, pause=0.0, cpu: dict | None = None):
    """Median time of each function, calling them in turn so machine noise hits all alike (each
    call after `pause` seconds of rest). `cpu`, a dict, receives the median CPU time of the process
    too (every thread's: a trace that uses a second core counts both): on a shared machine that is the
    work itself, without the waits for a core."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    cpu_times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(pause)
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu_times[name].append(time.process_time() - c0)
    if cpu is not None:
        cpu.update({name: statistics.median(t) for name, t in cpu_times.items()})
    return {name: statistics.median(t) for name, t in times.items()}


def fused_forward_backward(module, x):
    def run():
        xx = x.clone().requires_grad_()
        out, _ = module(xx)
        out[-1].sum().backward()
        module.zero_grad(set_to_none=True)
    return run


def naive_autograd_loop(model, x):
    W = {n: getattr(model, n).detach() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    H = model.hidden_size

    def run():
        h = torch.zeros(H, requires_grad=True)
        c = torch.zeros(H)
        hs = []
        for t in range(x.shape[0]):
            h, c = step(model.cell, model.activation, W, x[t], h, c)
            h.retain_grad()
            hs.append(h)
        hs[-1].sum().backward()
        return [hh.grad.norm() for hh in hs]
    return run


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s) (as rnnviz sets it)")
    H, T = 64, 500
    spec = rnnviz.ModelSpec(cell="lstm", hidden_size=H, input_size=1, init="torch", seed=0)
    model = rnnviz.build_model(spec)
    x = rnnviz.inputs.noise(T, 1, seed=0)
    xt = torch.from_numpy(x)
    rnnviz.warm_up()  # compiled loops are loaded once per process; not part of a trace's cost

    def full():
        tr = rnnviz.trace(model, x)
        return tr.cell_grad_norm

    def with_jacobian():
        tr = rnnviz.trace(model, x)
        return tr.jacobian_norm

    t = interleaved({"ref": fused_forward_backward(model.to_torch(), xt[None]), "full": full,
                     "jac": with_jacobian})
    ref, t_full, t_jac = t["ref"], t["full"], t["jac"]
    t_naive = median_time(naive_autograd_loop(model, xt), repeat=5, warmup=1)
    print(f"LSTM H={H} T={T}")
    print(f"  torch.nn.LSTM forward+backward : {ref * 1e3:8.2f} ms  (reference)")
    print(f"  trace (states, gates, grads)   : {t_full * 1e3:8.2f} ms  ratio {t_full / ref:5.2f}x  (target <= 3x)")
    print(f"  trace + Jacobian norms         : {t_jac * 1e3:8.2f} ms  ratio {t_jac / ref:5.2f}x  (target <= 10x)")
    print(f"  naive per-step autograd loop   : {t_naive * 1e3:8.2f} ms  ratio {t_naive / ref:5.2f}x")

    # A vanishing setting: the float32 fused gradient underflows, the float64 sweep takes over.
    spec_v = spec.replace(init="orthogonal", recurrent_gain=0.3, forget_bias=0.0)
    model_v = rnnviz.build_model(spec_v)
    tr = rnnviz.trace(model_v, x)
    t_v = median_time(lambda: rnnviz.trace(model_v, x).cell_grad_norm, repeat=15)
    print(f"  vanishing (gain 0.3, min log10 grad {tr.log10_grad_norm.min():.1f})"
          f": {t_v * 1e3:8.2f} ms  ratio {t_v / ref:5.2f}x")

    for cell in ("rnn", "lstm", "gru"):
        for (h, t) in ((32, 10000), (512, 200)):
            sp = rnnviz.ModelSpec(cell=cell, hidden_size=h, input_size=1, init="torch", seed=0)
            m = rnnviz.build_model(sp)
            xx = rnnviz.inputs.noise(t, 1, seed=0)
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                tr = rnnviz.trace(m, xx)
                t1 = time.perf_counter()
                _ = tr.jacobian_norm
                t2 = time.perf_counter()
                runs.append((t1 - t0, t2 - t0))
            a, b = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            print(f"{cell.upper():4} H={h:3} T={t:5}: trace {a:6.3f} s, with Jacobian norms {b:6.3f} s"
                  f"  (median of 3; target < 2 s)")


def stacked(layers: int = 3, H: int = 64, T: int = 500):
    """A stacked LSTM traced (every layer's states, gates and its [layers x T] gradient grid, both
    directions) against torch's fused nn.LSTM(num_layers=3) forward+backward, unidirectional and
    bidirectional, in the same run. Target: within 2x of the fused module."""
    x = rnnviz.inputs.noise(T, 1, seed=0)
    xt = torch.from_numpy(x)[None]
    print(f"uptime: {os.popen('uptime').read().strip()}")
    one = rnnviz.build_model(rnnviz.ModelSpec(cell="lstm", hidden_size=H, input_size=1, init="torch", seed=0))
    cpu = {}
    t = interleaved({"ref": fused_forward_backward(one.to_torch(), xt), "full": lambda: rnnviz.trace(one, x)},
                    cpu=cpu)
    print(f"LSTM 1 layer (for comparison) H={H} T={T}: fused forward+backward {t['ref'] * 1e3:7.2f} ms, "
          f"trace {t['full'] * 1e3:7.2f} ms, ratio {t['full'] / t['ref']:5.2f}x"
          f"  (CPU time: ratio {cpu['full'] / cpu['ref']:5.2f}x)")
    for bidirectional in (False, True):
        spec = rnnviz.ModelSpec(cell="lstm", hidden_size=H, input_size=1, init="torch", seed=0, num_layers=layers,
                                bidirectional=bidirectional)
        model = rnnviz.build_model(spec)
        rnnviz.trace(model, x)  # compiled loops loaded once per process

        def full(model=model):
            return rnnviz.trace(model, x).grad_grid(0)

        def factors(model=model):
            tr = rnnviz.trace(model, x)
            return tr.time_step_norm_grid(0), tr.depth_step_norm_grid(0)

        def one_thread(full=full):
            with _one_thread():
                return full()

        fns = {"ref": fused_forward_backward(model.to_torch(), xt), "full": full}
        if bidirectional:
            fns["one thread"] = one_thread
        t = interleaved(fns, cpu=cpu)
        what = "bidirectional" if bidirectional else "unidirectional"
        print(f"LSTM {layers} layers {what} H={H} T={T}: fused forward+backward {t['ref'] * 1e3:7.2f} ms, "
              f"trace {t['full'] * 1e3:7.2f} ms, ratio {t['full'] / t['ref']:5.2f}x (target <= 2x)"
              f"  (CPU time: {cpu['ref'] * 1e3:7.2f} ms, {cpu['full'] * 1e3:7.2f} ms, "
              f"ratio {cpu['full'] / cpu['ref']:5.2f}x)")
        if bidirectional:
            print(f"  the same trace in one thread: {t['one thread'] * 1e3:7.2f} ms, ratio "
                  f"{t['one thread'] / t['ref']:5.2f}x (CPU time {cpu['one thread'] * 1e3:7.2f} ms, ratio "
                  f"{cpu['one thread'] / cpu['ref']:5.2f}x): the two directions in two threads gain wall time "
                  f"from a second core ({t['one thread'] / t['full']:4.2f}x faster), not CPU time")
        t_factors = median_time(factors, repeat=1, warmup=0)
        print(f"  trace + the factor grids of one direction (read when shown; one run): {t_factors * 1e3:7.2f} ms")


def factor_grids(repeat: int = 3):
    """The Depth and Time page's factor grids (each step's Jacobian norm through time and through depth, both
    directions) at the page's largest setting and at its defaults, for each cell, against the stacked trace
    itself in the same run (a fresh trace each round: the grids are computed when first read, then kept).
    Target: every grid of the largest setting under 1 s on a quiet machine."""
    from rnnviz.deep import trace_stacked

    print(f"uptime: {os.popen('uptime').read().strip()}")
    for what, layers, H, T, bidirectional in (("largest", 4, 64, 1000, True), ("defaults", 2, 32, 200, False)):
        x = rnnviz.inputs.noise(T, 1, seed=0)
        for cell in ("rnn", "lstm", "gru"):
            spec = rnnviz.ModelSpec(cell=cell, hidden_size=H, input_size=1, recurrent_gain=0.9, seed=0,
                                    num_layers=layers, bidirectional=bidirectional)
            model = rnnviz.build_model(spec)
            runs = []
            for _ in range(repeat + 1):  # the first round loads the compiled loops
                t0 = time.perf_counter()
                tr = trace_stacked(model, x)
                t1, c1 = time.perf_counter(), time.process_time()
                for d in range(tr.directions):
                    tr.time_step_norm_grid(d), tr.depth_step_norm_grid(d)
                runs.append((t1 - t0, time.perf_counter() - t1, time.process_time() - c1))
            t_trace, t_grids, c_grids = (statistics.median(r[i] for r in runs[1:]) for i in (0, 1, 2))
            print(f"{what:8} {cell.upper():4} {layers} layers H={H} T={T} {'bi' if bidirectional else 'uni'}: "
                  f"trace {t_trace * 1e3:7.1f} ms, factor grids of every direction {t_grids * 1e3:7.1f} ms "
                  f"(CPU of both threads {c_grids * 1e3:7.1f} ms), ratio {t_grids / t_trace:5.2f}x  "
                  f"(median of {repeat}; target < 1 s at the largest)")


class _one_thread:
    """Within it, a trace runs its directions one after the other (no second thread)."""

    def __enter__(self):
        self.module = importlib.import_module("rnnviz.trace")
        self.saved, self.module.PARALLEL_ABOVE = self.module.PARALLEL_ABOVE, math.inf

    def __exit__(self, *exc):
        self.module.PARALLEL_ABOVE = self.saved


if __name__ == "__main__":
    if "--grids" in sys.argv:
        factor_grids()
    elif "--stacked" in sys.argv:
        stacked()
        factor_grids()
    else:
        main()
        stacked()
        factor_grids()
