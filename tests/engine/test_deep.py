"""Stacked and bidirectional models: states against torch's fused modules, the gradient over the
[layers x T] grid against a float64 autograd loop, and a closed form far beyond float range."""
import functools
import importlib
import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch

from rnnviz import ModelSpec, build_model, from_torch, trace
from rnnviz.deep import StackedModel, StackedTrace, loss_terms, param_name
from tests.support import reference

MODULES = {"rnn": (torch.nn.RNN, {"nonlinearity": "tanh"}), "relu": (torch.nn.RNN, {"nonlinearity": "relu"}),
           "lstm": (torch.nn.LSTM, {}), "gru": (torch.nn.GRU, {})}


def _module(kind, I, H, layers, bidirectional, seed=0):
    torch.manual_seed(seed)
    cls, kw = MODULES[kind]
    return cls(I, H, num_layers=layers, bidirectional=bidirectional, **kw)


# ---------------------------------------------------------------- parity with torch's fused modules
@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_states_match_fused_stacked_modules_over_1000_steps(kind, layers, bidirectional):
    """Every layer's states in both directions equal torch's fused nn.RNN / LSTM / GRU(num_layers,
    bidirectional) to 1e-5 in float32 over T = 1000: the top output at every step and h_n (LSTM c_n)
    of every layer and direction."""
    T, I, H = 1000, 3, 10
    module = _module(kind, I, H, layers, bidirectional)
    x = torch.randn(T, I, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, state = module(x)
    if layers == 1 and not bidirectional:  # the one-layer Trace, as before
        tr = trace(module, x.numpy(), loss="tag")
    else:
        tr = trace(module, x.numpy())
    assert isinstance(tr, StackedTrace)
    np.testing.assert_allclose(tr.output, out.numpy(), atol=1e-5)
    h_n = state[0] if kind == "lstm" else state
    D = 2 if bidirectional else 1
    for layer in range(layers):
        for d in range(D):
            sub = tr.trace(layer, d)  # the backward direction's trace runs in its reading order
            np.testing.assert_allclose(sub.hidden[-1], h_n[layer * D + d].numpy(), atol=1e-5)
            if kind == "lstm":
                np.testing.assert_allclose(sub.cell[-1], state[1][layer * D + d].numpy(), atol=1e-5)
    model = from_torch(module)
    with torch.no_grad():  # and the model's own forward (torch's stacked kernel) gives the same
        np.testing.assert_array_equal(model(x)[0].numpy(), out.numpy())


# ---------------------------------------------------------------- gradients vs an fp64 autograd loop
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional", [(1, True), (2, False), (2, True), (3, True)])
@pytest.mark.parametrize("loss", ["last", "all", "tag"])
def test_grid_matches_float64_autograd_loop(kind, layers, bidirectional, loss):
    """log10 ||dL/dh_t^(l)|| of every layer, direction and step equals autograd through a float64 loop
    over the same weights (the total derivative over depth and time), for the three losses."""
    T, I, H = 60, 3, 6
    module = _module(kind, I, H, layers, bidirectional, seed=3)
    x = np.random.default_rng(4).normal(size=(T, I)).astype(np.float32)
    tr = trace(module, x, loss=loss)
    D = 2 if bidirectional else 1
    grads, y = reference.stacked_bptt(module, x, loss_terms(loss, T, H, D))
    np.testing.assert_allclose(tr.output, y, atol=2e-5)
    for layer in range(layers):
        for d in range(D):
            np.testing.assert_allclose(tr.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)


@pytest.mark.parametrize("kind, depth_gain", [("lstm", 60.0), ("rnn", 25.0)])
@pytest.mark.parametrize("loss", ["all", "tag"])
def test_pass_down_of_saturated_and_ordinary_steps_matches_autograd(kind, depth_gain, loss):
    """Input spikes and large weights between the layers saturate some units at some steps, so those steps'
    derivative factors span more than one exponent can hold and go down to the layer below one by one, while
    the steps between them go down together in one matrix product. Both kinds of step, side by side in one
    sequence and in both directions, give the grid of every layer and ||dL/dx_t|| of fp64 autograd."""
    T, I, H = 60, 3, 6
    module = _module(kind, I, H, 2, True, seed=3)
    with torch.no_grad():
        module.weight_ih_l1.mul_(depth_gain)
        module.weight_ih_l1_reverse.mul_(depth_gain)
    x = np.random.default_rng(4).normal(size=(T, I)).astype(np.float32)
    x[::7] *= 100
    tr = trace(module, x, loss=loss)
    for layer in range(2):
        for d in range(2):
            wide = tr.trace(layer, d)._ctx["factors"][3]  # -1: the step's factors share one exponent per group
            assert 0 < np.count_nonzero(wide >= 0) < T // 2
    grads, y, dx = reference.stacked_bptt(module, x, loss_terms(loss, T, H, 2), input_grad=True)
    np.testing.assert_allclose(tr.output, y, atol=2e-5)
    for layer in range(2):
        for d in range(2):
            np.testing.assert_allclose(tr.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)
    np.testing.assert_allclose(tr.log10_input_grad_norm, np.log10(dx), atol=2e-5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_residual_connections_match_autograd_and_keep_depth_alive(kind):
    """With residual connections y^(l) = h^(l) + y^(l-1) the grid equals autograd through the same
    loop; and the bottom layer's gradient is larger than without them (the skip path cannot fade)."""
    T, H = 40, 6
    spec = ModelSpec(cell=kind, input_size=2, hidden_size=H, num_layers=4, recurrent_gain=0.9, input_gain=0.3,
                     residual=True, seed=1)
    model = build_model(spec)
    x = np.random.default_rng(0).normal(size=(T, 2)).astype(np.float32)
    tr = trace(model, x, loss="all")
    grads, y = reference.stacked_bptt(model, x, loss_terms("all", T, H, 1), residual=True)
    np.testing.assert_allclose(tr.output, y, atol=2e-5)
    for layer in range(4):
        np.testing.assert_allclose(tr.grad_grid(0)[layer], np.log10(grads[layer][0]), atol=2e-5)
    plain = trace(build_model(spec.replace(residual=False)), x, loss="all")
    assert tr.grad_grid(0)[0].mean() > plain.grad_grid(0)[0].mean() + 0.5


def test_both_directions_in_two_threads_give_the_same_numbers(monkeypatch):
    """A large bidirectional trace runs its backward direction in a second thread: the numbers are those of
    one thread, bit for bit (states, gates, every gradient grid, ||dL/dx_t||), and those of fp64 autograd, for
    each cell, with residual connections and saturated steps (the threshold is lowered to reach these small
    models)."""
    import threading

    from rnnviz import deep
    trace_module = importlib.import_module("rnnviz.trace")

    def arrays(tr):
        out = [tr.output, tr.log10_depth_grad, tr.log10_input_grad_norm]
        for sub in (tr.trace(layer, d) for layer in range(tr.num_layers) for d in range(tr.directions)):
            out += [sub.hidden, sub.log10_grad_hidden, *sub.gates.values(), *sub.pre.values()]
            out += [] if sub.cell is None else [sub.cell, sub.log10_cell_grad_norm]
        return out

    threads, layer_down, handed_over = set(), deep._layer_down, threading.Event()

    def spy(*args):  # the forward direction waits (once) until the pool has taken the backward one
        threads.add(threading.current_thread())
        handed_over.set() if args[-1] else handed_over.wait(60.0)
        return layer_down(*args)

    monkeypatch.setattr(deep, "_layer_down", spy)
    T, H = 50, 5
    x = np.random.default_rng(6).normal(size=(T, 2)).astype(np.float32)
    x[::9] *= 60
    for kind in ("rnn", "lstm", "gru"):
        spec = ModelSpec(cell=kind, input_size=2, hidden_size=H, num_layers=3, bidirectional=True, residual=True,
                         recurrent_gain=1.2, init="orthogonal", seed=4)
        model = build_model(spec)
        monkeypatch.setattr(trace_module, "PARALLEL_ABOVE", math.inf)
        one = trace(model, x, loss="tag")
        monkeypatch.setattr(trace_module, "PARALLEL_ABOVE", 0.0)
        two = trace(model, x, loss="tag")
        for a, b in zip(arrays(one), arrays(two), strict=True):
            np.testing.assert_array_equal(a, b)
        grads, _ = reference.stacked_bptt(model, x, loss_terms("tag", T, H, 2), residual=True)
        for layer in range(3):
            for d in range(2):
                np.testing.assert_allclose(two.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)
    assert threading.main_thread() in threads and len(threads) > 1  # the second direction did use a second thread


def test_tagging_loss_of_one_layer_matches_autograd():
    """A one-layer model also takes the tagging loss (a label at every step)."""
    module = _module("lstm", 2, 5, 1, False, seed=5)
    x = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    tr = trace(module, x, loss="tag")
    grads, _ = reference.stacked_bptt(module, x, loss_terms("tag", 50, 5, 1))
    np.testing.assert_allclose(tr.grad_grid(0)[0], np.log10(grads[0][0]), atol=2e-5)


def test_one_layer_spec_builds_the_same_model_as_before():
    """num_layers=1, unidirectional is the one-layer RecurrentModel and Trace of before; layer 0
    (forwards) of a stacked spec has the same weights (drawn first from the same seed)."""
    spec = ModelSpec(cell="gru", hidden_size=5, seed=3)
    one = build_model(spec)
    deep = build_model(spec.replace(num_layers=3, bidirectional=True))
    assert isinstance(deep, StackedModel) and deep.num_layers == 3 and deep.bidirectional
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        assert torch.equal(getattr(one, name), getattr(deep, param_name(name, 0, 0)))
    assert not torch.equal(deep.weight_hh_l0, deep.weight_hh_l0_reverse)
    assert deep.weight_ih_l1.shape == (15, 10)  # layer 1 reads both directions of layer 0


# ---------------------------------------------------------------- the closed form on the grid
def _signed_permutation(H, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(H)[rng.permutation(H)] * rng.choice([-1.0, 1.0], size=H)[:, None]


def _linear_stack(H, layers, g_time, g_depth, seed=0, bidirectional=False):
    """Linear RNN layers, W_hh = g_time Q and W_ih (l > 0) = g_depth Q with one signed permutation Q
    (orthogonal and exact in float32), zero biases. Bidirectional: both directions of every layer alike,
    and a layer above reads both directions of the one below, W_ih = g_depth [Q | Q]."""
    Q = _signed_permutation(H, seed)
    D = 2 if bidirectional else 1
    model = StackedModel("rnn", 1, H, layers, bidirectional=bidirectional, activation="linear")
    with torch.no_grad():
        for layer in range(layers):
            for d in range(D):
                getattr(model, param_name("weight_hh", layer, d)).copy_(torch.from_numpy(g_time * Q))
                w_ih = g_depth * np.hstack([Q] * D) if layer else np.ones((H, 1))
                getattr(model, param_name("weight_ih", layer, d)).copy_(torch.from_numpy(w_ih))
    return model


@pytest.mark.parametrize("g_time, g_depth, T", [
    (0.5, 0.5, 1200),        # down to 10^-363
    (2.0, 0.25, 1200),       # up to 10^+361
    (0.125, 2.0 ** -60, 2500),  # 10^-2257 (and 18 more orders through depth)
    (4.0, 2.0 ** 40, 2500),     # 10^+1505
])
def test_closed_form_on_the_grid_beyond_float_range(g_time, g_depth, T):
    """For linear layers with commuting orthogonal weights every path from (t, l) to the loss at
    (T-1, L-1) carries the same matrix, so ||dL/dh_t^(l)|| = C(n_t + n_d, n_d) g_time^n_t g_depth^n_d with
    the lags n_t = T-1-t and n_d = L-1-l: exact in log10, far beyond float64's range."""
    H, layers = 6, 4
    model = _linear_stack(H, layers, g_time, g_depth)
    tr = trace(model, np.zeros((T, 1), dtype=np.float32), loss="last")
    grid = tr.grad_grid(0)
    gt, gd = math.log10(np.float32(g_time)), math.log10(np.float32(g_depth))
    for layer in range(layers):
        n_d = layers - 1 - layer
        n_t = np.arange(T - 1, -1, -1)
        want = np.array([math.log10(math.comb(int(nt) + n_d, n_d)) for nt in n_t]) + n_t * gt + n_d * gd
        np.testing.assert_allclose(grid[layer], want, rtol=1e-9, atol=1e-9)
    assert abs(grid).max() > 300  # the numbers are beyond float64


@functools.cache
def _paths(t, layer, d, s, d_top, L, T):
    """{n_t: how many paths} from (step t, layer, direction d) to (s, L - 1, d_top) in a bidirectional stack,
    counted from the lags. A path moves through time in its layer's direction (forwards t -> t + 1, backwards
    t -> t - 1) and up one layer at the same step into either direction (the layer above reads both). Group
    the layers it passes into runs of one direction: a run of r layers from step p to step q is
    C(|q - p| + r - 1, r - 1) paths (which of its layers each of the |q - p| time steps falls in), so a path
    is its directions and its turning steps q_i (in [0, T - 1]), and n_t is the sum of the runs' lags."""
    out = Counter()
    for ups in itertools.product((0, 1), repeat=L - 1 - layer):
        dirs = (d, *ups)
        if dirs[-1] != d_top:
            continue
        runs = [(k, len(list(g))) for k, g in itertools.groupby(dirs)]
        for turns in itertools.product(range(T), repeat=len(runs) - 1):
            count, n_t = 1, 0
            for (direction, r), p, q in zip(runs, (t, *turns), (*turns, s)):
                m = q - p if direction == 0 else p - q
                if m < 0:
                    break
                count *= math.comb(m + r - 1, r - 1)
                n_t += m
            else:
                out[n_t] += count
    return out


def _walks(t, layer, d, s, d_top, L, T):
    """The same count by walking every path of the grid one step at a time (for small grids)."""
    out = Counter()

    def walk(t, layer, d, n_t):
        if (t, layer, d) == (s, L - 1, d_top):
            out[n_t] += 1
        step = t + (1 if d == 0 else -1)
        if 0 <= step < T:
            walk(step, layer, d, n_t + 1)
        if layer < L - 1:
            walk(t, layer + 1, 0, n_t)
            walk(t, layer + 1, 1, n_t)

    walk(t, layer, d, 0)
    return out


def test_counting_paths_by_their_lags_is_walking_them():
    L, T = 3, 5
    for t, layer, d, s, d_top in itertools.product(range(T), range(L), (0, 1), range(T), (0, 1)):
        assert _paths(t, layer, d, s, d_top, L, T) == _walks(t, layer, d, s, d_top, L, T)


def _bidirectional_closed_form(L, T, H, a, b, Q, loss):
    """log10 ||dL/dh_t^(l)|| [direction, layer, step] of the bidirectional linear stack with g_time = 2^a,
    g_depth = 2^b, in exact integer arithmetic. Every path from (t, l, d) with n_t time steps to the loss term
    v_(s, d') (the top layer's; v = signs / sqrt(2H) by loss_terms) carries g_time^n_t g_depth^n_d (Q^T)^(n_t + n_d)
    v_(s, d') (n_d = L - 1 - l), and the gradient is their sum."""
    signs = np.rint(loss_terms(loss, T, H, 2) * math.sqrt(2 * H)).astype(int)
    ends = [(s, dt, signs[s, dt * H:(dt + 1) * H]) for s in range(T) for dt in (0, 1) if signs[s, dt * H:].any()]
    powers, Qt = [np.eye(H, dtype=int)], np.rint(Q.T).astype(int)
    while len(powers) == 1 or not np.array_equal(powers[-1], powers[0]):
        powers.append(Qt @ powers[-1])
    order = len(powers) - 1  # (Q^T)^order = I
    out = np.empty((2, L, T))
    for d, layer, t in itertools.product((0, 1), range(L), range(T)):
        n_d = L - 1 - layer
        terms = [(n_t, count, sign) for s, dt, sign in ends
                 for n_t, count in _paths(t, layer, d, s, dt, L, T).items()]
        low = min(a * n_t for n_t, _, _ in terms)  # every term is an integer times 2^low
        vector = sum(count * 2 ** (a * n_t - low) * (powers[(n_t + n_d) % order] @ sign).astype(object)
                     for n_t, count, sign in terms)
        norm2 = int(sum(int(e) ** 2 for e in vector))
        out[d, layer, t] = (0.5 * math.log10(norm2) + (low + b * n_d) * math.log10(2) - 0.5 * math.log10(2 * H)
                            if norm2 else -math.inf)  # the paths' terms cancel exactly
    return out


@pytest.mark.parametrize("loss", ["last", "all", "tag"])
@pytest.mark.parametrize("a, b", [
    (0, 0),       # gains 1: the norm counts the paths
    (-1, 1),      # fading in time, growing in depth
    (1, -2),
    (-100, -60),  # last step: down to 10^-367, the shortest paths dominate (every step: its own loss is near)
    (90, 40),     # up to 10^+900: the longest zigzags dominate
])
def test_closed_form_of_the_bidirectional_grid_beyond_float_range(loss, a, b):
    """Bidirectional linear layers with a signed permutation Q (W_hh = g_time Q, W_ih = g_depth [Q | Q]):
    log10 ||dL/dh_t^(l)|| of both directions, every layer and step, equals the sum over the paths counted
    from the lags, for the last-step loss (each direction's final state: step T-1 forwards, 0 backwards),
    the all-steps loss and the tagging loss."""
    L, T, H = 3, 12, 4
    g_time, g_depth = 2.0 ** a, 2.0 ** b
    Q = _signed_permutation(H, seed=2)
    model = _linear_stack(H, L, g_time, g_depth, seed=2, bidirectional=True)
    tr = trace(model, np.zeros((T, 1), dtype=np.float32), loss=loss)
    want = _bidirectional_closed_form(L, T, H, a, b, Q, loss)
    for d in (0, 1):
        np.testing.assert_allclose(tr.grad_grid(d), want[d], rtol=1e-9, atol=1e-9)
    if a == 90 or (a == -100 and loss == "last"):  # beyond float64, in both directions
        assert abs(want[1]).max() > 300 and abs(want[0]).max() > 300


def test_closed_form_of_a_four_layer_bidirectional_grid():
    """Four layers, loss on each direction's final state: paths turn up to three times."""
    L, T, H = 4, 11, 3
    Q = _signed_permutation(H, seed=5)
    model = _linear_stack(H, L, 2.0 ** -100, 2.0 ** -30, seed=5, bidirectional=True)
    tr = trace(model, np.zeros((T, 1), dtype=np.float32), loss="last")
    want = _bidirectional_closed_form(L, T, H, -100, -30, Q, "last")
    for d in (0, 1):
        np.testing.assert_allclose(tr.grad_grid(d), want[d], rtol=1e-9, atol=1e-9)
    assert want.min() < -300


def test_depth_and_time_factors_of_the_linear_stack():
    """The two factors of each grid cell: through time ||dh_t/dh_{t-1}|| = g_time, through depth
    ||dh_t^(l)/dh_t^(l-1)|| = g_depth (layer 0: ||W_ih|| = sqrt(H) for the column of ones)."""
    H, layers, T = 5, 3, 30
    model = _linear_stack(H, layers, 0.7, 1.9)
    tr = trace(model, np.zeros((T, 1), dtype=np.float32), loss="all")
    np.testing.assert_allclose(tr.time_step_norm_grid(0), math.log10(np.float32(0.7)), atol=1e-7)
    depth = tr.depth_step_norm_grid(0)
    np.testing.assert_allclose(depth[1:], math.log10(np.float32(1.9)), atol=1e-7)
    np.testing.assert_allclose(depth[0], math.log10(math.sqrt(H)), atol=1e-7)


def test_depth_factor_of_a_bidirectional_lstm_matches_autograd():
    """||dh_t^(l)/dy_t^(l-1)||_2 of an LSTM layer (both directions' inputs) equals the SVD of the
    autograd Jacobian of one step at the traced states."""
    module = _module("lstm", 2, 4, 2, True, seed=7)
    x = np.random.default_rng(2).normal(size=(12, 2)).astype(np.float32)
    tr = trace(module, x)
    sd = {k: v.double() for k, v in module.state_dict().items()}
    W = {n: sd[n + "_l1_reverse"] for n in reference.NAMES}
    y0 = torch.as_tensor(np.concatenate([tr.trace(0, 0).hidden, tr.trace(0, 1).hidden[::-1]], 1), dtype=torch.float64)
    sub = tr.trace(1, 1)  # reading order: step k is position T-1-k
    for k in (0, 5, 11):
        t = 11 - k
        h_prev = torch.tensor(sub.hidden[k - 1] if k else np.zeros(4), dtype=torch.float64)
        c_prev = torch.tensor(sub.cell[k - 1] if k else np.zeros(4), dtype=torch.float64)
        J = torch.autograd.functional.jacobian(
            lambda inp, h=h_prev, c=c_prev: reference.step("lstm", "tanh", W, inp, h, c)[0], y0[t]).numpy()
        assert tr.depth_step_norm_grid(1)[1, t] == pytest.approx(math.log10(np.linalg.norm(J, 2)), abs=1e-5)


@pytest.mark.parametrize("kind", list(MODULES))
def test_certified_factor_grids_match_the_exact_ones_and_autograd(kind, monkeypatch):
    """Both factor grids of a bidirectional 2-layer model at H = 24 (step Jacobians 24 x 24, 48 x 48 for an
    LSTM; the depth factor of layer 2 is 24 x 48) come from the certified path (Lanczos and a Cholesky
    factorisation): within 1e-8 decades of the exact eigenvalues of every step's Gram, and the depth factor
    equals the SVD of the autograd Jacobian of steps of the backward direction at the traced states."""
    import rnnviz.sweeps as sweeps

    module = _module(kind, 1, 24, 2, True, seed=3)
    x = np.random.default_rng(4).normal(size=(40, 1)).astype(np.float32)
    assert sweeps.EXACT_STEP_NORM_MAX < 24
    fast = trace(module, x)
    monkeypatch.setattr(sweeps, "EXACT_STEP_NORM_MAX", 10**6)
    exact = trace(module, x)
    for d in (0, 1):
        np.testing.assert_allclose(fast.time_step_norm_grid(d), exact.time_step_norm_grid(d), rtol=0, atol=1e-8)
        np.testing.assert_allclose(fast.depth_step_norm_grid(d), exact.depth_step_norm_grid(d), rtol=0, atol=1e-8)
    cell, act = ("rnn", MODULES[kind][1]["nonlinearity"]) if "nonlinearity" in MODULES[kind][1] else (kind, "tanh")
    sd = {k: v.double() for k, v in module.state_dict().items()}
    W = {n: sd[n + "_l1_reverse"] for n in reference.NAMES}
    y0 = torch.as_tensor(np.concatenate([fast.trace(0, 0).hidden, fast.trace(0, 1).hidden[::-1]], 1),
                         dtype=torch.float64)
    sub = fast.trace(1, 1)  # reading order: step k is position T-1-k
    for k in (0, 17, 39):
        t = 39 - k
        h_prev = torch.tensor(sub.hidden[k - 1] if k else np.zeros(24), dtype=torch.float64)
        c_prev = torch.tensor(sub.cell[k - 1] if k else np.zeros(24), dtype=torch.float64) if kind == "lstm" else None
        J = torch.autograd.functional.jacobian(
            lambda inp, h=h_prev, c=c_prev: reference.step(cell, act, W, inp, h, c)[0], y0[t]).numpy()
        assert fast.depth_step_norm_grid(1)[1, t] == pytest.approx(math.log10(np.linalg.norm(J, 2)), abs=1e-5)


def test_stacked_model_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="num_layers must be 1 to 4"):
        StackedModel("lstm", 2, 3, num_layers=5)
    with pytest.raises(ValueError, match="loss"):
        trace(build_model(ModelSpec(num_layers=2)), np.zeros((3, 1)), loss="sum")
    with pytest.raises(ValueError, match="residual"):
        build_model(ModelSpec(num_layers=2, residual=True)).to_torch()
    with pytest.raises(ValueError, match="num_layers must be"):
        ModelSpec(num_layers=5)


def test_links_carry_depth_direction_and_skips():
    """num_layers, bidirectional and residual are knobs like every other: read from a link, invalid
    values replaced by the default with a note, written back in one spelling (defaults left out)."""
    from rnnviz.spec import ModelSpec as Spec

    spec, notes = Spec.from_query({"num_layers": "3", "bidirectional": "TRUE", "residual": "maybe"})
    assert (spec.num_layers, spec.bidirectional, spec.residual) == (3, True, False)
    assert len(notes) == 1 and "residual must be true or false" in notes[0]
    assert spec.to_query() == {"num_layers": "3", "bidirectional": "true"}
    assert Spec.from_query({"num_layers": "9"})[0].num_layers == 1


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2])
def test_the_shortest_sequences_in_both_directions(kind, T):
    """A bidirectional model on one or two steps (a sequence of one step reversed is still a reversed
    array) gives the grid of the float64 autograd loop, for every loss."""
    module = _module(kind, 2, 4, 2, True, seed=7)
    x = np.random.default_rng(5).normal(size=(T, 2)).astype(np.float32)
    for loss in ("last", "all", "tag"):
        tr = trace(module, x, loss=loss)
        grads, y = reference.stacked_bptt(module, x, loss_terms(loss, T, 4, 2))
        np.testing.assert_allclose(tr.output, y, atol=2e-5)
        for layer in range(2):
            for d in range(2):
                np.testing.assert_allclose(tr.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)
