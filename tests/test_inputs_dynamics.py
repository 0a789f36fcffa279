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
