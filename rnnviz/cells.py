"""RNN, LSTM and GRU step equations, exactly as torch.nn.RNN / LSTM / GRU compute them.

Weights use torch's layout: `weight_ih` [G*H, I], `weight_hh` [G*H, H], `bias_ih`, `bias_hh`
[G*H], with the gate rows stacked in torch's order (LSTM i, f, g, o; GRU r, z, n).

    RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)
    LSTM  i = sig(W_ii x + b_ii + W_hi h + b_hi)      f = sig(W_if x + b_if + W_hf h + b_hf)
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)     o = sig(W_io x + b_io + W_ho h + b_ho)
          c' = f*c + i*g                              h' = o*tanh(c')
    GRU   r = sig(W_ir x + b_ir + W_hr h + b_hr)      z = sig(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r*(W_hn h + b_hn)) h' = (1-z)*n + z*h

The functions work on numpy arrays or torch tensors alike for the step; the vectorised
`evaluate` and `pre_activations` work on whole sequences once the states are known.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .i18n import N_, Message, _

CELLS = ("rnn", "lstm", "gru")
# After the LSTM (rnnviz.modern): diagonal linear recurrences whose eigenvalues are their transitions.
MODERN_CELLS = ("lru", "mingru", "minlstm", "s6")
# The Training Lab also trains minGRU, minLSTM and the selective SSM with transitions in [-1, 1].
NEGATIVE_CELLS = ("mingru_neg", "minlstm_neg", "s6_neg")
GATES = {
    "rnn": (),
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
}
NUM_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
# Bound of the activation's derivative (Pascanu et al. 2013): |act'(a)| <= gamma.
GAMMA = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25}
GATE_ACTIVATION = {"input": "sigmoid", "forget": "sigmoid", "output": "sigmoid", "reset": "sigmoid",
                   "update": "sigmoid", "candidate": "tanh"}
GATE_SYMBOL = {"input": "i", "forget": "f", "candidate": "g", "output": "o",
               "reset": "r", "update": "z"}

# How cells and gates are named on screen: the one place these words are defined.
LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "lru": "LRU", "mingru": "minGRU", "minlstm": "minLSTM",
          "s6": "S6", "mingru_neg": "minGRU_neg", "minlstm_neg": "minLSTM_neg", "s6_neg": "S6_neg"}
# Gate labels are English marked for translation: show them with rnnviz.i18n._.
GATE_LABELS = {"input": N_("input gate i"), "forget": N_("forget gate f"), "candidate": N_("candidate g"),
               "output": N_("output gate o"), "reset": N_("reset gate r"), "update": N_("update gate z")}
_ARTICLES = {("rnn", False): N_("an RNN"), ("lstm", False): N_("an LSTM"), ("gru", False): N_("a GRU"),
             ("rnn", True): N_("An RNN"), ("lstm", True): N_("An LSTM"), ("gru", True): N_("A GRU")}


def article(cell: str, capital: bool = False) -> str:
    """The cell's name with its article: "an RNN", "an LSTM", "a GRU" ("An RNN" with `capital`), in the
    current language (Chinese has no article: "RNN")."""
    if (cell, capital) in _ARTICLES:
        return _(_ARTICLES[cell, capital])
    a = "an" if cell in ("rnn", "lstm", "lru") else "a"
    return f"{a.capitalize() if capital else a} {LABELS[cell]}"


def article_message(cell: str) -> str:
    """`article(cell)` as a Message's field: the English, translated where the message is shown."""
    return Message(_ARTICLES[cell, False]) if (cell, False) in _ARTICLES else article(cell)


def gate_symbol(cell: str, name: str) -> str:
    """The letter a gate has in the equations: i f g o for LSTM, r z n for GRU."""
    if name == "candidate" and cell == "gru":
        return "n"
    return GATE_SYMBOL.get(name, name)


def gate_kind(name: str) -> str:
    """The scale of a per-unit signal: "state" for the hidden and cell states and the tanh candidate
    (in [-1, 1]), "gate" for a sigmoid gate (in [0, 1])."""
    return "state" if name in ("hidden", "cell", "candidate") else "gate"


def state_symbol(cell: str, name: str) -> str:
    """A per-unit signal's letter in the equations: h, c, then the gates' (i f g o, r z n)."""
    return {"hidden": "h", "cell": "c"}.get(name) or gate_symbol(cell, name)


def block_name(cell: str) -> str:
    """The recurrent matrix a cell's spectrum is read from: W_hh for an RNN, its candidate block for
    an LSTM (W_hg) and a GRU (W_hn)."""
    return "W_hh" if cell == "rnn" else f"W_h{gate_symbol(cell, 'candidate')}"


def sigmoid(a):
    """Logistic function (numpy). exp overflow for a << 0 correctly gives 0; no cancellation."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(a)))


def activate(name: str, a):
    """Apply an RNN activation to a numpy array."""
    if name == "tanh":
        return np.tanh(a)
    if name == "relu":
        return np.maximum(a, 0)
    if name == "sigmoid":
        return sigmoid(a)
    if name == "linear":
        return a
    raise ValueError(f"unknown activation {name!r}")


# ------------------------------------------------------------------------------------------
# Derivatives that stay exact in the tails.
#
# A derivative is never computed from the unit's output (1 - y^2, y(1 - y)): once y rounds to
# +-1 (tanh) or 0 / 1 (sigmoid) that is exactly 0, in float32 from |a| ~ 9 and in float64 from
# |a| ~ 19 (tanh) or a ~ 37 (sigmoid), although the true value is finite. Every factor comes from
# the float64 pre-activation a, with t = e^{-|a|} and u = e^{-2|a|}:
#
#     sigma(a)     = 1 / (1 + t)  (a >= 0),   t / (1 + t)  (a < 0);   1 - sigma(a) = sigma(-a)
#     sigma'(a)    = t / (1 + t)^2
#     tanh'(a)     = sech^2(a) = 4u / (1 + u)^2
#     1 - |tanh a| = 2u / (1 + u)
#
# The small factor t (or u) is kept as a mantissa and a power-of-two exponent (`Scaled`), so
# e^{-2000} (sech^2 of a cell state of 1000) or e^{-10^30} (an input of 10^30) is a number, not 0:
# e^{-x} = 2^{-n} e^{-r}, x = n ln 2 + r. Each value keeps float64's relative precision for |a| up
# to ~10^6; beyond that its log2 (~|a| / ln 2) has float64's relative precision, which is all the
# float64 pre-activation itself has. The scalar formulas live in `_kernels` (the sweeps compute
# each step's factors with them); the functions below apply them to arrays.
ACT_CODES = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}  # as the compiled loops take them


class Scaled(NamedTuple):
    """Arrays of numbers held as m * 2**e, so that products of tiny factors neither underflow nor
    lose precision.

    m: float64 mantissas, |m| in [0.5, 1), or 0 (the number is exactly 0), or NaN (undefined).
    e: float64 exponents, whole numbers (exact below 2**53; beyond that a number's exponent has
       float64's relative precision, which is also all its logarithm can have).
    """

    m: np.ndarray
    e: np.ndarray

    @classmethod
    def of(cls, x) -> Scaled:
        """Ordinary numbers (float64) as Scaled."""
        m, e = np.frexp(np.asarray(x, dtype=np.float64))
        return cls(m, e.astype(np.float64))

    def __mul__(self, other: Scaled) -> Scaled:
        m, de = np.frexp(self.m * other.m)
        return Scaled(m, self.e + other.e + de)

    def value(self) -> np.ndarray:
        """The numbers as float64 (0 below float64's range, inf above)."""
        e = np.clip(self.e, -2200, 2200).astype(np.int64)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return self.m * np.exp2(e // 2) * np.exp2(e - e // 2)

    def log10_abs(self) -> np.ndarray:
        """log10 of the absolute values: exact far beyond float64's range (-inf for 0)."""
        with np.errstate(divide="ignore"):
            return np.log10(np.abs(self.m)) + self.e * math.log10(2.0)


def _tails(kind: int, a) -> Scaled:
    from . import _kernels

    a = np.ascontiguousarray(a, dtype=np.float64)
    m, e = np.empty_like(a), np.empty_like(a)
    _kernels.tails(kind, a.reshape(-1), m.reshape(-1), e.reshape(-1))
    return Scaled(m, e)


def sigmoid_scaled(a) -> Scaled:
    """sigma(a) from the pre-activation; 1 - sigma(a) is sigmoid_scaled(-a)."""
    return _tails(0, a)


def sigmoid_derivative_scaled(a) -> Scaled:
    """sigma'(a) = sigma(a) (1 - sigma(a)) = t / (1 + t)^2, t = e^{-|a|}."""
    return _tails(1, a)


def tanh_derivative_scaled(a) -> Scaled:
    """tanh'(a) = sech^2(a) = 4u / (1 + u)^2, u = e^{-2|a|}."""
    return _tails(2, a)


def tanh_tail_scaled(a) -> Scaled:
    """1 - |tanh(a)| = 2u / (1 + u), u = e^{-2|a|}: how far tanh(a) is from +-1."""
    return _tails(3, a)


def minus_tanh_scaled(h, a) -> Scaled:
    """h - tanh(a), exact also where tanh(a) rounds to h = +-1 (a GRU's h_{t-1} - n_t when the
    state sits at +-1): h - tanh(a) = (h - s) + s (1 - |tanh a|), s = sign(a)."""
    from . import _kernels

    h, a = np.broadcast_arrays(np.asarray(h, dtype=np.float64), np.asarray(a, dtype=np.float64))
    h, a = np.ascontiguousarray(h), np.ascontiguousarray(a)
    m, e = np.empty_like(a), np.empty_like(a)
    _kernels.minus_tanh(h.reshape(-1), a.reshape(-1), m.reshape(-1), e.reshape(-1))
    return Scaled(m, e)


def activation_derivative_scaled(name: str, a) -> Scaled:
    """act'(a) from the pre-activation a, exact in the tails (see above). For relu a NaN
    pre-activation (an overflowed state) gives a NaN derivative, so an undefined Jacobian is never
    silently treated as zero; relu'(0) = 0 (torch's convention)."""
    if name not in ACT_CODES:
        raise ValueError(f"unknown activation {name!r}")
    return _tails(10 + ACT_CODES[name], a)


def activation_derivative(name: str, a) -> np.ndarray:
    """act'(a) as float64 from the pre-activation a (0 only where the true value is below
    float64's range, ~1e-308: use activation_derivative_scaled or its log10_abs beyond that)."""
    return activation_derivative_scaled(name, a).value()


def step(cell: str, activation: str, weights: dict, x, h, c=None):
    """One step of a cell on torch tensors (any leading batch dims). Returns (h', c')."""
    import torch

    gi = x @ weights["weight_ih"].T + weights["bias_ih"]
    gh = h @ weights["weight_hh"].T + weights["bias_hh"]
    if cell == "rnn":
        a = gi + gh
        act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
               "linear": lambda t: t}[activation]
        return act(a), None
    if cell == "lstm":
        i, f, g, o = (gi + gh).chunk(4, -1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        return o * torch.tanh(c_new), c_new
    if cell == "gru":
        ir, iz, in_ = gi.chunk(3, -1)
        hr, hz, hn = gh.chunk(3, -1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, None
    raise ValueError(f"unknown cell {cell!r}")


def _sigmoid_(a, out):
    """out = sigmoid(a) = 1 / (1 + exp(-a)) in one compiled pass; exp overflow for a << 0 correctly gives 0."""
    from . import _kernels

    _kernels.sigmoid(a, out)
    return out


def pre_activations(weights: dict, xh: np.ndarray) -> np.ndarray:
    """W_ih x_t + b_ih + W_hh h_{t-1} + b_hh for every step: one matmul [T, I+H] @ [I+H, G*H] -> [T, G*H]
    (the gate blocks side by side). xh [T, I+H]: each step's input and the state before it, side by side."""
    w = np.concatenate([weights["weight_ih"], weights["weight_hh"]], axis=1)
    S = xh @ w.T
    S += weights["bias_ih"] + weights["bias_hh"]
    return S


def evaluate(cell: str, activation: str, weights: dict, x, h_prev):
    """Pre-activations and gates of every step of an RNN or a GRU at once, given the states.

    x [T, I], h_prev [T, H] (the state before each step). Returns (pre, gates): dicts of [T, H] arrays
    (views into one [T, G*H] block). `pre` holds each gate's pre-activation (RNN: "a"; GRU also "hn" =
    W_hn h + b_hn, the term the reset gate multiplies). An LSTM's gates need its cell states too:
    sweeps.lstm_forward evaluates them with its cell states and derivative factors in one pass.
    """
    H = h_prev.shape[1]
    if cell == "rnn":
        return {"a": pre_activations(weights, np.concatenate([x, h_prev], axis=1))}, {}
    if cell == "gru":
        gi = x @ weights["weight_ih"].T
        gi += weights["bias_ih"]
        gh = h_prev @ weights["weight_hh"].T
        gh += weights["bias_hh"]
        rz = gi[:, :2 * H]
        rz += gh[:, :2 * H]  # reset and update pre-activations, in place
        gates_rz = _sigmoid_(rz, np.empty_like(rz))
        r = gates_rz[:, :H]
        hn = gh[:, 2 * H:]
        cand = gi[:, 2 * H:]
        cand += r * hn
        n = np.tanh(cand)
        pre = {"reset": rz[:, :H], "update": rz[:, H:], "hn": hn, "candidate": cand}
        return pre, {"reset": r, "update": gates_rz[:, H:], "candidate": n}
    raise ValueError(f"unknown cell {cell!r}")
