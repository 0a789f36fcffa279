"""Trace a diagonal linear recurrence (rnnviz.modern's cells) with the readouts of rnnviz.trace.

`trace(cell, x, loss="last", h0=None)` returns a `ModernTrace`, a `rnnviz.trace.Trace` with the same
fields and readouts, computed from the float64 `cell.diagonal(x)` (s_t = a_t s_t-1 + b_t, a_t kept as
log|a_t| and a unit factor):

- hidden      the state [T, S] (the LRU: Re x_t; Im x_t is extras["imag"]). extras also holds each
              cell's other per-step values and its output y_t (extras["output"]).
- probe loss  L = v . s_T-1 (loss "last") or sum_t v . s_t ("all"), v = ones(S)/sqrt(S). For the LRU's
              complex state, L = v . Re(x_T-1) (or the sum): the real part, the coordinates a readout
              with real weights sees first. Its gradient is a complex number per unit,
              dL/dRe x + i dL/dIm x, and ||dL/dx_k|| is the norm of all 2N real coordinates.
- gradient    dL/ds_k-1 = conj(a_k) * dL/ds_k (+ v for "all"), one elementwise sweep in which every
              unit keeps its own mantissa and power-of-two exponent, and |a_k| enters as 2^(log2|a_k|):
              log10 |dL/ds_k| is exact far beyond float64 (10^-5000 is 10^-5000, not 0). For the LRU with
              loss "last", |dL/dx_k,j| = |lambda_j|^(T-1-k) / sqrt(N) exactly.
- Jacobians   ds_k/ds_k-1 = diag(a_k): its spectral norm is max_j |a_k,j| and the product's,
              ||ds_T-1/ds_k||_2 = max_j prod_{s>k} |a_s,j| (a sum of logs): both exact. For the LRU the
              Jacobian is that of the real state (Re x, Im x): per unit |lambda_j| times a rotation.
- eigenvalues the a_k themselves: `eigenvalues` (the LRU's fixed lambda; for input-dependent cells those
              of the last step), `eigenvalue_trajectory` [T, S] (every step), `log10_transition` (exact).

`rnnviz.trace(model, ...)` hands a modern cell to this module (and `build_model` builds one from a
ModelSpec whose cell is "lru", "mingru", "minlstm" or "s6"), so Scenario.traces compares them with the
classic cells; `rnnviz.trace.warm_up` compiles the loops here too (about 10 s the first time on this
machine; later runs load them from numba's cache).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit

from .modern import ModernCell
from .sweeps import frozen32
from .trace import LOSSES, _as_input
from .trace_result import Trace

LOG10_2 = math.log10(2.0)
_OPTS = dict(cache=True, nogil=True)


# ----- compiled loops ----------------------------------------------------------------------------------
@njit(**_OPTS)
def _forward(a, drive, h0, out):
    """out[t] = a[t] * out[t-1] + drive[t] (a has T rows, or 1 for a fixed transition)."""
    T, S = drive.shape
    R = a.shape[0]
    h = h0.copy()
    for t in range(T):
        r = t if R > 1 else 0
        for j in range(S):
            h[j] = a[r, j] * h[j] + drive[t, j]
            out[t, j] = h[j]


@njit(**_OPTS)
def _normalise(re, im, e):
    """(re + i im) * 2^e with max(|re|, |im|) in [0.5, 1): returns re, im, e."""
    mx = max(abs(re), abs(im))
    if mx == 0.0 or not math.isfinite(mx):
        return re, im, e if mx != 0.0 else 0.0
    ex = math.frexp(mx)[1]
    return math.ldexp(re, -ex), math.ldexp(im, -ex), e + ex


@njit(**_OPTS)
def _add_real(re, im, e, x):
    """(re + i im) 2^e + x, normalised."""
    if x == 0.0:
        return re, im, e
    if re == 0.0 and im == 0.0:
        return _normalise(x, 0.0, 0.0)
    if not math.isfinite(e):
        return re, im, e
    if e >= 0.0:  # x lives at exponent ~0: bring it to the scale 2^e (it vanishes below 2^-1100)
        if e > 1100.0:
            return re, im, e
        return _normalise(re + math.ldexp(x, -int(e)), im, e)
    if e < -1100.0:
        return _normalise(x, 0.0, 0.0)
    return _normalise(math.ldexp(re, int(e)) + x, math.ldexp(im, int(e)), 0.0)


@njit(**_OPTS)
def adjoint_sweep(log2_abs, conj_unit, v, every, out):
    """out[k, j] = log2 |dL/ds_k,j| for dL/ds_k-1 = conj(a_k) dL/ds_k (+ v if every), dL/ds_T-1 = v.

    |a_k| = 2^log2_abs[k] enters as an exponent (float64, so even 2^-1e30 is not rounded to 0); each
    unit keeps its own mantissa (complex) and exponent. Rows of log2_abs / conj_unit: T or 1.
    """
    T, S = out.shape
    R = log2_abs.shape[0]
    re = v.copy()
    im = np.zeros(S)
    e = np.zeros(S)
    for j in range(S):
        re[j], im[j], e[j] = _normalise(re[j], im[j], 0.0)
    for k in range(T - 1, -1, -1):
        for j in range(S):
            mag = math.hypot(re[j], im[j])
            out[k, j] = math.log2(mag) + e[j] if mag > 0.0 else (-np.inf if mag == 0.0 else np.nan)
        if k == 0:
            break
        r = k if R > 1 else 0
        for j in range(S):
            la = log2_abs[r, j]
            if la == -np.inf:
                re[j], im[j], e[j] = 0.0, 0.0, 0.0
            elif not math.isfinite(la) or not math.isfinite(e[j]):
                re[j], im[j] = re[j] * math.nan, im[j] * math.nan
            else:
                n = math.floor(la)
                f = 2.0 ** (la - n)
                u = conj_unit[r, j]
                x, y = re[j] * f, im[j] * f
                re[j], im[j], e[j] = _normalise(x * u.real - y * u.imag, x * u.imag + y * u.real, e[j] + n)
            if every:
                re[j], im[j], e[j] = _add_real(re[j], im[j], e[j], v[j])


@njit(**_OPTS)
def product_norms(log10_abs, T, out):
    """out[k] = max_j sum_{s=k+1}^{T-1} log10_abs[s, j] (0 at k = T-1): log10 ||prod of diag(a_s)||_2."""
    S = log10_abs.shape[1]
    run = np.zeros(S)
    out[T - 1] = 0.0
    for k in range(T - 1, 0, -1):
        mx = -np.inf
        undefined = False
        for j in range(S):
            run[j] += log10_abs[k, j]
            if math.isnan(run[j]):
                undefined = True
            elif run[j] > mx:
                mx = run[j]
        out[k - 1] = np.nan if undefined else mx


# ----- the trace ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class ModernTrace(Trace):
    """A Trace of a diagonal linear recurrence; see the module docstring for what each readout is."""

    extras: dict = field(default_factory=dict)   # name -> float32 array [T, width]
    negative: bool = False

    @property
    def gate_names(self) -> tuple:
        return tuple(self.gates)

    @property
    def time_invariant(self) -> bool:
        """True when the transition is the same at every step (the LRU)."""
        return self._ctx["log_abs"].shape[0] == 1

    @property
    def log10_transition(self) -> np.ndarray:
        """log10 |a_t,j| [T, S], exact (far below float64's smallest number)."""
        la = self._ctx["log_abs"] / math.log(10.0)
        return np.broadcast_to(la, (self.T, la.shape[1]))

    @property
    def eigenvalue_trajectory(self) -> np.ndarray:
        """a_t,j [T, S] complex: the eigenvalues of every step's Jacobian (0 where |a| underflows)."""
        with np.errstate(under="ignore"):
            a = np.exp(self._ctx["log_abs"]) * self._ctx["unit"]
        return np.broadcast_to(a.astype(np.complex128), (self.T, a.shape[1]))

    # ----- Jacobians ---------------------------------------------------------------------------------
    @cached_property
    def _products(self) -> np.ndarray:
        T = self.T
        out = np.empty(T)
        la10 = self._ctx["log_abs"] / math.log(10.0)
        if la10.shape[0] == 1:  # fixed transition: the closed form, lag * log10 max_j |lambda_j|
            top = np.max(la10[0]) if la10.shape[1] else -np.inf
            lag = np.arange(T - 1, -1, -1, dtype=np.float64)
            with np.errstate(invalid="ignore"):
                out[:] = np.where(lag == 0, 0.0, lag * top)
        else:
            product_norms(np.ascontiguousarray(la10), T, out)
        out.setflags(write=False)
        return out

    @cached_property
    def log10_jacobian_norm(self) -> np.ndarray:
        """log10 ||ds_T-1/ds_k||_2 for k = 0..T-1 (last entry 0), exact."""
        return self._products.copy()

    def jacobian_norms(self, max_lag: int | None = None) -> np.ndarray:
        out = self._products.copy()
        if max_lag is not None:
            out[:max(0, self.T - 1 - max(0, int(max_lag)))] = np.nan
        return out

    @cached_property
    def log10_step_jacobian_norm(self) -> np.ndarray:
        """log10 ||ds_k/ds_k-1||_2 = log10 max_j |a_k,j| (entry 0: with respect to the initial state)."""
        return np.max(self.log10_transition, axis=1) if self.log10_transition.shape[1] else np.full(self.T, -np.inf)

    def step_jacobian_norms(self, last: int | None = None) -> np.ndarray:
        out = self.log10_step_jacobian_norm.copy()
        if last is not None:
            out[:max(0, self.T - max(0, int(last)))] = np.nan
        return out

    def step_jacobian(self, k: int) -> np.ndarray:
        """ds_k/ds_k-1 as a float64 matrix: diag(a_k), or for the LRU the real 2N x 2N map of
        (Re x, Im x): [[diag Re lambda, -diag Im lambda], [diag Im lambda, diag Re lambda]]."""
        a = self.eigenvalue_trajectory[k]
        if not np.iscomplexobj(self._ctx["unit"]):
            return np.diag(a.real)
        re, im = np.diag(a.real), np.diag(a.imag)
        return np.block([[re, -im], [im, re]])

    @cached_property
    def _spectrum(self):
        eig = self.eigenvalue_trajectory[-1]
        return eig, np.sort(np.abs(eig))[::-1]

    @property
    def log10_pascanu_bound(self) -> np.ndarray | None:
        """For the LRU, (max |lambda|)^lag, which its Jacobian products attain; None for the others."""
        return self._products.copy() if self.time_invariant else None

    def step_terms(self, t: int, unit: int) -> dict:
        """The numbers of one unit's update s_t = a_t s_t-1 + b_t at step t: "a" (complex for the LRU),
        "log10_abs_a" (exact), "b", "s_prev", "s", and the unit's pre-activations, gates and extras
        (for the selective SSM the unit d*N + n reads channel d and state n)."""
        T, S = self.T, self.hidden_size
        if not (0 <= t < T and 0 <= unit < S):
            raise ValueError(f"t must be in [0, {T - 1}] and unit in [0, {S - 1}]")
        s = self._ctx["state"]
        cast = complex if np.iscomplexobj(s) else float
        a = self.eigenvalue_trajectory[t, unit] if np.iscomplexobj(s) else self.eigenvalue_trajectory[t, unit].real
        prev = cast(self._ctx["h0"][unit] if t == 0 else s[t - 1, unit])
        out = {"a": cast(a), "log10_abs_a": float(self.log10_transition[t, unit]), "s_prev": prev,
               "s": cast(s[t, unit]), "b": cast(s[t, unit] - a * prev)}
        n_state = self._ctx.get("d_state")
        for group in ("pre", "gates", "extras"):
            for name, arr in getattr(self, group).items():
                if arr.shape[1] == S:
                    j = unit
                elif n_state:   # the selective SSM: B_t and C_t are per state n, the rest per channel d
                    j = unit % n_state if name in ("B", "C") else unit // n_state
                else:
                    continue
                out.setdefault(group, {})[name] = float(arr[t, j])
        return out


def _state0(h0, S: int, complex_state: bool) -> np.ndarray:
    dtype = np.complex128 if complex_state else np.float64
    if h0 is None:
        return np.zeros(S, dtype=dtype)
    if hasattr(h0, "detach"):
        h0 = h0.detach().cpu().numpy()
    try:
        arr = np.asarray(h0).astype(dtype, casting="same_kind" if not complex_state else "unsafe").reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"h0 must be a numeric vector of {S} entries: {exc}") from None
    if arr.shape != (S,):
        raise ValueError(f"h0 must have {S} entries; got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("h0 contains NaN or infinite values")
    return arr


def trace(model: ModernCell, x, loss: str = "last", h0=None) -> ModernTrace:
    """States, gates, exact gradient and Jacobian norms and eigenvalues of `model` on x [T, input_size].

    h0 is the initial state [S] (complex allowed for the LRU). Overflow is a result: a state beyond
    float32 sets forward_overflow_step, a gradient beyond it backward_overflow_step; nothing raises.
    """
    if not isinstance(model, ModernCell):
        raise ValueError(f"modern_trace.trace needs a rnnviz.modern cell; got {type(model).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be 'last' or 'all'; got {loss!r}")
    x32 = _as_input(x, model.input_size)
    T = x32.shape[0]
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        d = model.diagonal(x32.astype(np.float64))
        S = d.drive.shape[1]
        s0 = _state0(h0, S, np.iscomplexobj(d.unit))
        state = np.empty((T, S), dtype=s0.dtype)
        _forward(np.ascontiguousarray(np.exp(d.log_abs) * d.unit, dtype=s0.dtype),
                 np.ascontiguousarray(d.drive, dtype=s0.dtype), s0, state)
        log2_grad = np.empty((T, S))
        adjoint_sweep(np.ascontiguousarray(d.log_abs / math.log(2.0)),
                      np.ascontiguousarray(np.conj(d.unit), dtype=np.complex128), np.full(S, 1.0 / math.sqrt(S)),
                      loss == "all", log2_grad)
        log10_gh = log2_grad * LOG10_2
        log10_g = _log10_norm(log10_gh)
        extras = dict(d.extras)
        if np.iscomplexobj(state):
            extras["imag"] = state.imag
        if d.output is not None:
            extras["output"] = d.output(state)
        bad = ~(np.isfinite(state.real.astype(np.float32)) & np.isfinite(state.imag.astype(np.float32))).all(axis=1)
        ctx = {"log_abs": d.log_abs, "unit": d.unit, "state": state, "h0": s0,
               "d_state": getattr(model, "d_state", None)}
        return ModernTrace(
            cell_type=model.cell, activation="linear", loss=loss, inputs=x32, hidden=frozen32(state.real), cell=None,
            gates={k: frozen32(g) for k, g in d.gates.items()}, pre={k: frozen32(p) for k, p in d.pre.items()},
            h0=frozen32(s0.real), c0=None, log10_grad_norm=log10_g, log10_cell_grad_norm=None,
            log10_grad_hidden=frozen32(log10_gh), forward_overflow_step=int(np.argmax(bad)) if bad.any() else None,
            _ctx=ctx, extras={k: frozen32(e) for k, e in extras.items()}, negative=model.negative)


def _log10_norm(log10_parts: np.ndarray) -> np.ndarray:
    """log10 sqrt(sum_j 10^(2 p_j)) per row, without leaving float range (-inf rows stay -inf, NaN NaN)."""
    top = np.max(log10_parts, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    out = safe + 0.5 * np.log10(np.sum(np.power(10.0, 2.0 * (log10_parts - safe[:, None])), axis=1))
    out = np.where(np.isfinite(top), out, top)
    out.setflags(write=False)
    return out


def warm_up() -> None:
    """Compile (or load from numba's on-disk cache) every loop above, with tiny inputs: real and complex
    states, both losses, fixed and per-step transitions."""
    from .modern import build

    for cell in ("lru", "mingru", "s6"):
        for loss in LOSSES:
            tr = trace(build(cell, 1, 2), np.zeros((3, 1)), loss=loss)
            _ = tr.log10_jacobian_norm, tr.log10_step_jacobian_norm
