"""Spectral norms of each step's Jacobian and of the Jacobian products against an SVD.

The per-step norms are exact (an eigen-decomposition) up to EXACT_STEP_NORM_MAX rows and certified
above (Lanczos, checked by a Cholesky factorisation, on Grams from a matrix product up to
GRAM_BY_PRODUCT_MAX rows and from coefficients above); here each path is also forced on every size so
that it is checked for every cell at H in 33..128. benchmarks/bench_norms.py runs the same comparison
over thousands of steps."""
import importlib
import math

import numpy as np
import pytest

import rnnviz
from rnnviz import ModelSpec, build_model, trace

CELLS = ("rnn", "lstm", "gru")


def random_models(cell, n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
        H = int(rng.integers(33, 129))
        init = ("torch", "gaussian", "orthogonal")[int(rng.integers(0, 3))]
        spec = ModelSpec(cell=cell, hidden_size=H, init=init, recurrent_gain=float(rng.uniform(0.5, 2.0)),
                         input_gain=float(rng.uniform(0.5, 2.0)), seed=int(rng.integers(0, 10**6)))
        yield build_model(spec), rnnviz.inputs.noise(30, 1, seed=i)


def relative_misses(tr, tol=1e-6):
    """Steps whose norm differs from the SVD of the step's Jacobian by more than tol (relative)."""
    got = tr.log10_step_jacobian_norm
    want = np.array([np.log10(np.linalg.norm(tr.step_jacobian(k), 2)) for k in range(tr.T)])
    return int(np.sum(np.abs(10 ** (got - want) - 1) > tol))


PATHS = {"default": {}, "exact": {"EXACT_STEP_NORM_MAX": 10**6},
         "certified, Grams by product": {"EXACT_STEP_NORM_MAX": 0},
         "certified, Grams from coefficients": {"EXACT_STEP_NORM_MAX": 0, "GRAM_BY_PRODUCT_MAX": 0}}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", list(PATHS))
def test_step_norms_match_svd(cell, path, monkeypatch):
    """300 random steps per cell at H in 33..128 (LSTM: 2H x 2H): no step's norm is off by more than 1e-6,
    with the exact path, each certified path forced on every size, and the default choice."""
    for name, value in PATHS[path].items():
        monkeypatch.setattr(importlib.import_module("rnnviz.sweeps"), name, value)
    misses = steps = 0
    for model, x in random_models(cell, 10, seed=CELLS.index(cell) + 10 * list(PATHS).index(path)):
        tr = trace(model, x)
        misses += relative_misses(tr)
        steps += tr.T
    assert steps == 300 and misses == 0


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", list(PATHS))
def test_zero_recurrent_weights_give_zero_step_norms(cell, path, monkeypatch):
    """W_hh = 0 at 40 units on every path: an RNN's step Jacobian is 0, so its norm is log10 0 = -inf at every
    step (never a crash or a NaN); an LSTM's and a GRU's keep only their diagonal gate paths (the cell path, the
    update gate) and match the SVD."""
    for name, value in PATHS[path].items():
        monkeypatch.setattr(importlib.import_module("rnnviz.sweeps"), name, value)
    model = build_model(ModelSpec(cell=cell, hidden_size=40, recurrent_gain=0.0, init="orthogonal", seed=1))
    tr = trace(model, rnnviz.inputs.noise(20, 1, seed=3))
    want = np.array([np.log10(np.linalg.norm(tr.step_jacobian(k), 2)) if np.any(tr.step_jacobian(k)) else -np.inf
                     for k in range(tr.T)])
    if cell == "rnn":
        assert np.all(want == -np.inf)
    np.testing.assert_array_equal(np.isneginf(tr.log10_step_jacobian_norm), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(tr.log10_step_jacobian_norm[finite], want[finite], rtol=0, atol=1e-9)


@pytest.mark.parametrize("cell", CELLS)
def test_product_norms_match_svd_of_the_float64_product(cell):
    """||dh_{T-1}/dh_k||_2 above 32 units (float32 products, Lanczos from the previous product's top two
    vectors) against the SVD of the explicit float64 product of the step Jacobians: within 1e-5 (the
    float32 rounding of the products themselves)."""
    for model, x in random_models(cell, 4, seed=40 + CELLS.index(cell)):
        tr = trace(model, x)
        H, n = model.hidden_size, (2 if cell == "lstm" else 1) * model.hidden_size
        P, want = np.eye(n), np.empty(tr.T)
        for k in range(tr.T - 1, -1, -1):
            want[k] = np.log10(np.linalg.norm(P[:H, :H], 2))
            P = P @ tr.step_jacobian(k)
        np.testing.assert_allclose(10 ** (tr.log10_jacobian_norm - want), 1.0, atol=1e-5)


@pytest.mark.parametrize("width", [1, 7, 8, 64, 65, 128, 129, 300, 1024])
def test_log10_gradient_norms_beyond_float_range_equal_numpys_float64(width):
    """The gradient's log10 norms (numbers held as mantissa x 2**exponent, here spread from 2**-3000 to
    2**3000, far beyond float64) are the float64 that numpy gives for the same rows: rows aligned on
    their largest exponent, np.linalg.norm, np.log10, to the last bit at every width."""
    from rnnviz import sweeps

    rng = np.random.default_rng(width)
    m, e = np.frexp(rng.standard_normal((40, width)))
    e = e + rng.integers(-3000, 3000, size=(40, 1)) + rng.integers(-40, 40, size=(40, width))
    m[::7, : width // 2] = 0.0  # zeros take no part in the alignment
    m[3] = 0.0                   # a zero row: log10 0 = -inf
    e = e.astype(np.float64)
    top = np.where(m != 0, e, -np.inf).max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    rows = np.ldexp(m, np.clip(e - top[:, None], -1100, 0).astype(np.int32))
    with np.errstate(divide="ignore"):
        expected = np.log10(np.linalg.norm(rows, axis=1)) + top * math.log10(2.0)
    got = sweeps.log10_norms(m, e)
    assert got[3] == -np.inf
    np.testing.assert_array_equal(got, expected)
    assert np.nanmax(np.abs(got[np.isfinite(got)])) > 300  # beyond float64's range
