"""Why gradients vanish or explode: spectra, bounds, memory horizon, gate saturation.

Pure numpy; every function takes arrays and returns arrays or numbers.
"""
from __future__ import annotations

import math

import numpy as np

from .cells import GAMMA, NUM_BLOCKS

LOG10_2 = math.log10(2.0)


def recurrent_block(weight_hh: np.ndarray, cell: str, block: str | None = None) -> np.ndarray:
    """The H x H block of W_hh that the Pascanu analysis looks at.

    RNN: W_hh itself. LSTM: the candidate block W_hg (rows 2H:3H). GRU: the candidate
    block W_hn (rows 2H:3H). `block` picks another gate by index name ("i", "f", "o", "r", "z").
    """
    H = weight_hh.shape[1]
    if cell == "rnn":
        return weight_hh
    order = {"lstm": "ifgo", "gru": "rzn"}[cell]
    name = block or ("g" if cell == "lstm" else "n")
    k = order.index(name)
    return weight_hh[k * H:(k + 1) * H]


def spectrum(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues, singular values in descending order) of a square matrix, in float64."""
    m = np.asarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        nan = np.full(m.shape[0], np.nan)
        return nan.astype(complex), nan
    return np.linalg.eigvals(m), np.linalg.svd(m, compute_uv=False)


def log10_pascanu_bound(T: int, gamma: float, sigma_max: float) -> np.ndarray:
    """log10 of (gamma * sigma_max)^(T-1-k) for k = 0..T-1 (Pascanu, Mikolov & Bengio 2013).

    For an RNN h' = act(W_ih x + W_hh h + b) with |act'| <= gamma, this bounds
    ||dh_{T-1}/dh_k||_2 for every input. -inf where the bound is exactly 0.
    """
    lag = np.arange(T - 1, -1, -1, dtype=np.float64)
    base = gamma * sigma_max
    if base == 0:
        out = np.full(T, -np.inf)
        out[-1] = 0.0
        return out
    return lag * math.log10(base)


def memory_horizon(log10_norm: np.ndarray, fraction: float = 1e-3) -> int | None:
    """Lags until the gradient falls below `fraction` of its value at the last step.

    `log10_norm[k]` is log10 ||dL/dh_k|| (time order, last entry = last step). Returns the
    smallest lag l >= 1 with norm[T-1-l] < fraction * norm[T-1], or None when the gradient
    never falls that low within the sequence (the horizon is at least T-1 steps).
    A scalar linear RNN h' = w h gives ceil(ln(fraction) / ln w) (66 for w = 0.9, 1e-3).
    """
    arr = np.asarray(log10_norm, dtype=np.float64)
    if arr.size < 2:
        return None
    ref = arr[-1]
    if not np.isfinite(ref):
        return None
    threshold = ref + math.log10(fraction)
    lagged = arr[-2::-1]  # lag 1, 2, ...
    below = np.nonzero(lagged < threshold)[0]  # NaN compares False: an unknown value is never "below"
    return int(below[0]) + 1 if below.size else None


def saturation(gates: dict, low: float = 0.1, high: float = 0.9) -> dict:
    """Fraction of gate values below `low` and above `high`, per gate and per unit.

    Returns {gate: {"low": float, "high": float, "low_per_unit": [H], "high_per_unit": [H]}}.
    The candidate (tanh, in [-1, 1]) counts as saturated below -0.9 / above 0.9 when
    `low`/`high` are the defaults mirrored around 0 (|g| > 0.9).
    """
    out = {}
    for name, values in gates.items():
        v = np.asarray(values, dtype=np.float64)
        if name == "candidate":
            lo_mask, hi_mask = v < -high, v > high
        else:
            lo_mask, hi_mask = v < low, v > high
        out[name] = {
            "low": float(lo_mask.mean()) if v.size else 0.0,
            "high": float(hi_mask.mean()) if v.size else 0.0,
            "low_per_unit": lo_mask.mean(0) if v.size else np.zeros(v.shape[-1]),
            "high_per_unit": hi_mask.mean(0) if v.size else np.zeros(v.shape[-1]),
        }
    return out


def gamma(cell: str, activation: str) -> float:
    """Bound of the activation derivative used by the Pascanu bound (tanh/relu/linear 1, sigmoid 1/4)."""
    return GAMMA[activation] if cell == "rnn" else 1.0


def num_blocks(cell: str) -> int:
    return NUM_BLOCKS[cell]
