"""Named inputs and the dynamics helpers."""
import math

import numpy as np
import pytest
import torch

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
        for name, rest in s["one_minus"].items():  # 1 - gate, from sigma(-a)
            assert rest == pytest.approx(1 - s["value"][name], abs=1e-12)
        with pytest.raises(ValueError, match="unit"):
            tr.step_terms(0, 5)


# ------------------------------------------------------------------------ fixed points at a kink or at slope 1

def test_step_terms_keep_one_minus_the_update_gate_where_it_rounds_to_one():
    """A GRU whose update gate has pre-activation ~ 40: z rounds to 1 in float32 and float64, but 1 - z =
    sigma(-40) = 4.25e-18 is what the equation h = (1 - z) n + z h_prev multiplies n by."""
    import torch

    import rnnviz

    model = rnnviz.build_model(rnnviz.ModelSpec(cell="gru", hidden_size=3, recurrent_gain=0.0, input_gain=0.0))
    with torch.no_grad():
        model.bias_ih[3:6] = 40.0
    s = rnnviz.trace(model, np.zeros((4, 1))).step_terms(2, 1)
    a = s["pre"]["update"]
    assert s["value"]["update"] == 1.0 and s["one_minus"]["update"] == pytest.approx(math.exp(-a) / (1 + math.exp(-a)))
    assert s["one_minus"]["update"] > 1e-18


def iterate(w, b, act, h0, steps):
    return dynamics.one_neuron(w, 0.0, b, act, np.zeros(steps), h0=h0)["h"]


def test_relu_kink_at_zero_repels_from_above():
    """ReLU, b = 0, w = 1.5: h* = 0 sits on the kink. Its slope is 0 from below and 1.5 from above, so a start at
    1e-6 reaches 1e-6 * 1.5^50 = 638 in 50 steps: not stable. A start below 0 lands on 0 at once."""
    (fp,) = dynamics.fixed_points(1.5, 0.0, "relu")
    assert fp["h"] == 0.0 and fp["slopes"] == (0.0, 1.5) and fp["kind"] == "semi-stable" and not fp["stable"]
    assert iterate(1.5, 0.0, "relu", 1e-6, 50)[-1] == pytest.approx(638, rel=1e-3)
    assert iterate(1.5, 0.0, "relu", -1e-6, 1)[-1] == 0.0
    assert "above" in fp["note"] and "below" in fp["note"]


@pytest.mark.parametrize("w, stable", [(0.5, True), (-2.0, True), (-0.5, True), (0.0, True)])
def test_relu_kink_below_slope_one_or_folded_is_stable(w, stable):
    """b = 0: for w < 1 both sides shrink (0 below); for w < 0 a start below maps above 0, then to 0."""
    (fp,) = dynamics.fixed_points(w, 0.0, "relu")
    assert fp["stable"] is stable
    for h0 in (0.3, -0.3):
        assert abs(iterate(w, 0.0, "relu", h0, 60)[-1]) < 1e-9


@pytest.mark.parametrize("w, b, act, h_star", [(1.0, 0.0, "tanh", 0.0), (4.0, -2.0, "sigmoid", 0.5)])
def test_slope_exactly_one_is_neutral_and_attracts_slowly(w, b, act, h_star):
    """tanh w = 1, b = 0 and sigmoid w = 4, b = -2: slope exactly 1 at h*, and the cubic term (-h^3/3, -4/3 d^3)
    pulls nearby starts in, slowly: after 2000 steps the distance is about 1/sqrt(2 |c3| t), not 0."""
    (fp,) = dynamics.fixed_points(w, b, act)
    assert fp["h"] == pytest.approx(h_star, abs=1e-12) and fp["slope"] == pytest.approx(1.0, abs=1e-12)
    assert fp["kind"] == "neutral" and fp["stable"] and "cubic" in fp["note"]
    c3 = -1 / 3 if act == "tanh" else -4 / 3
    d = abs(iterate(w, b, act, h_star + 0.1, 2000)[-1] - h_star)
    assert d == pytest.approx(1 / math.sqrt(2 * abs(c3) * 2000), rel=0.1)


def test_slope_minus_one_alternates_and_attracts_slowly():
    """tanh w = -1: slope -1 at 0; two steps give d - 2/3 d^3: attracts, alternating sides, after 2000 steps
    (1000 double steps) to about 1/sqrt(2 (2/3) 1000)."""
    (fp,) = dynamics.fixed_points(-1.0, 0.0, "tanh")
    assert fp["kind"] == "neutral" and fp["stable"] and fp["slope"] == -1.0
    h = iterate(-1.0, 0.0, "tanh", 0.1, 2000)
    assert np.sign(h[-1]) != np.sign(h[-2])
    assert abs(h[-1]) == pytest.approx(1 / math.sqrt(4 / 3 * 1000), rel=0.1)


def test_linear_slope_one_and_minus_one_are_neutral_without_higher_terms():
    """Linear w = 1, b = 0: every h is fixed; w = -1: h* = b / 2 and every other start is on a 2-cycle."""
    (fp,) = dynamics.fixed_points(1.0, 0.0, "linear")
    assert fp["kind"] == "neutral" and not fp["stable"] and "every h" in fp["note"]
    (fp,) = dynamics.fixed_points(-1.0, 0.4, "linear")
    assert fp["h"] == pytest.approx(0.2) and fp["kind"] == "neutral" and "2-cycle" in fp["note"]
    h = dynamics.one_neuron(-1.0, 0.0, 0.4, "linear", np.zeros(4), h0=0.5)["h"]
    np.testing.assert_allclose(h[::2], 0.5) and np.testing.assert_allclose(h[1::2], -0.1)


@pytest.mark.parametrize("w, act", [(5.0, "sigmoid"), (2.0, "tanh")])
def test_fold_points_at_the_ends_of_the_bistable_range(w, act):
    """At b exactly at an end of the bistable range two fixed points merge: the diagonal touches the map
    (a double root, no sign change), slope 1 with a quadratic term: semi-stable. It is found and classified,
    and a start on its attracting side converges to it."""
    for b in dynamics.bistable_range(w, act):
        fps = dynamics.fixed_points(w, b, act)
        folds = [fp for fp in fps if fp["kind"] == "semi-stable"]
        assert len(fps) == 2 and len(folds) == 1
        fold = folds[0]
        assert fold["slope"] == pytest.approx(1.0, abs=1e-6)
        side = 1.0 if "from above" in fold["note"] else -1.0
        h = iterate(w, b, act, fold["h"] + side * 0.02, 20000)
        assert abs(h[-1] - fold["h"]) < 2e-3


def test_one_vocabulary_with_padding_and_unknown_and_one_one_hot_encoder():
    from rnnviz.inputs import UNKNOWN, Vocab, one_hot

    plain = Vocab("cab")
    assert plain.encode("abc").tolist() == [1, 2, 0] and plain.decode([1, 2, 0]) == "abc"
    assert plain.encode("axb", missing=-1).tolist() == [1, -1, 2] and plain.missing("axyb") == ["x", "y"]
    with pytest.raises(ValueError, match="not in the model's vocabulary: 'x'"):
        plain.encode("ax")
    padded = Vocab([UNKNOWN, "a", "b"], padding=True)   # code 0: no character; UNKNOWN reads the others
    assert len(padded) == 4 and padded.encode("ab?").tolist() == [2, 3, 1] and padded.decode([2, 0, 3]) == "ab"
    x = one_hot(np.array([2, -1, 0]), 3)
    np.testing.assert_array_equal(x, [[0, 0, 1], [0, 0, 0], [1, 0, 0]])
    t = one_hot(torch.tensor([[2, 0]]), 3)
    assert t.dtype == torch.float32 and t.tolist() == [[[0, 0, 1], [1, 0, 0]]]
    np.testing.assert_array_equal(plain.one_hot("bc"), [[0, 0, 1], [1, 0, 0]])


def test_cell_vocabulary():
    from rnnviz import cells

    assert [cells.article(c) for c in ("rnn", "lstm", "gru")] == ["an RNN", "an LSTM", "a GRU"]
    assert cells.article("gru", capital=True) == "A GRU" and cells.article("rnn", capital=True) == "An RNN"
    assert cells.gate_symbol("gru", "candidate") == "n" and cells.gate_symbol("lstm", "candidate") == "g"
    assert [cells.gate_kind(g) for g in cells.GATES["lstm"]] == ["gate", "gate", "state", "gate"]
    assert [cells.block_name(c) for c in ("rnn", "lstm", "gru")] == ["W_hh", "W_hg", "W_hn"]


def test_one_neuron_input_and_the_bias_its_map_follows():
    np.testing.assert_array_equal(inputs.neuron_input("impulse", 4), [1, 0, 0, 0])
    np.testing.assert_array_equal(inputs.neuron_input("constant", 3), [1, 1, 1])
    np.testing.assert_array_equal(inputs.neuron_input("none", 2), [0, 0])
    with pytest.raises(ValueError, match="neuron input"):
        inputs.neuron_input("step", 3)
    assert dynamics.effective_bias(-1.0, 0.5, "constant") == -0.5
    assert dynamics.effective_bias(-1.0, 0.5, "impulse") == -1.0
