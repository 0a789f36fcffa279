"""The trace against torch and against closed forms. Each oracle states its formula."""
import importlib
import math

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ModelSpec, RecurrentModel, build_model, from_torch, trace
from tests.support import reference

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("rnn", "linear"), ("lstm", "tanh"), ("gru", "tanh")]


def sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a))


# ---------------------------------------------------------------- parity with torch modules

@pytest.mark.parametrize("module_cls, kwargs", [
    (torch.nn.RNN, {"nonlinearity": "tanh"}), (torch.nn.RNN, {"nonlinearity": "relu"}),
    (torch.nn.LSTM, {}), (torch.nn.GRU, {}),
])
def test_states_match_torch_modules_over_1000_steps(module_cls, kwargs):
    """Hidden (and cell) states equal torch.nn.RNN / LSTM / GRU's to 1e-5, fp32, T = 1000."""
    torch.manual_seed(0)
    H, I, T = 24, 3, 1000
    module = module_cls(I, H, **kwargs)
    x = torch.randn(T, I)
    tr = trace(from_torch(module), x.numpy())
    with torch.no_grad():
        out, state = module(x)
    np.testing.assert_allclose(tr.hidden, out.numpy(), atol=1e-5)
    assert tr.hidden.dtype == np.float32 and tr.hidden.shape == (T, H)
    if module_cls is torch.nn.LSTM:
        # every c_t from torch's own LSTMCell stepping with the same weights (float32)
        cell = torch.nn.LSTMCell(I, H)
        cell.load_state_dict({k[:-3]: v for k, v in module.state_dict().items()})
        h = c = torch.zeros(1, H)
        cs = []
        with torch.no_grad():
            for t in range(T):
                h, c = cell(x[t:t + 1], (h, c))
                cs.append(c[0].numpy())
        np.testing.assert_allclose(tr.cell, np.stack(cs), atol=1e-5)
        np.testing.assert_allclose(tr.cell[-1], state[1][0].numpy(), atol=1e-5)
    else:
        assert tr.cell is None


def test_trace_accepts_torch_module_and_batch_first():
    torch.manual_seed(1)
    module = torch.nn.GRU(2, 5, batch_first=True)
    x = torch.randn(30, 2)
    a, b = trace(module, x), trace(from_torch(module), x.numpy())
    np.testing.assert_array_equal(a.hidden, b.hidden)
    with torch.no_grad():
        np.testing.assert_allclose(a.hidden, module(x[None])[0][0].numpy(), atol=1e-6)


@pytest.mark.parametrize("cell, act", CELLS)
def test_gates_match_direct_evaluation(cell, act):
    """Each gate equals its equation evaluated on (x_t, h_{t-1}) in torch, step by step."""
    model = build_model(ModelSpec(cell=cell, activation=act, hidden_size=6, input_size=2, init="torch", seed=5))
    x = rnnviz.inputs.noise(40, 2, seed=1)
    tr = trace(model, x)
    W = reference.weights(model)
    H = 6
    h_prev = np.vstack([np.zeros(H), tr.hidden[:-1]])
    for t in range(40):
        xt, ht = torch.tensor(x[t], dtype=torch.float64), torch.tensor(h_prev[t], dtype=torch.float64)
        gi = W["weight_ih"] @ xt + W["bias_ih"]
        gh = W["weight_hh"] @ ht + W["bias_hh"]
        if cell == "lstm":
            s = gi + gh
            want = {"input": torch.sigmoid(s[:H]), "forget": torch.sigmoid(s[H:2 * H]),
                    "candidate": torch.tanh(s[2 * H:3 * H]), "output": torch.sigmoid(s[3 * H:])}
        elif cell == "gru":
            r = torch.sigmoid(gi[:H] + gh[:H])
            want = {"reset": r, "update": torch.sigmoid(gi[H:2 * H] + gh[H:2 * H]),
                    "candidate": torch.tanh(gi[2 * H:] + r * gh[2 * H:])}
        else:
            want = {}
        assert set(tr.gates) == set(want)
        for name, value in want.items():
            np.testing.assert_allclose(tr.gates[name][t], value.numpy(), atol=1e-6)
    if cell == "lstm":  # c_t = f c_{t-1} + i g and h_t = o tanh(c_t)
        c_prev = np.vstack([np.zeros(H), tr.cell[:-1]])
        g = tr.gates
        np.testing.assert_allclose(tr.cell, g["forget"] * c_prev + g["input"] * g["candidate"], atol=1e-6)
        np.testing.assert_allclose(tr.hidden, g["output"] * np.tanh(tr.cell), atol=1e-6)


# ---------------------------------------------------------------- gradients vs autograd

@pytest.mark.parametrize("cell, act", CELLS)
@pytest.mark.parametrize("loss", ["last", "all"])
@pytest.mark.parametrize("gain", [0.6, 1.4])
def test_grad_norm_matches_autograd_loop(cell, act, loss, gain):
    """||dL/dh_k|| equals autograd through a step-by-step float64 loop (total derivative)."""
    model = build_model(ModelSpec(cell=cell, activation=act, hidden_size=12, input_size=3,
                                  init="gaussian", recurrent_gain=gain, seed=2))
    x = rnnviz.inputs.noise(80, 3, seed=3)
    tr = trace(model, x, loss=loss)
    ref = reference.bptt(model, x, loss)
    np.testing.assert_allclose(tr.grad_norm, ref["grad_norm"], rtol=2e-4)
    if cell == "lstm":
        np.testing.assert_allclose(tr.cell_grad_norm, ref["cell_grad_norm"], rtol=2e-4)
    else:
        assert tr.cell_grad_norm is None
    # not only the direct term: with loss="last" every earlier step has a non-zero gradient
    assert np.all(tr.grad_norm[:-1] > 0)


@pytest.mark.parametrize("cell, act", CELLS)
def test_step_jacobians_and_products_match_autograd(cell, act):
    """ds_k/ds_{k-1} equals torch.autograd.functional.jacobian of one step; ||dh_{T-1}/dh_k||_2
    equals the SVD of the explicit product."""
    H, T = 5, 30
    model = build_model(ModelSpec(cell=cell, activation=act, hidden_size=H, input_size=2, init="torch",
                                  recurrent_gain=2.0, seed=7))
    x = rnnviz.inputs.noise(T, 2, seed=0)
    tr = trace(model, x)
    ref = reference.bptt(model, x)
    jac = reference.step_jacobians(model, x, ref["hidden"], ref.get("cell"))
    for k in (0, 1, T // 2, T - 1):
        np.testing.assert_allclose(tr.step_jacobian(k), jac[k], atol=1e-5)
    np.testing.assert_allclose(tr.step_jacobian_norm, [np.linalg.norm(j, 2) for j in jac], rtol=1e-4)
    want = reference.jacobian_product_norms(jac, H, lstm=cell == "lstm")
    np.testing.assert_allclose(tr.jacobian_norm, want, rtol=1e-4)
    assert tr.jacobian_norm[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_jacobian_norm_float32_path_matches_svd(cell):
    """H > 32 uses the float32 sweep and power iteration; within 2e-4 (log10) of the exact product's SVD."""
    H, T = 40, 25
    model = build_model(ModelSpec(cell=cell, hidden_size=H, input_size=1, init="gaussian", recurrent_gain=1.2,
                                  seed=1))
    x = rnnviz.inputs.noise(T, 1, seed=4)
    tr = trace(model, x)
    ref = reference.bptt(model, x)
    jac = reference.step_jacobians(model, x, ref["hidden"], ref.get("cell"))
    want = reference.jacobian_product_norms(jac, H, lstm=cell == "lstm")
    np.testing.assert_allclose(tr.log10_jacobian_norm, np.log10(want), atol=2e-4)


@pytest.mark.parametrize("H", [32, 64, 128])
def test_jacobian_norm_when_the_start_vector_is_an_eigenvector(H):
    """W = I + 0.5 e e^T with e = (+1, -1, +1, ...)/sqrt(H) is symmetric with top eigenvalue 1.5 (along e)
    and W 1 = 1: the uniform start vector is an eigenvector, but not the top one. Linear RNN:
    dh_{T-1}/dh_k = W^(T-1-k), so log10 ||.||_2 = (T-1-k) log10 1.5 and every step's norm is 1.5."""
    T = 30
    e = np.where(np.arange(H) % 2 == 0, 1.0, -1.0) / math.sqrt(H)
    model = RecurrentModel("rnn", 1, H, "linear")
    with torch.no_grad():
        model.weight_hh.copy_(torch.tensor(np.eye(H) + 0.5 * np.outer(e, e)))
    tr = trace(model, rnnviz.inputs.noise(T, 1, seed=0))
    want = np.arange(T - 1, -1, -1) * math.log10(1.5)
    np.testing.assert_allclose(tr.log10_jacobian_norm, want, atol=1e-5)
    np.testing.assert_allclose(tr.log10_step_jacobian_norm, math.log10(1.5), atol=1e-5)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_jacobian_norm_of_diagonal_products(act):
    """Identity init: every step Jacobian diag(act'(a_k)) g I is diagonal, so the product is diagonal
    and its norm is the largest |entry|: prod_j act'(a_j) per unit, maximised over units (an exact
    closed form, here for H = 96 where the iterative method runs)."""
    H, T, g = 96, 150, 1.0
    model = build_model(ModelSpec(activation=act, init="identity", recurrent_gain=g, hidden_size=H,
                                  input_gain=2.0, seed=3))
    tr = trace(model, rnnviz.inputs.noise(T, 1, seed=5))
    a = tr.pre["a"].astype(np.float64)
    y = np.tanh(a) if act == "tanh" else 1 / (1 + np.exp(-a))
    d = np.log10(g * (1 - y * y) if act == "tanh" else g * y * (1 - y))
    # log10 |(dh_{T-1}/dh_k)_jj| = sum_{i=k+1}^{T-1} log10 d_ij
    per_unit = np.vstack([np.cumsum(d[:0:-1], axis=0)[::-1], np.zeros((1, H))])
    np.testing.assert_allclose(tr.log10_jacobian_norm, per_unit.max(axis=1), atol=1e-3)


# ---------------------------------------------------------------- closed forms

def scalar_linear(w: float, u: float = 1.0) -> RecurrentModel:
    model = RecurrentModel("rnn", 1, 1, "linear")
    with torch.no_grad():
        model.weight_hh.fill_(w)
        model.weight_ih.fill_(u)
    return model


@pytest.mark.parametrize("w", [0.9, -0.8, 1.1, 0.5])
def test_scalar_linear_rnn(w):
    """h_t = w h_{t-1} + u x_t:  dh_{T-1}/dh_k = w^(T-1-k), so both the Jacobian norm and
    ||dL/dh_k|| (loss last, v = 1) are |w|^(T-1-k); with an impulse h_k = u w^k.
    (w is the float32 weight the model holds.)"""
    T = 200
    tr = trace(scalar_linear(w, u=0.7), rnnviz.inputs.impulse(T))
    w = float(np.float32(w))
    lag = np.arange(T - 1, -1, -1)
    np.testing.assert_allclose(tr.log10_jacobian_norm, lag * math.log10(abs(w)), atol=1e-9)
    np.testing.assert_allclose(tr.log10_grad_norm, lag * math.log10(abs(w)), atol=1e-9)
    np.testing.assert_allclose(tr.hidden[:, 0], 0.7 * w ** np.arange(T), rtol=1e-5, atol=1e-30)


def test_scalar_linear_rnn_loss_on_every_step():
    """L = sum_k h_k:  dL/dh_k = sum_{j=k}^{T-1} w^(j-k) = (1 - w^(T-k)) / (1 - w)."""
    w, T = 0.9, 60
    tr = trace(scalar_linear(w), np.zeros((T, 1)), loss="all")
    w = float(np.float32(w))
    k = np.arange(T)
    np.testing.assert_allclose(tr.grad_norm, (1 - w ** (T - k)) / (1 - w), rtol=1e-12)


def test_memory_horizon_of_scalar_linear_rnn():
    """The gradient falls below 1e-3 of its last value after ceil(ln 1e-3 / ln w) lags: 66 for w = 0.9."""
    tr = trace(scalar_linear(0.9), np.zeros((200, 1)))
    assert tr.memory_horizon(1e-3) == math.ceil(math.log(1e-3) / math.log(0.9)) == 66
    assert trace(scalar_linear(0.99), np.zeros((100, 1))).memory_horizon(1e-3) is None  # needs 688 lags


@pytest.mark.parametrize("g, T", [(0.5, 300), (1.2, 500), (1.5, 2000), (3.0, 1000), (0.2, 3000)])
def test_orthogonal_linear_rnn_beyond_float64(g, T):
    """W_hh = g Q, Q orthogonal, linear activation: dh_{T-1}/dh_k = (g Q)^(T-1-k), all singular values
    g^(T-1-k), so log10 ||.||_2 = (T-1-k) log10 g exactly; the same for ||dL/dh_k|| (loss last).
    At T = 2000, g = 1.5 that is 10^352 and at g = 0.2, T = 3000 it is 10^-2096: beyond float64,
    yet the log is exact."""
    model = build_model(ModelSpec(activation="linear", hidden_size=8, init="orthogonal", recurrent_gain=g, seed=0))
    tr = trace(model, rnnviz.inputs.impulse(T))
    want = np.arange(T - 1, -1, -1) * math.log10(g)
    tol = 1e-8 * T
    np.testing.assert_allclose(tr.log10_jacobian_norm, want, atol=tol)
    np.testing.assert_allclose(tr.log10_grad_norm, want, atol=tol)
    assert np.all(np.isfinite(tr.log10_grad_norm))
    if abs(want[0]) > 308:
        assert tr.overflow if g > 1 else True
        assert (np.isinf(tr.grad_norm[0]) if g > 1 else tr.grad_norm[0] == 0.0)


def test_lstm_forget_bias_oracle():
    """Zero recurrent and input weights, forget bias b: f = sigma(b) at every step and the cell path
    is the only path, so ||dL/dc_k|| = ||dL/dc_{T-1}|| sigma(b)^(T-1-k)  (dc_{T-1}/dc_k = sigma(b)^(T-1-k) I).
    At b = 2, T-1-k = 50: 1.753046e-3."""
    for b in (2.0, -1.0, 6.0):
        T = 120
        model = build_model(ModelSpec(cell="lstm", hidden_size=4, recurrent_gain=0.0, input_gain=0.0,
                                      forget_bias=b))
        tr = trace(model, rnnviz.inputs.noise(T, 1, seed=0), h0=(np.zeros(4), np.full(4, 0.3)))
        ratio = tr.log10_cell_grad_norm - tr.log10_cell_grad_norm[-1]
        np.testing.assert_allclose(ratio, np.arange(T - 1, -1, -1) * math.log10(sigmoid(b)), atol=1e-9)
        if b == 2.0:
            assert 10 ** ratio[T - 1 - 50] == pytest.approx(1.753046e-3, rel=1e-6)
        # memory lives in c: with W_hh = 0, dh_{T-1}/dh_k = 0 for k < T-1
        assert np.all(tr.jacobian_norm[:-1] == 0)
        np.testing.assert_allclose(tr.gates["forget"], sigmoid(b), rtol=1e-6)


def test_gru_update_bias_oracle():
    """Zero recurrent and input weights, update bias 1: h' = (1-z) n + z h with z = sigma(1), n = 0,
    so dh_{T-1}/dh_k = sigma(1)^(T-1-k) I; at lag 50 that is 1.576191e-7."""
    T = 80
    model = build_model(ModelSpec(cell="gru", hidden_size=3, recurrent_gain=0.0, input_gain=0.0, forget_bias=1.0))
    tr = trace(model, np.zeros((T, 1)))
    np.testing.assert_allclose(tr.log10_jacobian_norm, np.arange(T - 1, -1, -1) * math.log10(sigmoid(1.0)),
                               atol=1e-9)
    assert tr.jacobian_norm[T - 1 - 50] == pytest.approx(1.576191e-7, rel=1e-6)


def test_scalar_tanh_rnn_product_of_factors():
    """h_t = tanh(w h_{t-1} + x_t):  dh_{T-1}/dh_k = prod_{j=k+1}^{T-1} w sech^2(a_j), a_j = w h_{j-1} + x_j
    at the float32 states (sech^2 in mpmath: 1 - h_j^2 of the rounded state is off by ~1e-7 per step)."""
    import mpmath

    model = RecurrentModel("rnn", 1, 1, "tanh")
    with torch.no_grad():
        model.weight_hh.fill_(1.7)
        model.weight_ih.fill_(1.0)
    T = 100
    x = rnnviz.inputs.noise(T, 1, seed=9)
    tr = trace(model, x)
    h = np.concatenate([[0.0], tr.hidden[:, 0].astype(np.float64)])
    w = float(np.float32(1.7))
    factors = [float(mpmath.log10(w * mpmath.sech(w * h[j] + float(x[j, 0])) ** 2)) for j in range(T)]
    want = np.array([sum(factors[k + 1:]) for k in range(T)])
    np.testing.assert_allclose(tr.log10_jacobian_norm, want, atol=1e-9)


def test_non_normal_transient_growth():
    """W = [[0.9, 5], [0, 0.9]] has spectral radius 0.9 yet ||W^k||_2 = 5.16, 16.4, 19.4, 1.43, 0.0148
    at k = 1, 5, 10, 50, 100: the eigenvalues alone mislead."""
    model = RecurrentModel("rnn", 1, 2, "linear")
    with torch.no_grad():
        model.weight_hh.copy_(torch.tensor([[0.9, 5.0], [0.0, 0.9]]))
    T = 101
    tr = trace(model, np.zeros((T, 1)))
    W = model.weight_hh.detach().double().numpy()  # 0.9 as float32
    for k, want in [(1, 5.16), (5, 16.4), (10, 19.4), (50, 1.43), (100, 0.0148)]:
        exact = np.linalg.norm(np.linalg.matrix_power(W, k), 2)
        assert tr.jacobian_norm[T - 1 - k] == pytest.approx(exact, rel=1e-9)
        assert exact == pytest.approx(want, rel=6e-3)
    assert tr.spectral_radius == pytest.approx(0.9, rel=1e-6)
    assert tr.sigma_max > 5


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "linear"])
@pytest.mark.parametrize("init", ["gaussian", "orthogonal", "torch"])
def test_pascanu_bound_is_never_exceeded(act, init):
    """||dh_{T-1}/dh_k||_2 <= (gamma sigma_max(W_hh))^(T-1-k), gamma = 1 (tanh, relu, linear), 1/4 (sigmoid)."""
    for seed in range(3):
        for gain in (0.5, 1.0, 2.0):
            model = build_model(ModelSpec(activation=act, init=init, hidden_size=10, recurrent_gain=gain,
                                          input_size=2, seed=seed))
            tr = trace(model, rnnviz.inputs.noise(60, 2, seed=seed))
            assert tr.gamma == (0.25 if act == "sigmoid" else 1.0)
            assert np.all(tr.log10_jacobian_norm <= tr.log10_pascanu_bound + 1e-9)
            s = np.linalg.svd(model.weight_hh.detach().double().numpy(), compute_uv=False)[0]
            assert tr.sigma_max == pytest.approx(s, rel=1e-6)


# ---------------------------------------------------------------- overflow is a result, not a crash

def test_exploding_linear_rnn_reports_overflow_without_raising():
    model = build_model(ModelSpec(activation="linear", init="orthogonal", recurrent_gain=3.0, hidden_size=6))
    tr = trace(model, rnnviz.inputs.impulse(1000))
    assert tr.overflow
    # h_k = 3^k Q^k W_ih x_0 leaves float32 (3.4e38) after about 81 steps
    assert tr.forward_overflow_step is not None and 70 < tr.forward_overflow_step < 90
    assert tr.backward_overflow_step is not None
    assert np.isfinite(tr.log10_grad_norm).all()


def test_gradient_explodes_tells_growth_from_a_long_memory():
    """Scalar linear RNN, loss on the last step: |dL/dh_k| = |w|^(T-1-k). w = 1.1 over 100 steps grows
    by 1.1^99 ≈ 1.3e4 (> 1000×): explodes; w = 1.05 grows 1.05^99 ≈ 125×: no; w = 0.9 fades: no."""
    assert trace(scalar_linear(1.1), np.ones((100, 1))).gradient_explodes
    assert not trace(scalar_linear(1.05), np.ones((100, 1))).gradient_explodes
    assert not trace(scalar_linear(0.9), np.ones((100, 1))).gradient_explodes


def test_exploding_relu_rnn_no_exception_and_marked():
    model = build_model(ModelSpec(activation="relu", init="identity", recurrent_gain=2.5, hidden_size=4))
    tr = trace(model, np.ones((2000, 1)))
    assert tr.overflow
    assert tr.forward_overflow_step is not None


@pytest.mark.parametrize("T", [1000, 1100, 3000])
def test_relu_rnn_gradient_exact_after_states_leave_float64(T):
    """ReLU, identity init with gain 2, zero bias, an impulse at t = 0: h_t = 2^t relu(W_ih), which
    passes float64's 1.8e308 at t = 1024. The p units with W_ih > 0 stay active, so
    dh_{T-1}/dh_k = 2^(T-1-k) diag(active) and with v = ones/sqrt(H):
    ||dL/dh_k|| = 2^(T-1-k) sqrt(p/H) for k < T-1 (1 at k = T-1); the Jacobian norm is 2^(T-1-k)."""
    H = 6
    model = build_model(ModelSpec(activation="relu", init="identity", recurrent_gain=2.0, hidden_size=H, seed=1))
    with torch.no_grad():
        model.bias_ih.zero_()
        model.bias_hh.zero_()
    p = int((model.weight_ih.detach().numpy()[:, 0] > 0).sum())
    assert 0 < p < H
    tr = trace(model, rnnviz.inputs.impulse(T))
    n = np.arange(T - 1, -1, -1)
    want = n * math.log10(2.0) + np.where(n > 0, 0.5 * math.log10(p / H), 0.0)
    np.testing.assert_allclose(tr.log10_grad_norm, want, atol=1e-9)
    np.testing.assert_allclose(tr.log10_jacobian_norm, n * math.log10(2.0), atol=1e-9)
    assert tr.overflow and tr.forward_overflow_step is not None


def test_tanh_rnn_at_max_gain_is_finite():
    model = build_model(ModelSpec(init="gaussian", recurrent_gain=4.0, hidden_size=16))
    tr = trace(model, rnnviz.inputs.noise(500, 1, seed=0))
    assert np.all(np.abs(tr.hidden) <= 1)
    assert np.all(np.isfinite(tr.log10_grad_norm)) and np.all(np.isfinite(tr.log10_jacobian_norm))


# ---------------------------------------------------------------- input checking

def test_bad_inputs_raise_clear_errors():
    model = build_model(ModelSpec(input_size=2, hidden_size=3))
    with pytest.raises(ValueError, match=r"shape \[T, 2\]"):
        trace(model, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        trace(model, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="loss"):
        trace(model, np.zeros((5, 2)), loss="middle")
    with pytest.raises(ValueError, match="h0"):
        trace(model, np.zeros((5, 2)), h0=np.zeros(4))
    with pytest.raises(ValueError, match="h0 must be a numeric vector"):
        trace(model, np.zeros((5, 2)), h0="abc")
    with pytest.raises(ValueError, match="beyond float32's range"):  # finite, but not in float32
        trace(model, np.full((5, 2), 1e39))


def test_initial_state_is_used():
    model = build_model(ModelSpec(cell="lstm", hidden_size=3))
    a = trace(model, np.zeros((5, 1)))
    b = trace(model, np.zeros((5, 1)), h0=(np.full(3, 0.5), np.full(3, -0.5)))
    assert not np.allclose(a.hidden, b.hidden)
    module = model.to_torch()
    with torch.no_grad():
        out, _ = module(torch.zeros(1, 5, 1), (torch.full((1, 1, 3), 0.5), torch.full((1, 1, 3), -0.5)))
    np.testing.assert_allclose(b.hidden, out[0].numpy(), atol=1e-6)


def test_trace_all_in_parallel_equals_one_by_one():
    x = rnnviz.inputs.noise(300, 1, seed=1)
    models = {c: build_model(ModelSpec(cell=c, hidden_size=16, seed=3)) for c in ("rnn", "lstm", "gru")}
    together = importlib.import_module("rnnviz.trace").trace_all(models, x)
    for c, m in models.items():
        alone = trace(m, x)
        np.testing.assert_array_equal(together[c].hidden, alone.hidden)
        np.testing.assert_array_equal(together[c].log10_grad_norm, alone.log10_grad_norm)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_gate_evaluation_for_large_sizes_agrees(cell, monkeypatch):
    """Large traces evaluate gates in float32; over 400 steps the log10 gradient stays within 5e-5 of float64
    (a relative error of 1e-4: invisible on a log plot)."""
    import importlib

    mod = importlib.import_module("rnnviz.trace")
    model = build_model(ModelSpec(cell=cell, hidden_size=24, init="torch", recurrent_gain=1.5, seed=2))
    x = rnnviz.inputs.noise(400, 1, seed=0)
    exact = trace(model, x)
    monkeypatch.setattr(mod, "EVAL_FLOAT32_ABOVE", -1)
    fast = trace(model, x)
    np.testing.assert_array_equal(fast.hidden, exact.hidden)
    np.testing.assert_allclose(fast.log10_grad_norm, exact.log10_grad_norm, atol=5e-5)
    np.testing.assert_allclose(fast.log10_jacobian_norm, exact.log10_jacobian_norm, atol=5e-5)
    for name in exact.gates:
        np.testing.assert_allclose(fast.gates[name], exact.gates[name], atol=1e-6)


def test_step_terms_after_an_overflow_are_not_nan_for_zero_weights():
    """With identity weights a unit sees only itself: 0 · ∞ from the other, overflowed units is no term."""
    model = build_model(ModelSpec(activation="relu", init="identity", recurrent_gain=4.0, hidden_size=8))
    tr = trace(model, rnnviz.inputs.impulse(200))
    k = tr.forward_overflow_step
    quiet = [u for u in range(8) if (tr.hidden[:, u] == 0).all()]
    loud = [u for u in range(8) if np.isinf(tr.hidden[-1, u])]
    assert k is not None and quiet and loud
    terms = tr.step_terms(150, quiet[0])
    assert terms["h_term"]["a"] == 0.0 and terms["h"] == 0.0
    assert np.isinf(tr.step_terms(150, loud[0])["h_term"]["a"])
