"""Why gradients vanish or explode: spectra, bounds, memory horizon, gate saturation.

Pure numpy; every function takes arrays and returns arrays or numbers.
"""
from __future__ import annotations

import math

import numpy as np

from .cells import GAMMA

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



# ------------------------------------------------------------------------------ one neuron
def one_neuron(w: float, u: float, b: float, activation: str, x, h0: float = 0.0) -> dict:
    """The one-unit RNN h_t = act(w h_{t-1} + u x_t + b), t = 1..T, from h_0.

    Returns float64 arrays: "h" [T+1] (h_0..h_T), "a" [T] pre-activations, "factor" [T] =
    dh_t/dh_{t-1} = w act'(a_t), and "log10_grad" [T+1]: log10 |dh_T/dh_k| for k = 0..T, the
    sum of log10 |factor| after k (-inf once a factor is exactly 0).
    """
    from .cells import activate, activation_derivative

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    T = x.size
    h = np.empty(T + 1)
    a = np.empty(T)
    h[0] = h0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            a[t] = w * h[t] + u * x[t] + b
            h[t + 1] = activate(activation, a[t:t + 1])[0]
        factor = w * activation_derivative(activation, a.copy(), None if activation in ("relu", "linear")
                                           else h[1:].copy())
    with np.errstate(divide="ignore"):
        logf = np.log10(np.abs(factor))
    log10_grad = np.concatenate([np.cumsum(logf[::-1])[::-1], [0.0]])
    return {"h": h, "a": a, "factor": factor, "log10_grad": log10_grad}


def neuron_map(w: float, b: float, activation: str, grid) -> np.ndarray:
    """f(h) = act(w h + b) on a grid of h (the map the iterates follow without input)."""
    from .cells import activate

    with np.errstate(over="ignore", invalid="ignore"):
        return activate(activation, w * np.asarray(grid, dtype=np.float64) + b)


def fixed_points(w: float, b: float, activation: str) -> list[dict]:
    """Fixed points h* = act(w h* + b), each with its slope w act'(w h* + b) and stability (|slope| < 1)."""
    from scipy.optimize import brentq

    from .cells import activate, activation_derivative

    def slope(h):
        a = np.array([w * h + b])
        return float(w * activation_derivative(activation, a)[0])

    found = []
    if activation == "linear":
        if w != 1:
            found = [b / (1 - w)]
    elif activation == "relu":
        if b <= 0:
            found.append(0.0)
        if w != 1 and b / (1 - w) > 0 and w * (b / (1 - w)) + b > 0:
            found.append(b / (1 - w))
    else:
        lo, hi = (-1.0, 1.0) if activation == "tanh" else (0.0, 1.0)
        g = (lambda h: math.tanh(w * h + b) - h) if activation == "tanh" else \
            (lambda h: 1.0 / (1.0 + math.exp(-(w * h + b))) - h if w * h + b > -700 else -h)
        grid = np.linspace(lo, hi, 4001)
        vals = activate(activation, w * grid + b) - grid  # the whole grid at once; roots refined below
        found += [float(h) for h in grid[vals == 0]]
        for i in np.nonzero(vals[:-1] * vals[1:] < 0)[0]:
            found.append(float(brentq(g, grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15)))
    out = []
    for h in sorted(found):
        s = slope(h)
        out.append({"h": h, "slope": s, "stable": abs(s) < 1})
    return out


def bistable_range(w: float, activation: str) -> tuple[float, float] | None:
    """The interval of b where h = act(w h + b) has two stable fixed points, or None.

    sigmoid (w > 4): the fold points where sigma(1-sigma) = 1/w, sigma = (1 +- sqrt(1 - 4/w))/2,
    b = logit(sigma) - w sigma; for w = 5 this is (-2.6556, -2.3444) (Pascanu et al. 2013, Fig. 3).
    tanh (w > 1): 1 - h^2 = 1/w, h = +-sqrt(1 - 1/w), b = atanh(h) - w h.
    """
    if activation == "sigmoid" and w > 4:
        r = math.sqrt(1 - 4 / w)
        ends = []
        for s in ((1 + r) / 2, (1 - r) / 2):
            ends.append(math.log(s / (1 - s)) - w * s)
        return min(ends), max(ends)
    if activation == "tanh" and w > 1:
        h = math.sqrt(1 - 1 / w)
        edge = w * h - math.atanh(h)
        return -edge, edge
    return None


def bifurcation(w: float, activation: str, b_values) -> list[tuple[float, float, bool]]:
    """(b, h*, stable) for every fixed point at every b in b_values."""
    points = []
    for b in b_values:
        for fp in fixed_points(w, float(b), activation):
            points.append((float(b), fp["h"], fp["stable"]))
    return points
