"""Independent reference computations for the engine tests: plain autograd through an
explicit step-by-step loop of the torch equations, in float64. Nothing here uses rnnviz's
trace machinery."""
from __future__ import annotations

import numpy as np
import torch

NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def weights(model, dtype=torch.float64):
    return {n: getattr(model, n).detach().to(dtype) for n in NAMES}


def step(cell, activation, W, x, h, c=None):
    gi = W["weight_ih"] @ x + W["bias_ih"]
    gh = W["weight_hh"] @ h + W["bias_hh"]
    if cell == "rnn":
        a = gi + gh
        return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
                "linear": lambda t: t}[activation](a), None
    if cell == "lstm":
        H = h.shape[0]
        s = gi + gh
        i, f, g, o = (torch.sigmoid(s[:H]), torch.sigmoid(s[H:2 * H]), torch.tanh(s[2 * H:3 * H]),
                      torch.sigmoid(s[3 * H:]))
        c2 = f * c + i * g
        return o * torch.tanh(c2), c2
    H = h.shape[0]
    r = torch.sigmoid(gi[:H] + gh[:H])
    z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
    n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
    return (1 - z) * n + z * h, None


def bptt(model, x, loss="last", dtype=torch.float64):
    """States and ||dL/dh_k||, ||dL/dc_k|| by autograd through a step-by-step loop."""
    W = weights(model, dtype)
    H = model.hidden_size
    xt = torch.as_tensor(np.asarray(x), dtype=dtype)
    h = torch.zeros(H, dtype=dtype, requires_grad=True)
    c = torch.zeros(H, dtype=dtype, requires_grad=True) if model.cell == "lstm" else None
    hs, cs = [], []
    for t in range(xt.shape[0]):
        h, c = step(model.cell, model.activation, W, xt[t], h, c)
        h.retain_grad()
        hs.append(h)
        if c is not None:
            c.retain_grad()
            cs.append(c)
    v = torch.ones(H, dtype=dtype) / H ** 0.5
    L = hs[-1] @ v if loss == "last" else sum(hh @ v for hh in hs)
    L.backward()
    out = {
        "hidden": np.stack([hh.detach().numpy() for hh in hs]),
        "grad_norm": np.array([hh.grad.norm().item() for hh in hs]),
    }
    if cs:
        out["cell"] = np.stack([cc.detach().numpy() for cc in cs])
        out["cell_grad_norm"] = np.array([cc.grad.norm().item() for cc in cs])
    return out


def step_jacobians(model, x, hidden, cell_states=None):
    """d s_k / d s_{k-1} by torch.autograd.functional.jacobian at the given states (float64)."""
    W = weights(model)
    H = model.hidden_size
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    hs = torch.as_tensor(np.asarray(hidden), dtype=torch.float64)
    out = []
    for k in range(xt.shape[0]):
        h_prev = hs[k - 1] if k > 0 else torch.zeros(H, dtype=torch.float64)
        if model.cell == "lstm":
            cst = torch.as_tensor(np.asarray(cell_states), dtype=torch.float64)
            c_prev = cst[k - 1] if k > 0 else torch.zeros(H, dtype=torch.float64)

            def f(s):
                h2, c2 = step("lstm", "tanh", W, xt[k], s[:H], s[H:])
                return torch.cat([h2, c2])
            out.append(torch.autograd.functional.jacobian(f, torch.cat([h_prev, c_prev])).numpy())
        else:
            out.append(torch.autograd.functional.jacobian(
                lambda h: step(model.cell, model.activation, W, xt[k], h)[0], h_prev).numpy())
    return out


def jacobian_product_norms(jacobians, H, lstm=False):
    """||d h_{T-1} / d h_k||_2 for every k from explicit products and an SVD."""
    T = len(jacobians)
    n = jacobians[0].shape[0]
    P = np.eye(n)
    norms = np.empty(T)
    for k in range(T - 1, -1, -1):
        block = P[:H, :H] if lstm else P
        norms[k] = np.linalg.svd(block, compute_uv=False)[0]
        P = P @ jacobians[k]
    return norms
