"""What `rnnviz.deep.trace_stacked` returns: `StackedTrace`, the traces of every layer and direction of a stacked /
bidirectional model with its [layers x T] grids, and the factors through time and depth it computes on demand."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from . import _kernels, sweeps

_CELL_CODE = {"rnn": 0, "lstm": 1, "gru": 2}


@dataclass(eq=False)
class StackedTrace:
    """What happened inside a stacked / bidirectional model on one sequence.

    `layers[l][d]` is the Trace of layer l in direction d (0 forwards, 1 backwards; a backward Trace
    runs in its own reading order), its gradient the total derivative of the stacked model's loss.
    The grids below are [layers, T] in sequence order. Of a projected LSTM (`projected`), each layer's Trace,
    grid and factor is at m_t = o_t * tanh(c_t) (H wide), and `output` is torch's h = W_hr m (D*P wide)."""

    cell_type: str
    activation: str
    loss: str
    num_layers: int
    bidirectional: bool
    residual: bool
    inputs: np.ndarray                 # [T, I] float32
    output: np.ndarray                 # [T, D*H] float32 (D*P projected): what the top layer passes on
    layers: list                       # [L][D] Trace
    log10_depth_grad: np.ndarray       # [D, L, T]: log10 ||D_t^(l)||, the part that arrives through depth
    log10_input_grad_norm: np.ndarray  # [T]: log10 ||dL/dx_t||
    proj_size: int = 0                 # > 0: a projected LSTM, every gradient and factor at m_t (rnnviz.projection)
    _extra: dict = field(repr=False, default_factory=dict)

    @property
    def T(self) -> int:
        return self.inputs.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.layers[0][0].hidden_size

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def projected(self) -> bool:
        """A projected LSTM: each layer's Trace, grids and factors are at m_t = o_t * tanh(c_t), before W_hr."""
        return self.proj_size > 0

    @property
    def gate_names(self) -> tuple:
        return self.layers[0][0].gate_names

    @property
    def hidden(self) -> np.ndarray:
        """The top layer's output [T, D*H] (both directions side by side): what a readout reads."""
        return self.output

    @property
    def log10_grad_norm(self) -> np.ndarray:
        """What reaches the first layer: log10 ||dL/dh_t^(1)|| of its forward direction (the gradient's reach)."""
        return self.layers[0][0].log10_grad_norm

    @property
    def log10_cell_grad_norm(self) -> np.ndarray | None:
        return self.layers[0][0].log10_cell_grad_norm

    def trace(self, layer: int, direction: int = 0):
        """The Trace of one layer in one direction."""
        return self.layers[layer][direction]

    def _grid(self, direction: int, read) -> np.ndarray | None:
        rows = [read(self.layers[layer][direction]) for layer in range(self.num_layers)]
        if rows[0] is None:
            return None
        grid = np.array(rows, dtype=np.float64)
        return grid[:, ::-1].copy() if direction else grid

    def grad_grid(self, direction: int = 0) -> np.ndarray:
        """log10 ||dL/dh_t^(l)|| over [layer, step]."""
        return self._grid(direction, lambda tr: tr.log10_grad_norm)

    def cell_grad_grid(self, direction: int = 0) -> np.ndarray | None:
        """log10 ||dL/dc_t^(l)|| (LSTM, the cell path) over [layer, step], else None."""
        return self._grid(direction, lambda tr: tr.log10_cell_grad_norm)

    def depth_grad_grid(self, direction: int = 0) -> np.ndarray:
        """log10 of the gradient's part that arrives from above (the loss, on the top layer)."""
        return self.log10_depth_grad[direction]

    def time_step_norm_grid(self, direction: int = 0) -> np.ndarray:
        """log10 ||ds_t^(l)/ds_{t-1}^(l)||_2, the factor through time of each step (s = h, or (h, c) for
        an LSTM), over [layer, step]; the backward direction's step t follows step t + 1."""
        self._factor_norms(direction)
        return self._grid(direction, lambda tr: tr.log10_step_jacobian_norm)

    def depth_step_norm_grid(self, direction: int = 0) -> np.ndarray:
        """log10 ||dh_t^(l)/dy_t^(l-1)||_2, the factor through depth (layer 0: with respect to x_t), over
        [layer, step]."""
        grid = np.array(self._factor_norms(direction))
        return grid[:, ::-1].copy() if direction else grid

    def _factor_norms(self, direction: int) -> list:
        """Each layer's factors through depth in one direction, [layer][step]. The first read of either factor
        grid computes both for every layer of the direction (each layer's Trace keeps its step norms through
        time), on the trace worker threads: the compiled loops release the GIL."""
        with self._extra.setdefault("lock", threading.Lock()):
            norms = self._extra.setdefault("depth_norms", {})
            if direction not in norms:
                row = [self.layers[layer][direction] for layer in range(self.num_layers)]
                jobs = [lambda tr=tr: _step_norms(tr) for tr in row]  # the longer ones first
                jobs += [lambda tr=tr: _depth_norms(tr._ctx) for tr in row]
                norms[direction] = _in_parallel(jobs)[len(row):]
        return norms[direction]

    @property
    def overflow(self) -> bool:
        return any(tr.overflow for row in self.layers for tr in row)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_extra"] = {k: v for k, v in self._extra.items() if k != "lock"}
        return state


def _in_parallel(jobs: list) -> list:
    """The results of the callables, in order, run on the two trace worker threads (serially when called
    from one of them: a worker waiting for its own pool could wait forever)."""
    from .trace import POOL_THREAD_PREFIX, _pool

    if len(jobs) < 2 or threading.current_thread().name.startswith(POOL_THREAD_PREFIX):
        return [job() for job in jobs]
    futures = [_pool().submit(job) for job in jobs]
    return [future.result() for future in futures]


def _step_norms(tr) -> np.ndarray:
    """tr.log10_step_jacobian_norm, kept where the Trace keeps it, computed outside the lock of
    functools.cached_property (one lock for every Trace in Python 3.11: the layers would take turns)."""
    if "log10_step_jacobian_norm" not in tr.__dict__:
        tr.__dict__["log10_step_jacobian_norm"] = sweeps.step_jacobian_norms(tr._ctx, 0)
    return tr.__dict__["log10_step_jacobian_norm"]


def _depth_norms(ctx: dict) -> np.ndarray:
    out = np.full(ctx["T"], np.nan)
    Wi, eWi = sweeps.mantissa_matrix(ctx["weight_in"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        _kernels.input_jacobian_norms(_CELL_CODE[ctx["cell"]], *ctx["factors"], *_gru_pre(ctx), Wi, eWi,
                                      sweeps.EXACT_STEP_NORM_MAX, out)
    return out


def _gru_pre(ctx: dict) -> tuple:
    """A GRU's float64 update and candidate pre-activations, C-contiguous (the one layout the compiled loops
    are cached for: a strided view would compile them again in every new process)."""
    if ctx["cell"] == "gru":
        return np.ascontiguousarray(ctx["pre64"]["update"]), np.ascontiguousarray(ctx["pre64"]["candidate"])
    dummy = np.zeros((1, 1))
    return dummy, dummy
