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
        s = gi + gh
        H = s.shape[0] // 4  # c's size (h's, but for a projected LSTM)
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

            def f(s, x=xt[k]):
                h2, c2 = step("lstm", "tanh", W, x, s[:H], s[H:])
                return torch.cat([h2, c2])
            out.append(torch.autograd.functional.jacobian(f, torch.cat([h_prev, c_prev])).numpy())
        else:
            out.append(torch.autograd.functional.jacobian(
                lambda h, x=xt[k]: step(model.cell, model.activation, W, x, h)[0], h_prev).numpy())
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


# ------------------------------------------------------------------------------------------
# mpmath: the same derivatives with unbounded exponents and 30 significant digits, at given states.
# Every factor comes from the exact pre-activation (sech, exp), so a saturated unit's derivative is a
# number like 1e-52 or 1e-3000, never 0. Small models only (H of a few units).

def _mp_sigmoid(a):
    import mpmath
    return 1 / (1 + mpmath.exp(-a))


def _mp_dsigmoid(a):
    import mpmath
    t = mpmath.exp(-abs(a))
    return t / (1 + t) ** 2


def _mp_dtanh(a):
    import mpmath
    return mpmath.sech(a) ** 2


def _mp_minus_tanh(h, a):
    """h - tanh(a), exact also where tanh(a) is 1 - 1e-60 and h is 1."""
    import mpmath
    if a == 0:
        return h
    s = 1 if a > 0 else -1
    return (h - s) + s * 2 / (1 + mpmath.exp(2 * abs(a)))


def mp_log10_norm(vec):
    import mpmath
    total = mpmath.fsum(v * v for v in vec)
    return float(mpmath.log10(total) / 2) if total != 0 else -np.inf


def mp_bptt(model, x, hidden, loss="last", h0=None, c0=None, dps=30):
    """log10 ||dL/dh_k|| (and log10 ||dL/dc_k|| for LSTM) for every k, in mpmath, at the given states
    `hidden` [T, H] (h_t as the model computed them; the LSTM's c_t is recomputed here exactly).
    L = v.h_{T-1} ("last") or sum_t v.h_t ("all"), v = ones(H)/sqrt(H). Returns a dict with
    "grad" [T], "cell_grad" [T] (LSTM: the total derivative, through c_{k+1} and through h_k), and
    "jacobians" [T] (mp matrices ds_k/ds_{k-1}, s = h or (h, c))."""
    import mpmath

    mpmath.mp.dps = dps
    mpf = mpmath.mpf
    W = {n: [[mpf(float(v)) for v in row] for row in np.atleast_2d(getattr(model, n).detach().double().numpy())]
         for n in ("weight_ih", "weight_hh")}
    B = {n: [mpf(float(v)) for v in getattr(model, n).detach().double().numpy()] for n in ("bias_ih", "bias_hh")}
    cell, act, H = model.cell, model.activation, model.hidden_size
    xs = np.asarray(x, dtype=np.float64)
    hs = np.asarray(hidden, dtype=np.float64)
    T = hs.shape[0]
    h_init = np.zeros(H) if h0 is None else np.asarray(h0, dtype=np.float64)
    c_prev = [mpf(float(v)) for v in (np.zeros(H) if c0 is None else np.asarray(c0, dtype=np.float64))]

    def row_dot(M, r, vec):
        return mpmath.fsum(M[r][j] * vec[j] for j in range(len(vec)))

    steps = []  # per step: what the backward pass needs
    for t in range(T):
        xt = [mpf(float(v)) for v in xs[t]]
        hp = [mpf(float(v)) for v in (h_init if t == 0 else hs[t - 1])]
        G = len(B["bias_ih"]) // H
        gi = [row_dot(W["weight_ih"], r, xt) + B["bias_ih"][r] for r in range(G * H)]
        gh = [row_dot(W["weight_hh"], r, hp) + B["bias_hh"][r] for r in range(G * H)]
        if cell == "rnn":
            a = [gi[j] + gh[j] for j in range(H)]
            d = {"tanh": _mp_dtanh, "sigmoid": _mp_dsigmoid, "relu": lambda v: mpf(1) if v > 0 else mpf(0),
                 "linear": lambda v: mpf(1)}[act]
            D = [d(v) for v in a]
            J = [[D[i] * W["weight_hh"][i][j] for j in range(H)] for i in range(H)]
            steps.append({"J": J})
        elif cell == "lstm":
            s = [gi[j] + gh[j] for j in range(4 * H)]
            ai, af, ag, ao = s[:H], s[H:2 * H], s[2 * H:3 * H], s[3 * H:]
            i = [_mp_sigmoid(v) for v in ai]
            f = [_mp_sigmoid(v) for v in af]
            g = [mpmath.tanh(v) for v in ag]
            o = [_mp_sigmoid(v) for v in ao]
            c = [f[j] * c_prev[j] + i[j] * g[j] for j in range(H)]
            Wh = W["weight_hh"]
            # dc/dh = diag(g s'(ai)) W_i + diag(c_prev s'(af)) W_f + diag(i tanh'(ag)) W_g
            M = [[g[r] * _mp_dsigmoid(ai[r]) * Wh[r][j] + c_prev[r] * _mp_dsigmoid(af[r]) * Wh[H + r][j]
                  + i[r] * _mp_dtanh(ag[r]) * Wh[2 * H + r][j] for j in range(H)] for r in range(H)]
            K = [o[r] * _mp_dtanh(c[r]) for r in range(H)]
            A = [[mpmath.tanh(c[r]) * _mp_dsigmoid(ao[r]) * Wh[3 * H + r][j] for j in range(H)] for r in range(H)]
            J = [[mpf(0)] * (2 * H) for _ in range(2 * H)]
            for r in range(H):
                for j in range(H):
                    J[r][j] = A[r][j] + K[r] * M[r][j]
                    J[H + r][j] = M[r][j]
                J[r][H + r] = K[r] * f[r]
                J[H + r][H + r] = f[r]
            steps.append({"J": J, "K": K})
            c_prev = c
        else:
            ar = [gi[j] + gh[j] for j in range(H)]
            az = [gi[H + j] + gh[H + j] for j in range(H)]
            hn = gh[2 * H:]
            r_ = [_mp_sigmoid(v) for v in ar]
            an = [gi[2 * H + j] + r_[j] * hn[j] for j in range(H)]
            z = [_mp_sigmoid(v) for v in az]
            one_z = [_mp_sigmoid(-v) for v in az]
            Wh = W["weight_hh"]
            J = [[one_z[q] * _mp_dtanh(an[q]) * (hn[q] * _mp_dsigmoid(ar[q]) * Wh[q][j] + r_[q] * Wh[2 * H + q][j])
                  + _mp_minus_tanh(hp[q], an[q]) * _mp_dsigmoid(az[q]) * Wh[H + q][j]
                  + (z[q] if q == j else 0) for j in range(H)] for q in range(H)]
            steps.append({"J": J})
    n = 2 * H if cell == "lstm" else H
    v = [mpf(1) / mpmath.sqrt(H)] * H
    adj = v + [mpf(0)] * (n - H)
    grad = np.empty(T)
    cgrad = np.empty(T) if cell == "lstm" else None
    for k in range(T - 1, -1, -1):
        grad[k] = mp_log10_norm(adj[:H])
        if cgrad is not None:  # dL/dc_k in total: through c_{k+1} and through h_k = o tanh(c_k)
            K = steps[k]["K"]
            cgrad[k] = mp_log10_norm([adj[H + j] + K[j] * adj[j] for j in range(H)])
        if k == 0:
            break
        J = steps[k]["J"]
        adj = [mpmath.fsum(J[r][j] * adj[r] for r in range(n)) for j in range(n)]  # J^T adj
        if loss == "all":
            adj = [adj[j] + (v[j] if j < H else 0) for j in range(n)]
    return {"grad": grad, "cell_grad": cgrad, "jacobians": [s["J"] for s in steps]}


def mp_jacobian_product_norms(jacobians, H, lstm=False, dps=30):
    """log10 ||dh_{T-1}/dh_k||_2 (c_k held fixed for LSTM) from the mp step Jacobians: explicit
    products, then the top eigenvalue of P P^T in mpmath."""
    import mpmath

    mpmath.mp.dps = dps
    T = len(jacobians)
    n = len(jacobians[0])
    P = mpmath.eye(n)
    out = np.empty(T)
    for k in range(T - 1, -1, -1):
        block = P[:H, :H] if lstm else P
        gram = block * block.T
        if all(gram[i, j] == 0 for i in range(H) for j in range(H)):
            out[k] = -np.inf
        else:
            top = max(mpmath.eigsy(gram, eigvals_only=True))
            out[k] = float(mpmath.log10(top) / 2)
        P = P * mpmath.matrix(jacobians[k])
    return out


# ------------------------------------------------------------------------------------------
# Stacked and bidirectional models: the same float64 step loop, layer after layer.

def stacked_bptt(module, x, v, residual=False, dtype=torch.float64, input_grad=False):
    """||dL/dh_t^(l)|| per layer and direction [L][D] (arrays in sequence order) and the top output, by
    autograd through a step-by-step loop over a torch.nn.RNN / LSTM / GRU's weights (state_dict
    names), for L = sum_t v[t] . y_t (v [T, D*H]); with `residual`, y^(l) = h^(l) + y^(l-1) for l > 0.
    With `input_grad`, also ||dL/dx_t|| [T] (what the first layer passes down to the inputs).
    An LSTM with a projection (weight_hr_l{k}: h_t = W_hr m_t, m_t = o_t * tanh(c_t), v [T, D*P]) gives
    ||dL/dm_t^(l)||, the gradient at the LSTM's own output before the projection."""
    sd = {k: t.detach().to(dtype) for k, t in module.state_dict().items()}
    cell = getattr(module, "cell", None) or {"LSTM": "lstm", "GRU": "gru"}.get(type(module).__name__, "rnn")
    act = getattr(module, "activation", None) or getattr(module, "nonlinearity", "tanh")
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    x = y = torch.as_tensor(np.asarray(x), dtype=dtype).requires_grad_(input_grad)
    T = y.shape[0]
    states = []
    for layer in range(L):
        outs, row = [], []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            W = {n: sd[n + sfx] for n in NAMES}
            hr = sd.get("weight_hr" + sfx)
            h = torch.zeros(H if hr is None else hr.shape[0], dtype=dtype, requires_grad=True)
            c = torch.zeros(H, dtype=dtype, requires_grad=True) if cell == "lstm" else None
            hs, ms = [None] * T, [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                m, c = step(cell, act, W, y[t], h, c)
                m.retain_grad()
                ms[t] = m
                h = m if hr is None else hr @ m
                hs[t] = h
            row.append(ms)
            outs.append(torch.stack(hs))
        states.append(row)
        out = torch.cat(outs, 1)
        y = out + y if residual and layer > 0 else out
    (y * torch.as_tensor(v, dtype=dtype)).sum().backward()
    grads = [[np.array([hh.grad.norm().item() for hh in hs]) for hs in row] for row in states]
    if input_grad:
        return grads, y.detach().numpy(), x.grad.norm(dim=1).numpy()
    return grads, y.detach().numpy()
