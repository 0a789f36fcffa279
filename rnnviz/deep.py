"""Stacked and bidirectional networks: the gradient over depth and time.

`StackedModel` holds torch's own names and layout (`weight_ih_l{k}`, `weight_hh_l{k}`, `bias_*_l{k}`,
and `..._reverse` for the backward direction of a bidirectional module); layer k > 0 reads the states
of layer k - 1 (both directions side by side, [T, D*H]). With `residual`, every layer above the first
adds its input to its output: y^(l) = h^(l) + y^(l-1). An LSTM with `proj_size` P > 0 (torch's
projection, weight_hr_l{k}: h_t = W_hr m_t with m_t = o_t * tanh(c_t)) is traced in m-space: see
rnnviz.projection.

`trace_stacked` (what `trace` runs for these models, and for the tagging loss) traces every layer and
direction with the one-layer machinery of `trace`: states from torch's fused kernel, float64
pre-activations, the factors of every step as mantissas and power-of-two exponents. The backward pass
goes from the top layer down. For layer l in direction d the total derivative is

    dL/dh_t^(l) = (through time)  the layer's own recurrence, as for one layer (sweeps.grad_sweep)
                + (through depth) D_t^(l) = W_ih^(l+1)^T dL/da_t^(l+1) [the columns of direction d]
                                            (+ dL/dy_t^(l+1) with residual connections)

with dL/da the gradient on the pre-activations of the layer above (_kernels.input_grads) and, on the
top layer, D the loss's own term. Every D is kept as a mantissa and an exponent per element, so the
whole [layers x T] grid is exact far beyond float range, as a single layer's gradient is.

The probe loss reads the top layer's output y [T, D*H] with v = ones(D*H)/sqrt(D*H):
  "last"  v . y at the final state of each direction (torch's h_n: step T-1 forwards, step 0 backwards),
  "all"   the sum over every step of v . y_t,
  "tag"   the sum over every step of v_t . y_t, one label vector per step (random signs / sqrt(D*H),
          seeded), as a tagger's per-step loss.
The backward direction's own Trace runs in its reading order (its step 0 is the sequence's last step);
the grids of StackedTrace are in sequence order.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from . import _kernels, projection, sweeps
from .cells import NUM_BLOCKS, step
from .deep_result import _CELL_CODE, StackedTrace, _gru_pre
from .model import PARAM_NAMES, RecurrentModel, _orthogonal, draw_weights
from .spec import ModelSpec

STACKED_LOSSES = ("last", "all", "tag")
LOSS_LABELS = {"last": "last step (each direction's final state)", "all": "every step, one probe",
               "tag": "tagging: a label at every step"}
DIRECTIONS = ("forward", "backward")
_TAG_SEED = 0
_BAND = 1000.0  # how far below its largest term a float64 mat-vec input may go (as in the sweeps)


def param_name(name: str, layer: int, direction: int) -> str:
    """torch's name of a parameter: weight_ih_l0, bias_hh_l2_reverse, ..."""
    return f"{name}_l{layer}{'_reverse' if direction else ''}"


class StackedModel(nn.Module):
    """num_layers recurrent layers in one or two directions, with torch's parameter names.

    forward(x, h0=None) takes x [T, I] or [B, T, I] (batch first) and returns (output, state) like
    torch's modules: output [.., T, D*H]; state h_n [L*D, .., H] (LSTM: (h_n, c_n))."""

    stacked = True  # what `trace` asks to tell this from a torch module

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, residual: bool = False, activation: str = "tanh",
                 spec: ModelSpec | None = None, proj_size: int = 0):
        super().__init__()
        if cell not in NUM_BLOCKS:
            raise ValueError(f"cell must be one of 'rnn', 'lstm', 'gru'; got {cell!r}")
        if not 1 <= int(num_layers) <= 4:
            raise ValueError(f"num_layers must be 1 to 4; got {num_layers}")
        projection.check_projection(cell, int(hidden_size), int(proj_size), residual)
        self.proj_size = int(proj_size)
        self.cell, self.activation = cell, activation if cell == "rnn" else "tanh"
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bidirectional, self.residual = int(num_layers), bool(bidirectional), bool(residual)
        self.spec = spec
        G, H, P = NUM_BLOCKS[cell], self.hidden_size, self.out_size
        for layer in range(self.num_layers):
            for d in range(self.directions):
                for name, shape in (("weight_ih", (G * H, self.width(layer))), ("weight_hh", (G * H, P)),
                                    ("bias_ih", (G * H,)), ("bias_hh", (G * H,)), ("weight_hr", (P, H))):
                    if name != "weight_hr" or self.proj_size:
                        self.register_parameter(param_name(name, layer, d), nn.Parameter(torch.zeros(shape)))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def out_size(self) -> int:
        """The width of each direction's output h_t: proj_size with a projection, else hidden_size."""
        return self.proj_size or self.hidden_size

    def width(self, layer: int) -> int:
        """What layer `layer` reads per step: the input, or every direction of the layer below."""
        return self.input_size if layer == 0 else self.directions * self.out_size

    @property
    def fused(self) -> bool:
        return self.cell != "rnn" or self.activation in ("tanh", "relu")

    @property
    def gate_names(self) -> tuple:
        return RecurrentModel.gate_names.fget(self)

    def extra_repr(self) -> str:
        act = f", activation={self.activation!r}" if self.cell == "rnn" else ""
        return (f"cell={self.cell!r}, input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, residual={self.residual}{act}"
                + (f", proj_size={self.proj_size}" if self.proj_size else ""))

    def params(self, layer: int, direction: int) -> list:
        """The layer's parameters in torch's order (a projected LSTM's weight_hr last)."""
        names = PARAM_NAMES + ("weight_hr",) if self.proj_size else PARAM_NAMES
        return [getattr(self, param_name(n, layer, direction)) for n in names]

    def layer(self, layer: int, direction: int = 0) -> RecurrentModel:
        """One layer in one direction as a RecurrentModel (a copy of its weights)."""
        if not (0 <= layer < self.num_layers and 0 <= direction < self.directions):
            raise ValueError(f"layer must be in [0, {self.num_layers - 1}] and direction in "
                             f"[0, {self.directions - 1}]")
        if self.proj_size:
            raise ValueError("a layer of a projected LSTM is not a one-layer model of its own")
        model = RecurrentModel(self.cell, self.width(layer), self.hidden_size, self.activation)
        with torch.no_grad():
            for name, p in zip(PARAM_NAMES, self.params(layer, direction)):
                getattr(model, name).copy_(p)
        return model

    def layer_weights(self, layer: int, direction: int = 0) -> LayerWeights:
        """One layer in one direction as `trace.forward` reads it: its sizes and its own parameters (no copy)."""
        return LayerWeights(self.cell, self.activation, self.width(layer), self.hidden_size, self.fused,
                            *self.params(layer, direction))

    def forward(self, x: torch.Tensor, h0=None):
        if h0 is not None:
            raise ValueError("a stacked model starts from zero states")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
        B, L, D, H = x.shape[0], self.num_layers, self.directions, self.hidden_size
        zeros = x.new_zeros(L * D, B, H)
        if self.fused and not self.residual:  # torch's own stacked kernel
            flat = [p for layer in range(L) for d in range(D) for p in self.params(layer, d)]
            if self.cell == "lstm":
                h0 = x.new_zeros(L * D, B, self.out_size)
                out, hn, cn = torch._VF.lstm(x, (h0, zeros), flat, True, L, 0.0, self.training, D == 2, True)
                state = (hn, cn)
            else:
                fn = torch._VF.gru if self.cell == "gru" else getattr(torch._VF, f"rnn_{self.activation}")
                out, state = fn(x, zeros, flat, True, L, 0.0, self.training, D == 2, True)
        else:
            y, hs, cs = x, [], []
            for layer in range(L):
                outs = []
                for d in range(D):
                    xin = y.flip(1) if d else y
                    o, h, c = _layer_forward(self.cell, self.activation, self.params(layer, d), xin, self.training)
                    outs.append(o.flip(1) if d else o)
                    hs.append(h)
                    cs.append(c)
                out = torch.cat(outs, -1)
                y = out + y if self.residual and layer > 0 else out
            out = y
            state = (torch.stack(hs), torch.stack(cs)) if self.cell == "lstm" else torch.stack(hs)
        if unbatched:
            out = out[0]
            state = tuple(s[:, 0] for s in state) if isinstance(state, tuple) else state[:, 0]
        return out, state

    def to_torch(self) -> nn.Module:
        """A torch.nn.RNN / LSTM / GRU (batch_first) with these weights (no residual connections: torch
        has none)."""
        if self.residual:
            raise ValueError("torch's recurrent modules have no residual connections")
        kw = dict(num_layers=self.num_layers, bidirectional=self.bidirectional, batch_first=True)
        if self.cell == "lstm":
            module = nn.LSTM(self.input_size, self.hidden_size, proj_size=self.proj_size, **kw)
        elif self.cell == "gru":
            module = nn.GRU(self.input_size, self.hidden_size, **kw)
        elif self.activation in ("tanh", "relu"):
            module = nn.RNN(self.input_size, self.hidden_size, nonlinearity=self.activation, **kw)
        else:
            raise ValueError(f"torch.nn.RNN has no {self.activation!r} activation")
        with torch.no_grad():
            for name, p in self.named_parameters():
                getattr(module, name).copy_(p)
        return module


class LayerWeights(NamedTuple):
    """What `trace.forward` reads of one layer, as RecurrentModel names it (a view: no module is built)."""

    cell: str
    activation: str
    input_size: int
    hidden_size: int
    fused: bool
    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_ih: torch.Tensor
    bias_hh: torch.Tensor
    weight_hr: torch.Tensor | None = None  # a projected LSTM's [P, H]


def _layer_forward(cell, activation, params, x, training):
    """One layer, one direction, over x [B, T, I]: (output [B, T, H], h_n [B, H], c_n or None)."""
    B, H = x.shape[0], params[1].shape[1]
    h = x.new_zeros(1, B, H)
    if cell == "lstm":
        out, hn, cn = torch._VF.lstm(x, (h, h), params, True, 1, 0.0, training, False, True)
        return out, hn[0], cn[0]
    if cell == "gru" or activation in ("tanh", "relu"):
        fn = torch._VF.gru if cell == "gru" else getattr(torch._VF, f"rnn_{activation}")
        out, hn = fn(x, h, params, True, 1, 0.0, training, False, True)
        return out, hn[0], None
    weights, hs, h = dict(zip(PARAM_NAMES, params)), [], h[0]
    for t in range(x.shape[1]):
        h, _ = step(cell, activation, weights, x[:, t], h)
        hs.append(h)
    return (torch.stack(hs, 1) if hs else x.new_zeros(B, 0, H)), h, None


def build_stacked(spec: ModelSpec) -> StackedModel:
    """The stacked / bidirectional model a spec describes. One torch.Generator seeded with spec.seed
    draws every layer in order (layer 0 forwards, layer 0 backwards, layer 1, ...), each as
    build_model draws a single layer, so layer 0 forwards is build_model's one-layer model.

    With the orthogonal initialisation, the weights between layers are orthogonal too: W_ih of layer
    l > 0 is input_gain times H orthonormal rows (of a Haar-random D*H x D*H orthogonal matrix, drawn
    after the layer's own weights; each gate block its own), so the input gain is the gain through
    depth as the recurrent gain is the gain through time."""
    gen = torch.Generator().manual_seed(spec.seed)
    model = StackedModel(spec.cell, spec.input_size, spec.hidden_size, spec.num_layers, spec.bidirectional,
                         spec.residual, spec.activation, spec=spec)
    G, H = NUM_BLOCKS[spec.cell], spec.hidden_size
    with torch.no_grad():
        for layer in range(model.num_layers):
            width = spec.input_size if layer == 0 else model.directions * H
            for d in range(model.directions):
                weights = draw_weights(spec, width, gen)
                if layer and spec.init == "orthogonal":
                    weights["weight_ih"] = spec.input_gain * torch.cat([_orthogonal(width, gen)[:H] for _ in range(G)])
                for name, w in weights.items():
                    getattr(model, param_name(name, layer, d)).copy_(w)
    return model


def stacked_from_torch(module: nn.Module, cell: str, activation: str) -> StackedModel:
    """A StackedModel holding a copy of a stacked or bidirectional torch module's weights."""
    model = StackedModel(cell, module.input_size, module.hidden_size, module.num_layers, module.bidirectional,
                         False, activation, proj_size=getattr(module, "proj_size", 0))
    with torch.no_grad():
        for name, p in model.named_parameters():
            src = getattr(module, name, None)
            if src is None:  # bias=False
                p.zero_()
            else:
                p.copy_(src.detach().to(torch.float32))
    return model


def as_stacked(model: RecurrentModel) -> StackedModel:
    """A one-layer RecurrentModel as a StackedModel (for the tagging loss)."""
    out = StackedModel(model.cell, model.input_size, model.hidden_size, activation=model.activation,
                       spec=model.spec)
    with torch.no_grad():
        for name, p in zip(PARAM_NAMES, out.params(0, 0)):
            p.copy_(getattr(model, name))
    return out


def loss_terms(loss: str, T: int, H: int, directions: int) -> np.ndarray:
    """The loss's own gradient on the top layer's output, [T, directions * H] float64 (see the module
    doc)."""
    width = directions * H
    v = np.zeros((T, width))
    unit = 1.0 / math.sqrt(width)
    if loss == "all":
        v[:] = unit
    elif loss == "last":
        v[T - 1, :H] = unit
        v[0, H:] = unit
    else:  # "tag"
        gen = torch.Generator().manual_seed(_TAG_SEED)
        signs = torch.randint(0, 2, (T, width), generator=gen, dtype=torch.int64).numpy() * 2 - 1
        v[:] = signs * unit
    return v


def trace_stacked(model, x, loss: str = "last", h0=None) -> StackedTrace:
    """Trace a stacked / bidirectional model (or a one-layer model with the tagging loss).

    The two directions of a layer are independent, forwards (given the layer below) and backwards (given
    dL/dy of the layer above): a large bidirectional trace runs the backward direction in a second thread
    (trace.trace_all's pool and threshold), with the same numbers."""
    from .trace import _as_input, in_turn_or_parallel, trace_work, worth_two_threads

    if isinstance(model, RecurrentModel):
        model = as_stacked(model)
    if loss not in STACKED_LOSSES:
        raise ValueError(f"loss must be 'last', 'all' or 'tag'; got {loss!r}")
    if h0 is not None:
        raise ValueError("a stacked or bidirectional model is traced from zero initial states")
    L, D, H, cell = model.num_layers, model.directions, model.hidden_size, model.cell
    x32 = _as_input(x, model.input_size)
    T = x32.shape[0]
    parallel = D == 2 and worth_two_threads(L * D * trace_work(cell, T, H))
    zeros = np.zeros(H)
    c0 = np.zeros(H) if cell == "lstm" else None
    runs = []  # [L][D] (x, Forward), in each direction's reading order
    y = x32
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for layer in range(L):
            row = in_turn_or_parallel(functools.partial(_layer_up, model, layer, y, zeros, c0), D, parallel)
            runs.append(row)
            out = np.concatenate([fw.output[::-1] if d else fw.output for d, (_, fw) in enumerate(row)], axis=1)
            below = [fw.ctx for _, fw in runs[layer - 1]] if layer else []
            for _, fw in row:  # what the layer reads of the one below (its m, with projections)
                fw.ctx["weight_in"] = projection.input_matrix(fw.ctx["weights"]["weight_ih"], below)
            y = out + y if model.residual and layer > 0 else out
        # Backward: from the top layer down. above[d][k] is dL/dy of the layer being swept, direction d's
        # columns at its step k (reading order: a backward direction's step k is the sequence's T-1-k), m * 2**e
        # per element; a layer's inputs are its own (one block, sequence order).
        P = model.out_size
        v = loss_terms(loss, T, P, D)
        top = [fw.ctx for _, fw in runs[-1]]
        Dm, De = np.frexp(np.stack([projection.to_m_space(u, ctx) for u, ctx in
                                    zip([v[:, :P], v[::-1, P:]] if D == 2 else [v], top)]))
        above = (Dm, De.astype(np.float64))
        layers, depth = [None] * L, np.empty((D, L, T))
        for layer in range(L - 1, -1, -1):
            shape = (1, T, model.input_size) if layer == 0 else (D, T, H)
            # dL/dx of each direction (the backward one's own buffer when it runs beside the forward one)
            below = [(np.empty(shape), np.empty(shape)) for _ in range(2 if parallel else 1)]
            down = functools.partial(_layer_down, runs[layer], loss, above, below, depth[:, layer], zeros, c0)
            layers[layer] = in_turn_or_parallel(down, D, parallel)
            below_m, below_e = below[0]
            if parallel:
                _kernels.add_scaled(below_m, below_e, *below[1], below_m, below_e)
            if model.residual and layer > 0:
                _kernels.add_scaled(below_m, below_e, *above, below_m, below_e)
            above = (below_m, below_e)
        log10_x = sweeps.log10_norms(above[0][0], above[1][0])
    return StackedTrace(cell, model.activation, loss, L, model.bidirectional, model.residual, x32,
                        sweeps.frozen32(y), layers, depth, log10_x, model.proj_size)


def _layer_up(model, layer: int, y: np.ndarray, zeros, c0, d: int) -> tuple:
    """The forward half of one layer in direction d over y [T, width] (sequence order): (x in the
    direction's reading order, trace.Forward)."""
    from .trace import forward

    xin = y[::-1].copy() if d else y  # a copy: one reversed row keeps its stride
    fw = forward(model.layer_weights(layer, d), xin, zeros, c0)
    fw.ctx["pre64"] = fw.pre64
    return xin, fw


def _layer_down(row: list, loss: str, above: tuple, below: list, depth: np.ndarray, zeros, c0, d: int):
    """The backward half of one layer in direction d: its sweep through time, given dL/dy of the layer
    above (above[d], the direction's columns in its reading order), its part of what it passes down (into
    below[d] when each direction has a buffer, else added into below[0] after direction 0 wrote it) and
    log10 ||D_t|| into depth[d] (sequence order). Returns the direction's Trace."""
    from .trace import _make_trace

    xin, fw = row[d]
    ctx = fw.ctx
    dm, de = above[0][d], above[1][d]
    depth[d] = sweeps.log10_norms(dm, de)[::-1] if d else sweeps.log10_norms(dm, de)
    raw = []
    log10_gh, log10_g, log10_gc = sweeps.grad_sweep(ctx, "direct", direct=(dm, de), raw=raw)
    gc = (raw[2], raw[3]) if ctx["cell"] == "lstm" else (raw[0], raw[1])
    Wi, eWi = sweeps.mantissa_matrix(ctx["weight_in"])
    own = d < len(below)
    _kernels.input_grads(_CELL_CODE[ctx["cell"]], *ctx["factors"], *_gru_pre(ctx), raw[0], raw[1], *gc,
                         Wi, eWi, _BAND, bool(d), own, *below[d if own else 0])
    return _make_trace(loss, xin, fw, zeros, c0, log10_gh, log10_g, log10_gc)


def scenario_traces(scenario, loss: str, cells: tuple) -> dict:
    """{cell: StackedTrace} of a Scenario's model (its spec's layers, directions and skips) built with
    each of these cells, on the scenario's input, with a loss of STACKED_LOSSES."""
    from .model import build_model

    x = scenario.inputs()
    return {cell: trace_stacked(build_model(scenario.spec.replace(cell=cell)), x, loss=loss) for cell in cells}
