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
`evaluate` works on whole sequences once the states are known.
"""
from __future__ import annotations

import numpy as np

GATES = {
    "rnn": (),
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
}
NUM_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
# Bound of the activation's derivative (Pascanu et al. 2013): |act'(a)| <= gamma.
GAMMA = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25}
GATE_SYMBOL = {"input": "i", "forget": "f", "candidate": "g", "output": "o",
               "reset": "r", "update": "z"}


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


def activation_derivative(name: str, a, out=None):
    """act'(a) given the pre-activation `a` (and optionally `out` = act(a)).

    For relu a NaN pre-activation (an overflowed state) gives a NaN derivative, so an
    undefined Jacobian is never silently treated as zero.
    """
    if name == "tanh":
        y = np.tanh(a) if out is None else out
        return 1.0 - y * y
    if name == "relu":
        d = (a > 0).astype(np.result_type(a, np.float32))
        d[np.isnan(a)] = np.nan
        return d
    if name == "sigmoid":
        y = sigmoid(a) if out is None else out
        return y * (1.0 - y)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(f"unknown activation {name!r}")


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
    """out = sigmoid(a), in place (no temporaries); exp overflow for a << 0 correctly gives 0."""
    np.negative(a, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def evaluate(cell: str, activation: str, weights: dict, x, h_prev, c_prev=None, c=None):
    """Pre-activations and gates of every step at once, given the states.

    x [T, I], h_prev [T, H] (the state before each step). For RNN and LSTM all gate
    pre-activations are one matmul [T, I+H] @ [I+H, G*H]. Returns (pre, gates): dicts of
    [T, H] arrays (views into one [T, G*H] block). `pre` holds each gate's pre-activation
    (RNN: "a"; GRU also "hn" = W_hn h + b_hn, the term the reset gate multiplies).
    """
    H = h_prev.shape[1]
    if cell in ("rnn", "lstm"):
        xh = np.concatenate([x, h_prev], axis=1)
        w = np.concatenate([weights["weight_ih"], weights["weight_hh"]], axis=1)
        S = xh @ w.T
        S += weights["bias_ih"] + weights["bias_hh"]
        if cell == "rnn":
            return {"a": S}, {}
        G = np.empty_like(S)
        _sigmoid_(S[:, :2 * H], G[:, :2 * H])
        np.tanh(S[:, 2 * H:3 * H], out=G[:, 2 * H:3 * H])
        _sigmoid_(S[:, 3 * H:], G[:, 3 * H:])
        names = GATES["lstm"]
        pre = {name: S[:, k * H:(k + 1) * H] for k, name in enumerate(names)}
        return pre, {name: G[:, k * H:(k + 1) * H] for k, name in enumerate(names)}
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
