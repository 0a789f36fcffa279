"""Run a model over a sequence and record everything the views show.

`trace(model, x, loss="last", h0=None)` returns a `Trace`: hidden and cell states, gates,
the total backpropagation-through-time gradient ||dL/dh_k|| for every k, the LSTM cell-path
gradient ||dL/dc_k||, Jacobian product norms ||dh_{T-1}/dh_k||_2 and the spectrum of W_hh.

How it is computed (and why it is fast):
- States come from torch's fused kernel (the one torch.nn.RNN / LSTM / GRU run), so they
  are torch's float32 numbers bit for bit. Sigmoid and linear RNNs, which torch has no
  kernel for, and float32 forwards that overflow run in float64.
- Everything that depends only on h_{k-1} and x_k is vectorised over time once the states
  are known: gates and pre-activations are one float64 matmul, and the elementwise factors of
  every step's Jacobian are one compiled pass.
- The gradient is one backward sweep through time in float64 (compiled, see _kernels.py):

      RNN   dL/dh_{k-1} = W_hh^T (act'(a_k) * dL/dh_k)                       + direct
      LSTM  dL/dc_k     = dL/dh_k * o_k tanh'(c_k) + dL/dc_{k+1} * f_{k+1}
            dL/dh_{k-1} = W_hh^T [dL/dc_k * (g sig'(a_i), c_{k-1} sig'(a_f), i tanh'(a_g)),
                                  dL/dh_k * tanh(c_k) sig'(a_o)]              + direct
      GRU   dL/dh_{k-1} = dL/dh_k * z_k + W_hh^T [dL/dh_k * ((1-z) tanh'(a_n) hn sig'(a_r),
                                  (h_{k-1} - n) sig'(a_z), (1-z) tanh'(a_n) r)] + direct

  with "direct" = v for loss "all" (0 for "last").
- Exact in every regime. Every derivative factor comes from the float64 pre-activation a (and the
  LSTM's float64 cell state) with formulas exact in the tails (see cells), never from a unit's output:
  a unit saturated at a = 60 has tanh'(a) = 3e-52, not 0. Factors, adjoints and Jacobian rows are held
  as a mantissa and a power-of-two exponent (per element or row where a vector spreads beyond float
  range, one shared exponent where it does not: the fast path), so log10 norms stay exact far beyond
  float64's range (see _kernels).
- Jacobian product norms (sweeps.py) run the same recurrence with H adjoint rows, when first read;
  each step's own norm is exact up to sweeps.EXACT_STEP_NORM_MAX rows and certified within 5e-9 above.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
import torch

from . import _kernels, cells, dynamics, projection, sweeps
from .cells import ACT_CODES, GATES, MODERN_CELLS, NUM_BLOCKS, evaluate
from .model import PARAM_NAMES, RecurrentModel, from_torch
from .modern import ModernCell
from .trace_result import Trace

LOSSES = ("last", "all")
# Above this many multiply-adds (T x G*H x (I+H)) the factors' mantissas and the backward sweep's
# mat-vec are float32 (relative error ~1e-7 per step; the adjoint itself stays float64, and every
# exponent is exact, so no factor underflows float32's 1e-38). The pre-activations, gates and cell
# states on the gradient path are float64 at every size.
EVAL_FLOAT32_ABOVE = 5e7


# ------------------------------------------------------------------------------------------
def trace(model, x, loss: str = "last", h0=None, *, _float32_above: float | None = None) -> Trace:
    """Run `model` over `x` ([T, input_size]) and record states, gates, gradients and norms.

    `model` is a RecurrentModel (from build_model / from_torch), a torch.nn.RNN / LSTM / GRU or a modern cell.
    `loss` is "last" (L = v.h_{T-1}) or "all" (L = sum_k v.h_k), v = ones(H)/sqrt(H).
    `h0` is the initial hidden state [H] (LSTM: a pair (h0, c0), or h0 alone with c0 = 0).
    Explosion never raises: overflow shows up as inf / NaN states, huge log10 norms and
    `Trace.overflow`.
    """
    if isinstance(model, ModernCell):  # rnnviz.modern_trace builds on this module: imported here
        from .modern_trace import trace as modern_trace
        return modern_trace(model, x, loss=loss, h0=h0)
    if not isinstance(model, RecurrentModel) and not getattr(model, "stacked", False):
        model = from_torch(model)
    if not isinstance(model, RecurrentModel) or loss == "tag":  # stacked, bidirectional or a tagging loss
        from .deep import trace_stacked

        return trace_stacked(model, x, loss=loss, h0=h0)
    if loss not in LOSSES:
        raise ValueError(f"loss must be 'last' or 'all'; got {loss!r}")
    x32 = _as_input(x, model.input_size)
    h0_64, c0_64 = _as_initial_state(h0, model.cell, model.hidden_size)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        fw = forward(model, x32, h0_64, c0_64, _float32_above)
        log10_gh, log10_g, log10_gc = sweeps.grad_sweep(fw.ctx, loss)
    return _make_trace(loss, x32, fw, h0_64, c0_64, log10_gh, log10_g, log10_gc)


class Forward(NamedTuple):
    """The forward half of a trace for one layer: float32 read-only arrays for the Trace, and ctx (the
    factors of every step, the weights) for the sweeps."""

    hidden32: np.ndarray         # [T, H] float32: torch's own states where its kernel ran
    cell32: np.ndarray | None
    gates: dict                  # name -> [T, H] float32
    pre: dict                    # name -> [T, H] float32
    pre64: dict | None           # the float64 pre-activations of an RNN or GRU (an LSTM's stay in ctx's factors)
    ctx: dict
    output32: np.ndarray | None = None  # a projected LSTM's h [T, P] (torch's); hidden32 is then its m

    @property
    def output(self) -> np.ndarray:
        """What the layer passes on: h [T, P] of a projected LSTM, else its states."""
        return self.hidden32 if self.output32 is None else self.output32


def forward(model, x32: np.ndarray, h0_64: np.ndarray, c0_64, _float32_above=None) -> Forward:
    """The forward half of `trace` for one layer (see Forward): `model` a RecurrentModel or one layer of a
    stacked model (deep.LayerWeights)."""
    cell, act, H, I = model.cell, model.activation, model.hidden_size, model.input_size
    T = x32.shape[0]
    w32 = {n: getattr(model, n).detach().to(torch.float32).cpu() for n in PARAM_NAMES}
    w64 = {n: w.numpy().astype(np.float64) for n, w in w32.items()}
    hr = getattr(model, "weight_hr", None)  # a projected LSTM (zero initial states): see rnnviz.projection
    if hr is not None:
        h0_64 = np.zeros(hr.shape[0])

    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        out32 = _fused_forward(model, w32, x32, h0_64, c0_64, hr) if model.fused else None
        relu_D = None  # exact relu derivatives when the states overflow (see relu_forward_scaled)
        xh = np.empty((T, I + h0_64.shape[0]))  # each step's input and the state before it, float64
        xh[:, :I] = x32
        xh[0, I:] = h0_64
        if out32 is not None and (cell != "rnn" or np.all(np.isfinite(out32))):
            xh[1:, I:] = out32[:-1]  # torch's states (an LSTM / GRU that overflowed keeps its NaN)
            hidden32 = _frozen(out32)
        else:  # sigmoid / linear RNN, or a float32 RNN forward that overflowed
            gi = xh[:, :I] @ w64["weight_ih"].T + (w64["bias_ih"] + w64["bias_hh"])
            hidden64 = np.empty((T, H))
            W_T = np.ascontiguousarray(w64["weight_hh"].T)
            if act == "relu":
                relu_D = np.empty((T, H))
                _kernels.relu_forward_scaled(gi, W_T, h0_64, hidden64, relu_D)
            else:
                _kernels.rnn_forward(gi, W_T, h0_64, ACT_CODES[act], hidden64)
            xh[1:, I:] = hidden64[:-1]
            hidden32 = sweeps.frozen32(hidden64)
        # The gradient path is float64 from here: pre-activations from the (float32) states, gates,
        # the LSTM's cell state and every derivative factor. Large traces keep the factors' mantissas
        # and the sweep's mat-vec in float32 (their exponents stay exact).
        work = T * NUM_BLOCKS[cell] * H * (I + H)
        threshold = EVAL_FLOAT32_ABOVE if _float32_above is None else _float32_above
        dt = np.float32 if work > threshold else np.float64
        c32 = pre64 = None
        if cell == "lstm":
            G32, P32, c32, factors = sweeps.lstm_forward(cells.pre_activations(w64, xh), c0_64, dt)
            gates, pre = (dict(zip(GATES["lstm"], map(_frozen, a))) for a in (G32, P32))
            c32 = _frozen(c32)
        else:
            h_prev = xh[:, I:]
            pre64, gates64 = evaluate(cell, act, w64, xh[:, :I], h_prev)
            factors = sweeps.factors(cell, act, pre64, h_prev, relu_D, dt)
            gates = {k: sweeps.frozen32(g) for k, g in gates64.items()}
            pre = {k: sweeps.frozen32(p) for k, p in pre64.items()}
        output32 = None
        if hr is not None:
            output32, (hidden32, w64) = hidden32, projection.unprojected(gates, c32, w64, hr)
        W_m, eW = sweeps.mantissa_matrix(w64["weight_hh"])
        ctx = dict(cell=cell, act=act, T=T, H=H, weights=w64, W=W_m, eW=eW, W_sweep=W_m.astype(dt, copy=False),
                   factors=factors)
    return Forward(hidden32, c32, gates, pre, pre64, ctx, output32)


def _frozen(a: np.ndarray) -> np.ndarray:
    """a itself, read-only (a float32 array that nothing else holds): traces are shared between sessions."""
    a.setflags(write=False)
    return a


def _make_trace(loss, x32, fw: Forward, h0_64, c0_64, log10_gh, log10_g, log10_gc) -> Trace:
    """The Trace of one layer: `fw`'s arrays, the gradient from the sweep (log10_gh [T, H] float32)."""
    ctx = fw.ctx
    bad = ~np.isfinite(fw.hidden32).all(axis=1)
    if fw.cell32 is not None:
        bad |= ~np.isfinite(fw.cell32).all(axis=1)
    for a in (log10_gh, log10_g, log10_gc):
        if a is not None:
            a.setflags(write=False)
    return Trace(
        cell_type=ctx["cell"], activation=ctx["act"], loss=loss,
        inputs=x32, hidden=fw.hidden32, cell=fw.cell32, gates=fw.gates, pre=fw.pre,
        h0=sweeps.frozen32(h0_64), c0=None if c0_64 is None else sweeps.frozen32(c0_64),
        log10_grad_norm=log10_g, log10_cell_grad_norm=log10_gc, log10_grad_hidden=log10_gh,
        forward_overflow_step=int(np.argmax(bad)) if bad.any() else None, _ctx=ctx,
    )


def _as_input(x, input_size: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"x must be a numeric array of shape [T, {input_size}]: {exc}") from None
    if arr.ndim == 1 and input_size == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != input_size:
        raise ValueError(f"x must have shape [T, {input_size}] (time first); got {list(arr.shape)}")
    if arr.shape[0] < 1:
        raise ValueError("x must contain at least one time step")
    if not np.all(np.isfinite(arr)):
        with np.errstate(over="ignore", invalid="ignore"):
            wide = np.asarray(x, dtype=np.float64)
        if np.all(np.isfinite(wide)):
            raise ValueError("x has values beyond float32's range (about ±3.4e38); the models run in float32")
        raise ValueError("x contains NaN or infinite values")
    return np.ascontiguousarray(arr)


def _as_initial_state(h0, cell: str, H: int):
    c0 = np.zeros(H) if cell == "lstm" else None
    if h0 is None:
        return np.zeros(H), c0
    if cell == "lstm" and isinstance(h0, (tuple, list)) and len(h0) == 2:
        h0, c0 = h0
        c0 = _vector(c0, H, "c0")
    return _vector(h0, H, "h0"), c0


def _vector(v, H: int, name: str) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    try:
        arr = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric vector of {H} entries: {exc}") from None
    if arr.shape != (H,):
        raise ValueError(f"{name} must have {H} entries; got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _fused_forward(model, w32, x32, h0, c0, weight_hr=None) -> np.ndarray:
    """Hidden states [T, H] (a projected LSTM's h: [T, P]) from torch's fused kernel (what torch.nn.RNN / LSTM /
    GRU run)."""
    H = model.hidden_size
    xin = torch.from_numpy(x32)[:, None]
    h = torch.from_numpy(h0.astype(np.float32)).view(1, 1, -1)
    params = [w32["weight_ih"], w32["weight_hh"], w32["bias_ih"], w32["bias_hh"]]
    if weight_hr is not None:
        params.append(weight_hr.detach().to(torch.float32).cpu())
    with torch.no_grad():
        if model.cell == "lstm":
            c = torch.from_numpy(c0.astype(np.float32)).view(1, 1, H)
            out = torch._VF.lstm(xin, (h, c), params, True, 1, 0.0, False, False, False)[0]
        elif model.cell == "gru":
            out = torch._VF.gru(xin, h, params, True, 1, 0.0, False, False, False)[0]
        else:
            fn = getattr(torch._VF, f"rnn_{model.activation}")
            out = fn(xin, h, params, True, 1, 0.0, False, False, False)[0]
    return out[:, 0].numpy()


_POOL = None
_POOL_LOCK = threading.Lock()
PARALLEL_ABOVE = 2e7  # multiply-adds (T x H^2 summed over the models) below which threads do not pay
_RELATIVE_COST = {"rnn": 1.0, "lstm": 4.0, "gru": 4.5}  # measured: torch's GRU kernel is the slowest
_RELATIVE_COST.update(dict.fromkeys(MODERN_CELLS, 0.05))  # a diagonal recurrence: O(T S), no matrix products


POOL_THREAD_PREFIX = "rnnviz-trace"


def _pool():
    """Two long-lived worker threads. Fresh threads cost ~0.1 s each time (torch and numba set up
    per-thread state, and a new thread's OpenMP would use every core), so they are kept."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix=POOL_THREAD_PREFIX,
                                       initializer=torch.set_num_threads, initargs=(torch.get_num_threads(),))
        return _POOL


def trace_work(cell: str, T: int, H: int) -> float:
    """The work of tracing one layer (in one direction) over T steps, as the threads' threshold counts it."""
    return T * H ** 2 * _RELATIVE_COST[cell]


def worth_two_threads(work: float) -> bool:
    return work >= PARALLEL_ABOVE


def in_turn_or_parallel(fn, n: int, parallel: bool) -> list:
    """[fn(0), fn(1), ...] for n = 1 or 2. With `parallel` and n = 2, fn(1) runs in the pool while this
    thread runs fn(0); if the pool has not started it by then (busy with other traces, or this thread is
    one of its workers), this thread runs it: never a wait for a free thread. (numpy's floating-point
    error state belongs to a thread: the pool's call sets the one traces use.)"""
    if n == 1 or not parallel:
        return [fn(i) for i in range(n)]
    later = _pool().submit(_quietly, fn, 1)
    first = fn(0)
    return [first, fn(1) if later.cancel() else later.result()]


def _quietly(fn, *args):
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        return fn(*args)


def trace_all(models: dict, x, loss: str = "last") -> dict:
    """trace() of several models on the same input, in parallel threads when the work is large
    enough (the compiled loops, torch's kernels and large numpy operations release the GIL).
    {label: model} -> {label: Trace}."""
    T = len(x)
    cost = {label: trace_work(m.cell, T, m.hidden_size) for label, m in models.items()}
    if len(models) < 2 or not worth_two_threads(sum(cost.values())):
        return {label: trace(m, x, loss=loss) for label, m in models.items()}
    # The longest first, so that the two workers finish at about the same time.
    futures = {label: _pool().submit(trace, models[label], x, loss)
               for label in sorted(models, key=cost.get, reverse=True)}
    return {label: futures[label].result() for label in models}


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every compiled loop, with tiny inputs."""
    from .model import build_model
    from .spec import ModelSpec

    for threshold in (None, -1):  # float64 and float32 gate factors and sweeps
        for cell, act in (("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")):
            for H in (2, 40):  # float64 and float32 Jacobian sweeps
                model = build_model(ModelSpec(cell=cell, activation=act, hidden_size=H))
                for loss in LOSSES:
                    tr = trace(model, np.zeros((3, 1), dtype=np.float32), loss=loss, _float32_above=threshold)
                _ = tr.log10_jacobian_norm, tr.log10_step_jacobian_norm, tr.step_jacobian(1), tr.step_terms(1, 0)
    from .deep import trace_stacked

    for cell in ("rnn", "lstm", "gru"):  # the loops between layers and the factor grids of Depth and Time
        for H in (2, 40):  # exact and certified step norms
            spec = ModelSpec(cell=cell, hidden_size=H, num_layers=2, bidirectional=True)
            grids = trace_stacked(build_model(spec), np.zeros((3, 1), dtype=np.float32), loss="tag")
            _ = grids.time_step_norm_grid(0), grids.depth_step_norm_grid(0)
    from .modern_trace import warm_up as modern_warm_up
    modern_warm_up()
    dynamics.one_neuron(2.0, 1.0, 0.0, "tanh", np.zeros(3))  # the elementwise tail formulas (cells.Scaled)
    cells.minus_tanh_scaled(np.zeros(2), np.ones(2))
