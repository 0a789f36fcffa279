"""Task generators against independent decodings of what they produced, and each memoryless
baseline against the loss of the best memoryless predictor estimated from a large sample."""
import math

import numpy as np
import pytest
import torch

from rnnviz import inputs
from rnnviz.tasks import TASKS, get_task


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def empirical_entropy(labels: np.ndarray, n_classes: int) -> float:
    """Entropy (nats) of the empirical distribution of `labels`."""
    p = np.bincount(labels.ravel(), minlength=n_classes) / labels.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("name", list(TASKS))
@pytest.mark.parametrize("seq_len", [9, 24])
def test_batch_shapes_types_and_seeding(name, seq_len):
    task = TASKS[name]
    state = torch.get_rng_state()
    x, target = task.batch(5, seq_len, gen(3))
    assert torch.equal(torch.get_rng_state(), state), "the global RNG must not be used"
    T = task.length(seq_len)
    assert x.dtype == torch.float32 and x.shape == (5, T, task.input_size)
    if task.classification:
        assert target.dtype == torch.int64
        assert target.shape == ((5,) if task.loss_on == "last" else (5, T))
        assert target.min() >= 0 and target.max() < task.output_size
    else:
        assert target.shape == (5, task.output_size)
    x2, target2 = task.batch(5, seq_len, gen(3))
    assert torch.equal(x, x2) and torch.equal(target, target2)
    x3, _ = task.batch(5, seq_len, gen(4))
    assert not torch.equal(x, x3)
    assert task.baseline(seq_len) > 0 and task.description and task.title


def test_adding_targets_are_the_sum_of_the_marked_values():
    T = 30
    x, target = TASKS["adding"].batch(400, T, gen(0))
    values, markers = x[..., 0].numpy(), x[..., 1].numpy()
    assert np.all(markers.sum(1) == 2)
    assert np.all(markers[:, :T // 2].sum(1) == 1) and np.all(markers[:, T // 2:].sum(1) == 1)
    np.testing.assert_allclose(target[:, 0].numpy(), (values * markers).sum(1), rtol=1e-6)
    assert values.min() >= 0 and values.max() < 1


def test_adding_baseline_is_one_sixth():
    """Predicting 1 (the mean of X1 + X2) gives MSE Var(X1 + X2) = 1/6. S = X1 + X2 - 1 is triangular on
    [-1, 1], Var(S^2) = E S^4 - (E S^2)^2 = 1/15 - 1/36, so over n samples the standard error is
    sqrt(7/180/n); allow 4 of them."""
    task, n = TASKS["adding"], 100_000
    x, target = task.batch(n, 20, gen(1))
    mse = task.loss(torch.ones(n, 1), target).item()
    assert task.baseline(20) == 1 / 6
    assert abs(mse - 1 / 6) < 4 * math.sqrt(7 / 180 / n)
    assert mse == pytest.approx(float(((target.double() - 1) ** 2).mean()), rel=1e-5)


def test_adding_accuracy_is_the_fraction_within_004():
    task = TASKS["adding"]
    target = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    output = torch.tensor([[1.03], [0.97], [1.05], [0.9]])
    assert task.accuracy(output, target) == 0.5


@pytest.mark.parametrize("T", [1, 5, 30])
def test_copy_layout(T):
    task = TASKS["copy"]
    x, target = task.batch(50, T, gen(2))
    seq, target = x.argmax(-1).numpy(), target.numpy()
    assert np.all(x.sum(-1).numpy() == 1)  # one-hot
    symbols = seq[:, :10]
    assert symbols.max() < 8
    assert np.all(seq[:, 10:10 + T - 1] == task.blank)
    assert np.all(seq[:, 10 + T - 1] == task.delimiter)
    assert np.all(seq[:, 10 + T:] == task.blank)
    assert np.all(target[:, :T + 10] == task.blank)
    np.testing.assert_array_equal(target[:, T + 10:], symbols)


@pytest.mark.parametrize("T", [5, 60])
def test_copy_baseline_is_the_cross_entropy_of_the_best_memoryless_predictor(T):
    """The best predictor that knows only the time step predicts each step's marginal target distribution.
    Estimated on one large batch and scored with task.loss on another, it costs 10 ln 8 / (T + 20) nats."""
    task = TASKS["copy"]
    _, fit_targets = task.batch(20_000, T, gen(5))
    counts = np.stack([np.bincount(col, minlength=9) for col in fit_targets.numpy().T])  # [T+20, 9]
    log_p = torch.tensor(np.log(np.maximum(counts, 1) / counts.sum(1, keepdims=True)), dtype=torch.float32)
    _, targets = task.batch(20_000, T, gen(6))
    cross_entropy = task.loss(log_p.expand(20_000, -1, -1), targets).item()
    assert task.baseline(T) == 10 * math.log(8) / (T + 20)
    assert cross_entropy == pytest.approx(task.baseline(T), rel=3e-3)


def test_copy_accuracy_counts_only_the_recalled_symbols():
    task = TASKS["copy"]
    _, target = task.batch(4, 6, gen(0))
    blanks_everywhere = torch.nn.functional.one_hot(torch.full_like(target, task.blank), 9).float()
    assert task.accuracy(blanks_everywhere, target) == 0.0
    perfect = torch.nn.functional.one_hot(target, 9).float()
    assert task.accuracy(perfect, target) == 1.0


def test_binary_addition_targets_are_the_bits_of_the_sum():
    T = 12
    x, target = TASKS["binary_addition"].batch(200, T, gen(0))
    for row in range(200):
        a = sum(int(x[row, t, 0]) << t for t in range(T))
        b = sum(int(x[row, t, 1]) << t for t in range(T))
        assert sum(int(target[row, t]) << t for t in range(T)) == (a + b) % (1 << T)
        carries = TASKS["binary_addition"].carries(x[row].numpy())
        mask = lambda t: (1 << (t + 1)) - 1  # noqa: E731
        assert [int(c) for c in carries] == [((a & mask(t)) + (b & mask(t))) >> (t + 1) for t in range(T)]


def test_carry_correlation_is_pearsons_r_with_the_carry():
    task = TASKS["binary_addition"]
    x, _ = task.sample(40, seed=2)
    carry = task.carries(x)
    noise = np.random.default_rng(0).normal(size=(40, 3))
    hidden = np.column_stack([carry, -2 * carry + 0.5, noise, np.full(40, 0.3)])
    r = task.carry_correlation(x, hidden)
    np.testing.assert_allclose(r[:2], [1.0, -1.0])
    np.testing.assert_allclose(r[2:5], [np.corrcoef(carry, noise[:, k])[0, 1] for k in range(3)], atol=1e-12)
    assert r[5] == 0.0  # a constant unit tracks nothing


def test_inputs_binary_addition_still_agrees_with_add_bits():
    x, target = inputs.binary_addition(20, seed=4)
    a = sum(int(x[t, 0]) << t for t in range(20))
    b = sum(int(x[t, 1]) << t for t in range(20))
    assert sum(int(target[t]) << t for t in range(20)) == (a + b) % (1 << 20)


@pytest.mark.parametrize("T", [1, 4, 16])
def test_binary_addition_baseline_is_the_cost_of_not_knowing_the_carry(T):
    """Without memory the best one can do is predict bit t from t and the two bits in view. Estimate
    P(bit | t, a_t xor b_t) on a large batch: its conditional entropy is the baseline."""
    task = TASKS["binary_addition"]
    x, target = task.batch(50_000, T, gen(7))
    xor = (x[..., 0] != x[..., 1]).numpy()
    bits = target.numpy()
    total = 0.0
    for t in range(T):
        for v in (False, True):
            rows = xor[:, t] == v
            total += rows.mean() * empirical_entropy(bits[rows, t], 2)
    assert total / T == pytest.approx(task.baseline(T), abs=2e-3)
    assert task.baseline(1) == 0.0 and task.baseline(T) < math.log(2)


def test_temporal_order_layout_and_labels():
    task = TASKS["temporal_order"]
    T = 100
    x, label = task.batch(500, T, gen(1))
    seq = x.argmax(-1).numpy()
    assert np.all(seq[:, 0] == 0) and np.all(seq[:, -1] == 1)
    (lo1, hi1), (lo2, hi2) = task.windows(T)
    assert (lo1, hi1, lo2, hi2) == (10, 20, 50, 60)
    for row, lab in zip(seq, label.numpy()):
        where = np.nonzero(row >= 6)[0]
        assert len(where) == 2 and lo1 <= where[0] <= hi1 and lo2 <= where[1] <= hi2
        order = "".join(task.symbols[row[t]] for t in where)
        assert task.classes[lab] == order
        assert np.all((row[1:-1] >= 2))


def test_temporal_order_windows_fit_short_sequences():
    task = TASKS["temporal_order"]
    for T in range(task.min_seq_len, 60):
        (lo1, hi1), (lo2, hi2) = task.windows(T)
        assert 1 <= lo1 <= hi1 < lo2 <= hi2 <= T - 2


def test_parity_labels_and_baseline():
    task = TASKS["parity"]
    x, label = task.batch(40_000, 13, gen(2))
    bits = x[..., 0].numpy().astype(np.int64)
    np.testing.assert_array_equal(label.numpy(), np.bitwise_xor.reduce(bits, axis=1))
    assert empirical_entropy(label.numpy(), 2) == pytest.approx(task.baseline(13), abs=1e-3)


def test_sentiment_labels_follow_the_opinion_word_and_its_negation():
    task = TASKS["sentiment"]
    x, label = task.batch(2000, 8, gen(3))
    agree = []
    for row, lab in zip(x.numpy(), label.numpy()):
        words = task.words(row)
        opinions = [k for k, w in enumerate(words) if w in task.positive + task.negative]
        assert len(opinions) == 1
        k = opinions[0]
        negated = (k >= 1 and words[k - 1] == "not") or (k >= 2 and words[k - 2:k] == ["not", "very"])
        assert words.count("not") == int(negated)
        positive = words[k] in task.positive
        assert task.classes[lab] == ("positive" if positive != negated else "negative")
        agree.append(positive == bool(lab))
    # The opinion word alone is a coin flip: negation must be read too.
    assert abs(np.mean(agree) - 0.5) < 0.05
    assert empirical_entropy(label.numpy(), 2) == pytest.approx(task.baseline(8), abs=3e-3)


def test_sample_is_one_seeded_sequence():
    x, target = TASKS["copy"].sample(7, seed=3)
    xb, tb = TASKS["copy"].batch(1, 7, gen(3))
    np.testing.assert_array_equal(x, xb[0].numpy())
    np.testing.assert_array_equal(target, tb[0].numpy())


def test_bad_task_and_length_are_refused():
    with pytest.raises(ValueError, match="task must be one of"):
        get_task("chess")
    with pytest.raises(ValueError, match="seq_len >= 8"):
        TASKS["temporal_order"].check(5)
    with pytest.raises(ValueError, match="seq_len"):
        TASKS["adding"].check(0)
