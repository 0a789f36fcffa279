"""The numbers the "Beyond LSTM" page shows, computed from the modern cells' exact traces (no Streamlit).

    radius_sweep(radii, T)        an LRU with every |λ| = r: its measured memory horizon against r,
                                  and the closed form ln(fraction) / ln r
    state_size(radii, T)          the LRU's state on white noise with and without the γ normalisation,
                                  measured, and the closed form ‖B‖ γ / √(1 − r²)
    parity_counter(bits, negative) a one-unit minGRU whose weights count 1-bits: with transitions in
                                  [−1, 1] its state is the parity of the bits so far; with the same
                                  weights in [0, 1] it can only say whether a 1 has been seen
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .modern import LRU, MinGRU
from .modern_trace import ModernTrace, trace


@dataclass(frozen=True)
class RadiusSweep:
    radii: np.ndarray        # [R] |λ| of every eigenvalue of the LRU
    measured: np.ndarray     # [R] memory horizon of its trace (steps; NaN: not reached within T)
    closed_form: np.ndarray  # [R] ln(fraction) / ln r, where |λ|^k falls to the fraction
    fraction: float
    T: int


def _ring(r: float, N: int, seed: int, normalize: bool = True, max_phase: float = 2 * math.pi) -> LRU:
    return LRU(1, N, r_min=r, r_max=r, max_phase=max_phase, normalize=normalize, seed=seed)


def radius_sweep(radii, T: int = 1000, fraction: float = 1e-3, N: int = 8, seed: int = 0) -> RadiusSweep:
    """The memory horizon (steps back until ‖∂L/∂x_k‖ falls below `fraction` of its value at the last
    step, loss on the last step) of an LRU whose eigenvalues all have modulus r, for each r in `radii`."""
    radii = np.asarray(radii, dtype=np.float64)
    x = np.zeros((T, 1), dtype=np.float32)
    measured = np.full(radii.shape, np.nan)
    for i, r in enumerate(radii):
        h = trace(_ring(float(r), N, seed), x).memory_horizon(fraction)
        measured[i] = np.nan if h is None else h
    with np.errstate(divide="ignore"):
        closed = math.log(fraction) / np.log(radii)
    return RadiusSweep(radii, measured, closed, fraction, T)


@dataclass(frozen=True)
class StateSize:
    radii: np.ndarray
    measured: dict           # {"on": [R], "off": [R]} root-mean-square |x_t| over the second half of T
    closed_form: dict        # the same from E|x|² = γ² ‖B‖² / (1 − r²) for unit white noise


def state_size(radii, T: int = 20000, N: int = 8, seed: int = 0) -> StateSize:
    """How large the LRU's state grows on unit white noise, with γ = √(1 − |λ|²) (on) and γ = 1 (off).

    For x_t = λ x_t-1 + γ b u_t with white u (variance 1), E|x_t|² → γ² |b|² / (1 − |λ|²): with the
    normalisation that is |b|² whatever |λ|; without it, it grows like 1 / (1 − |λ|²)."""
    radii = np.asarray(radii, dtype=np.float64)
    u = torch.randn(T, 1, generator=torch.Generator().manual_seed(seed)).numpy()
    measured, closed = {}, {}
    for mode in ("on", "off"):
        rms, cf = np.empty(radii.shape), np.empty(radii.shape)
        for i, r in enumerate(radii):
            cell = _ring(float(r), N, seed, normalize=mode == "on")
            tr = trace(cell, u)
            x = tr.hidden[T // 2:].astype(np.float64) + 1j * tr.extras["imag"][T // 2:]
            rms[i] = math.sqrt(float(np.mean(np.abs(x) ** 2)))
            b2 = float((cell.B_re.detach().double() ** 2 + cell.B_im.detach().double() ** 2).sum() / N)
            gamma2 = 1.0 - r * r if mode == "on" else 1.0
            cf[i] = math.sqrt(gamma2 * b2 / (1.0 - r * r))
        measured[mode], closed[mode] = rms, cf
    return StateSize(radii, measured, closed)


COUNT_LOGIT = 12.0   # the write gate's logit on a 1-bit (and minus it on a 0-bit): sigmoid(12) = 0.999994
CANDIDATE = 2.0      # what the cell writes on a 1-bit: g(1.5) = 2


def parity_cell(negative: bool) -> MinGRU:
    """A minGRU with one unit and one input whose weights count 1-bits. Write-gate logit k = ±12
    (+ on a 1, − on a 0), candidate h~ = 2 on a 1. Transition a = sigmoid(−k) in [0, 1] or, with
    `negative`, −tanh(k/2) in [−1, 1]:
        [−1, 1]   a ≈ −1 on a 1, +1 on a 0:  h_t = 2 − h_t-1 on a 1, so h ≈ 2 after an odd count, 0 after an even
        [0, 1]    a ≈ 0 on a 1,  1 on a 0:   h_t = 2 on a 1 and stays: h says whether a 1 has been seen
    """
    cell = MinGRU(1, 1, negative=negative)
    with torch.no_grad():
        cell.linear_z.weight.fill_(2 * COUNT_LOGIT)
        cell.linear_z.bias.fill_(-COUNT_LOGIT)
        cell.linear_h.weight.fill_(1.5)
        cell.linear_h.bias.fill_(0.0)
    return cell


def parity_bits(T: int, seed: int = 0) -> np.ndarray:
    """T random bits [T, 1] float32, seeded."""
    return torch.randint(0, 2, (T, 1), generator=torch.Generator().manual_seed(seed)).to(torch.float32).numpy()


@dataclass(frozen=True)
class ParityRun:
    bits: np.ndarray         # [T] 0/1
    parity: np.ndarray       # [T] parity of the bits so far
    trace: ModernTrace       # the cell's exact trace (loss on the last step)
    read: np.ndarray         # [T] the cell's answer: h_t > 1 (half of CANDIDATE)
    accuracy: float          # share of steps where read == parity


def parity_counter(bits, negative: bool) -> ParityRun:
    """Run parity_cell(negative) over `bits` [T] or [T, 1] of 0 and 1."""
    x = np.asarray(bits, dtype=np.float32).reshape(-1, 1)
    tr = trace(parity_cell(negative), x)
    parity = np.cumsum(x[:, 0] > 0.5) % 2
    read = (tr.hidden[:, 0] > CANDIDATE / 2).astype(int)
    return ParityRun(x[:, 0].astype(int), parity, tr, read, float(np.mean(read == parity)))
