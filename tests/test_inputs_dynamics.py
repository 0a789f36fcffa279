"""Named inputs and the dynamics helpers."""
import math

import numpy as np
import pytest

from rnnviz import dynamics, inputs


def test_impulse_noise_sine_shapes_and_seeding():
    x = inputs.impulse(10, 3)
    assert x.dtype == np.float32 and x.shape == (10, 3)
    assert x[0].tolist() == [1, 1, 1] and not x[1:].any()
    a, b, c = inputs.noise(50, 2, seed=1), inputs.noise(50, 2, seed=1), inputs.noise(50, 2, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert abs(inputs.noise(20000, 1, seed=0).std() - 1) < 0.02
    s = inputs.sine(40, 1, period=20)
    np.testing.assert_allclose(s[:, 0], np.sin(2 * np.pi * np.arange(40) / 20), atol=1e-6)


def test_binary_addition_targets_are_the_bits_of_the_sum():
    x, target = inputs.binary_addition(16, seed=3)
    a = sum(int(x[t, 0]) << t for t in range(16))
    b = sum(int(x[t, 1]) << t for t in range(16))
    s = sum(int(target[t]) << t for t in range(16))
    assert s == (a + b) % (1 << 16)
    assert x.shape == (16, 2)


def test_one_hot_text_round_trip():
    text = "héllo, wörld ✓"
    vocab = inputs.vocabulary(text)
    x = inputs.one_hot_text(text, vocab)
    assert x.shape == (len(text), len(vocab))
    assert "".join(vocab[i] for i in x.argmax(1)) == text
    assert inputs.make("text", 30, text="ab").shape == (30, 2)


def test_make_validates_kind_and_length():
    with pytest.raises(ValueError, match="input_kind"):
        inputs.make("video", 10)
    with pytest.raises(ValueError, match="seq_len"):
        inputs.make("noise", 0)
    assert inputs.make("binary", 12).shape == (12, 2)


def test_memory_horizon_on_known_curves():
    lag = np.arange(99, -1, -1)
    assert dynamics.memory_horizon(lag * math.log10(0.5), 1e-2) == 7  # 0.5^7 = 0.0078 < 0.01 <= 0.5^6
    assert dynamics.memory_horizon(np.zeros(100), 1e-2) is None
    with_nan = lag * math.log10(0.5)
    with_nan[:95] = np.nan
    assert dynamics.memory_horizon(with_nan, 1e-2) is None


def test_saturation_fractions():
    gates = {"forget": np.array([[0.05, 0.95], [0.5, 0.99]]), "candidate": np.array([[-0.95, 0.0], [0.2, 0.99]])}
    sat = dynamics.saturation(gates)
    assert sat["forget"]["low"] == 0.25 and sat["forget"]["high"] == 0.5
    np.testing.assert_allclose(sat["forget"]["high_per_unit"], [0.0, 1.0])
    assert sat["candidate"]["low"] == 0.25 and sat["candidate"]["high"] == 0.25


def test_pascanu_bound_and_gamma():
    b = dynamics.log10_pascanu_bound(4, 0.25, 2.0)
    np.testing.assert_allclose(b, [3 * math.log10(0.5), 2 * math.log10(0.5), math.log10(0.5), 0])
    assert dynamics.gamma("rnn", "sigmoid") == 0.25 and dynamics.gamma("rnn", "relu") == 1.0


# ------------------------------------------------------------------------ one neuron
@pytest.mark.parametrize("w, h_star, slope", [(1.1, 0.50294, 0.82176), (2.0, 0.957504, 0.166372),
                                               (4.0, 0.99933, 0.00539)])
def test_tanh_fixed_points(w, h_star, slope):
    """w > 1, b = 0: two stable fixed points +-h* with h* = tanh(w h*) and slope w (1 - h*^2) < 1, and the
    unstable 0 with slope w."""
    fps = dynamics.fixed_points(w, 0.0, "tanh")
    assert [round(fp["h"], 5) for fp in fps] == [round(-h_star, 5), 0.0, round(h_star, 5)]
    assert fps[2]["slope"] == pytest.approx(slope, abs=6e-6) and fps[2]["stable"]
    assert fps[1]["slope"] == pytest.approx(w) and not fps[1]["stable"]
    assert fps[2]["h"] == pytest.approx(math.tanh(w * fps[2]["h"]), abs=1e-12)


def test_sigmoid_bistable_range_of_pascanu():
    """sigma(1-sigma) = 1/5 at the folds: b in (-2.6556, -2.3444) has two stable fixed points."""
    lo, hi = dynamics.bistable_range(5.0, "sigmoid")
    assert (round(lo, 4), round(hi, 4)) == (-2.6556, -2.3444)
    assert sum(fp["stable"] for fp in dynamics.fixed_points(5.0, -2.5, "sigmoid")) == 2
    assert sum(fp["stable"] for fp in dynamics.fixed_points(5.0, -2.7, "sigmoid")) == 1
    assert sum(fp["stable"] for fp in dynamics.fixed_points(5.0, -2.3, "sigmoid")) == 1
    assert dynamics.bistable_range(3.9, "sigmoid") is None
    # iterating the map from either side lands on two different stable states
    lows = dynamics.one_neuron(5.0, 0.0, -2.5, "sigmoid", np.zeros(200), h0=0.0)["h"][-1]
    highs = dynamics.one_neuron(5.0, 0.0, -2.5, "sigmoid", np.zeros(200), h0=1.0)["h"][-1]
    assert lows == pytest.approx(0.1448, abs=1e-4) and highs == pytest.approx(0.8552, abs=1e-4)


def test_tanh_bistable_range_edges_are_folds():
    lo, hi = dynamics.bistable_range(2.0, "tanh")
    assert lo == -hi
    inside = dynamics.fixed_points(2.0, 0.9 * hi, "tanh")
    outside = dynamics.fixed_points(2.0, 1.1 * hi, "tanh")
    assert sum(fp["stable"] for fp in inside) == 2 and sum(fp["stable"] for fp in outside) == 1


def test_one_neuron_gradient_is_the_product_of_factors():
    """h_t = tanh(w h_{t-1} + x_t): dh_T/dh_k = prod_{t>k} w (1 - h_t^2)."""
    x = np.sin(np.arange(30))
    run = dynamics.one_neuron(1.3, 1.0, 0.1, "tanh", x, h0=0.2)
    h = run["h"]
    for k in (0, 10, 29, 30):
        want = np.prod([1.3 * (1 - h[t] ** 2) for t in range(k + 1, 31)])
        assert run["log10_grad"][k] == pytest.approx(math.log10(abs(want)), abs=1e-12)
    relu = dynamics.one_neuron(2.0, 1.0, -5.0, "relu", np.zeros(5), h0=0.0)
    assert np.isneginf(relu["log10_grad"][0])  # a dead ReLU passes exactly no gradient


def test_step_terms_add_up_to_the_gates():
    import rnnviz

    for cell in ("rnn", "lstm", "gru"):
        tr = rnnviz.trace(rnnviz.build_model(rnnviz.ModelSpec(cell=cell, hidden_size=5, input_size=2, init="torch")),
                          inputs.noise(12, 2, seed=1))
        s = tr.step_terms(6, 3)
        for name, pre in s["pre"].items():
            if cell == "gru" and name == "candidate":
                want = s["x_term"][name] + s["value"]["reset"] * s["h_term"][name]
            else:
                want = s["x_term"][name] + s["h_term"][name]
            assert pre == pytest.approx(want, abs=1e-5)
        assert s["h_prev"] == pytest.approx(float(tr.hidden[5, 3]))
        with pytest.raises(ValueError, match="unit"):
            tr.step_terms(0, 5)
