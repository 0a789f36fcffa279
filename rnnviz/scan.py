"""Diagonal linear recurrences h_t = a_t * h_{t-1} + b_t, computed three ways (torch, differentiable).

Every recurrence of `rnnviz.modern` (LRU, minGRU, minLSTM, the selective SSM) has this form: the
state is a vector, the transition a_t acts on it elementwise (a diagonal matrix), and neither a_t nor
b_t depends on h. Tensors are [..., T, S] (time second to last), real or complex; h0 is [..., S].

    linear_loop(a, b, h0)   the literal loop over t: T small steps, one after the other
    linear_scan(a, b, h0)   a parallel (associative) scan: about 2T multiply-adds in log2(T) rounds
    log_scan(log_a, log_b, log_h0)   Heinsen's scan in log space (Feng et al. 2024's minGRU/minLSTM
                            code): h_t = exp(A_t + logcumsumexp(log_b - A)_t), A_t = sum_{s<=t} log a_s;
                            positive a, b and h0 only

Why a scan works: one step is the affine map h -> a h + b, and composing two steps gives another one,
(a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2), an associative operation. `linear_scan` combines
neighbouring pairs (t = 2k, 2k+1) into one step, solves the half-length problem the same way, and
fills in the even steps from the odd ones (the recursive-doubling scan of Blelloch 1990): log2(T)
rounds of whole-tensor operations instead of T tiny ones. Only products of transitions are formed,
never quotients, so |a| <= 1 cannot overflow or divide by an underflowed product.
"""
from __future__ import annotations

import torch


def _fold_initial_state(a: torch.Tensor, b: torch.Tensor, h0) -> torch.Tensor:
    """b with a_0 * h0 added to its first step (h_0 = a_0 h0 + b_0), so the scans start from zero."""
    if h0 is None:
        return b
    first = b[..., :1, :] + a[..., :1, :] * h0.unsqueeze(-2)
    return torch.cat([first, b[..., 1:, :]], dim=-2)


def linear_loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t for t = 0..T-1, one step at a time. Returns h [..., T, S]."""
    a, b = torch.broadcast_tensors(a, b)
    h = torch.zeros_like(b[..., 0, :]) if h0 is None else h0.to(b.dtype).expand_as(b[..., 0, :])
    out = []
    # unbind once: indexing a[..., t, :] in the loop would make each step's backward allocate a
    # zero tensor the size of the whole sequence (quadratic in T)
    for a_t, b_t in zip(a.unbind(-2), b.unbind(-2)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out, dim=-2)


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The same h as `linear_loop`, by a parallel scan (differentiable; real or complex)."""
    a, b = torch.broadcast_tensors(a, b)
    return _scan(a, _fold_initial_state(a, b, None if h0 is None else h0.to(b.dtype)))


def _scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    T = b.shape[-2]
    if T == 1:
        return b
    half = T // 2
    a_even, a_odd = a[..., 0:2 * half:2, :], a[..., 1:2 * half:2, :]
    b_even, b_odd = b[..., 0:2 * half:2, :], b[..., 1:2 * half:2, :]
    # Steps 2k and 2k+1 as one step: h_{2k+1} = (a_{2k+1} a_{2k}) h_{2k-1} + (a_{2k+1} b_{2k} + b_{2k+1}).
    h_odd = _scan(a_odd * a_even, a_odd * b_even + b_odd)
    # Then every even step from the odd one before it: h_{2k} = a_{2k} h_{2k-1} + b_{2k} (h_{-1} = 0).
    rest = a[..., 2::2, :] * h_odd[..., :(T - 1) // 2, :] + b[..., 2::2, :]
    h_even = torch.cat([b[..., :1, :], rest], dim=-2)
    pairs = torch.stack([h_even[..., :half, :], h_odd], dim=-2)       # [..., half, 2, S]
    h = pairs.reshape(*pairs.shape[:-3], 2 * half, pairs.shape[-1])
    return h if T == 2 * half else torch.cat([h, h_even[..., half:, :]], dim=-2)


def log_scan(log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t for positive a, b, h0 given as logarithms (log h0 = -inf: h0 = 0).

    Heinsen (2023)'s formulation, as in Feng et al. (2024): log h_t = A_t + log(h0 + sum_{s<=t} b_s / A_s)
    with A_t = sum_{s<=t} log a_s, the sum taken by logcumsumexp. Returns h (not its log).
    A_t grows like t, so for long sequences in float32 the difference log_b - A loses digits: see
    benchmarks/bench_scan.py for how far it stays within 1e-5 of the loop.
    """
    A = torch.cumsum(log_a, dim=-2)
    terms = log_b - A
    if log_h0 is not None:
        terms = torch.cat([log_h0.unsqueeze(-2).expand_as(terms[..., :1, :]), terms], dim=-2)
        return torch.exp(A + torch.logcumsumexp(terms, dim=-2)[..., 1:, :])
    return torch.exp(A + torch.logcumsumexp(terms, dim=-2))
