"""Saturated units against an mpmath reference (tests/support/reference.py: unbounded exponents, 30 digits,
every derivative from the exact pre-activation).

A saturated tanh or sigmoid unit's derivative is tiny but not 0: sech^2(20) = 1.7e-17, sech^2(60) =
3.2e-52, and a product of 3000 of them is about 10^-156000. The trace must show these numbers (to 0.01
decades), never -inf, for every cell, both losses, the LSTM's cell path, the Jacobian products and
the step norms, in float64 and in the float32 evaluation mode of large traces.
"""
import importlib
import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rnnviz
from rnnviz import ModelSpec, build_model, dynamics, trace
from tests.support import reference

CELLS = [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("rnn", "linear"), ("lstm", "tanh"), ("gru", "tanh")]
LEVELS = [5.0, 10.0, 20.0, 40.0, 60.0]
TOL = 0.01  # decades


def saturated_model(cell, act, level, H=2, I=1, seed=0, gain=1.0):
    """Small random weights plus a bias of size `level` (random sign per row, +-20% spread): every
    pre-activation sits near +-level, where tanh and sigmoid are flat."""
    model = build_model(ModelSpec(cell=cell, activation=act, hidden_size=H, input_size=I, init="gaussian",
                                  recurrent_gain=gain, seed=seed))
    gen = torch.Generator().manual_seed(seed)
    rows = model.bias_ih.shape[0]
    signs = torch.where(torch.rand(rows, generator=gen) < 0.5, -1.0, 1.0)
    with torch.no_grad():
        model.bias_ih.copy_(signs * level * (0.8 + 0.4 * torch.rand(rows, generator=gen)))
    return model


def assert_matches(got, want, what):
    """Equal where the truth is finite (to TOL decades), -inf exactly where the truth is 0."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    finite = np.isfinite(want)
    where = np.nonzero(~np.isfinite(got) & finite)[0][:5]
    assert np.all(np.isfinite(got[finite])), f"{what}: -inf/NaN where the truth is finite at {where}"
    assert np.all(got[~finite] == want[~finite]), f"{what}: finite where the truth is {want[~finite][:3]}"
    err = np.abs(got[finite] - want[finite])
    assert err.max(initial=0.0) <= TOL, f"{what}: off by {err.max():.3g} decades (at {np.argmax(err)})"


def check_trace(model, x, loss, jacobians=True, **kw):
    tr = trace(model, x, loss=loss, **kw)
    ref = reference.mp_bptt(model, x, tr.hidden, loss, dps=30)
    assert_matches(tr.log10_grad_norm, ref["grad"], "||dL/dh_k||")
    if model.cell == "lstm":
        assert_matches(tr.log10_cell_grad_norm, ref["cell_grad"], "||dL/dc_k||")
    if jacobians:
        H = model.hidden_size
        want = reference.mp_jacobian_product_norms(ref["jacobians"], H, lstm=model.cell == "lstm")
        assert_matches(tr.log10_jacobian_norm, want, "||dh_{T-1}/dh_k||_2")
        assert_matches(tr.log10_step_jacobian_norm, mp_step_norms(ref), "||ds_k/ds_{k-1}||_2")
    return tr, ref


def mp_step_norms(ref) -> list:
    """log10 ||ds_k/ds_{k-1}||_2 of every step by mpmath's SVD of the reference Jacobians (-inf for a zero one)."""
    return [float(mpmath.log10(max(mpmath.svd_r(mpmath.matrix(J), compute_uv=False))))
            if any(v != 0 for row in J for v in row) else -np.inf for J in ref["jacobians"]]


@pytest.mark.parametrize("cell, act", [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("gram", ["product", "coefficients"])
@pytest.mark.parametrize("level", [20.0, 60.0])
def test_certified_step_norms_of_saturated_steps_match_mpmath(cell, act, gram, level, monkeypatch):
    """The certified step norms (Lanczos bounded by a Cholesky factorisation, forced here on 3-unit steps,
    with each step's Gram from a matrix product or from coefficients) of saturated steps (pre-activations
    near +-20 and +-60, derivatives down to 1e-52) equal mpmath's SVD of the exact Jacobian to 1e-8 decades."""
    sweeps = importlib.import_module("rnnviz.sweeps")
    monkeypatch.setattr(sweeps, "EXACT_STEP_NORM_MAX", 0)
    if gram == "coefficients":
        monkeypatch.setattr(sweeps, "GRAM_BY_PRODUCT_MAX", 0)
    model = saturated_model(cell, act, level, H=3, seed=int(level) + 1)
    x = rnnviz.inputs.noise(30, 1, seed=2)
    tr = trace(model, x)
    want = np.array(mp_step_norms(reference.mp_bptt(model, x, tr.hidden, "last", dps=30)))
    got = tr.log10_step_jacobian_norm
    assert np.all(np.isfinite(want))  # no step is exactly 0 (an LSTM's saturated forget gate keeps its norm near 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


@pytest.mark.parametrize("cell, act", CELLS)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("loss", ["last", "all"])
def test_saturated_grid_matches_mpmath(cell, act, level, loss):
    """Pre-activations near +-5 ... +-60, T = 80: gradient norms (and the LSTM's cell path), Jacobian
    product norms and every step's norm equal the mpmath reference to 0.01 decades."""
    model = saturated_model(cell, act, level, seed=int(level))
    x = rnnviz.inputs.noise(80, 1, seed=1)
    tr, ref = check_trace(model, x, loss)
    if cell == "rnn" and act in ("tanh", "sigmoid") and loss == "last" and level >= 20:
        assert ref["grad"][0] < -200  # really saturated: 1 - y^2 or y (1 - y) would have been 0


@pytest.mark.parametrize("cell, act, loss", [("rnn", "tanh", "last"), ("rnn", "sigmoid", "all"),
                                             ("lstm", "tanh", "last"), ("gru", "tanh", "all")])
def test_saturated_over_3000_steps(cell, act, loss):
    """T = 3000 at level 60: the gradient falls to ~10^-150000 (RNN) and is still exact to 0.01 decades."""
    model = saturated_model(cell, act, 60.0, seed=3)
    x = rnnviz.inputs.noise(3000, 1, seed=2)
    tr, ref = check_trace(model, x, loss, jacobians=False)
    assert np.all(np.isfinite(tr.log10_grad_norm))


@pytest.mark.parametrize("cell, act", [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh")])
def test_float32_evaluation_mode_keeps_saturated_factors(cell, act):
    """Large traces keep factor mantissas in float32 (whose smallest number is 1e-45): with a
    power-of-two exponent per step, sech^2(60) = 3e-52 is still a number. T = 1500 at level 60."""
    model = saturated_model(cell, act, 60.0, seed=4)
    x = rnnviz.inputs.noise(1500, 1, seed=5)
    tr = trace(model, x, loss="last", _float32_above=-1)
    ref = reference.mp_bptt(model, x, tr.hidden, "last")
    assert_matches(tr.log10_grad_norm, ref["grad"], "float32 mode ||dL/dh_k||")
    if cell == "lstm":
        assert_matches(tr.log10_cell_grad_norm, ref["cell_grad"], "float32 mode ||dL/dc_k||")


@pytest.mark.parametrize("x_size", [1e4, 1e30])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_huge_inputs_give_finite_log_norms(cell, x_size):
    """An uploaded CSV can hold x = 1e30: pre-activations of 1e29, factors like e^{-2e29}, far below
    even float64's smallest number. The log10 gradient is finite (about -1e29 per step) and matches
    mpmath to float64's relative precision."""
    model = saturated_model(cell, "tanh", 0.0, seed=6)
    x = np.full((6, 1), x_size, dtype=np.float32)
    x[::2] *= -1
    tr = trace(model, x, loss="last")
    ref = reference.mp_bptt(model, x, tr.hidden, "last")
    finite = np.isfinite(ref["grad"])
    assert np.all(np.isfinite(tr.log10_grad_norm[finite]))
    np.testing.assert_allclose(tr.log10_grad_norm[finite], ref["grad"][finite], rtol=1e-9, atol=TOL)
    assert ref["grad"][0] < -x_size / 1e3  # really that small


def test_identity_init_with_large_gain_is_exact_over_long_sequences():
    """Identity init, gain 4, a constant input: every unit sits at +-1 with a = +-4 + x, a diagonal
    product of sech^2 factors (closed form per unit, here in mpmath). H = 48 runs the float32 Jacobian
    sweep and the iterative norm."""
    H, T = 48, 600
    model = build_model(ModelSpec(activation="tanh", init="identity", recurrent_gain=4.0, hidden_size=H,
                                  input_gain=3.0, seed=1))
    x = np.ones((T, 1), dtype=np.float32)
    tr = trace(model, x)
    a = tr.pre["a"].astype(np.float64)  # float32 copies; the trace used float64: compare at 1e-5 per step
    logd = np.array([[float(mpmath.log10(4.0 * mpmath.sech(v) ** 2)) for v in row] for row in a[:, :4]])
    # units 0..3 as a check of the per-unit product; the norm is the max over all units
    d_all = np.log10(4.0) + cells_log10_dtanh(a)
    per_unit = np.vstack([np.cumsum(d_all[:0:-1], axis=0)[::-1], np.zeros((1, H))])
    np.testing.assert_allclose(d_all[:, :4], logd, atol=1e-9)
    assert np.all(np.isfinite(tr.log10_jacobian_norm))
    np.testing.assert_allclose(tr.log10_jacobian_norm, per_unit.max(axis=1), atol=TOL)


def cells_log10_dtanh(a):
    """log10 sech^2(a) = log10 4 - 2|a| log10 e - 2 log10(1 + e^{-2|a|}) (the test's own closed form)."""
    a = np.abs(a)
    return math.log10(4.0) - 2 * a / math.log(10) - 2 * np.log10(1 + np.exp(-2 * a))


# ---------------------------------------------------------------- the one-neuron page's product

@pytest.mark.parametrize("w, b, act", [(4.0, 8.0, "tanh"), (8.0, 0.0, "tanh"), (-8.0, 8.0, "tanh"),
                                       (8.0, -8.0, "sigmoid"), (8.0, 8.0, "sigmoid"), (1.5, 0.0, "relu")])
def test_one_neuron_product_in_saturation(w, b, act):
    """h_t = act(w h_{t-1} + b) for 300 steps: every factor w act'(a_t) and the running product equal
    mpmath's (sech^2(16) = 5e-14 per step for tanh w=8, i.e. 10^-4000 at the first step), never -inf."""
    run = dynamics.one_neuron(w, 1.0, b, act, np.zeros(300), h0=0.5)
    d = {"tanh": lambda v: mpmath.sech(v) ** 2, "sigmoid": lambda v: reference._mp_dsigmoid(v),
         "relu": lambda v: mpmath.mpf(1 if v > 0 else 0)}[act]
    mpmath.mp.dps = 30
    logs = [float(mpmath.log10(abs(w * d(mpmath.mpf(float(a)))))) if d(mpmath.mpf(float(a))) != 0 else -np.inf
            for a in run["a"]]
    assert_matches(run["log10_factor"], logs, "factors")
    want = np.concatenate([np.cumsum(np.array(logs)[::-1])[::-1], [0.0]])
    assert_matches(run["log10_grad"], want, "product")


# ---------------------------------------------------------------- property: random models

@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell_act=st.sampled_from(CELLS), H=st.integers(1, 3), T=st.integers(1, 60),
       gain=st.floats(0.0, 4.0), input_gain=st.floats(0.0, 4.0), level=st.floats(0.0, 60.0),
       seed=st.integers(0, 2**16), loss=st.sampled_from(["last", "all"]), x_scale=st.sampled_from([1.0, 10.0, 1e3]))
def test_random_models_match_mpmath(cell_act, H, T, gain, input_gain, level, seed, loss, x_scale):
    """Random weights, gains, biases (up to 60) and lengths: the trace's gradient norms and Jacobian
    norms equal mpmath's to 0.01 decades, finite wherever the truth is."""
    cell, act = cell_act
    assume(not (cell in ("gru", "lstm") and H == 1))   # known limits: test_{gru,lstm}_cancellation_known_limit
    model = saturated_model(cell, act, level, H=H, seed=seed, gain=gain)
    with torch.no_grad():
        model.weight_ih.mul_(input_gain)
    x = rnnviz.inputs.noise(T, 1, seed=seed) * x_scale
    check_trace(model, x, loss, jacobians=H <= 2)


# Cases the property test found, kept as explicit examples (x_scale 1000, level 0, loss "last"):
# - an LSTM whose forget gates part its cell path's columns by ~1500 binary orders (more than one
#   float64 exponent holds), where a gate two steps on makes the smaller part the one that dominates
#   ||dh_4/dh_1|| by 91 decades; a GRU whose update gates do the same to its product's columns
#   (457 decades at k = 2);
# - recurrent weights of exactly 0 (gain 0): only the cell path carries the state, its forget gate
#   about 1e-1872, and zero weight rows must not set the scale of a step's Jacobian (no inf * 0).
@pytest.mark.parametrize("cell, H, T, gain, input_gain, seed", [
    ("lstm", 2, 5, 1.0, 3.0, 0),
    ("gru", 2, 7, 1.0, 3.0, 0),
    ("lstm", 1, 1, 0.0, 2.0, 0),
    ("lstm", 2, 3, 0.0, 1.0, 0),
    ("lstm", 1, 3, 0.0, 3.0, 0),
    ("gru", 2, 3, 0.0, 2.0, 0),
])
def test_paths_far_apart_match_mpmath(cell, H, T, gain, input_gain, seed):
    model = saturated_model(cell, "tanh", 0.0, H=H, seed=seed, gain=gain)
    with torch.no_grad():
        model.weight_ih.mul_(input_gain)
    x = rnnviz.inputs.noise(T, 1, seed=seed) * 1000.0
    check_trace(model, x, "last")


@pytest.mark.xfail(strict=True, reason="a known limit: cancellation in a one-unit GRU's step Jacobian")
def test_gru_cancellation_known_limit():
    """A one-unit GRU at gain 1 has recurrent weights of exactly +-1 (W_hz = -1 here). With its update
    gate z near 0 and its candidate n near -1 from h = 0, the step's Jacobian z + (h - n) z (1 - z) W_hz +
    ... is about z^2 = 1e-43.5, but (h - n)(1 - z) rounds to 1 in float64 before the subtraction, and
    the step norm comes out -inf. Exact here needs the z-path rewritten with 1 + n from its
    pre-activation; until then the property test above leaves one-unit GRUs out."""
    model = saturated_model("gru", "tanh", 0.0, H=1, seed=0, gain=1.0)
    with torch.no_grad():
        model.weight_ih.mul_(3.0)
    x = rnnviz.inputs.noise(1, 1, seed=0) * 10.0
    check_trace(model, x, "last")



@pytest.mark.xfail(strict=True, reason="a known limit: cancellation between a one-unit LSTM's gate paths")
def test_lstm_cancellation_known_limit():
    """A one-unit LSTM's recurrent weights are all of one size (+-0.5 at gain 0.5; here W_hi = -W_ho). With
    its gates hundreds of units deep in saturation (inputs x 1000, biases about +-20) and a cell state of
    about i_t g_t, the input gate's path into dL/dh_{t-1} (W_hi dL/dc_t g_t i_t') and the output gate's
    (W_ho dL/dh_t tanh(c_t) o_t') are equal to 47 digits with opposite signs (both 10^-1702.7 at t = 10;
    checked at 3000 digits), and their sum is 10^-1749.1. float64 cannot hold that difference: the trace
    shows -inf there, and the steps before it inherit the error (10^-2079.2 for 10^-1880.8 at k = 8);
    the cell path is exact throughout. Exact here needs those two paths combined in closed form before
    they are summed; until then the property test above leaves one-unit LSTMs and GRUs out, as it does
    for the GRU limit before this one."""
    model = build_model(ModelSpec(cell="lstm", hidden_size=1, input_size=1, init="gaussian", recurrent_gain=0.5,
                                  seed=2707, bidirectional=True))
    gen = torch.Generator().manual_seed(2707)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("bias_ih"):
                signs = torch.where(torch.rand(p.shape[0], generator=gen) < 0.5, -1.0, 1.0)
                p.copy_(signs * 20.0 * (0.8 + 0.4 * torch.rand(p.shape[0], generator=gen)))
    x = rnnviz.inputs.noise(17, 1, seed=2707) * 1000.0
    check_trace(model.layer(0, 0), x, "last", jacobians=False)
