"""Compiled inner loops of the trace: the backward sweeps through time.

Backpropagation through time is a sequential loop of small vector operations; in plain
Python the per-operation overhead dominates, so these loops are compiled with numba.
Each kernel is the literal recurrence written in `rnnviz.trace`'s docstring, with the
per-step elementwise factors precomputed (vectorised) by the caller.

Adjoints are kept as a mantissa array and a power-of-two exponent `e` (true value =
array * 2**e): whenever the largest entry leaves [2**-limit, 2**limit] the array is
rescaled exactly. So norms stay exact far beyond float64's range.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_OPTS = dict(cache=True, nogil=True)


@njit(**_OPTS)
def _rescale_exponent(mx, limit):
    """Exponent s with mx * 2**-s in [0.5, 1) when mx is outside [2**-limit, 2**limit], else 0."""
    if math.isnan(mx) or math.isinf(mx):
        return 0
    if mx > 2.0 ** limit or (mx > 0.0 and mx < 2.0 ** -limit):
        return math.frexp(mx)[1]
    return 0


@njit(**_OPTS)
def _scale(arr, s):
    """arr *= 2**-s exactly (two steps so that 2**-s itself never under/overflows)."""
    half = s // 2
    a = math.ldexp(1.0, -half)
    b = math.ldexp(1.0, -(s - half))
    flat = arr.reshape(-1)
    for i in range(flat.size):
        flat[i] = flat[i] * a * b


@njit(**_OPTS)
def _add_direct(dh, v, e):
    """dh += v * 2**-e (the direct term of loss "all" in the current scale)."""
    if e > 1100:
        return
    if e < -1000:
        e = -1000
    half = e // 2
    a = math.ldexp(1.0, -half)
    b = math.ldexp(1.0, -(e - half))
    for j in range(dh.size):
        dh[j] += v[j] * a * b


@njit(**_OPTS)
def lstm_cell_states(f, ig, c0, out):
    """c_t = f_t * c_{t-1} + i_t * g_t for every t."""
    T, H = f.shape
    c = c0.copy()
    for t in range(T):
        for j in range(H):
            c[j] = f[t, j] * c[j] + ig[t, j]
            out[t, j] = c[j]


@njit(**_OPTS)
def rnn_forward(gi, W_T, h0, act, out):
    """h_t = act(gi_t + h_{t-1} W_hh^T); act: 0 tanh, 1 relu, 2 sigmoid, 3 linear."""
    T, H = gi.shape
    h = h0.copy()
    for t in range(T):
        a = gi[t] + np.dot(h, W_T)
        for j in range(H):
            x = a[j]
            if act == 0:
                x = math.tanh(x)
            elif act == 1:
                if x <= 0.0:  # NaN stays NaN: an overflowed state has no defined derivative
                    x = 0.0
            elif act == 2:
                x = 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))
            h[j] = x
            out[t, j] = x


@njit(**_OPTS)
def relu_forward_scaled(gi, W_T, h0, out, D):
    """h_t = relu(gi_t + h_{t-1} W_hh^T) with h kept as mantissa * 2**e, so the signs of the
    pre-activations (D[t] = relu'(a_t)) stay exact after h has left float64's range (relu is
    positively homogeneous: relu(2**e a) = 2**e relu(a)). out[t] = h_t, inf where it overflows."""
    T, H = gi.shape
    m = h0.copy()
    e = 0
    for t in range(T):
        a = np.dot(m, W_T)
        if e < 1100:  # the input's share in the current scale (nothing once h is 2**1100 larger)
            half = e // 2
            sa = math.ldexp(1.0, -half)
            sb = math.ldexp(1.0, -(e - half))
            for j in range(H):
                a[j] += gi[t, j] * sa * sb
        mx = 0.0
        for j in range(H):
            x = a[j]
            D[t, j] = 1.0 if x > 0.0 else 0.0
            m[j] = x if x > 0.0 else 0.0
            if m[j] > mx:
                mx = m[j]
        if mx > 2.0 ** 100:  # only ever scaled down: small states are plain float64
            s = math.frexp(mx)[1]
            _scale(m, s)
            e += s
        for j in range(H):
            out[t, j] = math.ldexp(m[j], e) if e > 0 else m[j]


# ----------------------------------------------------------------------------------------
# Gradient sweeps: one adjoint row, float64. out_h[k] * 2**exps[k] = dL/dh_k.
@njit(**_OPTS)
def grad_sweep_rnn(W, D, v, every, out_h, exps):
    T, H = D.shape
    dh = v.copy()
    a = np.empty(H, dtype=W.dtype)  # the mat-vec runs in W's precision; the adjoint stays float64
    e = 0
    for k in range(T - 1, -1, -1):
        mx = 0.0
        for j in range(H):
            x = abs(dh[j])
            if x > mx or math.isnan(x):
                mx = x
        s = _rescale_exponent(mx, 100)
        if s != 0:
            _scale(dh, s)
            e += s
        out_h[k] = dh
        exps[k] = e
        if k == 0:
            break
        for j in range(H):
            a[j] = dh[j] * D[k, j]
        dh = np.dot(a, W).astype(np.float64)
        if every:
            _add_direct(dh, v, e)


@njit(**_OPTS)
def grad_sweep_lstm(W, B3, Bo, K, F, v, every, out_h, out_c, exps):
    T, _, H = B3.shape
    dh = v.copy()
    dc = np.zeros(H)
    carry = np.zeros(H)
    buf = np.empty(4 * H, dtype=W.dtype)
    e = 0
    for k in range(T - 1, -1, -1):
        mx = 0.0
        for j in range(H):
            dc[j] = dh[j] * K[k, j] + carry[j]
            x = max(abs(dh[j]), abs(dc[j]))
            if x > mx or math.isnan(dh[j]) or math.isnan(dc[j]):
                mx = x if not (math.isnan(dh[j]) or math.isnan(dc[j])) else np.nan
        s = _rescale_exponent(mx, 100)
        if s != 0:
            _scale(dh, s)
            _scale(dc, s)
            e += s
        out_h[k] = dh
        out_c[k] = dc
        exps[k] = e
        if k == 0:
            break
        for j in range(H):
            buf[j] = dc[j] * B3[k, 0, j]
            buf[H + j] = dc[j] * B3[k, 1, j]
            buf[2 * H + j] = dc[j] * B3[k, 2, j]
            buf[3 * H + j] = dh[j] * Bo[k, j]
            carry[j] = dc[j] * F[k, j]
        dh = np.dot(buf, W).astype(np.float64)
        if every:
            _add_direct(dh, v, e)


@njit(**_OPTS)
def grad_sweep_gru(W, B3, Z, v, every, out_h, exps):
    T, _, H = B3.shape
    dh = v.copy()
    buf = np.empty(3 * H, dtype=W.dtype)
    e = 0
    for k in range(T - 1, -1, -1):
        mx = 0.0
        for j in range(H):
            x = abs(dh[j])
            if x > mx or math.isnan(x):
                mx = x
        s = _rescale_exponent(mx, 100)
        if s != 0:
            _scale(dh, s)
            e += s
        out_h[k] = dh
        exps[k] = e
        if k == 0:
            break
        for j in range(H):
            buf[j] = dh[j] * B3[k, 0, j]
            buf[H + j] = dh[j] * B3[k, 1, j]
            buf[2 * H + j] = dh[j] * B3[k, 2, j]
        new = np.dot(buf, W).astype(np.float64)
        for j in range(H):
            new[j] += dh[j] * Z[k, j]
        dh = new
        if every:
            _add_direct(dh, v, e)


# ----------------------------------------------------------------------------------------
# Jacobian sweeps: H adjoint rows P = dh_{T-1}/dh_k, spectral norm of each by warm-started
# power iteration. out[k] = log10 ||dh_{T-1}/dh_k||_2.
@njit(**_OPTS)
def exact_norm(P, u):
    """Largest singular value of P from the top eigenpair of the Gram matrix P P^T (float64).
    Also points u (m) at the top left singular vector."""
    P64 = P.astype(np.float64)
    vals, vecs = np.linalg.eigh(np.dot(P64, P64.T))
    for r in range(u.size):
        u[r] = vecs[r, -1]
    return math.sqrt(max(vals[-1], 0.0))


# A fixed, dense, sign-mixed vector (values of a low-discrepancy sequence, not random: the
# same matrix always gives the same number).
_START_MIX = 1e-2  # weight of the dense component in the start vector
_DENSE = np.array([((i * 0.6180339887498949 + 0.3) % 1.0) - 0.5 for i in range(97)])


@njit(**_OPTS)
def spectral_norm(P, u, tol, max_iter):
    """Largest singular value of P (m x n).

    max_iter = 0: exact (eigen-decomposition of P P^T). Otherwise Lanczos on A = P P^T with
    full reorthogonalisation, started from the left vector u, which is updated in place to the
    top Ritz vector so the next call (the next, similar matrix) starts close to the answer.
    Lanczos estimates rise monotonically to sigma_max^2 and converge fast even when the top
    singular values are close. If they have not settled to `tol` after `max_iter` steps the
    exact computation takes over.
    """
    for x in P.reshape(-1):
        if not math.isfinite(x):
            return np.nan
    if max_iter == 0:
        return exact_norm(P, u)
    m = P.shape[0]
    K = min(max_iter, m)
    Q = np.zeros((K + 1, m))
    alpha = np.zeros(K)
    beta = np.zeros(K)
    q = u.astype(np.float64)
    qn = math.sqrt(np.sum(q * q))
    if qn == 0.0 or not math.isfinite(qn):
        return exact_norm(P, u)
    # The warm start alone can be an exact eigenvector of P P^T that is not the top one (P
    # diagonal, as with identity init): its Krylov space is then one-dimensional and Lanczos
    # would stop at the wrong value. A fixed dense component in every direction prevents that;
    # a check against a lower bound of sigma_max below catches what is left.
    for r in range(m):
        q[r] = q[r] / qn + _START_MIX * _DENSE[r % _DENSE.size] / math.sqrt(m)
    qn = math.sqrt(np.sum(q * q))
    q = q / qn
    Q[0] = q
    prev = -1.0
    est = 0.0
    vec = np.zeros(1)
    j_last = 0
    for j in range(K):
        w = np.dot(q.astype(P.dtype), P)
        z = np.dot(P, w).astype(np.float64)
        a = np.dot(q, z)
        alpha[j] = a
        for i in range(j + 1):  # full reorthogonalisation (twice is enough)
            z -= np.dot(Q[i], z) * Q[i]
        for i in range(j + 1):
            z -= np.dot(Q[i], z) * Q[i]
        b = math.sqrt(np.sum(z * z))
        Tm = np.zeros((j + 1, j + 1))
        for i in range(j + 1):
            Tm[i, i] = alpha[i]
            if i < j:
                Tm[i, i + 1] = beta[i]
                Tm[i + 1, i] = beta[i]
        vals, vecs = np.linalg.eigh(Tm)
        est = vals[-1]
        vec = vecs[:, -1]
        j_last = j
        if est <= 0.0:
            if j == 0:
                return exact_norm(P, u)  # u orthogonal to P's range, or P = 0
        if b <= 1e-13 * max(est, 1e-300) or (j > 0 and abs(est - prev) <= tol * est):
            break
        if j == K - 1:
            return exact_norm(P, u)
        prev = est
        beta[j] = b
        q = z / b
        Q[j + 1] = q
    # Every row and column norm of P is a lower bound on sigma_max (exact for a diagonal P).
    lb = 0.0
    cols = np.zeros(P.shape[1])
    for r in range(m):
        row = 0.0
        for c in range(P.shape[1]):
            x2 = float(P[r, c]) * float(P[r, c])
            row += x2
            cols[c] += x2
        lb = max(lb, row)
    lb = max(lb, np.max(cols))
    if est < lb * (1.0 - 1e-4):
        return exact_norm(P, u)
    top = np.zeros(m)
    for i in range(j_last + 1):
        top += vec[i] * Q[i]
    tn = math.sqrt(np.sum(top * top))
    if tn > 0.0:
        for r in range(m):
            u[r] = top[r] / tn
    return math.sqrt(max(est, 0.0))


@njit(**_OPTS)
def _renormalise(a, b, limit):
    mx = 0.0
    for x in a.reshape(-1):
        y = abs(x)
        if y > mx:
            mx = y
    if b is not None:
        for x in b.reshape(-1):
            y = abs(x)
            if y > mx:
                mx = y
    return _rescale_exponent(mx, limit)


@njit(**_OPTS)
def _record(out, k, sigma, e):
    if sigma > 0.0:
        out[k] = math.log10(sigma) + e * math.log10(2.0)
    elif sigma == 0.0:
        out[k] = -np.inf
    else:
        out[k] = np.nan


@njit(**_OPTS)
def jac_sweep_rnn(W, D, limit, tol, max_iter, k_min, out):
    T, H = D.shape
    dt = W.dtype
    P = np.eye(H, dtype=dt)
    Ps = np.empty((H, H), dtype=dt)
    u = np.full(H, 1.0 / math.sqrt(H), dtype=dt)
    e = 0
    for k in range(T - 1, -1, -1):
        s = _renormalise(P, None, limit)
        if s != 0:
            _scale(P, s)
            e += s
        _record(out, k, spectral_norm(P, u, tol, max_iter), e)
        if k <= k_min:
            break
        for r in range(H):
            for j in range(H):
                Ps[r, j] = P[r, j] * D[k, j]  # P diag(act'(a_k))
        np.dot(Ps, W, P)


@njit(**_OPTS)
def jac_sweep_lstm(W, B3, Bo, K, F, limit, tol, max_iter, k_min, out):
    T, _, H = B3.shape
    dt = W.dtype
    Ph = np.eye(H, dtype=dt)
    Pc = np.zeros((H, H), dtype=dt)
    Q = np.empty((H, H), dtype=dt)
    M = np.empty((H, H), dtype=dt)
    A = np.empty((H, H), dtype=dt)
    T1 = np.empty((H, H), dtype=dt)
    u = np.full(H, 1.0 / math.sqrt(H), dtype=dt)
    e = 0
    for k in range(T - 1, -1, -1):
        for r in range(H):
            for j in range(H):
                Q[r, j] = Ph[r, j] * K[k, j] + Pc[r, j]  # adjoint of c_k (rows)
        s = _renormalise(Ph, Q, limit)
        if s != 0:
            _scale(Ph, s)
            _scale(Q, s)
            e += s
        _record(out, k, spectral_norm(Ph, u, tol, max_iter), e)
        if k <= k_min:
            break
        for i in range(H):
            bi, bf, bg, bo = B3[k, 0, i], B3[k, 1, i], B3[k, 2, i], Bo[k, i]
            for j in range(H):
                M[i, j] = bi * W[i, j] + bf * W[H + i, j] + bg * W[2 * H + i, j]  # dc_k/dh_{k-1}
                A[i, j] = bo * W[3 * H + i, j]                                     # dh_k/dh_{k-1} via o
        np.dot(Ph, A, T1)
        np.dot(Q, M, Ph)
        for r in range(H):
            for j in range(H):
                Ph[r, j] += T1[r, j]
                Pc[r, j] = Q[r, j] * F[k, j]


@njit(**_OPTS)
def jac_sweep_gru(W, B3, Z, limit, tol, max_iter, k_min, out):
    T, _, H = B3.shape
    dt = W.dtype
    P = np.eye(H, dtype=dt)
    Pn = np.empty((H, H), dtype=dt)
    J = np.empty((H, H), dtype=dt)
    u = np.full(H, 1.0 / math.sqrt(H), dtype=dt)
    e = 0
    for k in range(T - 1, -1, -1):
        s = _renormalise(P, None, limit)
        if s != 0:
            _scale(P, s)
            e += s
        _record(out, k, spectral_norm(P, u, tol, max_iter), e)
        if k <= k_min:
            break
        for i in range(H):
            br, bz, bn = B3[k, 0, i], B3[k, 1, i], B3[k, 2, i]
            for j in range(H):
                J[i, j] = br * W[i, j] + bz * W[H + i, j] + bn * W[2 * H + i, j]
            J[i, i] += Z[k, i]
        np.dot(P, J, Pn)
        P, Pn = Pn, P


# ----------------------------------------------------------------------------------------
# Per-step Jacobian norms ||ds_k/ds_{k-1}||_2 (s = h, or (h, c) for LSTM).
@njit(**_OPTS)
def step_norms_rnn(W, D, tol, max_iter, k0, out):
    T, H = D.shape
    u = np.full(H, 1.0 / math.sqrt(H))
    for k in range(k0, T):
        J = D[k].reshape(H, 1) * W
        out[k] = spectral_norm(J, u, tol, max_iter)


@njit(**_OPTS)
def step_jacobian_lstm(W, B3, Bo, K, F, k, J):
    H = B3.shape[2]
    J[:] = 0.0
    for i in range(H):
        bi, bf, bg, bo = B3[k, 0, i], B3[k, 1, i], B3[k, 2, i], Bo[k, i]
        for j in range(H):
            m = bi * W[i, j] + bf * W[H + i, j] + bg * W[2 * H + i, j]
            J[H + i, j] = m                                   # dc_k/dh_{k-1}
            J[i, j] = bo * W[3 * H + i, j] + K[k, i] * m      # dh_k/dh_{k-1}
        J[i, H + i] = K[k, i] * F[k, i]                       # dh_k/dc_{k-1}
        J[H + i, H + i] = F[k, i]                             # dc_k/dc_{k-1}


@njit(**_OPTS)
def step_norms_lstm(W, B3, Bo, K, F, tol, max_iter, k0, out):
    T, _, H = B3.shape
    J = np.empty((2 * H, 2 * H))
    u = np.full(2 * H, 1.0 / math.sqrt(2 * H))
    for k in range(k0, T):
        step_jacobian_lstm(W, B3, Bo, K, F, k, J)
        out[k] = spectral_norm(J, u, tol, max_iter)


@njit(**_OPTS)
def step_jacobian_gru(W, B3, Z, k, J):
    H = B3.shape[2]
    for i in range(H):
        br, bz, bn = B3[k, 0, i], B3[k, 1, i], B3[k, 2, i]
        for j in range(H):
            J[i, j] = br * W[i, j] + bz * W[H + i, j] + bn * W[2 * H + i, j]
        J[i, i] += Z[k, i]


@njit(**_OPTS)
def step_norms_gru(W, B3, Z, tol, max_iter, k0, out):
    T, _, H = B3.shape
    J = np.empty((H, H))
    u = np.full(H, 1.0 / math.sqrt(H))
    for k in range(k0, T):
        step_jacobian_gru(W, B3, Z, k, J)
        out[k] = spectral_norm(J, u, tol, max_iter)
