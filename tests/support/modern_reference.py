"""Plain float64 references for the modern cells, written from the papers' equations.

Nothing here calls rnnviz.modern or rnnviz.scan: parameters are read by name from the module, and
the recurrence runs one step at a time in torch float64 with autograd, the LRU's complex state as two
real tensors (re, im) with the multiplication written out. Returns states, outputs, per-step
transition values and ||dL/ds_k|| for the probe loss (v = ones/sqrt(S); the LRU's loss on Re x).
"""
from __future__ import annotations

import math

import numpy as np
import torch

F64 = torch.float64


def _p(module, name):
    return getattr(module, name).detach().to(F64)


def _linear(layer, x):
    out = x @ _p(layer, "weight").T
    return out + _p(layer, "bias") if layer.bias is not None else out


def _g(v):
    return torch.where(v >= 0, v + 0.5, 1.0 / (1.0 + torch.exp(-v)))


def _sig(v):
    return 1.0 / (1.0 + torch.exp(-v))


def lru(model, x):
    """x_t = lambda x_t-1 + gamma (B u_t), y_t = Re(C x_t) + D u_t (Orvieto et al. 2023, eq. 1 and Sec. 3.3)."""
    x = torch.as_tensor(x, dtype=F64)
    mod = torch.exp(-torch.exp(_p(model, "nu_log")))
    theta = torch.exp(_p(model, "theta_log"))
    lam_re, lam_im = mod * torch.cos(theta), mod * torch.sin(theta)
    gamma = torch.exp(_p(model, "gamma_log"))
    Bu_re = x @ (_p(model, "B_re") * gamma[:, None]).T
    Bu_im = x @ (_p(model, "B_im") * gamma[:, None]).T
    N = lam_re.shape[0]
    re = torch.zeros(N, dtype=F64, requires_grad=True)
    im = torch.zeros(N, dtype=F64, requires_grad=True)
    states = []
    for t in range(x.shape[0]):
        re, im = lam_re * re - lam_im * im + Bu_re[t], lam_re * im + lam_im * re + Bu_im[t]
        re.retain_grad()
        im.retain_grad()
        states.append((re, im))
    out_re = torch.stack([s[0] for s in states])
    out_im = torch.stack([s[1] for s in states])
    y = out_re @ _p(model, "C_re").T - out_im @ _p(model, "C_im").T + x @ _p(model, "D").T
    lam = (lam_re + 1j * lam_im).numpy()
    return states, {"hidden": out_re.detach().numpy(), "imag": out_im.detach().numpy(), "output": y.detach().numpy(),
                    "transition": np.broadcast_to(lam, (x.shape[0], N))}


def _real_cell(a, b):
    S = a.shape[1]
    h = torch.zeros(S, dtype=F64, requires_grad=True)
    states = []
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        h.retain_grad()
        states.append((h,))
    return states


def mingru(model, x):
    """z = sig(W_z x + b_z), h~ = g(W_h x + b_h), h = (1 - z) h + z h~ (Feng et al. 2024); negative: 1 - 2z."""
    x = torch.as_tensor(x, dtype=F64)
    z = _sig(_linear(model.linear_z, x))
    a = (1 - 2 * z) if model.negative else (1 - z)
    states = _real_cell(a, z * _g(_linear(model.linear_h, x)))
    return states, {"hidden": torch.stack([s[0] for s in states]).detach().numpy(), "transition": a.detach().numpy(),
                    "update": z.detach().numpy()}


def minlstm(model, x):
    """f, i = sig(.), f' = f / (f + i), i' = i / (f + i), h = f' h + i' h~; negative: 2 f' - 1."""
    x = torch.as_tensor(x, dtype=F64)
    f, i = _sig(_linear(model.linear_f, x)), _sig(_linear(model.linear_i, x))
    fn, in_ = f / (f + i), i / (f + i)
    a = (2 * fn - 1) if model.negative else fn
    states = _real_cell(a, in_ * _g(_linear(model.linear_h, x)))
    return states, {"hidden": torch.stack([s[0] for s in states]).detach().numpy(), "transition": a.detach().numpy(),
                    "forget": fn.detach().numpy(), "input": in_.detach().numpy()}


def s6(model, x):
    """Mamba's S6 with zero-order hold: A_bar = exp(Delta A), B_bar = (Delta A)^-1 (exp(Delta A) - 1) Delta B
    (Gu & Dao 2023, eq. 4), or Euler B_bar = Delta B; negative: 2 A_bar - 1 (Grazzi et al. 2024)."""
    x = torch.as_tensor(x, dtype=F64)
    u = _linear(model.in_proj, x)                                  # [T, D]
    delta = torch.log1p(torch.exp(_linear(model.dt_proj, u)))      # softplus
    A = -torch.exp(_p(model, "A_log"))                             # [D, N]
    B, C = _linear(model.B_proj, u), _linear(model.C_proj, u)      # [T, N]
    dA = delta[:, :, None] * A[None]                               # [T, D, N]
    A_bar = torch.exp(dA)
    if model.discretization == "zoh":
        B_bar = (torch.exp(dA) - 1) / dA * delta[:, :, None] * B[:, None, :]
    else:
        B_bar = delta[:, :, None] * B[:, None, :]
    a = 2 * A_bar - 1 if model.negative else A_bar
    T, D, N = dA.shape
    states = _real_cell(a.reshape(T, D * N), (B_bar * u[:, :, None]).reshape(T, D * N))
    h = torch.stack([s[0] for s in states])
    y = (h.reshape(T, D, N) * C[:, None, :]).sum(-1) + _p(model, "D") * u
    return states, {"hidden": h.detach().numpy(), "output": y.detach().numpy(),
                    "transition": a.reshape(T, D * N).detach().numpy()}


REFERENCES = {"lru": lru, "mingru": mingru, "minlstm": minlstm, "s6": s6}


def run(model, x, loss="last"):
    """States etc. and ||dL/ds_k|| by autograd through the step loop above."""
    states, out = REFERENCES[model.cell](model, x)
    S = states[0][0].shape[0]
    v = torch.ones(S, dtype=F64) / math.sqrt(S)
    L = states[-1][0] @ v if loss == "last" else sum(s[0] @ v for s in states)
    L.backward()
    out["grad_norm"] = np.array([math.sqrt(sum(float(p.grad.norm()) ** 2 for p in s if p.grad is not None))
                                 for s in states])   # no grad: L does not depend on it (Im x_T-1, loss "last")
    return out
