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


@pytest.mark.parametrize("T", [2, 7, 50])
def test_adding_baselines_by_what_they_know(T):
    """Knowing only the last input, the best answer is E[sum | x_{T-1}]: 0.5 + x_{T-1} when the last step is
    marked (chance 1/ceil(T/2)), else 1. Least squares on (1, v, m, v m) of the last step, fitted on one large
    batch and scored on another, is that conditional mean: its error is 1/6 - 1/(12 ceil(T/2)). Knowing
    nothing: always 1, error 1/6 (the literature's)."""
    task, n = TASKS["adding"], 200_000
    features = lambda x: np.column_stack([np.ones(len(x)), x[:, -1, 0], x[:, -1, 1], x[:, -1, 0] * x[:, -1, 1]])  # noqa: E731
    x, target = task.batch(n, T, gen(1))
    coef, *_ = np.linalg.lstsq(features(x.numpy().astype(np.float64)), target[:, 0].numpy(), rcond=None)
    x2, target2 = task.batch(n, T, gen(2))
    mse = np.mean((features(x2.numpy().astype(np.float64)) @ coef - target2[:, 0].numpy()) ** 2)
    memoryless, literature = task.baselines(T)
    assert memoryless.knows == "only the current input" and literature.value == 1 / 6
    assert memoryless.value == pytest.approx(1 / 6 - 1 / (12 * math.ceil(T / 2)), rel=1e-12)
    assert mse == pytest.approx(memoryless.value, abs=4 * math.sqrt(7 / 180 / n))
    assert np.mean((target2[:, 0].numpy() - 1) ** 2) == pytest.approx(1 / 6, abs=4 * math.sqrt(7 / 180 / n))
    assert task.baseline(T) == memoryless.value


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


def best_cross_entropy(keys_fit, targets_fit, keys, targets, n_classes):
    """Cross-entropy (nats) on (keys, targets) of the predictor that gives each key its empirical target
    distribution on the fitting sample: the best predictor that knows only the key."""
    table = {}
    for key in np.unique(keys_fit):
        counts = np.bincount(targets_fit[keys_fit == key], minlength=n_classes) + 1e-9
        table[key] = np.log(counts / counts.sum())
    return float(-np.mean([table[k][t] for k, t in zip(keys, targets)]))


def last_symbol_cross_entropy(task, T, n, seeds, n_classes):
    """best_cross_entropy of the predictor that knows only the last input symbol, fitted on a batch of n
    sequences from seeds[0] and scored on one from seeds[1]."""
    x, label = task.batch(n, T, gen(seeds[0]))
    x2, label2 = task.batch(n, T, gen(seeds[1]))
    last, last2 = x[:, -1].argmax(-1).numpy(), x2[:, -1].argmax(-1).numpy()
    return best_cross_entropy(last, label.numpy(), last2, label2.numpy(), n_classes)


@pytest.mark.parametrize("T", [1, 5, 20, 100])
def test_copy_baselines_by_what_they_know(T):
    """The best predictor that knows only the current input symbol (memoryless), and the one that knows the
    time step as well (the literature's 10 ln 8 / (T + 20)), fitted on one large batch by counting and scored
    on another, cost what baselines() says. At T = 5, 20, 100: 1.167, 0.987, 0.452 and 0.832, 0.520, 0.173."""
    task = TASKS["copy"]
    x, target = task.batch(4000, T, gen(5))
    x2, target2 = task.batch(4000, T, gen(6))
    sym, sym2 = x.argmax(-1).numpy().ravel(), x2.argmax(-1).numpy().ravel()
    t, t2 = target.numpy().ravel(), target2.numpy().ravel()
    L = task.length(T)
    step, step2 = np.tile(np.arange(L), 4000), np.tile(np.arange(L), 4000)
    memoryless, timed = task.baselines(T)
    assert best_cross_entropy(sym, t, sym2, t2, 9) == pytest.approx(memoryless.value, rel=5e-3, abs=1e-3)
    assert best_cross_entropy(step * 16 + sym, t, step2 * 16 + sym2, t2, 9) == pytest.approx(timed.value, rel=5e-3)
    assert timed.value == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-12)
    want = {5: (1.167, 0.832), 20: (0.987, 0.520), 100: (0.452, 0.173)}.get(T)
    if want:
        assert (round(memoryless.value, 3), round(timed.value, 3)) == want


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


@pytest.mark.parametrize("T", [1, 4, 8, 16])
def test_binary_addition_baselines_by_what_they_know(T):
    """Predict each sum bit from the two bits in view (memoryless) or from them and t (the literature's),
    fitted by counting on one large batch and scored on another: 0.578 / 0.662 / 0.685 and 0.477 / 0.585 /
    0.639 nats at T = 4, 8, 16."""
    task = TASKS["binary_addition"]
    x, target = task.batch(30_000, T, gen(7))
    x2, target2 = task.batch(30_000, T, gen(8))
    key = lambda x: (x[..., 0] * 2 + x[..., 1]).numpy().astype(np.int64)  # noqa: E731
    k, k2 = key(x), key(x2)
    step = np.broadcast_to(np.arange(T), k.shape)
    memoryless, timed = task.baselines(T)
    assert best_cross_entropy(k.ravel(), target.numpy().ravel(), k2.ravel(), target2.numpy().ravel(), 2) == \
        pytest.approx(memoryless.value, abs=3e-3)
    assert best_cross_entropy((step * 4 + k).ravel(), target.numpy().ravel(), (step * 4 + k2).ravel(),
                              target2.numpy().ravel(), 2) == pytest.approx(timed.value, abs=3e-3)
    want = {4: (0.578, 0.477), 8: (0.662, 0.585), 16: (0.685, 0.639)}.get(T)
    if want:  # the figures as usually quoted, to their 3 decimals
        assert (memoryless.value, timed.value) == pytest.approx(want, abs=1e-3)
    if T == 1:
        assert memoryless.value == timed.value == 0.0


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
        assert np.all(row[1:-1] >= 2)


def test_temporal_order_windows_fit_short_sequences():
    task = TASKS["temporal_order"]
    for T in range(task.min_seq_len, 60):
        (lo1, hi1), (lo2, hi2) = task.windows(T)
        assert 1 <= lo1 <= hi1 < lo2 <= hi2 <= T - 2


@pytest.mark.parametrize("T", [1, 2, 13])
def test_parity_labels_and_baseline(T):
    """The label is the xor of the bits; knowing only the last bit, the best prediction costs ln 2, except at
    T = 1 where the last bit is the whole string (0)."""
    task = TASKS["parity"]
    x, label = task.batch(40_000, T, gen(2))
    x2, label2 = task.batch(40_000, T, gen(3))
    bits = x[..., 0].numpy().astype(np.int64)
    np.testing.assert_array_equal(label.numpy(), np.bitwise_xor.reduce(bits, axis=1))
    got = best_cross_entropy(bits[:, -1], label.numpy(), x2[:, -1, 0].numpy().astype(np.int64), label2.numpy(), 2)
    assert got == pytest.approx(task.baseline(T), abs=3e-3)
    assert len(task.baselines(T)) == 1


@pytest.mark.parametrize("T", [8, 40])
def test_temporal_order_baseline(T):
    """The last input is always the end marker: knowing only it, the answer is a guess among 4 (ln 4)."""
    task = TASKS["temporal_order"]
    assert last_symbol_cross_entropy(task, T, 40_000, seeds=(4, 5), n_classes=4) == \
        pytest.approx(task.baseline(T), abs=3e-3)
    assert task.baseline(T) == math.log(4)


@pytest.mark.parametrize("T", [3, 5, 20])
def test_sentiment_baseline_reads_the_last_word(T):
    """Knowing only the last word: when it is the opinion word it tells the polarity unless negated; at T = 3
    that happens often (13/24 of reviews end with it, 9/13 of those negated): 0.652 nats, not ln 2."""
    task = TASKS["sentiment"]
    assert last_symbol_cross_entropy(task, T, 60_000, seeds=(6, 7), n_classes=2) == \
        pytest.approx(task.baseline(T), abs=4e-3)
    if T == 3:
        assert round(task.baseline(3), 3) == 0.652


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
