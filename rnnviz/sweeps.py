"""The backward sweeps that `trace` runs, driving the compiled kernels (`_kernels`): the elementwise
factors of every step's Jacobian, the gradient ||dL/dh_k|| through time, the Jacobian products
||dh_{T-1}/dh_k||_2 and each step's own Jacobian norm. Everything is float64 (or float32 mantissas
for large traces) with power-of-two exponents, exact far beyond float range; see `trace` for the
recurrences and `_kernels` for what exactly is kept.

`ctx` is the dict `trace` keeps with a Trace: cell, T, H, the factors, W_hh as a mantissa and an
exponent (W, W_sweep, eW).
"""
from __future__ import annotations

import math

import numpy as np

from . import _kernels, cells
from .cells import ACT_CODES

# The factor rows of each cell (see factors) and the group of each: factors of one group meet in
# one mat-vec and share a power-of-two exponent per step.
FACTOR_GROUPS = {"rnn": (0,), "lstm": (0, 0, 0, 0, 1, 2), "gru": (0, 0, 0, 1)}
NARROW = 60.0        # binary orders the factors of a group may span in a step and share an exponent


def factors(cell, act, pre, h_prev, relu_D, dtype) -> tuple:
    """The elementwise factors of every step's Jacobian, for the kernels (see _kernels.factors_at):

        RNN   D  = act'(a)
        LSTM  (B3, Bo) = ((g sig'(a_i), c_{k-1} sig'(a_f), i tanh'(a_g)), tanh(c_k) sig'(a_o)),
              K = o tanh'(c_k),  F = f
        GRU   B3 = ((1-z) tanh'(a_n) hn sig'(a_r), (h_{k-1} - n) sig'(a_z), (1-z) tanh'(a_n) r),  Z = z

    Each is computed from the float64 pre-activations (and the LSTM's float64 cell state) with the
    tail-exact formulas of `cells`, never from a unit's output, as a mantissa and an exponent. Returns
    (F, s, groups, wide, wide_m, wide_e): F [T, factors, H] mantissas in `dtype` and s [T, groups] the
    exponent of each group (value = F * 2**s), for the steps whose factors of one group span at most
    NARROW binary orders (nearly all); the other steps' factors keep an exponent per element in
    wide_m / wide_e [wide steps, factors, H], wide[k] being the row of step k there (-1: narrow).
    So sech^2 of 60 (3e-52), of a cell state of 1000 (e^{-2000}) or of 10^30 is a number, never 0.
    An LSTM's factors come with its gates and cell states (lstm_forward); this function takes an RNN or a GRU.
    """
    T, H = h_prev.shape
    groups = np.array(FACTOR_GROUPS[cell], dtype=np.int64)
    F = np.empty((T, groups.size, H), dtype)
    s = np.empty((T, int(groups.max()) + 1))
    narrow = np.empty(T, dtype=bool)
    if cell == "rnn":
        a = pre["a"] if relu_D is None else relu_D - 0.5  # an overflowed ReLU RNN: the exact signs
        args, pack, rows = (ACT_CODES[act], a), _kernels.factors_rnn, _kernels.wide_rows_rnn
    else:
        args = (pre["reset"], pre["update"], pre["hn"], pre["candidate"], np.ascontiguousarray(h_prev))
        pack, rows = _kernels.factors_gru, _kernels.wide_rows_gru
    pack(*args, groups, NARROW, F, s, narrow)
    return _with_wide_rows(rows, args, F, s, groups, narrow)


def _with_wide_rows(rows, args, F, s, groups, narrow) -> tuple:
    """The factors' tuple: the packed mantissas and exponents and, for the steps that are not narrow, their
    factors with an exponent per element (rows(*args, ...) computes them)."""
    T, H = F.shape[0], F.shape[2]
    steps = np.nonzero(~narrow)[0]
    wide = np.full(T, -1, dtype=np.int64)
    wide[steps] = np.arange(steps.size)
    wide_m, wide_e = np.empty((steps.size, groups.size, H)), np.empty((steps.size, groups.size, H))
    rows(*args, steps, wide_m, wide_e)
    return F, s, groups, wide, wide_m, wide_e


def lstm_forward(S: np.ndarray, c0: np.ndarray, dtype) -> tuple:
    """An LSTM's gates, cell states and factors from its float64 pre-activations S [T, 4H] in one pass
    (_kernels.lstm_forward): (gates [4, T, H] float32, pre-activations [4, T, H] float32, cell states
    [T, H] float32, the factors as `factors` returns them). The cell states are float64 on the way."""
    T, H = S.shape[0], S.shape[1] // 4
    groups = np.array(FACTOR_GROUPS["lstm"], dtype=np.int64)
    c_all = np.empty((T + 1, H))
    c_all[0] = c0
    G32, P32, C32 = np.empty((4, T, H), np.float32), np.empty((4, T, H), np.float32), np.empty((T, H), np.float32)
    F, s, narrow = np.empty((T, groups.size, H), dtype), np.empty((T, int(groups.max()) + 1)), np.empty(T, dtype=bool)
    _kernels.lstm_forward(S, groups, NARROW, c_all, G32, P32, C32, F, s, narrow)
    args = (S[:, :H], S[:, H:2 * H], S[:, 2 * H:3 * H], S[:, 3 * H:], c_all)
    return G32, P32, C32, _with_wide_rows(_kernels.wide_rows_lstm, args, F, s, groups, narrow)


def mantissa_matrix(W: np.ndarray) -> tuple[np.ndarray, float]:
    """W = W_m * 2**eW with the largest |entry| of W_m in [0.5, 1): exact, and no float32 product
    with an adjoint or a Jacobian row can overflow, whatever the weights."""
    mx = float(np.max(np.abs(W))) if W.size else 0.0
    eW = math.frexp(mx)[1] if 0 < mx < math.inf else 0
    if abs(eW) < 1000:  # a power of two float64 holds: the product is ldexp's own rounding, and faster
        return np.ascontiguousarray(W * 2.0 ** -eW), float(eW)
    return np.ascontiguousarray(np.ldexp(W, -eW)), float(eW)


def grad_sweep(ctx: dict, loss: str, direct: tuple | None = None, raw: list | None = None):
    """log10 |dL/dh_k| per unit (float32), log10 ||dL/dh_k||, log10 ||dL/dc_k|| (LSTM) for every k.

    `direct` (Dm, De), each [T, H]: a gradient Dm * 2**De reaching each step from outside the
    recurrence (the layer above of a stacked model; loss "direct" then adds nothing else). `raw`, a
    list, receives the adjoints as (m, e) arrays: dL/dh_k, and for an LSTM dL/dc_k."""
    cell, T, H = ctx["cell"], ctx["T"], ctx["H"]
    v = np.full(H, 0.0 if loss == "direct" else 1.0 / math.sqrt(H))
    W = ctx["W_sweep"]
    lim, buf_lim = (400.0, 1000.0) if W.dtype == np.float64 else (30.0, 120.0)
    m, e = np.empty((T, H)), np.empty((T, H))
    sweep = {"rnn": _kernels.grad_sweep_rnn, "lstm": _kernels.grad_sweep_lstm, "gru": _kernels.grad_sweep_gru}[cell]
    extra = (np.empty((T, H)), np.empty((T, H))) if cell == "lstm" else ()
    dense = (bool(np.all(W != 0)),) if cell == "lstm" else ()  # every output gets a term from every input
    D = direct if direct is not None else (np.empty((0, H)), np.empty((0, H)))
    sweep(*ctx["factors"], W, ctx["eW"], lim, buf_lim, *dense, v, loss == "all", m, e, *extra, *D)
    if raw is not None:
        raw.extend((m, e, *extra))
    log10_gh = np.empty((T, H), np.float32)  # per unit, as the Trace keeps it
    _kernels.log10_abs(m, e, log10_gh)
    log10_gc = log10_norms(*extra) if extra else None
    return log10_gh, log10_norms(m, e), log10_gc


def frozen32(a) -> np.ndarray:
    """A read-only float32 copy: arrays leave the engine so, as traces are shared between sessions."""
    out = np.array(a, dtype=np.float32, order="C")
    out.setflags(write=False)
    return out


def log10_norms(m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """log10 of each row's 2-norm of m * 2**e (elementwise exponents), exact beyond float range."""
    out = np.empty(m.shape[0])
    _kernels.log10_row_norms(np.ascontiguousarray(m, dtype=np.float64), np.ascontiguousarray(e, dtype=np.float64), out)
    return out


# Up to this hidden size the Jacobian products run in float64 and every spectral norm is exact (the
# eigenvalues of P P^T). Above it the H^3 products run in float32 (still renormalised exactly by
# powers of two) and their norms come from Lanczos, warm-started from the previous product's top two
# singular vectors and run until the residual proves the value (see _kernels.spectral_norm); a
# product's norm then agrees with an SVD of the float64 product to the float32 rounding of the
# product itself (about 1e-6).
EXACT_NORM_MAX_H = 32
# Each step's own Jacobian (2H x 2H for an LSTM) has its norm computed exactly up to this size, and
# above it certified to 5e-9 (step_jacobian_norms), as has each step's factor through depth (rnnviz.deep).
# Above 16 rows a Lanczos run and one Cholesky factorisation cost less than the eigenvalues.
EXACT_STEP_NORM_MAX = 16
# Up to this size the certified path forms each step's Gram J J^T by one matrix product (faster at these
# sizes than the Gram from coefficients, O(H^2) a step but with a larger constant).
GRAM_BY_PRODUCT_MAX = 256


def jacobian_cost(cell: str, H: int, steps: int) -> float:
    """Multiply-adds of `steps` steps of the Jacobian-product sweep (H^3 per step; 2 H^3 for an
    LSTM, whose state is (h, c)). Pages and exports bound their work with it."""
    return (2.0 if cell == "lstm" else 1.0) * float(H) ** 3 * steps


def norm_method(n: int, exact_max: int, dtype=np.float64):
    """(tol, max_iter) of spectral_norm for n x n matrices: max_iter = 0 means exact. The residual
    tolerance is what float64 (or float32, the products above EXACT_NORM_MAX_H) can resolve."""
    if n <= exact_max:
        return 0.0, 0
    return (1e-7 if dtype == np.float64 else 1e-6), 80


def jacobian_sweep(ctx: dict, k_min: int = 0) -> np.ndarray:
    """log10 ||dh_{T-1}/dh_k||_2 for k = T-1 down to k_min (NaN below)."""
    cell, T, H = ctx["cell"], ctx["T"], ctx["H"]
    dtype = np.float64 if H <= EXACT_NORM_MAX_H else np.float32
    tol, max_iter = norm_method(H, EXACT_NORM_MAX_H, dtype)
    out = np.full(T, np.nan)
    sweep = {"rnn": _kernels.jac_sweep_rnn, "lstm": _kernels.jac_sweep_lstm, "gru": _kernels.jac_sweep_gru}[cell]
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        # rows drift up to 2**+-limit before they are rescaled; two parts at most gap_lim binary orders apart
        # share one exponent without an alignment of each row
        limit, gap_lim = (100.0, 900.0) if dtype == np.float64 else (20.0, 60.0)
        sweep(*ctx["factors"], ctx["W"].astype(dtype), ctx["eW"], limit, gap_lim, tol, max_iter, k_min, out)
    return out


_STEP_JACOBIAN = {"rnn": _kernels.step_jacobian_rnn, "lstm": _kernels.step_jacobian_lstm,
                  "gru": _kernels.step_jacobian_gru}


def step_jacobian(ctx: dict, k: int) -> np.ndarray:
    n = 2 * ctx["H"] if ctx["cell"] == "lstm" else ctx["H"]
    J = np.empty((n, n))
    E = _STEP_JACOBIAN[ctx["cell"]](*ctx["factors"], ctx["W"], ctx["eW"], k, J)
    return cells.Scaled(J, np.full(J.shape, E)).value()


def gram_blocks(ctx: dict) -> tuple[np.ndarray, np.ndarray]:
    """G = R R^T and which of its H x H blocks are nonzero, for the fixed blocks R_g of a step
    Jacobian J = sum_g diag(c_g) R_g (see _kernels.step_coefficients_*): the weight mantissas of
    W_hh by gate, and the identity where a state passes straight through (a GRU's z, an LSTM's cell
    path, on the cell-state columns). Formed once per sweep: O(H^3), then each step's Gram is O(H^2)."""
    cell, H, W = ctx["cell"], ctx["H"], ctx["W"]
    if cell == "rnn":
        return W @ W.T, np.ones((1, 1), dtype=np.bool_)
    if cell == "gru":
        R = np.vstack([W[:3 * H], np.eye(H)])
        return R @ R.T, np.ones((4, 4), dtype=np.bool_)
    G = np.zeros((5 * H, 5 * H))   # LSTM: [[W_i; W_f; W_g; W_o], 0] on the h columns, I on the c columns
    G[:4 * H, :4 * H] = W @ W.T
    G[4 * H:, 4 * H:] = np.eye(H)
    nonzero = np.zeros((5, 5), dtype=np.bool_)
    nonzero[:4, :4] = nonzero[4, 4] = True
    return G, nonzero


def step_jacobian_norms(ctx: dict, k0: int) -> np.ndarray:
    """log10 ||ds_k/ds_{k-1}||_2 for k >= k0 (NaN below): exact (the eigenvalues of J J^T) up to
    EXACT_STEP_NORM_MAX rows; above, certified: a Lanczos lower bound that a Cholesky factorisation
    proves to be within 1e-8 of sigma_max^2 (_kernels.certified_norm), from each step's Gram J J^T
    (a matrix product up to GRAM_BY_PRODUCT_MAX rows, then from coefficients: O(H^2) a step)."""
    cell, T, H = ctx["cell"], ctx["T"], ctx["H"]
    out = np.full(T, np.nan)
    n = 2 * H if cell == "lstm" else H
    kind = ("rnn", "lstm", "gru").index(cell)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        if n > EXACT_STEP_NORM_MAX:  # without blocks (empty G) each step's Gram comes from a matrix product
            G, nonzero = gram_blocks(ctx) if n > GRAM_BY_PRODUCT_MAX else (np.empty((0, 0)), np.empty((0, 0), np.bool_))
            _kernels.certified_step_norms(kind, *ctx["factors"], ctx["W"], ctx["eW"], G, nonzero, k0, out)
            return out
        norms = {"rnn": _kernels.step_norms_rnn, "lstm": _kernels.step_norms_lstm,
                 "gru": _kernels.step_norms_gru}[cell]
        norms(*ctx["factors"], ctx["W"], ctx["eW"], 0.0, 0, k0, out)
    return out
