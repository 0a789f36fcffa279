"""What a trace records: the `Trace` of one recurrent model on one sequence, and what it computes when read.

`rnnviz.trace.trace` fills it in. States, gates and the gradient are stored; Jacobian product norms, each
step's Jacobian and the spectrum of W_hh are computed when first read (by sweeps and dynamics) and kept.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import cells, dynamics, sweeps
from .cells import GATE_ACTIVATION, GATES

_TRACE_LOCK = threading.Lock()  # guards the creation of each trace's own lock
LOG10_F32_MAX = math.log10(float(np.finfo(np.float32).max))  # 38.53


@dataclass(eq=False)
class Trace:
    """What happened inside a recurrent model on one sequence. Arrays are time first.

    Entry k describes the state after reading x[k]. The probe loss is L = v.h_{T-1}
    (loss="last") or the sum of v.h_k over all k (loss="all"), with v = ones(H)/sqrt(H).
    """

    cell_type: str
    activation: str
    loss: str
    inputs: np.ndarray          # [T, I] float32
    hidden: np.ndarray          # [T, H] float32
    cell: np.ndarray | None     # [T, H] float32 (LSTM) or None
    gates: dict                 # name -> [T, H] float32
    pre: dict                   # gate pre-activations, name -> [T, H] float32
    h0: np.ndarray
    c0: np.ndarray | None
    log10_grad_norm: np.ndarray           # [T] float64
    log10_cell_grad_norm: np.ndarray | None
    log10_grad_hidden: np.ndarray         # [T, H] float32: log10 |dL/dh_k| per unit
    forward_overflow_step: int | None     # first step whose state is not finite in float32
    _ctx: dict = field(repr=False, default_factory=dict)

    # ----- sizes -------------------------------------------------------------------
    @property
    def T(self) -> int:
        return self.hidden.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.hidden.shape[1]

    @property
    def gate_names(self) -> tuple:
        return GATES[self.cell_type]

    # ----- gradients ---------------------------------------------------------------
    @property
    def grad_norm(self) -> np.ndarray:
        """||dL/dh_k||_2 (total derivative through time); inf where beyond float64."""
        return _pow10(self.log10_grad_norm)

    @property
    def cell_grad_norm(self) -> np.ndarray | None:
        """||dL/dc_k||_2 for LSTM (the cell path), else None."""
        return None if self.log10_cell_grad_norm is None else _pow10(self.log10_cell_grad_norm)

    @property
    def _lock(self) -> threading.Lock:
        """This trace's own lock (created on first use; not pickled)."""
        with _TRACE_LOCK:
            return self.__dict__.setdefault("_lock_obj", threading.Lock())

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock_obj", None)
        return state

    @cached_property
    def log10_jacobian_norm(self) -> np.ndarray:
        """log10 ||dh_{T-1}/dh_k||_2 for k = 0..T-1 (last entry 0). For LSTM c_k is held fixed."""
        return self.jacobian_norms(None)

    def jacobian_norms(self, max_lag: int | None = None) -> np.ndarray:
        """log10 ||dh_{T-1}/dh_k||_2 for the lags 0..max_lag only (NaN further back).

        The sweep costs O(H^3) per step; a page can bound its time by bounding the lag.
        Results are kept, so a later call with a smaller lag (or the full property) reuses them.
        """
        T = self.T
        lag = T - 1 if max_lag is None else max(0, min(int(max_lag), T - 1))
        with self._lock:  # traces are shared between sessions: one sweep, not one per visitor
            have = self.__dict__.get("_jac_partial")
            if have is None or have[0] < lag:
                have = (lag, sweeps.jacobian_sweep(self._ctx, T - 1 - lag))
                self.__dict__["_jac_partial"] = have
                if lag == T - 1:
                    self.__dict__["log10_jacobian_norm"] = have[1]
        out = have[1].copy()
        out[:T - 1 - lag] = np.nan
        return out

    @property
    def jacobian_norm(self) -> np.ndarray:
        return _pow10(self.log10_jacobian_norm)

    @cached_property
    def log10_step_jacobian_norm(self) -> np.ndarray:
        """log10 ||ds_k/ds_{k-1}||_2 of each step's Jacobian (s = h, or (h, c) for LSTM).

        Entry 0 is the Jacobian with respect to the initial state. Their running sum
        bounds the log norm of the product: ||prod J|| <= prod ||J||.
        """
        return sweeps.step_jacobian_norms(self._ctx, 0)

    def step_jacobian_norms(self, last: int | None = None) -> np.ndarray:
        """log10 ||ds_k/ds_{k-1}||_2 for the last `last` steps only (NaN before); kept for reuse."""
        if last is None or last >= self.T or "log10_step_jacobian_norm" in self.__dict__:
            return self.log10_step_jacobian_norm
        last = max(0, int(last))
        with self._lock:
            have = self.__dict__.get("_step_partial")
            if have is None or have[0] < last:
                have = (last, sweeps.step_jacobian_norms(self._ctx, self.T - last))
                self.__dict__["_step_partial"] = have
        out = have[1].copy()
        out[:self.T - last] = np.nan
        return out

    @property
    def step_jacobian_norm(self) -> np.ndarray:
        return _pow10(self.log10_step_jacobian_norm)

    def step_jacobian(self, k: int) -> np.ndarray:
        """The Jacobian ds_k/ds_{k-1} of step k as a float64 matrix (2H x 2H for LSTM)."""
        return sweeps.step_jacobian(self._ctx, k)

    def step_terms(self, t: int, unit: int) -> dict:
        """The numbers inside one unit's equations at step t, for showing the equations live.

        Returns {"x_term": {gate: (W_i? x_t)_j + b_i?}, "h_term": {gate: (W_h? h_{t-1})_j + b_h?},
        "pre": {gate: pre-activation}, "value": {gate: gate value}, "one_minus": {sigmoid gate: 1 - its
        value}, "h_prev", "h", and for LSTM "c_prev", "c"}; pre-activations, gates and 1 - gate in
        float64 from the terms (1 - z is sigma(-a_z): not 0 where z rounds to 1). Gate names as in
        `gates` ("a" for a plain RNN). For GRU the candidate's h_term is the term the reset gate
        multiplies, (W_hn h_{t-1})_j + b_hn.
        """
        T, H = self.T, self.hidden_size
        if not (0 <= t < T and 0 <= unit < H):
            raise ValueError(f"t must be in [0, {T - 1}] and unit in [0, {H - 1}]")
        w = self._ctx["weights"]
        x = self.inputs[t].astype(np.float64)
        h_prev = (self.h0 if t == 0 else self.hidden[t - 1]).astype(np.float64)
        names = self.gate_names or ("a",)
        out = {"x_term": {}, "h_term": {}, "pre": {}, "value": {}, "one_minus": {}, "h_prev": float(h_prev[unit]),
               "h": float(self.hidden[t, unit])}
        for g, name in enumerate(names):
            row = g * H + unit
            out["x_term"][name] = _weighted_sum(w["weight_ih"][row], x) + float(w["bias_ih"][row])
            out["h_term"][name] = _weighted_sum(w["weight_hh"][row], h_prev) + float(w["bias_hh"][row])
            # the pre-activation in float64 (the GRU's candidate: its h_term times the reset gate)
            gate = out["value"].get("reset", 1.0) if name == "candidate" and self.cell_type == "gru" else 1.0
            pre = out["x_term"][name] + gate * out["h_term"][name]
            out["pre"][name] = pre
            if name == "a":
                out["value"][name] = out["h"]
            elif GATE_ACTIVATION.get(name) == "tanh":
                out["value"][name] = math.tanh(pre)
            else:  # a sigmoid gate, and 1 minus it as sigma(-a): exact where the gate rounds to 1
                out["value"][name] = float(cells.sigmoid_scaled(np.array([pre])).value()[0])
                out["one_minus"][name] = float(cells.sigmoid_scaled(np.array([-pre])).value()[0])
        if self.cell is not None:
            out["c_prev"] = float((self.c0 if t == 0 else self.cell[t - 1])[unit])
            out["c"] = float(self.cell[t, unit])
        return out

    # ----- spectrum and bound ----------------------------------------------------------
    @cached_property
    def _spectrum(self):
        block = dynamics.recurrent_block(self._ctx["weights"]["weight_hh"], self.cell_type)
        return dynamics.spectrum(block)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of W_hh (RNN) or of its candidate block (LSTM W_hg, GRU W_hn)."""
        return self._spectrum[0]

    @property
    def singular_values(self) -> np.ndarray:
        return self._spectrum[1]

    @property
    def spectral_radius(self) -> float:
        return float(np.max(np.abs(self.eigenvalues))) if self.eigenvalues.size else 0.0

    @property
    def sigma_max(self) -> float:
        return float(self.singular_values[0]) if self.singular_values.size else 0.0

    @property
    def gamma(self) -> float:
        return dynamics.gamma(self.cell_type, self.activation)

    @property
    def log10_pascanu_bound(self) -> np.ndarray | None:
        """log10 (gamma sigma_max)^(T-1-k); an upper bound on jacobian_norm (RNN only, else None)."""
        if self.cell_type != "rnn":
            return None
        return dynamics.log10_pascanu_bound(self.T, self.gamma, self.sigma_max)

    @property
    def pascanu_bound(self) -> np.ndarray | None:
        b = self.log10_pascanu_bound
        return None if b is None else _pow10(b)

    # ----- overflow ------------------------------------------------------------------
    @property
    def backward_overflow_step(self) -> int | None:
        """Latest step whose gradient norm exceeds float32's range (where torch's float32
        backward would return inf), or None."""
        arrays = [self.log10_grad_norm]
        if self.log10_cell_grad_norm is not None:
            arrays.append(self.log10_cell_grad_norm)
        bad = np.zeros(self.T, dtype=bool)
        for a in arrays:
            bad |= ~(a <= LOG10_F32_MAX) & ~np.isneginf(a)
        idx = np.nonzero(bad)[0]
        return int(idx[-1]) if idx.size else None

    @property
    def overflow(self) -> bool:
        """True when a state (forward) or the gradient of the probe loss (backward) left
        float32's range, or is undefined. The Jacobian products are a separate readout: their
        size is in `log10_jacobian_norm`, which stays exact far beyond float range."""
        if self.forward_overflow_step is not None or self.backward_overflow_step is not None:
            return True
        return False

    # ----- summaries ---------------------------------------------------------------------
    def memory_horizon(self, fraction: float = 1e-3) -> int | None:
        return dynamics.memory_horizon(self.log10_grad_norm, fraction)

    @property
    def gradient_explodes(self) -> bool:
        """The gradient grows going back in time (by over 1000× past its value at the last step, or
        beyond float32): a memory horizon that is never reached means useless memory, not perfect."""
        g = self.log10_grad_norm
        return self.backward_overflow_step is not None or bool(np.nanmax(g) > g[-1] + 3)

    def saturation(self, low: float = 0.1, high: float = 0.9) -> dict:
        return dynamics.saturation(self.gates, low, high)


def _weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """weights · values where a zero weight adds nothing, even against a state that overflowed to inf
    (0 · inf would be NaN); inf − inf stays NaN (undefined)."""
    used = weights != 0
    with np.errstate(invalid="ignore", over="ignore"):
        return float(weights[used] @ values[used])


def _pow10(log10_values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.power(10.0, log10_values)
