"""Why gradients vanish or explode: spectra, bounds, memory horizon, gate saturation.

Pure numpy; every function takes arrays and returns arrays or numbers.
"""
from __future__ import annotations

import math

import numpy as np

from .cells import GAMMA
from .i18n import _

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
    dh_t/dh_{t-1} = w act'(a_t) (0 where it is below float64's range), "log10_factor" [T] = log10 of
    its size, exact however small (from the pre-activation, see cells), and "log10_grad" [T+1]:
    log10 |dh_T/dh_k| for k = 0..T, the sum of log10_factor after k (-inf only where a factor is
    exactly 0: w = 0, or a ReLU below its kink).
    """
    from .cells import activate, activation_derivative_scaled

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    T = x.size
    h = np.empty(T + 1)
    a = np.empty(T)
    h[0] = h0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            a[t] = w * h[t] + u * x[t] + b
            h[t + 1] = activate(activation, a[t:t + 1])[0]
        d = activation_derivative_scaled(activation, a)
        factor = w * d.value()
    with np.errstate(divide="ignore"):
        log10_factor = d.log10_abs() + math.log10(abs(w)) if w != 0 else np.full(T, -np.inf)
    log10_grad = np.concatenate([np.cumsum(log10_factor[::-1])[::-1], [0.0]])
    return {"h": h, "a": a, "factor": factor, "log10_factor": log10_factor, "log10_grad": log10_grad}


def neuron_map(w: float, b: float, activation: str, grid) -> np.ndarray:
    """f(h) = act(w h + b) on a grid of h (the map the iterates follow without input)."""
    from .cells import activate

    with np.errstate(over="ignore", invalid="ignore"):
        return activate(activation, w * np.asarray(grid, dtype=np.float64) + b)


NEUTRAL_TOL = 1e-7  # |slope| this close to 1 is slope 1: the linear term neither shrinks nor grows


def fixed_points(w: float, b: float, activation: str) -> list[dict]:
    """Fixed points h* = act(w h* + b) of the map f(h) = act(w h + b), each classified.

    Each entry: "h"; "slopes" (f'(h*-), f'(h*+)), the one-sided derivatives, which differ only at a
    kink (a ReLU at a* = w h* + b = 0); "slope", the one of them larger in size; "kind":
    "stable" (every start close enough converges to it), "unstable" (starts close to it on either
    side leave), "semi-stable" (attracts from one side, repels on the other) or "neutral" (|slope|
    exactly 1: the linear term neither shrinks nor grows a displacement and the higher-order terms
    decide); "stable": whether every start close enough converges to it (True for a neutral point
    whose cubic term pulls them in, slowly); "note": what happens near it, in words.
    """
    from scipy.optimize import brentq, minimize_scalar

    from .cells import activate

    found = []
    if activation == "linear":
        if w != 1:
            found = [b / (1 - w)]
        elif b == 0:
            found = [0.0]  # every h is fixed; 0 stands for them (see the note)
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
        # A fold (saddle-node) touches the diagonal without crossing it: a double root, no sign change.
        mid = np.abs(vals[1:-1])
        touch = np.nonzero((mid <= np.abs(vals[:-2])) & (mid <= np.abs(vals[2:])) & (vals[:-2] * vals[2:] > 0)
                           & (mid < 1e-3))[0] + 1
        for i in touch:
            sign = 1.0 if vals[i] > 0 else -1.0
            res = minimize_scalar(lambda h, sign=sign: sign * g(h), bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                                  options={"xatol": 1e-14})
            if abs(g(res.x)) < 1e-13 and all(abs(res.x - h) > 1e-6 for h in found):
                found.append(float(res.x))
    return [_classify(w, b, activation, h) for h in sorted(found)]


def _classify(w: float, b: float, activation: str, h: float) -> dict:
    """One fixed point's slopes, kind and note (see fixed_points)."""
    a = w * h + b
    if activation == "relu" and a == 0:  # the kink: relu' is 0 from the left, 1 from the right
        left, right = (0.0, w) if w >= 0 else (w, 0.0)  # with w > 0, h above h* puts a above 0
        return _entry(h, (left, right), *_at_kink(left, right))
    d1, d2, d3 = _act_derivatives(activation, a)
    s = w * d1
    if abs(abs(s) - 1.0) > NEUTRAL_TOL:
        if abs(s) < 1:
            return _entry(h, (s, s), "stable", _("attracts: a displacement shrinks by |slope| each step"))
        return _entry(h, (s, s), "unstable", _("repels: a displacement grows by |slope| each step"))
    # |slope| = 1: f(h* + d) = h* + s d + c2 d^2 + c3 d^3 + ...
    c2, c3 = w * w * d2 / 2.0, w ** 3 * d3 / 6.0
    eps = 1e-9
    if s > 0:
        if abs(c2) > eps:  # f(h* + d) - (h* + d) = c2 d^2: the same sign on both sides
            return _entry(h, (s, s), "semi-stable",
                          _("slope exactly 1 with a quadratic term (a fold): attracts from below, repels above")
                          if c2 > 0 else
                          _("slope exactly 1 with a quadratic term (a fold): attracts from above, repels below"))
        if abs(c3) > eps:
            pulls = c3 < 0
            note = (_("slope exactly 1; the cubic term {c3:+.3g}·δ³ pulls a displacement δ in, slowly (like 1/√t, "
                      "not exponentially)") if pulls else
                    _("slope exactly 1; the cubic term {c3:+.3g}·δ³ pushes a displacement δ out, slowly (like 1/√t, "
                      "not exponentially)"))
            return _entry(h, (s, s), "neutral", note.format(c3=c3), stable=pulls)
        return _entry(h, (s, s), "neutral", _("slope exactly 1 and no higher-order terms: every h nearby is a "
                                              "fixed point too"))
    q = c3 + c2 * c2  # two steps: f(f(h* + d)) = h* + d - 2 (c3 + c2^2) d^3 + ...
    if abs(q) > eps:
        pulls = q > 0
        return _entry(h, (s, s), "neutral",
                      _("slope exactly −1: a displacement flips sign every step, and over two steps the cubic terms "
                        "pull it in, slowly (like 1/√t)") if pulls else
                      _("slope exactly −1: a displacement flips sign every step, and over two steps the cubic terms "
                        "push it out, slowly (like 1/√t)"), stable=pulls)
    return _entry(h, (s, s), "neutral", _("slope exactly −1 and no higher-order terms: every start nearby is on a "
                                          "2-cycle around it"))


def _kink_flat() -> dict:
    """A kink with slope exactly 1 on one side ({(flat side is above, the other side's fate): note})."""
    return {(True, "attracts"): _("a kink with slope exactly 1 above it: every h above it is a fixed point too; on "
                                  "the other side it attracts"),
            (True, "repels"): _("a kink with slope exactly 1 above it: every h above it is a fixed point too; on "
                                "the other side it repels"),
            (True, "keeps"): _("a kink with slope exactly 1 above it: every h above it is a fixed point too; on "
                               "the other side it keeps"),
            (False, "attracts"): _("a kink with slope exactly 1 below it: every h below it is a fixed point too; on "
                                   "the other side it attracts"),
            (False, "repels"): _("a kink with slope exactly 1 below it: every h below it is a fixed point too; on "
                                 "the other side it repels"),
            (False, "keeps"): _("a kink with slope exactly 1 below it: every h below it is a fixed point too; on "
                                "the other side it keeps")}


def _at_kink(left: float, right: float) -> tuple[str, str]:
    """(kind, note) of a fixed point at a kink, from its one-sided slopes (the map is linear on each
    side of it, up to the kink)."""
    def fate(s):
        return "attracts" if s < 1 else "repels" if s > 1 else "keeps"

    if left >= 0 and right >= 0:  # each side maps into itself
        below, above = fate(left), fate(right)
        if below == above == "attracts":
            return "stable", _("a kink (slopes {left:g} below, {right:g} above): attracts from both sides").format(
                left=left, right=right)
        if below == above == "repels":
            return "unstable", _("a kink (slopes {left:g} below, {right:g} above): repels on both sides").format(
                left=left, right=right)
        if "keeps" in (below, above):
            other = below if above == "keeps" else above
            return "neutral", _kink_flat()[above == "keeps", other]
        return "semi-stable", (_("a kink (slope {left:g} below, {right:g} above): attracts from below, repels above, "
                                 "so a start just above it leaves") if below == "attracts" else
                               _("a kink (slope {left:g} below, {right:g} above): attracts from above, repels below, "
                                 "so a start just below it leaves")).format(left=left, right=right)
    if left < 0 and right < 0:  # the sides swap every step: two steps multiply by left * right
        two = left * right
        kind = "stable" if two < 1 else "unstable" if two > 1 else "neutral"
        return kind, _("a kink; a start alternates sides, and two steps multiply its distance by {two:g}").format(
            two=two)
    stay = left if right < 0 else right  # one side maps onto the other, which keeps to itself
    kind = "stable" if stay < 1 else "unstable" if stay > 1 else "neutral"
    return kind, _("a kink; one side maps to the other at once, where the distance is multiplied by {stay:g} each "
                   "step").format(stay=stay)


def _entry(h: float, slopes: tuple, kind: str, note: str, stable: bool | None = None) -> dict:
    return {"h": float(h), "slope": float(max(slopes, key=abs)), "slopes": tuple(float(s) for s in slopes),
            "kind": kind, "stable": kind == "stable" if stable is None else bool(stable), "note": note}


def _act_derivatives(activation: str, a: float) -> tuple[float, float, float]:
    """act', act'', act''' at a smooth point a (act' from the pre-activation, exact in the tails)."""
    from .cells import activation_derivative

    d1 = float(activation_derivative(activation, np.array([a]))[0])
    if activation == "tanh":
        y = math.tanh(a)
        return d1, -2 * y * d1, (6 * y * y - 2) * d1
    if activation == "sigmoid":
        y = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
        return d1, d1 * (1 - 2 * y), d1 * (1 - 6 * y + 6 * y * y)
    return d1, 0.0, 0.0


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


def effective_bias(b: float, u: float, input_kind: str) -> float:
    """The bias of the map h -> act(w h + b_eff) that One Neuron's iterates follow once its input
    (`inputs.neuron_input`) is constant: b + u under a constant input x_t = 1, b otherwise."""
    return b + (u if input_kind == "constant" else 0.0)
