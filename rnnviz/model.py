"""Models with torch's parameter names and layout: build one from a spec or wrap a torch module.

`RecurrentModel` holds `weight_ih` [G*H, I], `weight_hh` [G*H, H], `bias_ih`, `bias_hh` [G*H]
(G = 1 for RNN, 4 for LSTM with rows i, f, g, o, 3 for GRU with rows r, z, n) exactly as
torch.nn.RNNCell / LSTMCell / GRUCell name them, and its forward runs torch's fused kernels
(the same ones torch.nn.RNN / LSTM / GRU run), so states are bit-for-bit torch's.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from . import modern
from .cells import GATES, MODERN_CELLS, NUM_BLOCKS, step
from .spec import ModelSpec

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RecurrentModel(nn.Module):
    """A single-layer, unidirectional RNN / LSTM / GRU.

    forward(x, h0=None) takes x of shape [T, I] (one sequence) or [B, T, I] (batch first)
    and returns (output, state) like torch's modules: output [.., T, H]; state is h_n,
    or (h_n, c_n) for LSTM, each [.., H].
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, activation: str = "tanh",
                 spec: ModelSpec | None = None):
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"cell must be one of 'rnn', 'lstm', 'gru'; got {cell!r}")
        self.cell = cell
        self.activation = activation if cell == "rnn" else "tanh"
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.spec = spec
        G, H, I = NUM_BLOCKS[cell], self.hidden_size, self.input_size
        self.weight_ih = nn.Parameter(torch.zeros(G * H, I))
        self.weight_hh = nn.Parameter(torch.zeros(G * H, H))
        self.bias_ih = nn.Parameter(torch.zeros(G * H))
        self.bias_hh = nn.Parameter(torch.zeros(G * H))

    @property
    def gate_names(self) -> tuple:
        return GATES[self.cell]

    @property
    def fused(self) -> bool:
        """True when torch has a fused kernel for this cell (all but sigmoid / linear RNNs)."""
        return self.cell != "rnn" or self.activation in ("tanh", "relu")

    def extra_repr(self) -> str:
        act = f", activation={self.activation!r}" if self.cell == "rnn" else ""
        return f"cell={self.cell!r}, input_size={self.input_size}, hidden_size={self.hidden_size}{act}"

    def numpy_weights(self, dtype=np.float64) -> dict:
        return {name: getattr(self, name).detach().cpu().numpy().astype(dtype) for name in PARAM_NAMES}

    def forward(self, x: torch.Tensor, h0=None):
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
        B = x.shape[0]
        H = self.hidden_size
        if h0 is None:
            h = x.new_zeros(B, H)
            c = x.new_zeros(B, H) if self.cell == "lstm" else None
        elif self.cell == "lstm":
            h, c = h0
            h, c = h.reshape(B, H).to(x), c.reshape(B, H).to(x)
        else:
            h, c = h0.reshape(B, H).to(x), None
        params = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        if self.fused:
            # torch._VF is what torch.nn.RNN / LSTM / GRU call; stateless, so safe across threads.
            if self.cell == "lstm":
                out, hn, cn = torch._VF.lstm(x, (h[None], c[None]), params, True, 1, 0.0, self.training,
                                              False, True)
                state = (hn[0], cn[0])
            else:
                fn = {"gru": torch._VF.gru, "rnn": getattr(torch._VF, f"rnn_{self.activation}", None)}[self.cell]
                out, hn = fn(x, h[None], params, True, 1, 0.0, self.training, False, True)
                state = hn[0]
        else:
            weights = dict(zip(PARAM_NAMES, params))
            outs = []
            for t in range(x.shape[1]):
                h, _ = step(self.cell, self.activation, weights, x[:, t], h)
                outs.append(h)
            out = torch.stack(outs, 1) if outs else x.new_zeros(B, 0, H)
            state = h
        if unbatched:
            out = out[0]
            state = tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]
        return out, state

    def to_torch(self) -> nn.Module:
        """A torch.nn.RNN / LSTM / GRU (batch_first) holding a copy of these weights."""
        H, I = self.hidden_size, self.input_size
        if self.cell == "lstm":
            module = nn.LSTM(I, H, batch_first=True)
        elif self.cell == "gru":
            module = nn.GRU(I, H, batch_first=True)
        elif self.activation in ("tanh", "relu"):
            module = nn.RNN(I, H, nonlinearity=self.activation, batch_first=True)
        else:
            raise ValueError(f"torch.nn.RNN has no {self.activation!r} activation")
        with torch.no_grad():
            for name in PARAM_NAMES:
                getattr(module, name + "_l0").copy_(getattr(self, name))
        return module


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal n x n matrix (QR of a Gaussian with the sign fix), float64."""
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))


def _recurrent_block(init: str, H: int, gain: float, gen: torch.Generator) -> torch.Tensor:
    if init == "orthogonal":
        return gain * _orthogonal(H, gen)
    if init == "gaussian":
        a = torch.randn(H, H, generator=gen, dtype=torch.float64) / math.sqrt(H)
        rho = torch.linalg.eigvals(a).abs().max()
        return gain * a / rho if rho > 0 else a * 0
    if init == "identity":
        return gain * torch.eye(H, dtype=torch.float64)
    if init == "torch":
        k = 1.0 / math.sqrt(H)
        return gain * (torch.rand(H, H, generator=gen, dtype=torch.float64) * 2 * k - k)
    raise ValueError(f"unknown init {init!r}")


def build_model(spec: ModelSpec) -> RecurrentModel | modern.ModernCell:
    """Build the model a spec describes. Same spec, same numbers, in any thread.

    All randomness comes from one torch.Generator seeded with `spec.seed`, drawn in a fixed
    order: the recurrent blocks, then the input weights, then (init "torch") the biases.
    """
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"build_model needs a ModelSpec; got {type(spec).__name__}")
    if spec.cell in MODERN_CELLS:
        return build_modern(spec)
    if spec.num_layers > 1 or spec.bidirectional:
        from .deep import build_stacked

        return build_stacked(spec)
    gen = torch.Generator().manual_seed(spec.seed)
    model = RecurrentModel(spec.cell, spec.input_size, spec.hidden_size, spec.activation, spec=spec)
    with torch.no_grad():
        for name, w in draw_weights(spec, spec.input_size, gen).items():
            getattr(model, name).copy_(w)
    return model


def draw_weights(spec: ModelSpec, input_size: int, gen: torch.Generator) -> dict:
    """One layer's weights {name: float64 tensor} as the spec initialises them, drawn from `gen` in a
    fixed order: the recurrent blocks, then the input weights, then (init "torch") the biases."""
    G, H, I = NUM_BLOCKS[spec.cell], spec.hidden_size, input_size
    w_hh = torch.cat([_recurrent_block(spec.init, H, spec.recurrent_gain, gen) for _ in range(G)], 0)
    if spec.init == "torch":
        k = 1.0 / math.sqrt(H)
        w_ih = (torch.rand(G * H, I, generator=gen, dtype=torch.float64) * 2 * k - k) * spec.input_gain
        b_ih = torch.rand(G * H, generator=gen, dtype=torch.float64) * 2 * k - k
        b_hh = torch.rand(G * H, generator=gen, dtype=torch.float64) * 2 * k - k
    else:
        w_ih = torch.randn(G * H, I, generator=gen, dtype=torch.float64) / math.sqrt(I) * spec.input_gain
        b_ih = torch.zeros(G * H, dtype=torch.float64)
        b_hh = torch.zeros(G * H, dtype=torch.float64)
    if spec.cell in ("lstm", "gru"):
        # LSTM forget rows / GRU update rows are rows H:2H in torch's layout.
        b_ih[H:2 * H] = spec.forget_bias
        b_hh[H:2 * H] = 0.0
    return {"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih, "bias_hh": b_hh}


def build_modern(spec: ModelSpec):
    """The rnnviz.modern cell a spec with a modern cell describes: hidden_size is the LRU's N complex
    states (and its output's width), the minGRU's and minLSTM's H, the selective SSM's H channels (of
    d_state states each).
    The classic knobs (init, gains, activation) do not apply; an r_min above r_max is read as r_max."""
    knobs = {name: getattr(spec, name) for name in modern.CELL_KNOBS[spec.cell]}
    if spec.cell == "lru":
        knobs["r_min"] = min(spec.r_min, spec.r_max)
        knobs["output_size"] = spec.hidden_size   # y_t = Re(C x_t) + D u_t, H wide like the other cells' outputs
    return modern.build(spec.cell, spec.input_size, spec.hidden_size, seed=spec.seed, **knobs)


def from_torch(module: nn.Module) -> RecurrentModel:
    """Wrap (a copy of) the weights of a torch.nn.RNN / LSTM / GRU: a RecurrentModel for a single-layer,
    unidirectional module, an rnnviz.deep.StackedModel for a stacked, bidirectional or projected one."""
    if isinstance(module, nn.LSTM):
        cell, activation = "lstm", "tanh"
    elif isinstance(module, nn.GRU):
        cell, activation = "gru", "tanh"
    elif isinstance(module, nn.RNN):
        cell, activation = "rnn", module.nonlinearity
    else:
        raise ValueError(
            f"from_torch needs a torch.nn.RNN, LSTM or GRU module; got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional or getattr(module, "proj_size", 0):
        from .deep import stacked_from_torch

        return stacked_from_torch(module, cell, activation)
    model = RecurrentModel(cell, module.input_size, module.hidden_size, activation)
    with torch.no_grad():
        for name in PARAM_NAMES:
            src = getattr(module, name + "_l0", None)
            if src is None:  # bias=False
                getattr(model, name).zero_()
            else:
                getattr(model, name).copy_(src.detach().to(torch.float32))
    return model
