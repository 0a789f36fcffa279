"""The modern cells (LRU, minGRU, minLSTM, selective SSM) against plain references from the papers'
equations, and their trace against closed forms far beyond float64's range."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnviz import modern, modern_trace
from tests.support import modern_reference as ref

CASES = [("lru", {}), ("lru", {"normalize": "off"}), ("mingru", {}), ("mingru", {"negative": "negative"}),
         ("minlstm", {}), ("minlstm", {"negative": "negative"}), ("s6", {}), ("s6", {"negative": "negative"}),
         ("s6", {"discretization": "euler"})]


def _input(T, I, seed=0):
    """float32-representable inputs, so trace (which reads float32) and the reference see the same numbers."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, I, generator=g).numpy().astype(np.float64)


def _cell(cell, knobs, I=2, H=5, seed=3):
    return modern.build(cell, I, H, seed=seed, **knobs)


@pytest.mark.parametrize("cell,knobs", CASES)
@pytest.mark.parametrize("loss", ["last", "all"])
def test_trace_matches_float64_reference(cell, knobs, loss):
    model = _cell(cell, knobs)
    x = _input(80, 2)
    tr = modern_trace.trace(model, x, loss=loss)
    want = ref.run(model, x, loss)
    np.testing.assert_allclose(tr.hidden, want["hidden"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tr.log10_grad_norm, np.log10(want["grad_norm"]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr.eigenvalue_trajectory, want["transition"], rtol=1e-12, atol=1e-15)
    if "output" in want:
        np.testing.assert_allclose(tr.extras["output"], want["output"], rtol=1e-6, atol=1e-6)
    if "imag" in want:
        np.testing.assert_allclose(tr.extras["imag"], want["imag"], rtol=1e-6, atol=1e-6)
    for gate in ("update", "forget", "input"):
        if gate in want:
            np.testing.assert_allclose(tr.gates[gate], want[gate], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell,knobs", CASES)
def test_torch_forward_matches_reference(cell, knobs):
    model = _cell(cell, knobs)
    x = _input(300, 2, seed=1)
    want = ref.run(model, x)
    key = "output" if "output" in want else "hidden"
    scale = np.abs(want[key]).max()
    for mode in model.modes:   # float32 against float64 over 300 steps
        y, _ = model(torch.as_tensor(x, dtype=torch.float32), mode=mode)
        # The log-space scan carries A_t = sum log a_s, which grows like t; in float32 it loses digits
        # in proportion (measured: 3e-6 at T = 100, 1.4e-5 at 300, 1.3e-4 at 4000, relative).
        tol = 1e-7 * len(x) if mode == "log" else 1e-5
        np.testing.assert_allclose(y.detach().numpy(), want[key], rtol=0, atol=tol * scale, err_msg=mode)


@pytest.mark.parametrize("r,T", [(0.5, 3000), (0.01, 2500), (0.999, 2000)])
def test_lru_gradient_is_the_closed_form_far_beyond_float64(r, T):
    """All |lambda| = r: ||dL/dx_k|| = r^(T-1-k) exactly, to 10^-5000 (float64 stops at 10^-308)."""
    model = modern.build("lru", 1, 6, r_min=r, r_max=r, seed=5)
    tr = modern_trace.trace(model, np.zeros((T, 1)))
    lag = np.arange(T - 1, -1, -1)
    modulus = np.exp(-np.exp(model.nu_log.detach().double().numpy()))   # r, rounded through float32 nu_log
    want = lag * math.log10(modulus[0])
    np.testing.assert_allclose(modulus, r, rtol=1e-6)
    np.testing.assert_allclose(tr.log10_grad_norm, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.log10_jacobian_norm, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.log10_step_jacobian_norm, math.log10(modulus[0]), rtol=1e-12)
    assert not tr.overflow
    if r < 0.5:
        assert tr.log10_grad_norm[0] < -4000


def test_lru_gradient_per_unit_is_lambda_to_the_lag():
    """Different radii: |dL/dx_k,j| = |lambda_j|^(T-1-k) / sqrt(N) for every unit, and the Jacobian
    product's norm follows the largest radius."""
    model = modern.build("lru", 2, 8, r_min=0.05, r_max=0.9, seed=2)
    T = 1500
    tr = modern_trace.trace(model, _input(T, 2))
    log10_mod = -np.exp(model.nu_log.detach().double().numpy()) / math.log(10)
    lag = np.arange(T - 1, -1, -1)[:, None]
    want = lag * log10_mod[None] - 0.5 * math.log10(8)
    np.testing.assert_allclose(tr.log10_grad_hidden, want, rtol=1e-5, atol=1e-4)   # float32 storage
    np.testing.assert_allclose(tr.log10_jacobian_norm, lag[:, 0] * log10_mod.max(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tr.log10_pascanu_bound, tr.log10_jacobian_norm)
    assert tr.log10_grad_hidden.min() < -320


def test_adjoint_sweep_is_exact_for_growth_beyond_float64():
    """The sweep's other direction (no cell here grows): |a| = 2 for 5000 steps is 2^4999, i.e. 10^1504.8."""
    T, S = 5000, 3
    out = np.empty((T, S))
    v = np.full(S, 1 / math.sqrt(S))
    modern_trace.adjoint_sweep(np.ones((1, S)), np.ones((1, S), dtype=complex), v, False, out)
    lag = np.arange(T - 1, -1, -1)
    np.testing.assert_allclose(out, np.broadcast_to(lag[:, None] + math.log2(v[0]), (T, S)), rtol=1e-14)


def test_saturated_mingru_gradient_is_exact_where_the_transition_underflows():
    """Update pre-activation k = 800 at every step: 1 - z = e^-800 (0 in float64), so ||dL/dh_k|| =
    (1 - z)^lag = 10^(-347.4 lag): exact, from the pre-activation, not 0."""
    model = modern.build("mingru", 1, 2, seed=0)
    with torch.no_grad():
        model.linear_z.weight.fill_(0.0)
        model.linear_z.bias.fill_(800.0)
    T = 40
    tr = modern_trace.trace(model, np.zeros((T, 1)))
    lag = np.arange(T - 1, -1, -1)
    per_step = -(800 + math.log1p(math.exp(-800))) / math.log(10)    # log10 sigmoid(-800)
    np.testing.assert_allclose(tr.log10_grad_norm, lag * per_step, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(tr.log10_jacobian_norm, lag * per_step, rtol=1e-13, atol=1e-12)
    assert tr.log10_grad_norm[0] < -13000
    np.testing.assert_array_equal(tr.eigenvalue_trajectory, 0.0)   # as numbers they underflow; the logs do not


@pytest.mark.parametrize("cell", ["mingru", "minlstm", "s6"])
def test_negative_eigenvalues_span_minus_one_to_one(cell):
    """With negative=True the transitions fill (-1, 1); without, they stay in (0, 1)."""
    x = 30 * _input(400, 2, seed=4)    # large inputs push the gates to both ends
    for negative in ("positive", "negative"):
        tr = modern_trace.trace(_cell(cell, {"negative": negative}, H=6), x)
        a = tr.eigenvalue_trajectory.real
        assert np.all(np.abs(tr.eigenvalue_trajectory.imag) == 0)
        assert a.max() <= 1
        if negative == "negative":
            assert a.min() < -0.9 and a.max() > 0.5
        else:
            assert a.min() >= 0


def test_selective_ssm_eigenvalues_follow_the_input():
    """A bigger step Delta means a smaller exp(Delta A): the per-step eigenvalues move with the input."""
    model = _cell("s6", {}, H=3)
    tr = modern_trace.trace(model, _input(50, 2, seed=6))
    traj = np.abs(tr.eigenvalue_trajectory)
    assert np.ptp(traj, axis=0).max() > 1e-3
    delta = tr.extras["delta"].astype(np.float64)
    A = -np.exp(model.A_log.detach().double().numpy())
    np.testing.assert_allclose(traj.reshape(50, 3, -1), np.exp(delta[:, :, None] * A[None]), rtol=1e-6)
    np.testing.assert_allclose(tr.eigenvalues, tr.eigenvalue_trajectory[-1])


@pytest.mark.parametrize("cell,knobs", [("lru", {}), ("mingru", {"negative": "negative"}), ("s6", {})])
def test_step_jacobian_and_products_match_autograd(cell, knobs):
    model = _cell(cell, knobs, H=3)
    x = torch.as_tensor(_input(12, 2, seed=7))
    md = model.double()
    a, b, _ = md._coefficients(x[None])
    a, b = a[0], b[0]
    complex_state = a.is_complex()

    def step(k, s):      # s: the real state (Re, Im for the LRU)
        if complex_state:
            n = s.shape[0] // 2
            z = torch.complex(s[:n], s[n:]) * a[k] + b[k]
            return torch.cat([z.real, z.imag])
        return a[k] * s + b[k]

    tr = modern_trace.trace(model.float(), x.numpy())
    S = a.shape[1] * (2 if complex_state else 1)
    s = torch.zeros(S, dtype=torch.float64)
    P = torch.eye(S, dtype=torch.float64)
    products = [P]
    for k in range(12):
        J = torch.autograd.functional.jacobian(lambda s_, k=k: step(k, s_), s)
        np.testing.assert_allclose(tr.step_jacobian(k), J.numpy(), atol=1e-7)
        np.testing.assert_allclose(tr.log10_step_jacobian_norm[k], np.log10(np.linalg.norm(J.numpy(), 2)), atol=1e-6)
        s = step(k, s)
    for k in range(11, 0, -1):
        J = torch.autograd.functional.jacobian(lambda s_, k=k: step(k, s_), s)
        products.append(products[-1] @ J)
    want = [np.log10(np.linalg.norm(p.numpy(), 2)) for p in products][::-1]   # ||ds_11/ds_k||, k = 0..11
    np.testing.assert_allclose(tr.log10_jacobian_norm, want, atol=1e-6)


@pytest.mark.parametrize("normalize", ["on", "off"])
def test_lru_normalisation_keeps_the_impulse_response_energy(normalize):
    """An impulse u_0 gives x_t = lambda^t gamma B u_0, whose energy sum_t |x_t|^2 is
    gamma^2 |B u_0|^2 (1 - r^2T) / (1 - r^2): with gamma = sqrt(1 - r^2) it is |B u_0|^2 whatever r is,
    without it it grows like 1/(1 - r^2) as the eigenvalues approach the unit circle."""
    T = 4000
    x = np.zeros((T, 1))
    x[0] = 1.0
    for r in (0.9, 0.999):
        model = modern.build("lru", 1, 4, r_min=r, r_max=r, normalize=normalize, seed=1)
        tr = modern_trace.trace(model, x)
        energy = (tr.hidden.astype(np.float64) ** 2 + tr.extras["imag"].astype(np.float64) ** 2).sum(0)
        Bu2 = model.B_re.detach().double().numpy()[:, 0] ** 2 + model.B_im.detach().double().numpy()[:, 0] ** 2
        rr = np.exp(-np.exp(model.nu_log.detach().double().numpy()))
        gain = (1 - rr ** (2 * T)) * (1.0 if normalize == "on" else 1.0 / (1 - rr ** 2))
        np.testing.assert_allclose(energy, Bu2 * gain, rtol=1e-4)


def test_lru_ring_initialisation():
    model = modern.build("lru", 1, 500, r_min=0.4, r_max=0.8, max_phase=math.pi / 4, seed=9)
    lam = model.eigenvalues
    assert np.all((np.abs(lam) >= 0.4 - 1e-6) & (np.abs(lam) <= 0.8 + 1e-6))
    assert np.all((np.angle(lam) >= 0) & (np.angle(lam) <= math.pi / 4 + 1e-6))
    # |lambda|^2 uniform on [r_min^2, r_max^2]: half of them below the middle of that interval
    below = np.mean(np.abs(lam) ** 2 < (0.4 ** 2 + 0.8 ** 2) / 2)
    assert 0.43 < below < 0.57
    gamma = np.exp(model.gamma_log.detach().double().numpy())
    np.testing.assert_allclose(gamma, np.sqrt(1 - np.abs(lam) ** 2), rtol=1e-5)


def test_same_seed_same_cell():
    a, b = modern.build("s6", 2, 4, seed=11), modern.build("s6", 2, 4, seed=11)
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), n
    assert not torch.equal(modern.build("s6", 2, 4, seed=12).in_proj.weight, a.in_proj.weight)


def test_overflow_is_a_result_not_an_exception():
    """A candidate beyond float32 (weights 1e30, input 1e20): the state is marked as overflowed; the
    gradient, which does not depend on the state in a diagonal linear recurrence, stays exact."""
    model = modern.build("mingru", 1, 3, seed=0)
    with torch.no_grad():
        model.linear_h.weight.fill_(1e30)
    x = np.full((20, 1), 1e20)
    tr = modern_trace.trace(model, x)
    assert tr.overflow and tr.forward_overflow_step == 0
    assert np.all(np.isfinite(tr.log10_grad_norm))
    assert tr.backward_overflow_step is None


def test_bad_input_and_knobs_give_clear_errors():
    model = modern.build("lru", 2, 3)
    with pytest.raises(ValueError, match=r"shape \[T, 2\]"):
        modern_trace.trace(model, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="loss"):
        modern_trace.trace(model, np.zeros((5, 2)), loss="first")
    with pytest.raises(ValueError, match="h0 must have 3"):
        modern_trace.trace(model, np.zeros((5, 2)), h0=np.zeros(4))
    with pytest.raises(ValueError, match="r_max"):
        modern.build("lru", 1, 3, r_max=1.5)
    with pytest.raises(ValueError, match="r_min <= r_max"):
        modern.build("lru", 1, 3, r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="unknown knob"):
        modern.build("mingru", 1, 3, r_min=0.5)
    with pytest.raises(ValueError, match="mode"):
        modern.build("mingru", 1, 3, negative="negative")(torch.zeros(4, 1), mode="log")


def test_initial_state_is_used():
    model = modern.build("lru", 1, 2, seed=0)
    h0 = np.array([1.0 + 2.0j, -0.5j])
    tr = modern_trace.trace(model, np.zeros((3, 1)), h0=h0)
    lam = model.eigenvalues
    np.testing.assert_allclose(tr.hidden[2], (lam ** 3 * h0).real, rtol=1e-6)
    np.testing.assert_allclose(tr.extras["imag"][2], (lam ** 3 * h0).imag, rtol=1e-6)
    terms = tr.step_terms(0, 1)
    np.testing.assert_allclose(terms["s_prev"], h0[1])
    np.testing.assert_allclose(terms["a"], lam[1], rtol=1e-12)


def test_fit_trains_a_modern_cell_and_records_its_reach():
    import rnnviz

    model = modern.build("mingru", 2, 8, seed=0)
    spec = rnnviz.ModelSpec(hidden_size=8, seed=0)
    result = rnnviz.fit(spec, "adding", 20, 40, batch_size=16, lr=1e-2, model=model, test_size=100, test_every=20,
                        checkpoints=3)
    assert result.model is model and result.steps_done == 40
    assert result.test_loss[-1] < result.test_loss[0]
    np.testing.assert_allclose(result.reach[-1], modern_trace.trace(model, result.probe).log10_grad_norm)
    assert list(result.reach_steps) == [0, 20, 40]
    with pytest.raises(ValueError, match="spec.hidden_size is 9"):
        rnnviz.fit(spec.replace(hidden_size=9), "adding", 20, 1, model=model)
    net = modern.ModernNet("lru", 2, 8, layers=2, seed=0)
    result = rnnviz.fit(spec, "adding", 20, 2, batch_size=4, model=net, test_size=10, checkpoints=3)
    assert result.reach.shape == (0, 20)    # a stack of layers has no single recurrence to trace


def test_step_terms_of_the_selective_ssm_name_the_right_channel_and_state():
    """Unit d*N + n reads Delta of channel d and B_t, C_t of state n; b = B_bar u (zero-order hold)."""
    model = modern.build("s6", 2, 4, d_state=4, seed=2)      # D = N: a wrong index would not be caught by shape
    x = _input(6, 2, seed=8)
    tr = modern_trace.trace(model, x)
    u = x @ model.in_proj.weight.detach().double().numpy().T + model.in_proj.bias.detach().double().numpy()
    for t, d, n in ((3, 1, 2), (5, 3, 0)):
        terms = tr.step_terms(t, d * 4 + n)
        delta = float(tr.extras["delta"][t, d])
        B = float(tr.extras["B"][t, n])
        A = -math.exp(float(model.A_log.detach()[d, n]))
        assert terms["extras"]["delta"] == delta and terms["extras"]["B"] == B
        np.testing.assert_allclose(terms["a"], math.exp(delta * A), rtol=1e-6)
        np.testing.assert_allclose(terms["b"], (math.exp(delta * A) - 1) / A * B * u[t, d], rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(terms["s"], terms["a"] * terms["s_prev"] + terms["b"], rtol=1e-12)


@pytest.mark.parametrize("r", [0.9, 0.99, 0.999])
def test_lru_memory_horizon_follows_the_eigenvalue_radius(r):
    """Radius r: the gradient falls below 1e-3 of its last value after ceil(3 / -log10 r) steps
    (66 for 0.9, 688 for 0.99, 6905 for 0.999): the ring's radius sets how far back it remembers."""
    model = modern.build("lru", 1, 4, r_min=r, r_max=r, seed=0)
    modulus = math.exp(-math.exp(float(model.nu_log.detach()[0])))
    want = math.ceil(3 / -math.log10(modulus))
    tr = modern_trace.trace(model, np.zeros((want + 10, 1)))
    assert tr.memory_horizon(1e-3) == want
    assert want == {0.9: 66, 0.99: 688, 0.999: 6905}[r]


CALLS = {"jacobian_norms": (5,), "step_jacobian_norms": (5,), "step_jacobian": (1,), "step_terms": (1, 0),
         "memory_horizon": (), "saturation": ()}


@pytest.mark.parametrize("cell", modern.CELLS)
def test_every_readout_of_a_trace_works_on_a_modern_trace(cell):
    """Pages ask a Trace for these; a modern trace answers each (a new Trace readout fails here until
    ModernTrace gives it a meaning)."""
    from rnnviz.trace import Trace

    T = 12
    tr = modern_trace.trace(_cell(cell, {}, H=3), _input(T, 2, seed=9))
    assert isinstance(tr, Trace)
    for name in (n for n in dir(Trace) if not n.startswith("_")):
        value = getattr(tr, name)
        if callable(value):
            assert name in CALLS, f"Trace.{name} is new: give it a meaning for modern cells"
            value = value(*CALLS[name])
        if name.startswith(("log10_", "grad_norm", "jacobian_norm", "step_jacobian_norm")) and value is not None:
            assert np.shape(value)[0] == T, name
    assert tr.log10_jacobian_norm[-1] == 0 and np.isnan(tr.jacobian_norms(5)[0])
    assert tr.eigenvalues.shape == (tr.hidden_size,) and tr.spectral_radius <= 1
