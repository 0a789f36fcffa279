"""The compiled elementwise functions behind every trace, against libm and mpmath.

The gate pass (`_kernels.lstm_forward`, `factors_rnn`, `factors_gru`) takes its exponentials in loops
that compile to vector code, from its own e^x; `log10_abs` reads log10 |m| from the bits of m. These
tests hold them to libm's exponential (within 1 ulp over the whole range where a gate's value is a
normal number), to mpmath for sigma, tanh and their derivatives (as accurate as float64's own
formulas, tanh of a tiny argument included), and to the closed values at the edges: 0 and 1, +-inf,
NaN, subnormals.
"""
import math

import mpmath
import numpy as np
import pytest

from rnnviz import _kernels

ULP = 2.0 ** -52


def ulps(got, want):
    """Distance in units in the last place between float64 arrays of one sign (NaN to NaN: 0)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    d = np.abs(got.view(np.int64) - want.view(np.int64))
    return np.where(same, 0, d)


def exp_and_tail(x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    u, w = np.empty_like(x), np.empty_like(x)
    _kernels.exp_and_tail(x, x.size, u, w)
    return u, w


def test_exponential_within_one_ulp_of_libm_over_the_whole_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-708.0, 0.0, 400_001), rng.uniform(-3.0, 0.0, 200_000),
                        -np.geomspace(1e-300, 1.0, 100_000), -math.log(2) * np.arange(0, 1022) / 2,
                        np.nextafter(-708.0, 0.0) - np.arange(5) * 1e-13, [-0.0, -5e-324]])
    u, w = exp_and_tail(x)
    want_u = np.array([math.exp(v) for v in x])
    want_w = np.array([-math.expm1(v) for v in x])
    assert ulps(u, want_u).max() <= 1
    assert ulps(w, want_w).max() <= 1
    tiny = x > -1e-8  # 1 - e^x of a tiny x is -x itself (no cancellation): exact to the last bit
    assert np.all(w[tiny] == want_w[tiny])


def test_exponential_outside_its_fast_range_is_libms_own():
    """Subnormal results, underflow to 0, positive and infinite arguments, NaN."""
    x = np.array([-708.5, -720.0, -744.0, -745.1, -746.0, -1e5, -1e300, -np.inf, 1e-300, 0.5, 3.0, 700.0, 709.7])
    u, w = exp_and_tail(x)
    assert np.all(ulps(u, [math.exp(v) for v in x]) == 0)
    assert np.all(ulps(w, [-math.expm1(v) for v in x]) == 0)
    assert 0.0 < u[2] < 2.3e-308 and u[4] == 0.0  # subnormal, not flushed; then 0
    u, w = exp_and_tail([np.inf, np.nan])
    assert u[0] == np.inf and w[0] == -np.inf and np.isnan(u[1]) and np.isnan(w[1])


def gates(a):
    """sigma(a), sigma'(a), tanh(a), tanh'(a), 1 - |tanh a| as the plain steps compute them."""
    u1, _ = exp_and_tail(-np.abs(a))
    u2, w2 = exp_and_tail(-2.0 * np.abs(a))
    out = np.empty((5, a.size))
    for i in range(a.size):
        out[0, i], out[1, i] = _kernels._sig_from(u1[i], a[i])
        out[2, i], out[3, i], out[4, i] = _kernels._tanh_from(u2[i], w2[i], a[i])
    return out


def test_gate_values_and_derivatives_against_mpmath():
    """Relative errors within a few units of 2^-53, as float64's formulas give (tanh of 1e-300 as exactly
    as tanh of 1): no cancellation anywhere, from 1e-300 to deep saturation."""
    rng = np.random.default_rng(1)
    a = np.concatenate([np.geomspace(1e-300, 300.0, 1500), -np.geomspace(1e-300, 300.0, 1500),
                        rng.normal(0.0, 3.0, 1500)])
    got = gates(a)
    mpmath.mp.prec = 120
    worst = np.zeros(5)
    for i, v in enumerate(a):
        x = mpmath.mpf(float(v))
        s = 1 / (1 + mpmath.exp(-x))
        uu = mpmath.exp(-2 * abs(x))
        want = (s, s / (1 + mpmath.exp(x)), mpmath.tanh(x), 4 * uu / (1 + uu) ** 2, 2 * uu / (1 + uu))
        for r in range(5):
            worst[r] = max(worst[r], float(abs(mpmath.mpf(float(got[r, i])) / want[r] - 1)))
    assert np.all(worst / 2.0 ** -53 <= [3, 5, 3, 5, 3]), worst / 2.0 ** -53


def test_gate_values_at_the_edges():
    a = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-300, np.inf, -np.inf, 800.0, -800.0, 740.0, -740.0, np.nan])
    sig, dsig, tanh, dtanh, tail = gates(a)
    assert list(sig[:2]) == [0.5, 0.5] and list(dsig[:2]) == [0.25, 0.25] and list(dtanh[:2]) == [1.0, 1.0]
    assert list(tanh[2:5]) == [5e-324, -5e-324, 1e-300]  # tanh(a) = a below 2^-27, also subnormal
    assert list(sig[5:9]) == [1.0, 0.0, 1.0, 0.0] and list(tanh[5:9]) == [1.0, -1.0, 1.0, -1.0]
    assert list(dsig[5:9]) == [0.0] * 4 and list(dtanh[5:9]) == [0.0] * 4 and list(tail[5:9]) == [0.0] * 4
    assert sig[10] == dsig[9] == dsig[10] == math.exp(-740.0) > 0.0  # e^-740 / (1 + e^-740): a subnormal
    assert all(np.isnan(v[-1]) for v in (sig, dsig, tanh, dtanh, tail))


def sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def dsigmoid(a):
    return 0.25 / np.cosh(0.5 * a) ** 2


def dtanh(a):
    return 1.0 / np.cosh(a) ** 2


def lstm_forward(S, c0):
    T, H = S.shape[0], S.shape[1] // 4
    c_all = np.empty((T + 1, H))
    c_all[0] = c0
    G32, P32, C32 = (np.empty((4, T, H), np.float32), np.empty((4, T, H), np.float32),
                     np.empty((T, H), np.float32))
    F, s, narrow = np.empty((T, 6, H)), np.empty((T, 3)), np.empty(T, dtype=bool)
    _kernels.lstm_forward(S, np.array([0, 0, 0, 0, 1, 2]), 60.0, c_all, G32, P32, C32, F, s, narrow)
    return c_all, G32, P32, C32, F * 2.0 ** s[:, [0, 0, 0, 0, 1, 2], None], narrow


@pytest.mark.parametrize("scale", [1e-3, 1.5, 4.0])
def test_lstm_gate_pass_against_numpy(scale):
    """Gates, cell states and the six factors of every step against numpy's float64 formulas (sigma and
    the derivatives written with tanh and cosh: no exponential in common), equal to float64 rounding."""
    rng = np.random.default_rng(2)
    T, H = 300, 24
    S = rng.normal(0.0, scale, (T, 4 * H))
    c0 = rng.normal(0.0, 1.0, H)
    c_all, G32, P32, C32, F, narrow = lstm_forward(S, c0)
    ai, af, ag, ao = S[:, :H], S[:, H:2 * H], S[:, 2 * H:3 * H], S[:, 3 * H:]
    i, f, g, o = sigmoid(ai), sigmoid(af), np.tanh(ag), sigmoid(ao)
    c = np.empty((T + 1, H))
    c[0] = c0
    for k in range(T):
        c[k + 1] = f[k] * c[k] + i[k] * g[k]
    np.testing.assert_allclose(c_all, c, rtol=0, atol=1e-14 * np.abs(c).max())
    np.testing.assert_array_equal(P32, S.reshape(T, 4, H).transpose(1, 0, 2).astype(np.float32))
    np.testing.assert_allclose(G32, np.stack([i, f, g, o]).astype(np.float32), rtol=2 ** -23, atol=0)
    np.testing.assert_allclose(C32, c[1:].astype(np.float32), rtol=2 ** -23, atol=1e-30)
    want = np.stack([g * dsigmoid(ai), c[:-1] * dsigmoid(af), i * dtanh(ag), np.tanh(c[1:]) * dsigmoid(ao),
                     o * dtanh(c[1:]), f], 1)
    assert narrow.mean() > 0.9  # rows 1, 3, 4 inherit c's rounding, absolute where c_k nearly cancels
    np.testing.assert_allclose(F[narrow], want[narrow], rtol=1e-13, atol=1e-15)


def test_lstm_gate_pass_with_infinite_and_nan_pre_activations():
    """+-inf saturates a gate to exactly 0, 1 or +-1, with derivative 0; a NaN pre-activation makes its
    unit's cell state NaN from there on and leaves the other units alone."""
    T, H = 4, 3
    S = np.zeros((T, 4 * H))
    S[1, 0] = np.inf          # i = 1 at step 1, unit 0
    S[1, H + 1] = -np.inf     # f = 0 at step 1, unit 1
    S[1, 2 * H] = -np.inf     # g = -1 at step 1, unit 0
    S[2, 2 * H + 2] = np.nan  # g NaN at step 2, unit 2
    c_all, G32, _, _, F, narrow = lstm_forward(S, np.array([1.0, 1.0, 1.0]))
    assert G32[0, 1, 0] == 1.0 and G32[1, 1, 1] == 0.0 and G32[2, 1, 0] == -1.0 and np.isnan(G32[2, 2, 2])
    assert c_all[2, 0] == 0.5 * c_all[1, 0] - 1.0 and c_all[2, 1] == 0.0  # f c + i g with i = 1, g = -1; f = 0
    assert np.isnan(c_all[3:, 2]).all() and np.isfinite(c_all[:, :2]).all() and np.isfinite(c_all[:3]).all()
    assert narrow[0] and narrow[3]  # the plain steps around them
    np.testing.assert_allclose(F[0], [[0.0] * 3, [0.25] * 3, [0.5] * 3, [math.tanh(0.5) / 4] * 3,
                                      [0.5 * dtanh(0.5)] * 3, [0.5] * 3], rtol=1e-15)


def test_factors_of_rnn_and_gru_against_numpy():
    rng = np.random.default_rng(3)
    T, H = 200, 16
    a = rng.normal(0.0, 2.0, (T, H))
    for act, want in ((0, dtanh(a)), (2, dsigmoid(a))):
        F, s, narrow = np.empty((T, 1, H)), np.empty((T, 1)), np.empty(T, dtype=bool)
        _kernels.factors_rnn(act, a, np.array([0]), 60.0, F, s, narrow)
        assert narrow.all()
        np.testing.assert_allclose(F[:, 0] * 2.0 ** s, want, rtol=1e-13)
    pr, pz, phn, pn = (rng.normal(0.0, 2.0, (T, H)) for _ in range(4))
    h = np.tanh(rng.normal(0.0, 1.0, (T, H)))
    r, z, n = sigmoid(pr), sigmoid(pz), np.tanh(pn)
    F, s, narrow = np.empty((T, 4, H)), np.empty((T, 2)), np.empty(T, dtype=bool)
    _kernels.factors_gru(pr, pz, phn, pn, h, np.array([0, 0, 0, 1]), 60.0, F, s, narrow)
    got = (F * 2.0 ** s[:, [0, 0, 0, 1], None])[narrow]
    gate_n = sigmoid(-pz) * dtanh(pn)
    want = np.stack([gate_n * phn * dsigmoid(pr), (h - n) * dsigmoid(pz), gate_n * r, z], 1)[narrow]
    assert narrow.mean() > 0.9
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_log10_abs_against_mpmath():
    """log10 |m 2^e| within 2 units of 2^-53 of the result's size (or 1e-15 absolute where it nearly
    cancels to 0), for mantissas of any size and exponents far beyond float range; 0 gives -inf, NaN
    NaN, +-inf inf, and a power of two times 2^-n exactly its log."""
    rng = np.random.default_rng(4)
    m = np.concatenate([rng.uniform(0.5, 1.0, 1500) * rng.choice([-1.0, 1.0], 1500), np.geomspace(1e-310, 1e300, 1500)])
    e = np.concatenate([np.round(rng.uniform(-5000.0, 5000.0, 1500)), np.round(rng.uniform(-40.0, 40.0, 1500))])
    out = np.empty((1, m.size))
    _kernels.log10_abs(m[None], e[None], out)
    mpmath.mp.prec = 120
    log2 = mpmath.log10(2)
    for got, mm, ee in zip(out[0], m, e):
        want = mpmath.log10(abs(mpmath.mpf(float(mm)))) + int(ee) * log2
        assert abs(mpmath.mpf(float(got)) - want) <= max(2 * 2.0 ** -53 * abs(want), 1e-15), (mm, ee)
    m = np.array([[0.0, -0.0, np.nan, np.inf, 0.5, -0.5, 0.625, 2.0 ** -1074, 0.75]])
    e = np.array([[3.0, 0.0, 1.0, 0.0, 1.0, -99.0, 4.0, 0.0, 0.0]])
    out = np.empty(m.shape, np.float32)
    _kernels.log10_abs(m, e, out)
    assert list(out[0, :2]) == [-np.inf, -np.inf] and np.isnan(out[0, 2]) and out[0, 3] == np.inf
    assert out[0, 4] == 0.0 and out[0, 5] == np.float32(-100 * math.log10(2)) and out[0, 6] == 1.0
    assert out[0, 7] == np.float32(-1074 * math.log10(2)) and out[0, 8] == np.float32(math.log10(0.75))


def test_log10_row_norms_against_mpmath():
    """Rows on one exponent (the common case) and rows whose entries' exponents differ by up to 2^3000."""
    rng = np.random.default_rng(5)
    T, H = 40, 12
    m = rng.uniform(-1.0, 1.0, (T, H))
    e = np.repeat(np.round(rng.uniform(-4000.0, 4000.0, (T, 1))), H, 1)
    e[1::2] += np.round(rng.uniform(-3000.0, 0.0, (T // 2, H)))
    m[3, 5] = 0.0
    out = np.empty(T)
    _kernels.log10_row_norms(m, e, out)
    mpmath.mp.prec = 120
    for k in range(T):
        norm = mpmath.sqrt(sum((mpmath.mpf(float(m[k, j])) * mpmath.mpf(2) ** int(e[k, j])) ** 2 for j in range(H)))
        assert abs(out[k] - float(mpmath.log10(norm))) <= 4 * 2.0 ** -53 * abs(out[k]) + 1e-15, k
    m[7] = 0.0
    m[8, 2] = np.nan
    _kernels.log10_row_norms(m, e, out)
    assert out[7] == -np.inf and np.isnan(out[8])
