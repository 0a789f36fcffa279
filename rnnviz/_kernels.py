"""Compiled inner loops of the trace: the forward loops torch has no kernel for, the derivative
factors of every step, and the backward sweeps through time.

Backpropagation through time is a sequential loop of small vector operations; in plain Python
the per-operation overhead dominates, so these loops are compiled with numba. Each sweep is the
literal recurrence written in `rnnviz.trace`'s docstring.

Exact numbers in every regime
-----------------------------
A number that is multiplied along time is held as a mantissa and a power-of-two exponent,
value = m * 2**e, with the exponent a float64 holding a whole number (so it can exceed int64: an
input of 1e30 makes factors like e^{-1e29}). Three layers use this:

- Derivative factors (`factors_*`) are computed for every step from the float64 pre-activations
  with formulas that stay exact in the tails (sech^2(a) = 4u/(1+u)^2, u = e^{-2|a|}; see
  `_exp_neg` and the `*_s` functions), never from a unit's output, so a saturated unit's
  derivative is 1e-52 or 1e-3000, not 0. A step whose factors of one group lie within 2**NARROW
  of each other (nearly every step) stores them as mantissas on one exponent per group; any other
  step keeps an exponent per factor (the "wide" rows). `tails` applies the scalar formulas to
  arrays (cells.py).
- The gradient sweeps keep an adjoint on one exponent while its entries lie within 2**lim of each
  other and the step is narrow: then a step is the plain mat-vec of the formula (the fast path).
  Otherwise that step runs with an exponent per element (`_matvec`: one BLAS call on the terms
  within 2**band of the largest; an output those leave exactly 0, a zero in W_hh, is summed from
  the smaller terms one by one), and the adjoint goes back to one exponent when it can.
- The Jacobian-product sweeps keep an exponent per row (an adjoint row of dh_{T-1}/dh_k; one
  shared while the rows share it) and align each row on its own largest product where a step's
  factors are far apart (`_scale_cols`). What a gate scales column by column (an LSTM's cell
  path, a GRU's update gate) keeps an exponent per element on those steps, since one row of it
  can span more than float64 holds while a later step makes its small part the one that matters.

Where terms with different exponents add (an LSTM's dL/dc_k = dL/dh_k o_k tanh'(c_k) +
dL/dc_{k+1} f_{k+1}, a GRU's z-path beside its gates, the h and c parts of one mat-vec) they are
brought to the larger exponent, or computed per element when that could drop a term that matters.
A term more than 2**-1074 below the other terms of its own sum drops out, as in any float64 sum
(2**-149 in float32 mat-vecs), and that is all that is lost: log10 norms are exact to float64's
relative precision (float32's for the mat-vecs of large traces).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_OPTS = dict(cache=True, nogil=True)
_VEC = dict(_OPTS, fastmath={"contract"}, error_model="numpy")  # elementwise loops LLVM vectorises: fused
# multiply-adds, and no division-by-zero check (a branch per division) where a divisor cannot be 0
_CLIP = 2200.0               # exponent differences beyond this leave nothing of the smaller part
_LN2 = math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01   # ln 2 = _LN2_HI + _LN2_LO; n * _LN2_HI is exact for n < 2^21
_LN2_LO = 1.90821492927058770002e-10
_EXP_FAR = 700.0             # e^{-x} is a normal float64 below this
_FAST_SPREAD = 60.0          # factor exponents within this of each other share one shift (_scale_cols)


# ----------------------------------------------------------------------------------------
# Extended-range scalars: (m, e) = m * 2**e, |m| in [0.5, 1), or m = 0 (e = 0), or m NaN.
@njit(**_OPTS)
def _norm(m, e):
    if m == 0.0 or not math.isfinite(m):
        return m, 0.0
    f, k = math.frexp(m)
    return f, e + k


_POW2 = np.array([math.ldexp(1.0, n) for n in range(-1100, 1024)])  # 2**n, n = -1100 .. 1023


@njit(**_OPTS)
def _ldexp(m, d):
    """m * 2**d for a whole-number float d of any size (0 or inf beyond float range). Where 2**d is a
    float64 (d in [-1074, 1023]) the product with it is the same correctly rounded number as ldexp's."""
    if -1074.0 <= d <= 1023.0:
        return m * _POW2[int(d) + 1100]
    return math.ldexp(m, int(max(-_CLIP, min(_CLIP, d))))


@njit(**_OPTS)
def _pow2(d):
    """2**d as a float for a whole-number float d (0 below float range, clipped at 2**1023): a
    multiplier that is exact wherever the product stays a normal number. (A table: ldexp's own
    numbers, without a library call in the inner loops.)"""
    n = int(max(-1100.0, min(1023.0, d)))
    return _POW2[min(max(n, -1100), 1023) + 1100]


@njit(**_OPTS)
def _mul(m1, e1, m2, e2):
    return _norm(m1 * m2, e1 + e2)


@njit(**_OPTS)
def _aligned_sum(m1, e1, m2, e2):
    """m1 2**e1 + m2 2**e2 as one float on the larger exponent (not normalised)."""
    if m1 == 0.0:
        return m2, e2
    if m2 == 0.0:
        return m1, e1
    if e1 >= e2:
        return m1 + _ldexp(m2, e2 - e1), e1
    return _ldexp(m1, e1 - e2) + m2, e2


@njit(**_OPTS)
def _add(m1, e1, m2, e2):
    m, e = _aligned_sum(m1, e1, m2, e2)
    return _norm(m, e)



@njit(**_OPTS)
def _exp_neg(x):
    """e^{-x} for x >= 0, however large x is: e^{-x} = 2^{-n} e^{-r}, x = n ln 2 + r."""
    if x <= _EXP_FAR:
        return _norm(math.exp(-x), 0.0)
    if x != x:
        return np.nan, 0.0
    n = np.floor(x / _LN2)  # a float: n can be far beyond int64
    r = min(max((x - n * _LN2_HI) - n * _LN2_LO, -1.0), 1.0)  # the clip acts only where x > 2^53
    return _norm(math.exp(-r), -n)


@njit(**_OPTS)
def sigmoid_s(a):
    """sigma(a) = 1 / (1 + t) (a >= 0), t / (1 + t) (a < 0), t = e^{-|a|}; 1 - sigma(a) = sigma(-a)."""
    tm, te = _exp_neg(abs(a))
    t = _ldexp(tm, te)
    if a >= 0.0:
        return _norm(1.0 / (1.0 + t), 0.0)
    return _norm(tm / (1.0 + t), te)


@njit(**_OPTS)
def dsigmoid_s(a):
    """sigma'(a) = t / (1 + t)^2, t = e^{-|a|}."""
    tm, te = _exp_neg(abs(a))
    t = _ldexp(tm, te)
    return _norm(tm / ((1.0 + t) * (1.0 + t)), te)


@njit(**_OPTS)
def dtanh_s(a):
    """tanh'(a) = sech^2(a) = 4u / (1 + u)^2, u = e^{-2|a|}."""
    um, ue = _exp_neg(2.0 * abs(a))
    u = _ldexp(um, ue)
    return _norm(4.0 * um / ((1.0 + u) * (1.0 + u)), ue)


@njit(**_OPTS)
def tanh_tail_s(a):
    """1 - |tanh(a)| = 2u / (1 + u), u = e^{-2|a|}."""
    um, ue = _exp_neg(2.0 * abs(a))
    return _norm(2.0 * um / (1.0 + _ldexp(um, ue)), ue)


@njit(**_OPTS)
def minus_tanh_s(h, a):
    """h - tanh(a) = (h - s) + s (1 - |tanh a|), s = sign(a): exact also where tanh(a) rounds to h = +-1."""
    if a == 0.0 or a != a:
        return _norm(h - math.tanh(a), 0.0)
    s = 1.0 if a > 0.0 else -1.0
    tm, te = tanh_tail_s(a)
    return _add(h - s, 0.0, s * tm, te)


@njit(**_OPTS)
def dact_s(act, a):
    """act'(a) for act 0 tanh, 1 relu (relu'(0) = 0 as in torch; NaN stays NaN), 2 sigmoid, 3 linear."""
    if act == 0:
        return dtanh_s(a)
    if act == 2:
        return dsigmoid_s(a)
    if act == 1:
        if a != a:
            return np.nan, 0.0
        return (0.5, 1.0) if a > 0.0 else (0.0, 0.0)
    return 0.5, 1.0


@njit(**_OPTS)
def tails(kind, a, out_m, out_e):
    """Elementwise over flat arrays: kind 0 sigma, 1 sigma', 2 tanh', 3 1 - |tanh|, 10 + act: act'."""
    for i in range(a.size):
        x = a[i]
        if kind == 0:
            m, e = sigmoid_s(x)
        elif kind == 1:
            m, e = dsigmoid_s(x)
        elif kind == 2:
            m, e = dtanh_s(x)
        elif kind == 3:
            m, e = tanh_tail_s(x)
        else:
            m, e = dact_s(kind - 10, x)
        out_m[i] = m
        out_e[i] = e


@njit(**_OPTS)
def minus_tanh(h, a, out_m, out_e):
    for i in range(a.size):
        out_m[i], out_e[i] = minus_tanh_s(h[i], a[i])


# ----------------------------------------------------------------------------------------
# The factors of step k's Jacobian, per unit j, as (Fm, Fe) rows (see sweeps.factors for the maths).
@njit(**_OPTS)
def rnn_factors(act, a, k, Fm, Fe):
    """Row 0: act'(a_kj)."""
    for j in range(Fm.shape[1]):
        Fm[0, j], Fe[0, j] = dact_s(act, a[k, j])


@njit(**_OPTS)
def lstm_factors(pi, pf, pg, po, c_all, k, Fm, Fe):
    """Rows: 0 g sig'(a_i), 1 c_{k-1} sig'(a_f), 2 i tanh'(a_g), 3 tanh(c_k) sig'(a_o), 4 o tanh'(c_k), 5 f.
    c_all [T+1, H]: c_{-1} = c0, then c_0 .. c_{T-1}."""
    for j in range(Fm.shape[1]):
        ai, af, ag, ao = pi[k, j], pf[k, j], pg[k, j], po[k, j]
        c_prev, c = c_all[k, j], c_all[k + 1, j]
        gm, ge = _norm(math.tanh(ag), 0.0)
        im, ie = sigmoid_s(ai)
        m, e = dsigmoid_s(ai)
        Fm[0, j], Fe[0, j] = _mul(gm, ge, m, e)
        cm, ce = _norm(c_prev, 0.0)
        m, e = dsigmoid_s(af)
        Fm[1, j], Fe[1, j] = _mul(cm, ce, m, e)
        m, e = dtanh_s(ag)
        Fm[2, j], Fe[2, j] = _mul(im, ie, m, e)
        tm, te = _norm(math.tanh(c), 0.0)
        m, e = dsigmoid_s(ao)
        Fm[3, j], Fe[3, j] = _mul(tm, te, m, e)
        om, oe = sigmoid_s(ao)
        m, e = dtanh_s(c)
        Fm[4, j], Fe[4, j] = _mul(om, oe, m, e)
        Fm[5, j], Fe[5, j] = sigmoid_s(af)


@njit(**_OPTS)
def gru_factors(pr, pz, phn, pn, h_all, k, Fm, Fe):
    """Rows: 0 (1-z) tanh'(a_n) hn sig'(a_r), 1 (h_{k-1} - n) sig'(a_z), 2 (1-z) tanh'(a_n) r, 3 z.
    h_all [T, H]: the state before each step (h0 first); 1 - z = sigma(-a_z)."""
    for j in range(Fm.shape[1]):
        ar, az, hn, an = pr[k, j], pz[k, j], phn[k, j], pn[k, j]
        zm, ze = sigmoid_s(-az)
        m, e = dtanh_s(an)
        gm, ge = _mul(zm, ze, m, e)                    # (1 - z) tanh'(a_n)
        hm, he = _norm(hn, 0.0)
        m, e = _mul(gm, ge, hm, he)
        m2, e2 = dsigmoid_s(ar)
        Fm[0, j], Fe[0, j] = _mul(m, e, m2, e2)
        m, e = minus_tanh_s(h_all[k, j], an)
        m2, e2 = dsigmoid_s(az)
        Fm[1, j], Fe[1, j] = _mul(m, e, m2, e2)
        m, e = sigmoid_s(ar)
        Fm[2, j], Fe[2, j] = _mul(gm, ge, m, e)
        Fm[3, j], Fe[3, j] = sigmoid_s(az)


# ----------------------------------------------------------------------------------------
# All steps' factors at once (sweeps.factors). Per step, the factors of one group share an exponent
# when they span at most `narrow_lim` binary orders (F, s; narrow[k] True), else the step is "wide"
# and `wide_rows_*` keeps its factors with an exponent per element. A step whose pre-activations
# all lie within +-_PLAIN_MAX (and whose plain factors like c_{k-1} or hn are not tiny) is computed
# in plain float64 with the same tail-exact formulas: nothing in it can underflow. Any other step
# goes through the (m, e) functions above.
#
# The plain steps take their exponentials a step at a time in loops without calls or branches, which
# LLVM compiles to 4-wide AVX2 code (numba's math.exp is a scalar libm call per value): e^x = 2^k e^r,
# k = round(x / ln 2) by adding 1.5 * 2^52 (k lands in the float's low bits), r = x - k ln 2 in two
# parts (Cody-Waite: |r| <= ln2 / 2, exact), e^r - 1 from its Taylor series to degree 13 (the
# truncation is below 2^-60 there), and 2^k built from those low bits. Each value is within 1 ulp of
# math.exp and of -math.expm1 (tests/engine/test_kernels.py sweeps the range), so tanh of a small |a|
# keeps expm1's relative accuracy.
_PLAIN_MAX = 100.0      # e^{-2 * 100} = 2^-289: products of three such factors stay normal
_PLAIN_MIN = 2.0 ** -100
_EXP_MIN = -708.0                       # from here up to 0, e^x and its 2^k are normal float64
_EXP_ROUND = 1.5 * 2.0 ** 52            # x + _EXP_ROUND rounds x to a whole number k, held in the low bits
_EXP_ROUND_BITS = 0x4338000000000000    # the bits of _EXP_ROUND (k = 0)
_INV_LN2 = 1.0 / _LN2
_ABS_BITS = 0x7FFFFFFFFFFFFFFF
_INF_BITS = 0x7FF0000000000000
_ONE_BITS = 0x3FF0000000000000


@njit(**_VEC)
def _expm1_small(r):
    """e^r - 1 - r for |r| <= ln2 / 2: r^2 (1/2! + r/3! + ... + r^11/13!)."""
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return (r * r) * p


@njit(**_VEC)
def exp_and_tail(x, n, u, w):
    """u[i] = e^{x[i]} and w[i] = 1 - e^{x[i]} (= -expm1(x[i]), exact to its last bits near 0) for
    i < n, each within 1 ulp of math.exp / -math.expm1 for x <= 0. Values outside [_EXP_MIN, 0]
    (subnormal or 0 results, positive x, +-inf, NaN) are libm's own."""
    outside = 0
    for i in range(n):
        outside += not (_EXP_MIN <= x[i] <= 0.0)
        xi = min(max(x[i], _EXP_MIN), 0.0)
        kr = xi * _INV_LN2 + _EXP_ROUND
        k = kr - _EXP_ROUND
        r_hi = xi - k * _LN2_HI           # exact
        r_lo = -k * _LN2_LO
        p = _expm1_small(r_hi + r_lo)
        one_r = 1.0 + r_hi                # e^r = one_r + ((1 - one_r) + r_hi) + r_lo + p: the first error is
        er = (((1.0 - one_r) + r_hi) + r_lo) + p  # exact, the small parts are summed, then added once
        scale = np.int64((np.float64(kr).view(np.int64) - _EXP_ROUND_BITS + 1023) << 52).view(np.float64)  # 2^k
        u[i] = (one_r + er) * scale
        w[i] = (1.0 - scale) - (r_hi + (r_lo + p)) * scale
    for i in range(n if outside else 0):
        xi = x[i]
        if not (_EXP_MIN <= xi <= 0.0):
            u[i] = math.exp(xi)
            w[i] = -math.expm1(xi)


@njit(error_model="numpy", **_OPTS)
def _sig_from(t, a):
    """(sigma(a), sigma'(a)) from t = e^{-|a|}: 1 / (1 + t) or t / (1 + t), and t / (1 + t)^2."""
    r = 1.0 / (1.0 + t)
    return (r if a >= 0.0 else t * r), t * r * r


@njit(error_model="numpy", **_OPTS)
def _tanh_from(u, w, a):
    """(tanh(a), tanh'(a), 1 - |tanh a|) from u = e^{-2|a|} and w = 1 - u: w / (1 + u), 4u / (1 + u)^2,
    2u / (1 + u)."""
    d = 1.0 + u
    t = w / d
    return (t if a >= 0.0 else -t), 4.0 * u / (d * d), 2.0 * u / d


@njit(**_OPTS)
def _plain_ok(x):
    """A plain value that cannot make a product underflow: 0, or at least _PLAIN_MIN in size."""
    return (x == 0.0) | ((abs(x) >= _PLAIN_MIN) & (abs(x) < np.inf))


@njit(**_OPTS)
def _within(a, n, lim, nan_ok=False):
    """Whether no |a[i]| exceeds lim (i < n), and a NaN is among them only where nan_ok."""
    bad = 0
    for i in range(n):
        bad += (abs(a[i]) > lim) | ((a[i] != a[i]) & (not nan_ok))
    return bad == 0


@njit(**_OPTS)
def _row_span(row):
    """The largest |x| of a row (a NaN counting as 1) and its smallest nonzero |x| (a NaN not counted;
    inf if none), found on the bit patterns, whose order is the order of non-negative floats."""
    hi, lo = 0, _INF_BITS
    for j in range(row.size):
        b = np.float64(row[j]).view(np.int64) & _ABS_BITS
        hi = max(hi, b if b <= _INF_BITS else _ONE_BITS)
        lo = min(lo, b if 0 < b <= _INF_BITS else _INF_BITS)
    return np.int64(hi).view(np.float64), np.int64(lo).view(np.float64)


@njit(**_OPTS)
def _pack(V, groups, k, F, s, narrow, narrow_lim):
    """Step k's plain factor values V [factors, H] as mantissas F[k] and group exponents s[k]."""
    nf, H = V.shape
    ok = True
    for g in range(s.shape[1]):
        mx, mn = 0.0, np.inf
        for f in range(nf):
            if groups[f] == g:
                hi, lo = _row_span(V[f])
                mx, mn = max(mx, hi), min(mn, lo)
        e = math.frexp(mx)[1] if mx > 0.0 and math.isfinite(mx) else 0
        s[k, g] = e
        if mx > 0.0 and math.frexp(mn)[1] < e - narrow_lim:
            ok = False
    narrow[k] = ok
    for f in range(nf):
        w = _pow2(-s[k, groups[f]])
        for j in range(H):
            F[k, f, j] = V[f, j] * w


@njit(**_OPTS)
def _pack_scaled(Fm, Fe, groups, k, F, s, narrow, narrow_lim):
    """The same for factors given as (m, e) per element."""
    nf, H = Fm.shape
    ok = True
    for g in range(s.shape[1]):
        top, low = -np.inf, np.inf
        for f in range(nf):
            if groups[f] == g:
                for j in range(H):
                    if Fm[f, j] != 0.0:
                        top = max(top, Fe[f, j])
                        low = min(low, Fe[f, j])
        if top == -np.inf:
            top = low = 0.0
        s[k, g] = top
        ok = ok and top - low <= narrow_lim
    narrow[k] = ok
    for f in range(nf):
        for j in range(H):
            F[k, f, j] = _ldexp(Fm[f, j], Fe[f, j] - s[k, groups[f]])


@njit(**_OPTS)
def factors_rnn(act, a, groups, narrow_lim, F, s, narrow):
    T, nf, H = F.shape
    V, Fm, Fe = np.empty((nf, H)), np.empty((nf, H)), np.empty((nf, H))
    x, u, w = np.empty(H), np.empty(H), np.empty(H)
    for k in range(T):
        ak = a[k]
        plain = True
        if act == 0 or act == 2:
            plain = _within(ak, H, _PLAIN_MAX, True)  # a NaN's factor is NaN either way
            if plain:
                for j in range(H):
                    x[j] = -abs(ak[j])
                if act == 0:
                    for j in range(H):
                        x[j] *= 2.0
                exp_and_tail(x, H, u, w)
                for j in range(H):
                    V[0, j] = _tanh_from(u[j], w[j], ak[j])[1] if act == 0 else _sig_from(u[j], ak[j])[1]
        elif act == 1:
            for j in range(H):
                V[0, j] = np.nan if ak[j] != ak[j] else (1.0 if ak[j] > 0.0 else 0.0)
        else:
            V[0] = 1.0
        if plain:
            _pack(V, groups, k, F, s, narrow, narrow_lim)
        else:
            rnn_factors(act, a, k, Fm, Fe)
            _pack_scaled(Fm, Fe, groups, k, F, s, narrow, narrow_lim)


@njit(**_OPTS)
def lstm_forward(S, groups, narrow_lim, c_all, G32, P32, C32, F, s, narrow):
    """An LSTM's gates, cell states and the factors of every step (packed as factors_rnn packs an RNN's) in one
    pass over the float64 pre-activations S [T, 4H] (blocks i, f, g, o): each gate's exponential is
    taken once, for its value and its derivative. c_all [T+1, H] holds c0 in row 0 and receives
    c_0 .. c_{T-1} (c_k = f_k c_{k-1} + i_k g_k, float64); G32 and P32 [4, T, H] receive the gates and
    pre-activations in float32, C32 [T, H] the cell states. The gates' values are float64's sigma and
    tanh at any size (0 and +-1 far out); their derivatives serve only the plain steps."""
    T, nf, H = F.shape
    V, Fm, Fe = np.empty((nf, H)), np.empty((nf, H)), np.empty((nf, H))
    x, u, w, gate = np.empty(4 * H), np.empty(4 * H), np.empty(4 * H), np.empty(4 * H)
    for k in range(T):
        Sk = S[k]
        for j in range(4 * H):
            x[j] = -abs(Sk[j])
        for j in range(2 * H, 3 * H):
            x[j] *= 2.0             # tanh(a_g) from e^{-2|a_g|}
        exp_and_tail(x, 4 * H, u, w)
        for j in range(H):
            gate[j], V[0, j] = _sig_from(u[j], Sk[j])                  # i, sig'(a_i) (times g below)
            gate[H + j], V[1, j] = _sig_from(u[H + j], Sk[H + j])      # f, sig'(a_f) (times c_{k-1})
            gate[3 * H + j], V[3, j] = _sig_from(u[3 * H + j], Sk[3 * H + j])  # o, sig'(a_o) (times tanh(c_k))
            gate[2 * H + j], V[2, j], _ = _tanh_from(u[2 * H + j], w[2 * H + j], Sk[2 * H + j])  # g, tanh'(a_g)
        for j in range(H):
            i, f, g = gate[j], gate[H + j], gate[2 * H + j]
            c_prev = c_all[k, j]
            c = f * c_prev + i * g
            c_all[k + 1, j] = c
            x[j] = -2.0 * abs(c)
            V[0, j] = g * V[0, j]
            V[1, j] = c_prev * V[1, j]
            V[2, j] = i * V[2, j]
            V[5, j] = f
        exp_and_tail(x, H, u, w)
        ck = c_all[k + 1]
        small = 0   # plain values (c_{k-1}, g, tanh(c_k)) that could make a product underflow
        for j in range(H):
            tc, dc, _ = _tanh_from(u[j], w[j], ck[j])
            V[3, j] = tc * V[3, j]
            V[4, j] = gate[3 * H + j] * dc
            small += not (_plain_ok(c_all[k, j]) & _plain_ok(gate[2 * H + j]) & _plain_ok(tc))
        plain = small == 0 and _within(Sk, 4 * H, _PLAIN_MAX) and _within(ck, H, _PLAIN_MAX)
        for q in range(4):
            for j in range(H):
                G32[q, k, j] = gate[q * H + j]
                P32[q, k, j] = Sk[q * H + j]
        for j in range(H):
            C32[k, j] = ck[j]
        if plain:
            _pack(V, groups, k, F, s, narrow, narrow_lim)
        else:
            lstm_factors(S[:, :H], S[:, H:2 * H], S[:, 2 * H:3 * H], S[:, 3 * H:], c_all, k, Fm, Fe)
            _pack_scaled(Fm, Fe, groups, k, F, s, narrow, narrow_lim)


@njit(**_OPTS)
def factors_gru(pr, pz, phn, pn, h_prev, groups, narrow_lim, F, s, narrow):
    T, nf, H = F.shape
    V, Fm, Fe = np.empty((nf, H)), np.empty((nf, H)), np.empty((nf, H))
    x, u, w = np.empty(3 * H), np.empty(3 * H), np.empty(3 * H)
    for k in range(T):
        plain = _within(pr[k], H, _PLAIN_MAX) and _within(pz[k], H, _PLAIN_MAX) and _within(pn[k], H, _PLAIN_MAX)
        if plain:
            for j in range(H):
                x[j] = -abs(pr[k, j])
                x[H + j] = -abs(pz[k, j])
                x[2 * H + j] = -2.0 * abs(pn[k, j])
            exp_and_tail(x, 3 * H, u, w)
            small = 0   # plain values (hn, h_{k-1} - n) that could make a product underflow
            for j in range(H):
                ar, az, hn, an, h = pr[k, j], pz[k, j], phn[k, j], pn[k, j], h_prev[k, j]
                r, dr = _sig_from(u[j], ar)
                z, dz = _sig_from(u[H + j], az)
                one_z = _sig_from(u[H + j], -az)[0]
                n, dn, tail = _tanh_from(u[2 * H + j], w[2 * H + j], an)
                diff = (h - 1.0) + tail if an > 0.0 else ((h + 1.0) - tail if an < 0.0 else h)  # h - n
                small += not (_plain_ok(hn) & _plain_ok(diff))
                gate_n = one_z * dn
                V[0, j] = gate_n * hn * dr
                V[1, j] = diff * dz
                V[2, j] = gate_n * r
                V[3, j] = z
            plain = small == 0
        if plain:
            _pack(V, groups, k, F, s, narrow, narrow_lim)
        else:
            gru_factors(pr, pz, phn, pn, h_prev, k, Fm, Fe)
            _pack_scaled(Fm, Fe, groups, k, F, s, narrow, narrow_lim)


@njit(**_OPTS)
def wide_rows_rnn(act, a, steps, wide_m, wide_e):
    for w in range(steps.size):
        rnn_factors(act, a, steps[w], wide_m[w], wide_e[w])


@njit(**_OPTS)
def wide_rows_lstm(pi, pf, pg, po, c_all, steps, wide_m, wide_e):
    for w in range(steps.size):
        lstm_factors(pi, pf, pg, po, c_all, steps[w], wide_m[w], wide_e[w])


@njit(**_OPTS)
def wide_rows_gru(pr, pz, phn, pn, h_prev, steps, wide_m, wide_e):
    for w in range(steps.size):
        gru_factors(pr, pz, phn, pn, h_prev, steps[w], wide_m[w], wide_e[w])


# ----------------------------------------------------------------------------------------
# Vectors with one exponent per element, and matrices with one exponent per row.
@njit(**_OPTS)
def _matvec(bm, be, W, band, out_m, out_e, tmp):
    """out_j = sum_i b_i W[i, j] with b_i = bm[i] 2**be[i]; out as (m, e) per element.

    One BLAS mat-vec on the terms within 2**-band of the largest; any output that leaves exactly 0
    while smaller terms exist (a zero in W) is summed from those one by one, aligned on its largest
    product. Undefined (NaN) terms propagate."""
    n, n_out = W.shape
    top = -np.inf
    nan = False
    for i in range(n):
        if bm[i] != bm[i]:
            nan = True
        elif bm[i] != 0.0 and be[i] > top:
            top = be[i]
    if top == -np.inf:
        top = 0.0
    rest = 0
    for i in range(n):
        if bm[i] != bm[i]:
            tmp[i] = np.nan
        elif bm[i] != 0.0 and be[i] < top - band:
            tmp[i] = 0.0
            rest += 1
        else:
            tmp[i] = _ldexp(bm[i], be[i] - top)
    res = np.dot(tmp, W)
    for j in range(n_out):
        out_m[j], out_e[j] = _norm(float(res[j]), top)
    if rest == 0 or nan:
        return
    for j in range(n_out):
        if out_m[j] != 0.0:
            continue
        best = -np.inf
        for i in range(n):
            if bm[i] != 0.0 and be[i] < top - band and W[i, j] != 0.0:
                x = be[i] + math.frexp(bm[i] * W[i, j])[1]
                if x > best:
                    best = x
        if best == -np.inf:
            continue
        s = 0.0
        for i in range(n):
            if bm[i] != 0.0 and be[i] < top - band and W[i, j] != 0.0:
                s += _ldexp(bm[i] * W[i, j], be[i] - best)
        out_m[j], out_e[j] = _norm(s, best)


@njit(**_OPTS)
def _row_normalise(P, eP):
    """Each row of P rescaled exactly to a largest |entry| in [0.5, 1), its exponent in eP."""
    n, m = P.shape
    for r in range(n):
        mx = 0.0
        for c in range(m):
            a = abs(float(P[r, c]))
            if a > mx or a != a:
                mx = a
        if mx == 0.0:
            eP[r] = 0.0  # a zero row has no scale
            continue
        if not math.isfinite(mx):
            continue
        s = math.frexp(mx)[1]
        if s != 0:  # two exact multipliers: 2**-s alone can overflow when the row is subnormal
            a, b = _pow2(-(s // 2)), _pow2(-(s - s // 2))
            for c in range(m):
                P[r, c] = P[r, c] * a * b
            eP[r] += s


@njit(**_OPTS)
def _scale_cols(P, eP, fm, fe, X, eX):
    """X * 2**eX[r] (per row) = diag(2**eP) P diag(fm 2**fe): each row aligned on its own largest
    product, so no row loses what matters to it however far apart the factors are."""
    n, m = P.shape
    fmax, fmin = -np.inf, np.inf
    for i in range(m):
        if fm[i] != 0.0 and fm[i] == fm[i]:
            fmax = max(fmax, fe[i])
            fmin = min(fmin, fe[i])
    if fmax == -np.inf:
        fmax = fmin = 0.0
    if fmax - fmin <= _FAST_SPREAD:  # one shift for every row
        col = np.empty(m)
        for i in range(m):
            col[i] = fm[i] * _pow2(fe[i] - fmax)
        for r in range(n):
            for i in range(m):
                X[r, i] = P[r, i] * col[i]
            eX[r] = eP[r] + fmax
        return
    for r in range(n):
        t = -np.inf
        for i in range(m):
            p = float(P[r, i]) * fm[i]
            if p != 0.0 and p == p:
                t = max(t, fe[i] + math.frexp(p)[1])
        if t == -np.inf:
            t = 0.0
        for i in range(m):
            X[r, i] = _ldexp(float(P[r, i]) * fm[i], fe[i] - t)
        eX[r] = eP[r] + t


@njit(**_OPTS)
def _combine_rows(A, eA, B, eB):
    """A * 2**eA + B * 2**eB row by row, into A (both row-normalised: the larger row keeps its scale)."""
    n, m = A.shape
    for r in range(n):
        za, zb = True, True
        for c in range(m):
            if A[r, c] != 0.0:
                za = False
            if B[r, c] != 0.0:
                zb = False
        if zb:
            continue
        if za:
            for c in range(m):
                A[r, c] = B[r, c]
            eA[r] = eB[r]
            continue
        e = max(eA[r], eB[r])
        wa, wb = _pow2(eA[r] - e), _pow2(eB[r] - e)
        for c in range(m):
            A[r, c] = A[r, c] * wa + B[r, c] * wb
        eA[r] = e


@njit(**_OPTS)
def _align_rows(P, eP, out):
    """out = diag(2**(eP - E)) P with E the largest exponent of a nonzero row (0 if none); returns E."""
    E = -np.inf
    for r in range(P.shape[0]):
        if eP[r] > E and _any_nonzero(P, r, 0):
            E = eP[r]
    E = 0.0 if E == -np.inf else E
    for r in range(P.shape[0]):
        w = _pow2(eP[r] - E)
        for c in range(P.shape[1]):
            out[r, c] = P[r, c] * w
    return E


@njit(**_OPTS)
def _norm_rows(P, eP, u, tol, max_iter, tmp):
    """log10 of the spectral norm of diag(2**eP) P (rows brought to the largest exponent)."""
    E = _align_rows(P, eP, tmp)
    return spectral_norm(tmp, u, tol, max_iter), E


@njit(**_OPTS)
def _record(out, k, sigma, e):
    if sigma > 0.0:
        out[k] = math.log10(sigma) + e * math.log10(2.0)
    elif sigma == 0.0:
        out[k] = -np.inf
    else:
        out[k] = np.nan


# ----------------------------------------------------------------------------------------
# Gates of every step at once (cells.evaluate).
@njit(**_OPTS)
def sigmoid(a, out):
    """out = 1 / (1 + exp(-a)) elementwise, 2-D (the same float64 numbers as numpy's exp and division)."""
    for k in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[k, j] = 1.0 / (math.exp(-a[k, j]) + 1.0)


# ----------------------------------------------------------------------------------------
# Forward loops torch has no kernel for.
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
            for j in range(H):
                m[j] = math.ldexp(m[j], -s)
            e += s
        for j in range(H):
            out[t, j] = math.ldexp(m[j], e) if e > 0 else m[j]


# ----------------------------------------------------------------------------------------
# The factors of step k (see sweeps.factors): narrow steps from the mantissas F[k] (dtype) and one
# exponent per factor group, s[k, group]; wide steps from a side table with an exponent per element.
@njit(**_OPTS)
def factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe):
    """Fm * 2**Fe = the factors of step k, one row per factor."""
    w = wide[k]
    nf, H = Fm.shape
    for f in range(nf):
        for j in range(H):
            if w >= 0:
                Fm[f, j], Fe[f, j] = wide_m[w, f, j], wide_e[w, f, j]
            else:
                Fm[f, j], Fe[f, j] = F[k, f, j], s[k, groups[f]]


# ----------------------------------------------------------------------------------------
# Gradient sweeps: one adjoint row, float64. dL/dh_k = out_m[k] * 2**out_e[k] (per element).
#
# Fast path (almost every step): a vector shares one exponent ("uniform") and a step's factors come
# from the mantissa arrays, so a step is the plain mat-vec of the formula. The sweep takes the exact
# path (an exponent per element, _matvec) for a step whenever the fast one could lose a term: a
# vector whose entries span more than `lim` binary orders, a wide step, or two terms too far apart
# to share an exponent (with a zero in the larger). `buf_lim`: how far below its largest term a
# mat-vec input may go (1000 in float64, 120 in float32).
@njit(**_OPTS)
def _u_normalise(m):
    """Rescale a vector exactly so its largest |entry| is in [0.5, 1). Returns (shift, spread,
    has_zero): spread = binary orders between its largest and smallest nonzero entries."""
    mx, mn, zero, nan = 0.0, np.inf, False, False
    for x in m:
        a = abs(x)
        if a != a:
            nan = True
        elif a == 0.0:
            zero = True
        else:
            mx = max(mx, a)
            mn = min(mn, a)
    if nan or mx == 0.0 or not math.isfinite(mx):
        return 0.0, 0.0, True
    s = math.frexp(mx)[1]
    if s != 0:
        a, b = _pow2(-(s // 2)), _pow2(-(s - s // 2))
        for j in range(m.size):
            m[j] = m[j] * a * b
    return float(s), float(s - math.frexp(mn)[1]), zero


@njit(**_OPTS)
def _u_expand(m, eu, e):
    for j in range(m.size):
        m[j], e[j] = _norm(m[j], eu)


@njit(**_OPTS)
def _u_compress(m, e, lim):
    """Back to one exponent if the entries span at most `lim` binary orders: (True, exponent)."""
    E, lo = -np.inf, np.inf
    for j in range(m.size):
        if m[j] != 0.0 and m[j] == m[j]:
            E = max(E, e[j])
            lo = min(lo, e[j])
    if E == -np.inf:
        for j in range(m.size):
            m[j] = m[j] if m[j] != m[j] else 0.0
        return True, 0.0
    if E - lo > lim:
        return False, 0.0
    for j in range(m.size):
        m[j] = m[j] * _pow2(e[j] - E)
    return True, E


@njit(**_OPTS)
def _u_add(xm, ex, x_spread, x_zero, ym, ey, y_spread, y_zero):
    """x * 2**ex + y * 2**ey into x, both uniform and normalised: (ok, exponent). Not ok when the
    smaller would drop below float range where the larger has a zero entry."""
    if ey > ex:
        gap, small_spread, big_zero = ey - ex, x_spread, y_zero
    else:
        gap, small_spread, big_zero = ex - ey, y_spread, x_zero
    if big_zero and gap + small_spread > 1000.0:
        return False, 0.0
    e = max(ex, ey)
    wx, wy = _pow2(ex - e), _pow2(ey - e)
    for j in range(xm.size):
        xm[j] = xm[j] * wx + ym[j] * wy
    return True, e


@njit(**_OPTS)
def _out(out_m, out_e, k, m, e, uni, eu):
    for j in range(m.size):
        out_m[k, j] = m[j]
        out_e[k, j] = eu if uni else e[j]


@njit(**_OPTS)
def _direct_uniform(hm, eh, he, v):
    """+ v (the direct term of loss "all") on a uniform vector: (still uniform, exponent); when it
    cannot stay uniform, hm, he hold the result per element."""
    sh, spread, zero = _u_normalise(hm)
    eh += sh
    ok, e = _u_add(hm, eh, spread, zero, v, 0.0, 0.0, False)
    if ok:
        return True, e
    _u_expand(hm, eh, he)
    _add_direct(hm, he, v)
    return False, 0.0


@njit(**_OPTS)
def _start(v, m, e):
    for j in range(v.size):
        m[j], e[j] = v[j], 0.0


@njit(**_OPTS)
def _add_direct(m, e, v):
    """+ v, per element."""
    for j in range(v.size):
        vm, ve = _norm(v[j], 0.0)
        m[j], e[j] = _add(m[j], e[j], vm, ve)


@njit(**_OPTS)
def _add_direct_at(hm, he, uni, eh, Dm, De, k, lim):
    """+ D[k] = Dm[k] * 2**De[k] (per element): the gradient reaching step k from outside its own
    recurrence (the layer above in a stacked model, a skip connection, a per-step loss). Nothing when
    D is empty (Dm has no rows): a single layer's sweep is unchanged. Returns (uniform, exponent)."""
    if Dm.shape[0] == 0:
        return uni, eh
    if uni:
        done, uni, eh = _add_direct_uniform(hm, he, eh, Dm, De, k, lim)
        if done:
            return uni, eh
        _u_expand(hm, eh, he)
    for j in range(hm.size):
        hm[j], he[j] = _add(hm[j], he[j], Dm[k, j], De[k, j])
    return _u_compress(hm, he, lim)


_DIRECT_SPAN = 900.0  # binary orders the terms of _add_direct_uniform may span: each term, each sum stays normal


@njit(**_OPTS)
def _add_direct_uniform(hm, he, eh, Dm, De, k, lim):
    """_add_direct_at on a uniform vector (hm * 2**eh) without an exponent per element, where that gives
    the same numbers: D[k] normalised, nothing undefined, every term within 2**_DIRECT_SPAN of the
    largest. Then each sum is the same rounding of the same two numbers in a frame a power of two away,
    and the rescaling is exact. Returns (done, uniform, exponent); not done: hm is untouched."""
    H = hm.size
    hmx, hmn = 0.0, np.inf
    for j in range(H):
        a = abs(hm[j])
        if not a < np.inf:  # NaN or inf
            return False, True, eh
        if a != 0.0:
            hmx = max(hmx, a)
            hmn = min(hmn, a)
    top, low = -np.inf, np.inf
    for j in range(H):
        m = Dm[k, j]
        if m != 0.0:
            if not 0.5 <= abs(m) < 1.0:
                return False, True, eh
            top = max(top, De[k, j])
            low = min(low, De[k, j])
    if hmx > 0.0:
        top = max(top, eh + math.frexp(hmx)[1])
        low = min(low, eh + math.frexp(hmn)[1])
    if top == -np.inf or top - low > _DIRECT_SPAN or abs(eh - top) > 1000.0:
        return False, True, eh
    wh = _pow2(eh - top)
    rmx, rmn = 0.0, np.inf
    for j in range(H):
        m = Dm[k, j]
        r = hm[j] * wh + (m * _pow2(De[k, j] - top) if m != 0.0 else 0.0)
        hm[j] = r
        a = abs(r)
        if a != 0.0:
            rmx = max(rmx, a)
            rmn = min(rmn, a)
    if rmx == 0.0:
        return True, True, 0.0
    e = top + math.frexp(rmx)[1]
    if e - (top + math.frexp(rmn)[1]) > lim:  # spread out: an exponent per element, as _u_compress leaves it
        for j in range(H):
            hm[j], he[j] = _norm(hm[j], top)
        return True, False, 0.0
    w = _pow2(top - e)
    for j in range(H):
        hm[j] *= w
    return True, True, e


@njit(**_OPTS)
def grad_sweep_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, lim, buf_lim, v, every, out_m, out_e, Dm, De):
    T, nf, H = F.shape
    hm, he = np.empty(H), np.zeros(H)
    _start(v, hm, he)
    uni, eh = _add_direct_at(hm, he, True, 0.0, Dm, De, T - 1, lim)
    Fm, Fe = np.empty((nf, H)), np.empty((nf, H))
    bm, be = np.empty(H), np.empty(H)
    buf = np.empty(H, dtype=W.dtype)
    for k in range(T - 1, -1, -1):
        if uni:
            sh, spread, zero = _u_normalise(hm)
            eh += sh
            if spread > lim:
                _u_expand(hm, eh, he)
                uni = False
        _out(out_m, out_e, k, hm, he, uni, eh)
        if k == 0:
            break
        if uni and wide[k] < 0:  # fast: dL/dh_{k-1} = W^T (act'(a_k) dL/dh_k)
            for j in range(H):
                buf[j] = hm[j] * F[k, 0, j]
            res = np.dot(buf, W)
            for j in range(H):
                hm[j] = res[j]
            eh += s[k, 0] + eW
            if every:
                uni, eh = _direct_uniform(hm, eh, he, v)
            uni, eh = _add_direct_at(hm, he, uni, eh, Dm, De, k - 1, lim)
            continue
        if uni:
            _u_expand(hm, eh, he)
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        for j in range(H):
            bm[j], be[j] = _mul(hm[j], he[j], Fm[0, j], Fe[0, j])
        _matvec(bm, be, W, buf_lim, hm, he, buf)
        for j in range(H):
            he[j] += eW
        if every:
            _add_direct(hm, he, v)
        uni, eh = _u_compress(hm, he, lim)
        uni, eh = _add_direct_at(hm, he, uni, eh, Dm, De, k - 1, lim)


@njit(**_OPTS)
def grad_sweep_gru(F, s, groups, wide, wide_m, wide_e, W, eW, lim, buf_lim, v, every, out_m, out_e, Dm, De):
    T, nf, H = F.shape
    hm, he = np.empty(H), np.zeros(H)
    _start(v, hm, he)
    uni, eh = _add_direct_at(hm, he, True, 0.0, Dm, De, T - 1, lim)
    Fm, Fe = np.empty((nf, H)), np.empty((nf, H))
    bm, be = np.empty(3 * H), np.empty(3 * H)
    nm, ne, zm = np.empty(H), np.empty(H), np.empty(H)
    buf = np.empty(3 * H, dtype=W.dtype)
    for k in range(T - 1, -1, -1):
        spread = 0.0
        if uni:
            sh, spread, zero = _u_normalise(hm)
            eh += sh
            if spread > lim:
                _u_expand(hm, eh, he)
                uni = False
        _out(out_m, out_e, k, hm, he, uni, eh)
        if k == 0:
            break
        if uni and wide[k] < 0 and spread + 60.0 <= buf_lim:
            for j in range(H):  # the gates' path: W^T (dL/dh_k B3_k) ...
                buf[j] = hm[j] * F[k, 0, j]
                buf[H + j] = hm[j] * F[k, 1, j]
                buf[2 * H + j] = hm[j] * F[k, 2, j]
                zm[j] = hm[j] * F[k, 3, j]
            res = np.dot(buf, W)
            for j in range(H):
                nm[j] = res[j]
            sn, spn, zn = _u_normalise(nm)
            sz, spz, zz = _u_normalise(zm)
            ok, e = _u_add(nm, eh + s[k, 0] + eW + sn, spn, zn, zm, eh + s[k, 1] + sz, spz, zz)  # ... + z_k dL/dh_k
            if ok:
                for j in range(H):
                    hm[j] = nm[j]
                eh = e
                if every:
                    uni, eh = _direct_uniform(hm, eh, he, v)
                uni, eh = _add_direct_at(hm, he, uni, eh, Dm, De, k - 1, lim)
                continue
        if uni:
            _u_expand(hm, eh, he)
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        for j in range(H):
            for g in range(3):
                bm[g * H + j], be[g * H + j] = _mul(hm[j], he[j], Fm[g, j], Fe[g, j])
        _matvec(bm, be, W, buf_lim, nm, ne, buf)
        for j in range(H):
            m, e = _mul(hm[j], he[j], Fm[3, j], Fe[3, j])
            hm[j], he[j] = _add(nm[j], ne[j] + eW, m, e)
        if every:
            _add_direct(hm, he, v)
        uni, eh = _u_compress(hm, he, lim)
        uni, eh = _add_direct_at(hm, he, uni, eh, Dm, De, k - 1, lim)


@njit(**_OPTS)
def grad_sweep_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, lim, buf_lim, dense, v, every, out_m, out_e,
                    out_cm, out_ce, Dm, De):
    T, nf, H = F.shape
    hm, he = np.empty(H), np.zeros(H)
    _start(v, hm, he)
    h_uni, eh = _add_direct_at(hm, he, True, 0.0, Dm, De, T - 1, lim)
    qm, qe = np.zeros(H), np.zeros(H)    # the carry dL/dc_{k+1} f_{k+1}
    q_uni, eq = True, 0.0
    dm, de = np.empty(H), np.empty(H)    # dL/dc_k
    Fm, Fe = np.empty((nf, H)), np.empty((nf, H))
    bm, be = np.empty(4 * H), np.empty(4 * H)
    buf = np.empty(4 * H, dtype=W.dtype)
    for k in range(T - 1, -1, -1):
        h_spread = q_spread = 0.0
        h_zero = q_zero = True
        if h_uni:
            sh, h_spread, h_zero = _u_normalise(hm)
            eh += sh
            if h_spread > lim:
                _u_expand(hm, eh, he)
                h_uni = False
        if q_uni:
            sq, q_spread, q_zero = _u_normalise(qm)
            eq += sq
            if q_spread > lim:
                _u_expand(qm, eq, qe)
                q_uni = False
        fast = h_uni and q_uni and wide[k] < 0
        if fast:  # dL/dc_k = dL/dh_k o_k tanh'(c_k) + carry, with one exponent
            for j in range(H):
                dm[j] = hm[j] * F[k, 4, j]
            sd, d_spread, d_zero = _u_normalise(dm)
            fast, ed = _u_add(dm, eh + s[k, 1] + sd, d_spread, d_zero, qm, eq, q_spread, q_zero)
        if fast:
            sd, d_spread, d_zero = _u_normalise(dm)
            ed += sd
            eb = max(ed, eh)
            # the mat-vec input spans what both parts span; terms below float range may go only where
            # every output also has a term of the larger part (W_hh without zeros, no zero entry there)
            fast = max(d_spread + eb - ed, h_spread + eb - eh) + 60.0 <= buf_lim or (
                dense and (d_spread + 60.0 <= buf_lim and not d_zero if ed >= eh
                           else h_spread + 60.0 <= buf_lim and not h_zero))
        if fast:
            _out(out_m, out_e, k, hm, he, True, eh)
            _out(out_cm, out_ce, k, dm, de, True, ed)
            if k == 0:
                break
            wd, wh = _pow2(ed - eb), _pow2(eh - eb)
            for j in range(H):
                c = dm[j] * wd
                buf[j] = c * F[k, 0, j]
                buf[H + j] = c * F[k, 1, j]
                buf[2 * H + j] = c * F[k, 2, j]
                buf[3 * H + j] = hm[j] * wh * F[k, 3, j]
                qm[j] = dm[j] * F[k, 5, j]
            eq = ed + s[k, 2]
            res = np.dot(buf, W)
            for j in range(H):
                hm[j] = res[j]
            eh = eb + s[k, 0] + eW
            if every:
                h_uni, eh = _direct_uniform(hm, eh, he, v)
            h_uni, eh = _add_direct_at(hm, he, h_uni, eh, Dm, De, k - 1, lim)
            continue
        # exact path: an exponent per element for this step
        if h_uni:
            _u_expand(hm, eh, he)
        if q_uni:
            _u_expand(qm, eq, qe)
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        for j in range(H):
            m, e = _mul(hm[j], he[j], Fm[4, j], Fe[4, j])
            dm[j], de[j] = _add(m, e, qm[j], qe[j])
        _out(out_m, out_e, k, hm, he, False, 0.0)
        _out(out_cm, out_ce, k, dm, de, False, 0.0)
        if k == 0:
            break
        for j in range(H):
            for g in range(3):
                bm[g * H + j], be[g * H + j] = _mul(dm[j], de[j], Fm[g, j], Fe[g, j])
            bm[3 * H + j], be[3 * H + j] = _mul(hm[j], he[j], Fm[3, j], Fe[3, j])
            qm[j], qe[j] = _mul(dm[j], de[j], Fm[5, j], Fe[5, j])
        _matvec(bm, be, W, buf_lim, hm, he, buf)
        for j in range(H):
            he[j] += eW
        if every:
            _add_direct(hm, he, v)
        h_uni, eh = _u_compress(hm, he, lim)
        h_uni, eh = _add_direct_at(hm, he, h_uni, eh, Dm, De, k - 1, lim)
        q_uni, eq = _u_compress(qm, qe, lim)


# ----------------------------------------------------------------------------------------
# log10 of numbers held as m * 2**e: the same float64 numbers numpy gives (sweeps.log10_norms), in one pass.
_LOG10_2 = math.log10(2.0)


@njit(**_OPTS)
def _block_squares(a, lo, n):
    """a[lo]**2 + ... + a[lo+n-1]**2 (n <= 128) as numpy sums a block: eight running sums, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i] * a[i]
        return res
    r0, r1, r2, r3 = a[lo] * a[lo], a[lo + 1] * a[lo + 1], a[lo + 2] * a[lo + 2], a[lo + 3] * a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4] * a[lo + 4], a[lo + 5] * a[lo + 5], a[lo + 6] * a[lo + 6], a[lo + 7] * a[lo + 7]
    i = lo + 8
    end = lo + n - n % 8
    while i < end:
        r0 += a[i] * a[i]
        r1 += a[i + 1] * a[i + 1]
        r2 += a[i + 2] * a[i + 2]
        r3 += a[i + 3] * a[i + 3]
        r4 += a[i + 4] * a[i + 4]
        r5 += a[i + 5] * a[i + 5]
        r6 += a[i + 6] * a[i + 6]
        r7 += a[i + 7] * a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += a[i] * a[i]
        i += 1
    return res


@njit(**_OPTS)
def _sum_squares(a):
    """Sum of a**2 in numpy's pairwise order (np.add.reduce: blocks of at most 128 split in halves of
    multiples of 8), so the same float64. The halving runs on an explicit stack (a cached compiled
    function must not call itself)."""
    if a.size <= 128:
        return _block_squares(a, 0, a.size)
    lo_s, n_s = np.empty(64, dtype=np.int64), np.empty(64, dtype=np.int64)
    stage, left = np.zeros(64, dtype=np.int64), np.empty(64)
    lo_s[0], n_s[0], stage[0] = 0, a.size, 0
    depth, ret = 1, 0.0
    while depth > 0:
        i = depth - 1
        n = n_s[i]
        if n <= 128:
            ret = _block_squares(a, lo_s[i], n)
            depth -= 1
            continue
        half = n // 2
        half -= half % 8
        if stage[i] == 0:  # the left half first
            stage[i] = 1
            lo_s[depth], n_s[depth], stage[depth] = lo_s[i], half, 0
            depth += 1
        elif stage[i] == 1:  # then the right half
            left[i] = ret
            stage[i] = 2
            lo_s[depth], n_s[depth], stage[depth] = lo_s[i] + half, n - half, 0
            depth += 1
        else:
            ret = left[i] + ret
            depth -= 1
    return ret


@njit(**_OPTS)
def log10_row_norms(m, e, out):
    """out[k] = log10 of the 2-norm of row k of m * 2**e (elementwise exponents), each row aligned on its
    largest exponent (entries more than 2**1100 below it count as 0)."""
    T, H = m.shape
    row = np.empty(H)
    for k in range(T):
        others = 0
        for j in range(H):
            others += e[k, j] != e[k, 0]
        if others == 0 and abs(e[k, 0]) < np.inf:  # a row on one exponent (nearly all): no scaling
            out[k] = math.log10(math.sqrt(_sum_squares(m[k]))) + e[k, 0] * _LOG10_2
            continue
        top = -np.inf
        for j in range(H):
            if m[k, j] != 0.0 and e[k, j] > top:
                top = e[k, j]
        if not math.isfinite(top):
            top = 0.0
        for j in range(H):
            d = min(max(e[k, j] - top, -1100.0), 0.0)
            row[j] = m[k, j] if d == 0.0 else _ldexp(m[k, j], d)
        out[k] = math.log10(math.sqrt(_sum_squares(row))) + top * _LOG10_2


_INV_LN10 = 1.0 / math.log(10.0)
_SQRT_HALF_BITS = 0x3FE6A09E00000000     # just below sqrt(1/2)
_MANTISSA_BITS = 0x000FFFFFFFFFFFFF
_NORMAL_BITS = 0x0010000000000000        # the smallest normal float64
_TWO52_BITS = 0x4330000000000000         # 2^52: its bits plus a whole number i < 2^52 are those of 2^52 + i
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)  # fdlibm's log series


@njit(**_VEC)
def log10_abs(m, e, out):
    """out = log10 |m * 2**e| elementwise (-inf for 0, NaN for NaN), within a few float64 ulp (the output
    is float32). In a loop LLVM vectorises: a normal |m| = 2^n (1 + f), 1 + f in [sqrt(1/2), sqrt(2)),
    both read from its bits, and log(1 + f) by fdlibm's series in s = f / (2 + f); so m = +-2^n gives
    (n + e) log10(2) exactly rounded, and 0 for |m * 2**e| = 1. Zero, subnormal, inf and NaN mantissas
    take math.log10."""
    T, H = m.shape
    lg1, lg2, lg3, lg4, lg5, lg6, lg7 = _LG
    for k in range(T):
        special = 0
        for j in range(H):
            b = np.float64(m[k, j]).view(np.int64) & _ABS_BITS
            special += not (_NORMAL_BITS <= b < _INF_BITS)
            ix = b + (_ONE_BITS - _SQRT_HALF_BITS)
            n = np.int64((ix >> 52) + _TWO52_BITS).view(np.float64) - (2.0 ** 52 + 1023.0)  # no int64 -> float in AVX2
            f = np.int64((ix & _MANTISSA_BITS) + _SQRT_HALF_BITS).view(np.float64) - 1.0
            hfsq = 0.5 * f * f
            s = f / (2.0 + f)
            z = s * s
            w = z * z
            R = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7))) + w * (lg2 + w * (lg4 + w * lg6))
            out[k, j] = (n + e[k, j]) * _LOG10_2 + (f - (hfsq - s * (hfsq + R))) * _INV_LN10
        for j in range(H if special else 0):
            b = np.float64(m[k, j]).view(np.int64) & _ABS_BITS
            if not (_NORMAL_BITS <= b < _INF_BITS):
                out[k, j] = math.log10(abs(m[k, j])) + e[k, j] * _LOG10_2


# ----------------------------------------------------------------------------------------
# Spectral norms.
@njit(**_OPTS)
def exact_norm(P):
    """Largest singular value of P from the largest eigenvalue of its Gram matrix P P^T (float64)."""
    P64 = P.astype(np.float64)
    return math.sqrt(max(np.linalg.eigvalsh(np.dot(P64, P64.T))[-1], 0.0))


@njit(**_OPTS)
def _exact_with_vectors(P, u):
    """exact_norm, also pointing u [2, m] at the top two left singular vectors (the warm start of the
    next, similar matrix)."""
    P64 = P.astype(np.float64)
    vals, vecs = np.linalg.eigh(np.dot(P64, P64.T))
    m = P.shape[0]
    for r in range(m):
        u[0, r] = vecs[r, -1]
        u[1, r] = vecs[r, -2] if m > 1 else 0.0
    return math.sqrt(max(vals[-1], 0.0))


_START_MIX = 1e-2  # weight of the dense component in a warm start vector


@njit(**_OPTS)
def _start_vectors(m):
    """The first warm start of spectral_norm: the uniform vector, no second one."""
    u = np.zeros((2, m))
    u[0, :] = 1.0 / math.sqrt(m)
    return u


@njit(**_OPTS)
def _dense_start(m):
    """A fixed dense, sign-mixed unit vector (a Weyl sequence, not random: the same matrix always
    gives the same number) with a component in every direction."""
    q = np.empty(m)
    for r in range(m):
        q[r] = ((r + 1) * 0.6180339887498949 + 0.3) % 1.0 - 0.5
    return q / math.sqrt(np.sum(q * q))


@njit(**_OPTS)
def _tridiagonal(alpha, beta, j):
    """The j x j Lanczos tridiagonal: alpha on the diagonal, beta beside it."""
    Tm = np.zeros((j, j))
    for i in range(j):
        Tm[i, i] = alpha[i]
        if i + 1 < j:
            Tm[i, i + 1] = beta[i]
            Tm[i + 1, i] = beta[i]
    return Tm


@njit(**_OPTS)
def _reorthogonalise(Q, j, z):
    """z minus its components along the Lanczos vectors Q[0..j], twice (full reorthogonalisation;
    twice is enough)."""
    for _ in range(2):
        for i in range(j + 1):
            z -= np.dot(Q[i], z) * Q[i]


@njit(**_OPTS)
def _ritz_vectors(vecs, Q, j, top, second):
    """The top and second Ritz vectors of the Lanczos vectors Q[0..j] (vecs: the eigenvectors of
    the (j + 1) x (j + 1) tridiagonal, ascending) into `top` and `second`."""
    top[:] = 0.0
    second[:] = 0.0
    for i in range(j + 1):
        top += vecs[i, -1] * Q[i]
        if j > 0:
            second += vecs[i, -2] * Q[i]


@njit(**_OPTS)
def _lanczos(P, q, tol, max_iter, top, second):
    """The largest eigenvalue of A = P P^T by Lanczos from the unit vector q, with full
    reorthogonalisation, stopped once the top Ritz pair (theta, y) has a residual
    ||A y - theta y|| = beta_j |y_j| <= tol * theta (then theta is within tol * theta of an
    eigenvalue of A). Returns theta and puts y in `top` (and the second Ritz vector in `second`);
    -1 if it did not converge in max_iter."""
    m = P.shape[0]
    K = min(max_iter, m)
    Q = np.zeros((K, m))
    alpha = np.zeros(K)
    beta = np.zeros(K)
    for j in range(K):
        Q[j] = q
        w = np.dot(q.astype(P.dtype), P)
        z = np.dot(P, w).astype(np.float64)
        alpha[j] = np.dot(q, z)
        _reorthogonalise(Q, j, z)
        b = math.sqrt(np.sum(z * z))
        vals, vecs = np.linalg.eigh(_tridiagonal(alpha, beta, j + 1))
        theta = vals[-1]
        if theta <= 0.0:
            return -1.0
        if j == m - 1 or b <= 1e-14 * theta or b * abs(vecs[j, -1]) <= tol * theta:
            _ritz_vectors(vecs, Q, j, top, second)
            return theta
        beta[j] = b
        q = z / b
    return -1.0


@njit(**_OPTS)
def _finite(A):
    """True when every entry of A is finite."""
    for x in A.reshape(-1):
        if not math.isfinite(x):
            return False
    return True


@njit(**_OPTS)
def _warm_start(u):
    """The unit start vector of a warm-started Lanczos run: u[0] + u[1] / 2 (the previous matrix's top
    two vectors) plus a small dense component; the dense vector alone when that is zero or not finite."""
    dense = _dense_start(u.shape[1])
    q = u[0] + 0.5 * u[1] + _START_MIX * dense
    qn = math.sqrt(np.sum(q * q))
    if qn == 0.0 or not math.isfinite(qn):
        return dense
    return q / qn


@njit(**_OPTS)
def _keep_vectors(u, top, second):
    """u[0], u[1] = top, second normalised (for the next matrix's warm start); a zero vector is left out."""
    for v, row in ((top, 0), (second, 1)):
        vn = math.sqrt(np.sum(v * v))
        if vn > 0.0:
            for r in range(u.shape[1]):
                u[row, r] = v[r] / vn


@njit(**_OPTS)
def spectral_norm(P, u, tol, max_iter):
    """Largest singular value of P (m x n); u [2, m] holds the previous, similar matrix's top two
    left singular vectors and is updated in place.

    max_iter = 0: exact (the eigenvalues of P P^T). Otherwise Lanczos on A = P P^T (_lanczos) from
    u[0] + u[1] / 2 (plus a small dense component): when the top two singular values change places
    from one matrix to the next, the new top vector is close to the old second one, so the start has
    a real component along it.
    What does not converge, or falls below a lower bound of sigma_max (the largest row or column norm
    of P), is computed exactly.
    """
    if not _finite(P):
        return np.nan
    if max_iter == 0:
        return exact_norm(P)
    m = P.shape[0]
    top, second = np.empty(m), np.empty(m)
    theta = _lanczos(P, _warm_start(u), tol, max_iter, top, second)
    if theta < 0.0:
        return _exact_with_vectors(P, u)
    lb = 0.0  # every row and column norm of P is a lower bound on sigma_max (exact for a diagonal P)
    cols = np.zeros(P.shape[1])
    for r in range(m):
        row = 0.0
        for c in range(P.shape[1]):
            x2 = float(P[r, c]) * float(P[r, c])
            row += x2
            cols[c] += x2
        lb = max(lb, row)
    lb = max(lb, np.max(cols))
    if theta < lb * (1.0 - 1e-6):
        return _exact_with_vectors(P, u)
    _keep_vectors(u, top, second)
    return math.sqrt(theta)


# ----------------------------------------------------------------------------------------
# Jacobian-product sweeps: H adjoint rows P = dh_{T-1}/dh_k (one exponent per row), the spectral
# norm of each product by `spectral_norm`. out[k] = log10 ||dh_{T-1}/dh_k||_2.
@njit(**_OPTS)
def _renorm(P, eP, limit, spread_lim):
    """Keep the rows of P (exponents eP) in range: nothing while every row's largest entry is within
    2**+-limit; one shift for all rows while they share an exponent and lie within 2**spread_lim of
    each other (so the norm needs no alignment); otherwise each row on its own."""
    n, m = P.shape
    gmax, gmin, same = 0.0, np.inf, True
    for r in range(n):
        mx = 0.0
        for c in range(m):
            a = abs(float(P[r, c]))
            if a > mx or a != a:
                mx = a
        if mx > 0.0:
            gmax = max(gmax, mx)
            gmin = min(gmin, mx)
        if eP[r] != eP[0]:
            same = False
    if gmax == 0.0 or not math.isfinite(gmax):
        return
    lo, hi = math.frexp(gmin)[1], math.frexp(gmax)[1]
    if same and -limit <= lo and hi <= limit:
        return
    if same and hi - lo <= spread_lim:
        a, b = _pow2(-(hi // 2)), _pow2(-(hi - hi // 2))
        for r in range(n):
            for c in range(m):
                P[r, c] = P[r, c] * a * b
            eP[r] += hi
        return
    _row_normalise(P, eP)


@njit(**_OPTS)
def _same(e):
    for r in range(1, e.size):
        if e[r] != e[0]:
            return False
    return True


@njit(**_OPTS)
def _norm_of(P, eP, u, tol, max_iter, tmp):
    """log10 ||diag(2**eP) P||_2 (no copy while the rows share an exponent)."""
    if _same(eP):
        return spectral_norm(P, u, tol, max_iter), eP[0]
    return _norm_rows(P, eP, u, tol, max_iter, tmp)


@njit(**_OPTS)
def jac_sweep_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, limit, gap_lim, tol, max_iter, k_min, out):
    T, _, H = F.shape
    dt = W.dtype
    P, X = np.eye(H, dtype=dt), np.empty((H, H), dtype=dt)
    J, tmp = np.empty((H, H), dtype=dt), np.empty((H, H), dtype=dt)
    eP, eX = np.zeros(H), np.empty(H)
    Fm, Fe = np.empty((1, H)), np.empty((1, H))
    u = _start_vectors(H)
    for k in range(T - 1, -1, -1):
        _renorm(P, eP, limit, 2 * limit)
        sigma, E = _norm_of(P, eP, u, tol, max_iter, tmp)
        _record(out, k, sigma, E)
        if k <= k_min:
            break
        if wide[k] < 0:  # P diag(act'(a_k)) W, the factors on one exponent
            for i in range(H):
                d = F[k, 0, i]
                for j in range(H):
                    J[i, j] = d * W[i, j]
            np.dot(P, J, X)
            P, X = X, P
            for r in range(H):
                eP[r] += s[k, 0] + eW
            continue
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        _scale_cols(P, eP, Fm[0], Fe[0], X, eX)     # each row aligned on its own largest product
        np.dot(X, W, P)
        for r in range(H):
            eP[r] = eX[r] + eW


@njit(**_OPTS)
def _gate_rows(Fm, Fe, W, M, eM):
    """M * 2**eM[i] (per row i) = sum over the first three gates g of diag(F_g) W_g, with F_g =
    Fm[g] * 2**Fe[g] and W_g = W[g H:(g+1) H]: each unit's gate rows, aligned on its largest factor."""
    H = M.shape[0]
    for i in range(H):
        e = -np.inf
        for g in range(3):  # a gate whose weight row is zero adds nothing: it does not set the scale
            if Fm[g, i] != 0.0 and _any_nonzero(W, g * H + i, 0):
                e = max(e, Fe[g, i])
        if e == -np.inf:
            e = 0.0
        eM[i] = e
        w0, w1, w2 = Fm[0, i] * _pow2(Fe[0, i] - e), Fm[1, i] * _pow2(Fe[1, i] - e), Fm[2, i] * _pow2(Fe[2, i] - e)
        for j in range(H):
            M[i, j] = w0 * W[i, j] + w1 * W[H + i, j] + w2 * W[2 * H + i, j]


@njit(**_OPTS)
def _scale_elems(Am, Ae, fe, live, X, eX):
    """X * 2**eX[r] (per row) = A diag(2**fe) over the columns i with live[i] (the others 0), A = Am * 2**Ae
    with an exponent per element: each row aligned on its own largest product."""
    n, m = Am.shape
    for r in range(n):
        t = -np.inf
        for i in range(m):
            if live[i] and Am[r, i] != 0.0:
                t = max(t, Ae[r, i] + fe[i])
        if t == -np.inf:
            t = 0.0
        for i in range(m):
            X[r, i] = _ldexp(Am[r, i], Ae[r, i] + fe[i] - t) if live[i] else 0.0
        eX[r] = t


@njit(**_OPTS)
def _shared_exponent(Am, Ae, span, P, eP):
    """P * 2**eP (one exponent for every row) = Am * 2**Ae (an exponent per element) when the nonzero
    entries lie within 2**span of each other; False (P untouched) when they do not."""
    hi, lo = -np.inf, np.inf
    for x, e in zip(Am.reshape(-1), Ae.reshape(-1)):
        if x != 0.0:
            hi, lo = max(hi, e), min(lo, e)
    if hi == -np.inf:
        hi = lo = 0.0
    if hi - lo > span:
        return False
    n, m = Am.shape
    for r in range(n):
        for c in range(m):
            P[r, c] = _ldexp(Am[r, c], Ae[r, c] - hi)
        eP[r] = hi
    return True


@njit(**_OPTS)
def jac_sweep_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, limit, gap_lim, tol, max_iter, k_min, out):
    """The cell path scales each column of dh_{T-1}/dc_k by its own unit's forget gates, so a row of it
    can span more than float64 holds while a gate later makes its small part the one that matters. On
    the slow steps it is therefore kept with an exponent per element (QM, QE; the cell path PcM, PcE),
    and goes back to one exponent (Pc, ec) once its entries lie within 2**gap_lim of each other."""
    T, _, H = F.shape
    dt = W.dtype
    Ph = np.eye(H, dtype=dt)          # dh_{T-1}/dh_k
    Pc = np.zeros((H, H), dtype=dt)   # dh_{T-1}/dc_{k+1} f_{k+1}
    Q = np.empty((H, H), dtype=dt)    # dh_{T-1}/dc_k
    QM, QE, PcM, PcE = np.empty((H, H)), np.empty((H, H)), np.empty((H, H)), np.empty((H, H))
    pc_elem = False                   # Pc held as PcM * 2**PcE (an exponent per element)
    X = np.empty((H, H), dtype=dt)
    Y = np.empty((H, H), dtype=dt)
    M = np.empty((H, H), dtype=dt)
    tmp = np.empty((H, H), dtype=dt)
    eh, ec, eq, eX, eY, eM = np.zeros(H), np.zeros(H), np.empty(H), np.empty(H), np.empty(H), np.empty(H)
    live = np.empty(H, dtype=np.bool_)
    Fm, Fe = np.empty((6, H)), np.empty((6, H))
    Wo = np.ascontiguousarray(W[3 * H:])
    u = _start_vectors(H)
    for k in range(T - 1, -1, -1):
        _renorm(Ph, eh, limit, 2 * limit)
        if not pc_elem and not (wide[k] < 0 and _same(ec)):  # a fast step's Pc is Q diag(f) on Q's scale
            _renorm(Pc, ec, limit, 2 * limit)
        e1, e2 = eh[0] + s[k, 1], ec[0]
        q_elem = not (wide[k] < 0 and not pc_elem and _same(eh) and _same(ec) and abs(e1 - e2) <= gap_lim)
        if not q_elem:
            e = max(e1, e2)     # Q = Ph diag(o tanh'(c_k)) + Pc, on one exponent
            w1, w2 = _pow2(e1 - e), _pow2(e2 - e)
            for j in range(H):
                kj = F[k, 4, j] * w1
                for r in range(H):
                    Q[r, j] = Ph[r, j] * kj + Pc[r, j] * w2
            eq[:] = e
            _renorm(Q, eq, limit, 2 * limit)
        else:                   # ... an exponent per element
            factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
            for r in range(H):
                for j in range(H):
                    a, ea = _norm(float(Ph[r, j]) * Fm[4, j], eh[r] + Fe[4, j])
                    b, eb = (PcM[r, j], PcE[r, j]) if pc_elem else _norm(float(Pc[r, j]), ec[r])
                    QM[r, j], QE[r, j] = _add(a, ea, b, eb)
        sigma, E = _norm_of(Ph, eh, u, tol, max_iter, tmp)
        _record(out, k, sigma, E)
        if k <= k_min:
            break
        if not q_elem and wide[k] < 0 and _same(eh) and _same(eq) and abs(eh[0] - eq[0]) <= gap_lim:
            e = max(eh[0], eq[0])  # Ph diag(Bo) W_o + Q sum diag(B3_g) W_g, on one exponent
            wh, wq = _pow2(eh[0] - e), _pow2(eq[0] - e)
            for i in range(H):
                bo, bi, bf, bg = F[k, 3, i] * wh, F[k, 0, i] * wq, F[k, 1, i] * wq, F[k, 2, i] * wq
                for j in range(H):
                    X[i, j] = bo * W[3 * H + i, j]
                    M[i, j] = bi * W[i, j] + bf * W[H + i, j] + bg * W[2 * H + i, j]
            for r in range(H):
                for i in range(H):
                    Pc[r, i] = Q[r, i] * F[k, 5, i]       # the cell path: Q diag(f_k)
            ec[:] = eq[0] + s[k, 2]
            np.dot(Ph, X, Y)
            np.dot(Q, M, Ph)
            for r in range(H):
                for j in range(H):
                    Ph[r, j] += Y[r, j]
            eh[:] = e + s[k, 0] + eW
            continue
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        if not q_elem:
            for r in range(H):
                for j in range(H):
                    QM[r, j], QE[r, j] = _norm(float(Q[r, j]), eq[r])
        for r in range(H):      # the cell path: Q diag(f_k), an exponent per element
            for i in range(H):
                PcM[r, i], PcE[r, i] = _norm(QM[r, i] * Fm[5, i], QE[r, i] + Fe[5, i])
        pc_elem = not _shared_exponent(PcM, PcE, gap_lim, Pc, ec)
        _gate_rows(Fm, Fe, W, M, eM)                # dc_k/dh_{k-1} = sum diag(B3_g) W_g
        _scale_cols(Ph, eh, Fm[3], Fe[3], X, eX)    # through the output gate: Ph diag(Bo) W_o
        np.dot(X, Wo, Ph)
        for i in range(H):
            live[i] = _any_nonzero(M, i, 0)
        _scale_elems(QM, QE, eM, live, X, eY)       # ... + Q M
        np.dot(X, M, Y)
        _row_normalise(Ph, eX)
        _row_normalise(Y, eY)
        _combine_rows(Ph, eX, Y, eY)
        for r in range(H):
            eh[r] = eX[r] + eW


@njit(**_OPTS)
def _norm_elems(Am, Ae, u, tol, max_iter, tmp):
    """log10 ||A||_2 for A = Am * 2**Ae (an exponent per element), brought to its largest exponent."""
    E = -np.inf
    for x, e in zip(Am.reshape(-1), Ae.reshape(-1)):
        if x != 0.0:
            E = max(E, e)
    if E == -np.inf:
        E = 0.0
    n, m = Am.shape
    for r in range(n):
        for c in range(m):
            tmp[r, c] = _ldexp(Am[r, c], Ae[r, c] - E)
    return spectral_norm(tmp, u, tol, max_iter), E


@njit(**_OPTS)
def jac_sweep_gru(F, s, groups, wide, wide_m, wide_e, W, eW, limit, gap_lim, tol, max_iter, k_min, out):
    """The update gate scales each column of dh_{T-1}/dh_k by its own unit's z, so a row can span more
    than float64 holds while a gate later makes its small part the one that matters: on the slow steps
    the product is kept with an exponent per element (PM, PE), and goes back to one exponent (P, eP)
    once its entries lie within 2**gap_lim of each other."""
    T, _, H = F.shape
    dt = W.dtype
    P = np.eye(H, dtype=dt)
    PM, PE = np.empty((H, H)), np.empty((H, H))
    p_elem = False                    # the product held as PM * 2**PE
    X = np.empty((H, H), dtype=dt)
    Y = np.empty((H, H), dtype=dt)
    J = np.empty((H, H), dtype=dt)
    tmp = np.empty((H, H), dtype=dt)
    eP, eX, eJ = np.zeros(H), np.empty(H), np.empty(H)
    live = np.empty(H, dtype=np.bool_)
    Fm, Fe = np.empty((4, H)), np.empty((4, H))
    u = _start_vectors(H)
    for k in range(T - 1, -1, -1):
        if p_elem:
            sigma, E = _norm_elems(PM, PE, u, tol, max_iter, tmp)
        else:
            _renorm(P, eP, limit, 2 * limit)
            sigma, E = _norm_of(P, eP, u, tol, max_iter, tmp)
        _record(out, k, sigma, E)
        if k <= k_min:
            break
        eb, ez = s[k, 0] + eW, s[k, 1]
        if not p_elem and wide[k] < 0 and abs(eb - ez) <= gap_lim:  # J = sum diag(B3_g) W_g + diag(z_k)
            e = max(eb, ez)
            wb, wz = _pow2(eb - e), _pow2(ez - e)
            for i in range(H):
                br, bz, bn = F[k, 0, i] * wb, F[k, 1, i] * wb, F[k, 2, i] * wb
                for j in range(H):
                    J[i, j] = br * W[i, j] + bz * W[H + i, j] + bn * W[2 * H + i, j]
                J[i, i] += F[k, 3, i] * wz
            np.dot(P, J, X)
            P, X = X, P
            for r in range(H):
                eP[r] += e
            continue
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        _gate_rows(Fm, Fe, W, J, eJ)
        for i in range(H):
            eJ[i] += eW
            live[i] = _any_nonzero(J, i, 0)
        if not p_elem:
            for r in range(H):
                for i in range(H):
                    PM[r, i], PE[r, i] = _norm(float(P[r, i]), eP[r])
        _scale_elems(PM, PE, eJ, live, X, eX)       # P (sum diag(B3_g) W_g)
        np.dot(X, J, Y)
        for r in range(H):                          # + P diag(z_k), an exponent per element
            for i in range(H):
                a, ea = _norm(PM[r, i] * Fm[3, i], PE[r, i] + Fe[3, i])
                b, eb2 = _norm(float(Y[r, i]), eX[r])
                PM[r, i], PE[r, i] = _add(a, ea, b, eb2)
        p_elem = not _shared_exponent(PM, PE, gap_lim, P, eP)


# ----------------------------------------------------------------------------------------
# Per-step Jacobians ds_k/ds_{k-1} (s = h, or (h, c) for LSTM) as one matrix with one exponent:
# each builder fills J and returns its exponent. out[k] = log10 ||ds_k/ds_{k-1}||_2.
@njit(**_OPTS)
def _any_nonzero(A, row, start):
    for j in range(start, A.shape[1]):
        if A[row, j] != 0.0:
            return True
    return False


@njit(**_OPTS)
def step_jacobian_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, J):
    H = F.shape[2]
    C = np.empty((1, H))
    E = step_coefficients_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, C)
    for i in range(H):
        for j in range(H):
            J[i, j] = C[0, i] * W[i, j]
    return E


@njit(**_OPTS)
def step_jacobian_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, k, J):
    H = F.shape[2]
    Fm, Fe = np.empty((6, H)), np.empty((6, H))
    factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
    M, eM = np.empty((H, H)), np.empty(H)
    _gate_rows(Fm, Fe, W, M, eM)  # dc_k/dh_{k-1} = M * 2**(eM + eW)
    E = -np.inf  # the largest exponent of any nonzero term, then each term is brought to it
    for i in range(H):
        m_rows = _any_nonzero(M, i, 0)
        terms = ((1.0 if m_rows else 0.0, eM[i] + eW),
                 (Fm[3, i] if _any_nonzero(W, 3 * H + i, 0) else 0.0, Fe[3, i] + eW),
                 (Fm[4, i] if m_rows else 0.0, Fe[4, i] + eM[i] + eW),
                 (Fm[4, i] * Fm[5, i], Fe[4, i] + Fe[5, i]), (Fm[5, i], Fe[5, i]))
        for m, e in terms:
            if m != 0.0:
                E = max(E, e)
    E = 0.0 if E == -np.inf else E
    J[:] = 0.0
    for i in range(H):  # a term left out of E (a zero row) is 0: its scale may exceed float range
        m_rows = _any_nonzero(M, i, 0)
        wm = _ldexp(1.0, eM[i] + eW - E) if m_rows else 0.0
        wo = _ldexp(Fm[3, i], Fe[3, i] + eW - E) if _any_nonzero(W, 3 * H + i, 0) else 0.0
        wk = _ldexp(Fm[4, i], Fe[4, i] + eM[i] + eW - E) if m_rows else 0.0
        for j in range(H):
            J[H + i, j] = M[i, j] * wm                                # dc_k/dh_{k-1}
            J[i, j] = W[3 * H + i, j] * wo + M[i, j] * wk             # dh_k/dh_{k-1}
        J[i, H + i] = _ldexp(Fm[4, i] * Fm[5, i], Fe[4, i] + Fe[5, i] - E)   # dh_k/dc_{k-1}
        J[H + i, H + i] = _ldexp(Fm[5, i], Fe[5, i] - E)                    # dc_k/dc_{k-1}
    return E


@njit(**_OPTS)
def step_jacobian_gru(F, s, groups, wide, wide_m, wide_e, W, eW, k, J):
    H = F.shape[2]
    Fm, Fe = np.empty((4, H)), np.empty((4, H))
    factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
    M, eM = np.empty((H, H)), np.empty(H)
    _gate_rows(Fm, Fe, W, M, eM)
    E = -np.inf
    for i in range(H):
        if Fm[3, i] != 0.0:
            E = max(E, Fe[3, i])
        if _any_nonzero(M, i, 0):
            E = max(E, eM[i] + eW)
    E = 0.0 if E == -np.inf else E
    for i in range(H):  # a zero row of M is left out of E: its scale may exceed float range
        w = _ldexp(1.0, eM[i] + eW - E) if _any_nonzero(M, i, 0) else 0.0
        for j in range(H):
            J[i, j] = M[i, j] * w
        J[i, i] += _ldexp(Fm[3, i], Fe[3, i] - E)
    return E


@njit(**_OPTS)
def step_norms_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, tol, max_iter, k0, out):
    T, _, H = F.shape
    J = np.empty((H, H))
    u = _start_vectors(H)
    for k in range(k0, T):
        E = step_jacobian_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, J)
        _record(out, k, spectral_norm(J, u, tol, max_iter), E)


@njit(**_OPTS)
def step_norms_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, tol, max_iter, k0, out):
    T, _, H = F.shape
    J = np.empty((2 * H, 2 * H))
    u = _start_vectors(2 * H)
    for k in range(k0, T):
        E = step_jacobian_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, k, J)
        _record(out, k, spectral_norm(J, u, tol, max_iter), E)


@njit(**_OPTS)
def step_norms_gru(F, s, groups, wide, wide_m, wide_e, W, eW, tol, max_iter, k0, out):
    T, _, H = F.shape
    J = np.empty((H, H))
    u = _start_vectors(H)
    for k in range(k0, T):
        E = step_jacobian_gru(F, s, groups, wide, wide_m, wide_e, W, eW, k, J)
        _record(out, k, spectral_norm(J, u, tol, max_iter), E)


# ----------------------------------------------------------------------------------------
# Certified norms of each step's own Jacobian above the exact sizes. A step's Jacobian is
# J = sum_g diag(c_g) R_g: per-row coefficients (the step's factors, on one exponent) times fixed
# blocks R_g of the weights (and the identity), so its Gram J J^T = sum_{g,g'} diag(c_g) G_{gg'}
# diag(c_g') costs O(H^2) per step with G = R R^T formed once per sweep (`gram_blocks` in sweeps).
# The norm is then bracketed: Lanczos on the Gram gives a Ritz value theta <= sigma_max^2, and a
# Cholesky factorisation of theta (1 + _CERT) I - J J^T that succeeds proves sigma_max^2 <=
# theta (1 + _CERT). A failed certificate (Lanczos stopped short, or on a lower eigenvalue) falls
# back to the eigenvalues of the Gram.
_CERT = 1e-8           # sigma_max is then known to 5e-9 relative; float64 rounding of a Gram and of
                       # its Cholesky factor is far below (about n^2 * 1.1e-16, 1.2e-10 at n = 1024)
_STALL = 1e-11         # Lanczos stops once theta grows by less than this, relative, over _LOOK iterations
_LOOK = 4              # Lanczos iterations between two looks at the top Ritz value (each a bisection, O(j))


@njit(**_OPTS)
def _coefficient_exponent(Fm, Fe, W, rows, shift):
    """The largest exponent Fe[g, i] + shift[g] of a nonzero factor whose weight row rows[g] * H + i
    is nonzero (rows[g] < 0: no weight row, always counted)."""
    H = Fm.shape[1]
    E = -np.inf
    for g in range(Fm.shape[0]):
        for i in range(H):
            if Fm[g, i] != 0.0 and (rows[g] < 0 or _any_nonzero(W, rows[g] * H + i, 0)):
                E = max(E, Fe[g, i] + shift[g])
    return 0.0 if E == -np.inf else E


@njit(**_OPTS)
def step_coefficients_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, C):
    """J = diag(C[0]) W_m * 2**E (W_m the weight mantissas); returns E."""
    H = F.shape[2]
    Fm, Fe = np.empty((1, H)), np.empty((1, H))
    factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
    E = _coefficient_exponent(Fm, Fe, W, np.array([0]), np.zeros(1))
    for i in range(H):  # a zero weight row is left out of E: its coefficient is 0, not inf
        C[0, i] = _ldexp(Fm[0, i], Fe[0, i] - E) if _any_nonzero(W, i, 0) else 0.0
    return E + eW


@njit(**_OPTS)
def step_coefficients_gru(F, s, groups, wide, wide_m, wide_e, W, eW, k, C):
    """J = (sum_g diag(C[g]) W_g + diag(C[3])) * 2**E over the gates r, z, n; returns E."""
    H = F.shape[2]
    Fm, Fe = np.empty((4, H)), np.empty((4, H))
    factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
    E = _coefficient_exponent(Fm, Fe, W, np.array([0, 1, 2, -1]), np.array([eW, eW, eW, 0.0]))
    for i in range(H):
        for g in range(3):  # a zero weight row is left out of E: its coefficient is 0, not inf
            C[g, i] = _ldexp(Fm[g, i], Fe[g, i] + eW - E) if _any_nonzero(W, g * H + i, 0) else 0.0
        C[3, i] = _ldexp(Fm[3, i], Fe[3, i] - E)
    return E


@njit(**_OPTS)
def step_coefficients_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, k, C):
    """The 2H x 2H Jacobian of (h, c) as sum_g diag(C[g]) R_g * 2**E, R_g = [[W_g, 0], [W_g, 0]]
    for the gates i, f, g, [[W_o, 0], [0, 0]] for o, [[0, I], [0, I]] for the cell path:
    dh/dh = diag(o tanh'(c)) M + diag(Bo) W_o, dc/dh = M with M = sum diag(B3_g) W_g,
    dh/dc = diag(o tanh'(c) f), dc/dc = diag(f). Returns E."""
    H = F.shape[2]
    Fm, Fe = np.empty((6, H)), np.empty((6, H))
    factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
    E = -np.inf
    for i in range(H):
        for g in range(3):
            if Fm[g, i] != 0.0 and _any_nonzero(W, g * H + i, 0):
                E = max(E, Fe[g, i] + eW)
                if Fm[4, i] != 0.0:
                    E = max(E, Fe[g, i] + Fe[4, i] + eW)
        if Fm[3, i] != 0.0 and _any_nonzero(W, 3 * H + i, 0):
            E = max(E, Fe[3, i] + eW)
        if Fm[5, i] != 0.0:
            E = max(E, Fe[5, i])
            if Fm[4, i] != 0.0:
                E = max(E, Fe[4, i] + Fe[5, i])
    E = 0.0 if E == -np.inf else E
    for i in range(H):
        for g in range(3):  # a zero weight row is left out of E: its coefficients are 0, not inf
            live = _any_nonzero(W, g * H + i, 0)
            C[g, i] = _ldexp(Fm[4, i] * Fm[g, i], Fe[4, i] + Fe[g, i] + eW - E) if live else 0.0
            C[g, H + i] = _ldexp(Fm[g, i], Fe[g, i] + eW - E) if live else 0.0
        C[3, i] = _ldexp(Fm[3, i], Fe[3, i] + eW - E) if _any_nonzero(W, 3 * H + i, 0) else 0.0
        C[3, H + i] = 0.0
        C[4, i] = _ldexp(Fm[4, i] * Fm[5, i], Fe[4, i] + Fe[5, i] - E)
        C[4, H + i] = _ldexp(Fm[5, i], Fe[5, i] - E)
    return E


@njit(**_OPTS)
def coefficient_gram(C, G, nonzero, A):
    """A = J J^T for J = sum_g diag(C[g]) R_g, from G = R R^T ([K H, K H], block (g, g') =
    R_g R_g'^T on the H base rows; output row p uses base row p mod H); nonzero[g, g'] says a block
    is not all zero."""
    K, n = C.shape
    H = G.shape[0] // K
    A[:] = 0.0
    for g in range(K):
        for g2 in range(K):
            if not nonzero[g, g2]:
                continue
            for p in range(n):
                cp = C[g, p]
                if cp == 0.0:
                    continue
                row = g * H + p % H
                for qb in range(p // H + 1):  # the lower triangle, blocks of H columns
                    for j in range(min(H, p + 1 - qb * H)):
                        A[p, qb * H + j] += cp * C[g2, qb * H + j] * G[row, g2 * H + j]
    for p in range(n):
        for q in range(p):
            A[q, p] = A[p, q]


@njit(**_OPTS)
def _all_below(alpha, beta, j, x):
    """True when every eigenvalue of the j x j Lanczos tridiagonal lies below x: every pivot of the
    LDL^T factorisation of T - x I is negative (Sylvester's law of inertia; the Sturm count)."""
    d = 1.0
    for i in range(j):
        d = alpha[i] - x - (beta[i - 1] * beta[i - 1] / d if i > 0 else 0.0)
        if d >= 0.0:
            return False
    return True


@njit(**_OPTS)
def _tridiagonal_top(alpha, beta, j):
    """(lo, hi) around the largest eigenvalue of the j x j Lanczos tridiagonal, by bisection on Sturm
    counts from its diagonal (each entry a lower bound) and its Gershgorin bound, to float64 resolution:
    O(j) a halving and no matrix formed."""
    lo, hi = -np.inf, -np.inf
    for i in range(j):
        r = (abs(beta[i - 1]) if i > 0 else 0.0) + (abs(beta[i]) if i + 1 < j else 0.0)
        lo, hi = max(lo, alpha[i]), max(hi, alpha[i] + r)
    while True:
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            return lo, hi
        if _all_below(alpha, beta, j, mid):
            hi = mid
        else:
            lo = mid


@njit(**_OPTS)
def _tridiagonal_top_vector(alpha, beta, j, shift, y):
    """The top eigenvector of the j x j Lanczos tridiagonal into y[:j], by two steps of inverse iteration
    with `shift` above its largest eigenvalue (T - shift I is then negative definite: its LDL^T needs no
    pivoting). Only a warm start depends on it."""
    d = np.empty(j)
    for i in range(j):
        y[i] = 1.0
    for _ in range(2):
        for i in range(j):  # forward: L D L^T of T - shift I, solving L z = y on the way
            d[i] = min(alpha[i] - shift - (beta[i - 1] * beta[i - 1] / d[i - 1] if i > 0 else 0.0), -1e-300)
            if i > 0:
                y[i] -= beta[i - 1] / d[i - 1] * y[i - 1]
        for i in range(j - 1, -1, -1):  # backward: D L^T x = z
            y[i] = (y[i] - (beta[i] * y[i + 1] if i + 1 < j else 0.0)) / d[i]
        big = np.max(np.abs(y[:j]))
        if not 0.0 < big < np.inf:  # nothing to learn from: the first Lanczos vector
            y[:j] = 0.0
            y[0] = 1.0
            return
        for i in range(j):
            y[i] /= big
    y[:j] /= math.sqrt(np.sum(y[:j] * y[:j]))


@njit(**_OPTS)
def _lanczos_sym(A, q, max_iter, top):
    """The top Ritz value of the symmetric A by Lanczos from the unit vector q, with full
    reorthogonalisation, run until it grows by less than _STALL (relative) over _LOOK iterations or the
    Krylov space is invariant; its Ritz vector in `top`. A Ritz value is a Rayleigh quotient: never
    above lambda_max (up to rounding), however early it stops."""
    m = A.shape[0]
    K = min(max_iter, m)
    Q = np.empty((K, m))
    alpha = np.zeros(K)
    beta = np.zeros(K)
    prev = -np.inf
    j_last = 0
    for j in range(K):
        Q[j] = q
        z = np.dot(A, q)
        zn = math.sqrt(np.dot(z, z))
        alpha[j] = np.dot(q, z)
        Qj = Q[:j + 1]
        for _ in range(2):  # full reorthogonalisation (twice is enough), as matrix-vector products
            z -= np.dot(np.dot(Qj, z), Qj)
        b = math.sqrt(np.dot(z, z))
        j_last = j
        if b <= 1e-14 * zn:
            break
        if (j + 1) % _LOOK == 0:
            theta = _tridiagonal_top(alpha, beta, j + 1)[0]
            if theta - prev <= _STALL * abs(theta):
                break
            prev = theta
        beta[j] = b
        q = z / b
    n = j_last + 1
    lo, hi = _tridiagonal_top(alpha, beta, n)
    y = np.empty(n)
    _tridiagonal_top_vector(alpha, beta, n, hi + 1e-10 * abs(hi) + 1e-300, y)
    top[:] = np.dot(y, Q[:n])
    return lo


@njit(**_OPTS)
def _below(A, s):
    """True when s I - A is positive definite (its Cholesky factorisation succeeds)."""
    B = -A
    for r in range(A.shape[0]):
        B[r, r] += s
    try:
        np.linalg.cholesky(B)
    except Exception:  # noqa: BLE001  (numba raises LinAlgError: not positive definite)
        return False
    return True


@njit(**_OPTS)
def certified_norm(A, u):
    """sqrt(lambda_max) of the symmetric positive semi-definite A (a Gram J J^T): the Lanczos Ritz
    value theta from u[0] + u[1] / 2 (the latest steps' top vectors, updated in place) plus a
    dense component, or from the unit vector of A's largest diagonal entry (the longest row of J),
    whichever has the larger Rayleigh quotient, certified by `_below(A, theta (1 + _CERT))`; when
    the certificate fails, Lanczos from the other start, then the eigenvalues of A. Returns
    sqrt(theta): sigma_max lies in [sqrt(theta), sqrt(theta) (1 + _CERT/2)]."""
    if not _finite(A):
        return np.nan
    if np.max(np.diag(A)) == 0.0:  # a Gram with a zero diagonal is zero
        return 0.0
    m = A.shape[0]
    q = _warm_start(u)
    unit = np.zeros(m)  # the row of J with the largest norm: exact at once when J J^T is diagonal
    unit[np.argmax(np.diag(A))] = 1.0
    if np.dot(unit, np.dot(A, unit)) > np.dot(q, np.dot(A, q)):
        q, unit = unit, q
    top, second = np.empty(m), u[0].copy()  # the previous top vector becomes the second start vector
    for start in (q, unit):  # the start with the larger Rayleigh quotient first
        theta = _lanczos_sym(A, start, 80, top)
        if theta > 0.0 and _below(A, theta * (1.0 + _CERT)):
            _keep_vectors(u, top, second)
            return math.sqrt(theta)
    vals, vecs = np.linalg.eigh(A)
    for r in range(m):
        u[0, r] = vecs[r, -1]
        u[1, r] = vecs[r, -2] if m > 1 else 0.0
    return math.sqrt(max(vals[-1], 0.0))


@njit(**_OPTS)
def _step_gram(J, H, lstm):
    """J J^T of a step Jacobian (one BLAS product). An LSTM's cell-state columns hold only the two
    diagonals dh_k/dc_{k-1} and dc_k/dc_{k-1}: its dense h columns go through a product of half the
    size and the diagonals are added entry by entry."""
    if not lstm:
        return np.dot(J, J.T)
    Jh = np.ascontiguousarray(J[:, :H])
    A = np.dot(Jh, Jh.T)
    for i in range(H):
        a, b = J[i, H + i], J[H + i, H + i]
        A[i, i] += a * a
        A[H + i, H + i] += b * b
        A[i, H + i] += a * b
        A[H + i, i] += a * b
    return A


@njit(**_OPTS)
def _step_matrix(kind, by_product, F, s, groups, wide, wide_m, wide_e, W, eW, k, M):
    """Step k's Jacobian (by_product) or its coefficients (step_coefficients_*) into M; returns its exponent."""
    if kind == 0:
        if by_product:
            return step_jacobian_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
        return step_coefficients_rnn(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
    if kind == 1:
        if by_product:
            return step_jacobian_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
        return step_coefficients_lstm(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
    if by_product:
        return step_jacobian_gru(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
    return step_coefficients_gru(F, s, groups, wide, wide_m, wide_e, W, eW, k, M)


@njit(**_OPTS)
def certified_step_norms(kind, F, s, groups, wide, wide_m, wide_e, W, eW, G, nonzero, k0, out):
    """out[k] = log10 ||ds_k/ds_{k-1}||_2 for k >= k0, certified (see certified_norm); kind 0 RNN,
    1 LSTM, 2 GRU; G and nonzero as in coefficient_gram. Without blocks (G empty) each step's Gram is
    the matrix product J J^T of its explicit Jacobian (step_jacobian_*): cheaper up to a few hundred rows."""
    T, _, H = F.shape
    n = 2 * H if kind == 1 else H
    by_product = G.shape[0] == 0
    M = np.empty((n, n)) if by_product else np.empty((nonzero.shape[0], n))
    A = np.empty((n, n))
    u = _start_vectors(n)
    for k in range(k0, T):
        E = _step_matrix(kind, by_product, F, s, groups, wide, wide_m, wide_e, W, eW, k, M)
        if by_product:
            A = _step_gram(M, H, kind == 1)
        else:
            coefficient_gram(M, G, nonzero, A)
        _record(out, k, certified_norm(A, u), E)


# ----------------------------------------------------------------------------------------
# Stacked models: what flows between layers at one step (rnnviz.deep). Cell codes 0 RNN, 1 LSTM, 2 GRU.
@njit(**_OPTS)
def _gru_input_factor(pz, pn, k, j):
    """(1 - z) tanh'(a_n) of unit j at step k: the candidate's factor on the input path (the reset
    gate multiplies only the recurrent term W_hn h + b_hn)."""
    zm, ze = sigmoid_s(-pz[k, j])
    m, e = dtanh_s(pn[k, j])
    return _mul(zm, ze, m, e)


@njit(**_OPTS)
def _gate_adjoints(cell, Fm, Fe, pz, pn, k, hm, he, cm, ce, bm, be):
    """dL/d(pre-activations) of step k, per gate row, from dL/dh_k (and the LSTM's dL/dc_k)."""
    H = Fm.shape[1]
    for j in range(H):
        if cell == 0:
            bm[j], be[j] = _mul(hm[j], he[j], Fm[0, j], Fe[0, j])
        elif cell == 1:
            for g in range(3):
                bm[g * H + j], be[g * H + j] = _mul(cm[j], ce[j], Fm[g, j], Fe[g, j])
            bm[3 * H + j], be[3 * H + j] = _mul(hm[j], he[j], Fm[3, j], Fe[3, j])
        else:
            for g in range(2):
                bm[g * H + j], be[g * H + j] = _mul(hm[j], he[j], Fm[g, j], Fe[g, j])
            m, e = _gru_input_factor(pz, pn, k, j)
            bm[2 * H + j], be[2 * H + j] = _mul(hm[j], he[j], m, e)


@njit(**_OPTS)
def _row_exponent(e, k):
    """The exponent every element of row k of e shares (a vector the sweep kept on one exponent), or
    NaN when they differ."""
    x = e[k, 0]
    for j in range(1, e.shape[1]):
        if e[k, j] != x:
            return np.nan
    return x


_ABS_BITS = np.int64(0x7FFFFFFFFFFFFFFF)  # all but the sign: |x|'s bits, ordered as |x| is
_INF_BITS = np.int64(0x7FF0000000000000)  # inf's bits; NaN's are larger


@njit(**_OPTS)
def _uniform_gate_adjoints(cell, F, s, groups, wide, k, gh_m, gh_e, gc_m, gc_e, band, tmp):
    """The gate adjoints of step k as _matvec would scale them (tmp, its largest |entry| in [0.5, 1)),
    without an exponent per element, where that is exact: a narrow step of an RNN or LSTM whose adjoints
    share one exponent per vector (nearly every step), no NaN and no term below 2**-band of the largest.
    Returns the exponent of tmp, or NaN where the step needs the exact path.

    The largest and smallest nonzero |product| of a gate come from their bits (non-negative floats order
    as their bits do), so the loop over the units has no branch and no library call."""
    if cell == 2 or wide[k] >= 0:
        return np.nan
    eh = _row_exponent(gh_e, k)
    ec = _row_exponent(gc_e, k) if cell == 1 else eh
    if eh != eh or ec != ec:
        return np.nan
    H = F.shape[2]
    ng = 1 if cell == 0 else 4
    top, low = -np.inf, np.inf
    for g in range(ng):
        from_c = cell == 1 and g < 3  # an LSTM's i, f, g rows come from dL/dc_k, its o row from dL/dh_k
        src = gc_m if from_c else gh_m
        pe = (ec if from_c else eh) + s[k, groups[g]]
        hi, lo = np.int64(0), _ABS_BITS
        for j in range(H):
            p = src[k, j] * float(F[k, g, j])
            tmp[g * H + j] = p
            b = np.float64(p).view(np.int64) & _ABS_BITS
            hi = max(hi, b)
            lo = min(lo, b if b != 0 else _ABS_BITS)
        if hi > _INF_BITS:  # a NaN
            return np.nan
        if hi > 0:
            top = max(top, pe + math.frexp(np.int64(hi).view(np.float64))[1])
            low = min(low, pe + math.frexp(np.int64(lo).view(np.float64))[1])
    if top == -np.inf:
        top = 0.0
    elif low < top - band:
        return np.nan
    for g in range(ng):
        d = (ec if cell == 1 and g < 3 else eh) + s[k, groups[g]] - top
        if d > 1000.0:
            return np.nan
        w = _pow2(d)  # exact: every scaled term lies in [2**-(band + 1), 1)
        for j in range(H):
            tmp[g * H + j] *= w
    return top


_BLOCK = 64  # steps whose gradients go down together (their buffers stay small: no fresh memory per trace)
_EXP_BITS = np.int64(0x7FF) << 52  # a float64's exponent field
_HALF_BITS = np.int64(1022) << 52  # the exponent field of a number in [0.5, 1)


@njit(**_OPTS)
def _split(m, e):
    """_norm(m, e), reading a normal float's exponent from its bits (no library call: the pass-down
    normalises every element it writes); zeros, subnormals, inf and NaN go through _norm."""
    b = np.float64(m).view(np.int64)
    x = (b >> 52) & 0x7FF
    if x == 0 or x == 0x7FF:
        return _norm(m, e)
    return np.int64((b & ~_EXP_BITS) | _HALF_BITS).view(np.float64), e + float(x - 1022)


@njit(**_OPTS)
def _add_split(m1, e1, m2, e2):
    """_add, normalising the sum with _split: the same numbers."""
    m, e = _aligned_sum(m1, e1, m2, e2)
    return _split(m, e)


@njit(**_OPTS)
def input_grads(cell, F, s, groups, wide, wide_m, wide_e, pz, pn, gh_m, gh_e, gc_m, gc_e, Wi, eWi, band,
                reverse, first, below_m, below_e):
    """dL/dx_k = W_ih^T (dL/d pre-activations of step k) for every k: the gradient a layer passes down to
    the layer below (or to its inputs), added per element as m * 2**e into below, or written there when
    `first` (below holds nothing yet). gh, gc: dL/dh_k, dL/dc_k.

    below [B, T, W] holds the I = B * W inputs of the layer in blocks of W, each in its own reading order:
    block 0 in sequence order, block 1 (the backward direction of the layer below) reversed. Step k of this
    layer is the sequence's step k (T-1-k when `reverse`, a backward direction).

    Nearly every step's gate adjoints are scaled as the exact path scales them, with one exponent per
    step (so the same numbers), and those steps go down in one matrix product [steps, G*H] @ W_ih per
    block of _BLOCK steps; the others (wide steps, adjoints with an exponent per element, a GRU) take
    the exact path."""
    T, nf, H = F.shape
    n = Wi.shape[0]
    B, W = below_m.shape[0], below_m.shape[2]
    Fm, Fe = np.empty((nf, H)), np.empty((nf, H))
    bm, be = np.empty(n), np.empty(n)
    tmp = np.empty(n, dtype=Wi.dtype)
    om, oe = np.empty(Wi.shape[1]), np.empty(Wi.shape[1])
    A = np.empty((_BLOCK, n), dtype=Wi.dtype)  # row k - k0: step k's scaled gate adjoints, 2**top[k] their scale
    R = np.empty((_BLOCK, Wi.shape[1]), dtype=Wi.dtype)
    top = np.empty(T)
    for k in range(T):
        k0 = k - k % _BLOCK
        if k == k0:  # the next block's products
            k1 = min(T, k0 + _BLOCK)
            for q in range(k0, k1):
                top[q] = _uniform_gate_adjoints(cell, F, s, groups, wide, q, gh_m, gh_e, gc_m, gc_e, band, A[q - k0])
                if top[q] != top[q]:
                    A[q - k0] = 0.0  # an exact-path step: its row of the product is not used
            np.dot(A[:k1 - k0], Wi, R[:k1 - k0])
        if top[k] == top[k]:
            e = top[k] + eWi
            for i in range(om.size):
                om[i], oe[i] = _split(float(R[k - k0, i]), e)
        else:
            factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
            _gate_adjoints(cell, Fm, Fe, pz, pn, k, gh_m[k], gh_e[k], gc_m[k], gc_e[k], bm, be)
            _matvec(bm, be, Wi, band, om, oe, tmp)
            for i in range(om.size):
                oe[i] += eWi
        r = T - 1 - k if reverse else k
        for b in range(B):
            row = T - 1 - r if b else r
            for j in range(W):
                i = b * W + j
                if first:
                    below_m[b, row, j], below_e[b, row, j] = _split(om[i], oe[i])
                else:
                    below_m[b, row, j], below_e[b, row, j] = _add_split(below_m[b, row, j], below_e[b, row, j],
                                                                       om[i], oe[i])


@njit(**_OPTS)
def add_scaled(am, ae, bm, be, out_m, out_e):
    """out = a + b elementwise, each m * 2**e (contiguous arrays of the same shape)."""
    n = am.size
    a_m, a_e, b_m, b_e = am.reshape(n), ae.reshape(n), bm.reshape(n), be.reshape(n)
    o_m, o_e = out_m.reshape(n), out_e.reshape(n)
    for i in range(n):
        o_m[i], o_e[i] = _add_split(a_m[i], a_e[i], b_m[i], b_e[i])


@njit(**_OPTS)
def _gram_norm(P, u, exact_max):
    """sigma_max of P from its smaller Gram (P^T P or P P^T): the eigenvalues of the Gram up to exact_max
    rows, above them certified_norm (u: its warm start, [2, the Gram's size])."""
    A = np.dot(np.ascontiguousarray(P.T), P) if P.shape[1] < P.shape[0] else np.dot(P, P.T)
    if A.shape[0] > exact_max:
        return certified_norm(A, u)
    if not _finite(A):
        return np.nan
    return math.sqrt(max(np.linalg.eigvalsh(A)[-1], 0.0))


@njit(**_OPTS)
def input_jacobian_norms(cell, F, s, groups, wide, wide_m, wide_e, pz, pn, Wi, eWi, exact_max, out):
    """log10 ||dh_k/dx_k||_2 for every step k: the factor through depth, (H x I) per step.

    RNN  diag(act'(a)) W_ih;  LSTM  diag(Bo) W_io + diag(K) (diag(B_i) W_ii + diag(B_f) W_if + diag(B_g) W_ig);
    GRU  diag(B_r) W_ir + diag(B_z) W_iz + diag((1-z) tanh'(a_n)) W_in. Rows carry their own exponent;
    each step's norm comes from the smaller of its two Grams (_gram_norm: exact up to exact_max rows)."""
    T, nf, H = F.shape
    I = Wi.shape[1]
    Fm, Fe = np.empty((nf, H)), np.empty((nf, H))
    P, eP, tmp = np.zeros((H, I)), np.zeros(H), np.empty((H, I))
    cm, ce = np.empty(4), np.empty(4)
    u = _start_vectors(min(H, I))
    for k in range(T):
        factors_at(F, s, groups, wide, wide_m, wide_e, k, Fm, Fe)
        for i in range(H):
            nt = 1
            if cell == 0:
                cm[0], ce[0] = Fm[0, i], Fe[0, i]
            elif cell == 1:
                for g in range(3):
                    cm[g], ce[g] = _mul(Fm[4, i], Fe[4, i], Fm[g, i], Fe[g, i])
                cm[3], ce[3] = Fm[3, i], Fe[3, i]
                nt = 4
            else:
                cm[0], ce[0] = Fm[0, i], Fe[0, i]
                cm[1], ce[1] = Fm[1, i], Fe[1, i]
                cm[2], ce[2] = _gru_input_factor(pz, pn, k, i)
                nt = 3
            E = -np.inf
            for g in range(nt):
                if cm[g] != 0.0 and ce[g] > E:
                    E = ce[g]
            E = 0.0 if E == -np.inf else E
            eP[i] = E
            for c in range(I):
                P[i, c] = 0.0
            for g in range(nt):
                w = _ldexp(cm[g], ce[g] - E)
                for c in range(I):
                    P[i, c] += w * Wi[g * H + i, c]
        E = _align_rows(P, eP, tmp)
        _record(out, k, _gram_norm(tmp, u, exact_max), E + eWi)
