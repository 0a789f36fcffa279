"""The character language model: the text task, sampling, model files and what the page shows inside.
Each check compares against an independent computation: the `this`
module itself, a full-prefix greedy decoder, torch.nn modules, frequency counts, finite sums."""
import io
import math
import pickle
from collections import Counter

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.files import uploads
from rnnviz.inputs import Vocab
from rnnviz.labs import charlm, corpora, units
from tests.support.payloads import UNICODE_SAMPLES, Payload


def small_lm(cell="lstm", H=12, text="abcabc ab\nxyz", seed=0):
    vocab = Vocab.from_text(text)
    spec = charlm.lm_spec(cell, H, seed).replace(input_size=len(vocab))
    model = rnnviz.build_model(spec)
    readout = rnnviz.train.make_readout(spec, len(vocab))
    return charlm.CharLM(vocab, model, readout)


# ------------------------------------------------------------------------------------ the task
def test_text_task_windows_are_the_text_shifted_by_one():
    corpus = corpora.get_corpus("zen")
    task = charlm.CharTask(corpus)
    x, y = task.batch(8, 30, torch.Generator().manual_seed(1))
    assert x.shape == (8, 30, len(task.vocab)) and y.shape == (8, 30)
    for xi, yi in zip(x, y):
        read = task.vocab.decode(xi.argmax(-1))
        assert read in corpus.train_text
        assert read[1:] + task.vocab.decode(yi[-1:]) == task.vocab.decode(yi)
    xt, yt = task.test_batch(5, 30, torch.Generator().manual_seed(2))
    windows = [task.vocab.decode(xi.argmax(-1)) + task.vocab.decode(yi[-1:]) for xi, yi in zip(xt, yt)]
    assert all(w in corpus.held_out_text for w in windows)
    assert windows[0] == corpus.held_out_text[:31] and windows[-1] == corpus.held_out_text[-31:]
    # windows longer than the held-out text are shortened to it
    xl, _ = task.test_batch(2, 5000, None)
    assert xl.shape[1] == len(corpus.held_out_text) - 1


def test_baselines_are_the_bigram_and_unigram_entropies_of_the_training_text():
    """Memoryless, a model still reads the current character: its floor is the entropy of the next character
    given the current one, counted over the training text's consecutive pairs (2.76 bits/char on the Zen);
    knowing nothing it is the characters' frequencies (4.50)."""
    corpus = corpora.get_corpus("zen")
    text = corpus.train_text
    pairs, firsts, counts = Counter(zip(text, text[1:])), Counter(text[:-1]), Counter(text)
    n, m = len(text) - 1, len(text)
    bigram = -sum(c / n * math.log(c / firsts[a]) for (a, _), c in pairs.items())
    unigram = -sum(c / m * math.log(c / m) for c in counts.values())
    task = charlm.CharTask(corpus)
    memoryless, nothing = task.baselines(64)
    assert memoryless.value == pytest.approx(bigram, rel=1e-12) and task.baseline(64) == memoryless.value
    assert nothing.value == pytest.approx(unigram, rel=1e-12)
    assert round(charlm.bpc(memoryless.value), 2) == 2.76 and round(charlm.bpc(nothing.value), 2) == 4.50


def test_short_training_beats_the_unigram_baseline_and_stop_keeps_the_model():
    rnnviz.warm_up()
    corpus = corpora.get_corpus("stdlib")
    task = charlm.CharTask(corpus)
    baseline_bits = charlm.bpc(task.baselines(0)[1].value)  # the unigram entropy: what knows nothing

    def stop_at_150(info):
        if info.step == 150:
            raise rnnviz.StopTraining("enough")

    result = rnnviz.fit(charlm.lm_spec("gru", 64, seed=0), task, seq_len=48, steps=1000, batch_size=32, lr=5e-3,
                        clip=charlm.CLIP, on_step=stop_at_150, **charlm.FIT_RECORDS)
    assert result.stopped_early and result.model_step == 150
    lm = charlm.CharLM.from_fit(result)
    assert charlm.bpc(float(result.test_loss[0])) > 0.95 * baseline_bits       # untrained: no better
    held = lm.bits_per_char(corpus.held_out_text[:3000])
    train = charlm.bpc(float(result.loss[-20:].mean()))          # the last 20 batches of training windows
    print(f"baseline {baseline_bits:.3f}, training text {train:.3f}, held-out {held:.3f}, "
          f"fit's held-out {charlm.bpc(result.final_test_loss):.3f} bits per character")
    assert train < 0.9 * baseline_bits and held < 0.9 * baseline_bits
    assert charlm.bpc(result.final_test_loss) < 0.9 * baseline_bits


# ------------------------------------------------------------------------------------ sampling
def greedy_by_full_prefix(lm, prompt, n):
    """Independent greedy decoder: re-reads the whole text so far at every step."""
    text = prompt
    for _ in range(n):
        if text:
            logits = lm.logits(text)[-1]
        else:
            logits = lm.readout(torch.zeros(lm.hidden_size)).detach().numpy()
        text += lm.vocab.chars[int(np.argmax(logits))]
    return text[len(prompt):]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_temperature_near_zero_is_greedy_decoding(cell):
    lm = small_lm(cell, H=10)
    greedy = greedy_by_full_prefix(lm, "ab", 40)
    assert lm.sample("ab", 40, temperature=0, seed=3).text == greedy
    for seed in (0, 1, 2):
        assert lm.sample("ab", 40, temperature=1e-6, seed=seed).text == greedy
    assert lm.sample("ab", 40, temperature=1.0, top_k=1, seed=5).text == greedy
    assert lm.sample("", 10, temperature=0).text == greedy_by_full_prefix(lm, "", 10)


def test_same_seed_same_sample_other_seeds_differ():
    lm = small_lm("lstm", H=10)
    a = lm.sample("abc", 80, temperature=1.2, top_k=4, seed=11)
    b = lm.sample("abc", 80, temperature=1.2, top_k=4, seed=11)
    assert a.text == b.text and np.array_equal(a.probs, b.probs)
    others = {lm.sample("abc", 80, temperature=1.2, top_k=4, seed=s).text for s in range(5)}
    assert len(others) == 5


def test_recorded_distributions_are_the_models_and_sampling_follows_them():
    lm = small_lm("gru", H=8)
    smp = lm.sample("xyz", 30, temperature=0.7, top_k=3, seed=0)
    full = "xyz" + smp.text
    want = torch.softmax(torch.from_numpy(lm.logits(full)[2:-1]).double(), -1).numpy()
    np.testing.assert_allclose(smp.probs, want, rtol=1e-4, atol=1e-7)
    q = smp.sampling_probs
    assert np.allclose(q.sum(1), 1) and np.all((q > 0).sum(1) <= 3)
    assert all(q[i, c] > 0 for i, c in enumerate(smp.codes))                 # always drawn from the top 3
    top = smp.top(0, 3)
    assert [c for c, _, _ in top] == list(np.argsort(-smp.probs[0])[:3])
    # empirical frequencies of the first character over many seeds match the distribution
    p = lm.sample("xyz", 1, temperature=1.0, seed=0).probs[0].astype(np.float64)
    n = 1500
    counts = np.bincount([lm.sample("xyz", 1, temperature=1.0, seed=s).codes[0] for s in range(n)],
                         minlength=len(p))
    assert np.all(np.abs(counts / n - p) <= 4 * np.sqrt(p * (1 - p) / n) + 2e-3)


@pytest.mark.parametrize("kwargs, message", [(dict(temperature=-1), "temperature"), (dict(top_k=-2), "top_k"),
                                             (dict(seed=-1), "seed")])
def test_bad_sampling_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_lm().sample("a", 5, **kwargs)


def test_choice_always_holds_the_written_character_with_its_rank():
    lm = small_lm("gru", H=8)
    smp = lm.sample("ab", 200, temperature=2.0, seed=1)
    added = 0
    for i in range(len(smp.codes)):
        wrote = int(smp.codes[i])
        order = list(np.argsort(-smp.probs[i], kind="stable"))
        assert smp.rank(i) == order.index(wrote) + 1
        rows = smp.choice(i, 3)
        assert [c for c, *_ in rows[:3]] == [int(c) for c in order[:3]]
        assert [r for *_, r in rows[:3]] == [1, 2, 3]
        if smp.rank(i) > 3:
            added += 1
            assert len(rows) == 4 and rows[-1] == (wrote, pytest.approx(smp.probs[i, wrote]),
                                                   pytest.approx(smp.sampling_probs[i, wrote]), smp.rank(i))
        else:
            assert len(rows) == 3
    assert added   # at temperature 2 some written characters are not among the 3 most likely


# ------------------------------------------------------------------------------------ files
def test_state_dict_round_trip_and_plain_torch_modules_load_it():
    lm = small_lm("lstm", H=9, text="hello world\n" + "".join(UNICODE_SAMPLES))
    loaded = charlm.CharLM.from_bytes(lm.to_bytes())
    assert loaded.vocab == lm.vocab and loaded.cell == "lstm" and loaded.hidden_size == 9
    text = "hello 👍🏽 漢字\n"
    np.testing.assert_array_equal(loaded.logits(text), lm.logits(text))
    sd = torch.load(io.BytesIO(lm.to_bytes()), weights_only=True)
    rnn = torch.nn.LSTM(len(lm.vocab), 9, batch_first=True)
    rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    head = torch.nn.Linear(9, len(lm.vocab))
    head.load_state_dict({k[8:]: v for k, v in sd.items() if k.startswith("readout.")})
    codes = [sd["vocab"].index(ch) for ch in text]
    with torch.no_grad():
        out = head(rnn(torch.nn.functional.one_hot(torch.tensor([codes]), len(lm.vocab)).float())[0])[0]
    np.testing.assert_allclose(out.numpy(), lm.logits(text), rtol=1e-5, atol=1e-6)


def test_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    control = tmp_path / "control.txt"
    pickle.loads(pickle.dumps(Payload(control)))                 # the payload works when unpickled unsafely
    assert control.exists()
    target = tmp_path / "pwned.txt"
    as_torch = io.BytesIO()
    torch.save({"format": uploads.CHARLM_FORMAT, "weights": Payload(target)}, as_torch)
    for data in (as_torch.getvalue(), pickle.dumps(Payload(target)), pickle.dumps(Payload(target), protocol=0)):
        with pytest.raises(ValueError) as err:
            charlm.CharLM.from_bytes(data)
        assert not target.exists()
        message = str(err.value)
        assert message.startswith("Refused: the file is a pickle") and "Nothing in it was run" in message
    with pytest.raises(ValueError, match=r"Refused: the file is a pickle that refers to the Python object "
                                         r"(io|builtins)\.open.*Nothing in it was run"):
        charlm.CharLM.from_bytes(as_torch.getvalue())
    module = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), module)                   # a whole pickled module, not a state dict
    with pytest.raises(ValueError, match=r"whole pickled Python object \(torch.nn.modules.linear.Linear\).*"
                                         "nothing in the file was run"):
        charlm.CharLM.from_bytes(module.getvalue())


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_incompatible_files_get_a_clear_message():
    lm = small_lm("gru", H=6)
    good = lm.state_dict()
    cases = [
        (b"definitely not a model", "not a PyTorch file"),
        (b"", "empty"),
        (_saved(torch.zeros(3)), r"holds a float32 tensor of shape \[3\], not a state dict"),
        (_saved(torch.nn.LSTM(5, 4).state_dict()), "not an rnnviz character model.*weight_ih_l0"),
        (_saved({**good, "vocab": good["vocab"][:-1]}), r"'rnn.weight_ih_l0' has shape \[18, \d+\].*vocabulary has "
                                                        r"\d+ characters but its weights are for \d+"),
        (_saved({**good, "vocab": good["vocab"][:-1] + [good["vocab"][0]]}), "vocabulary is not valid.*twice"),
        (_saved({**good, "rnn.weight_hh_l0": torch.zeros(18, 7)}), "weight_hh_l0' has shape"),
        (_saved({k: v for k, v in good.items() if k != "readout.bias"}), "no tensor 'readout.bias'"),
        (_saved({**good, "cell": "transformer"}), "cell must be one of"),
        (_saved({**good, "readout.bias": torch.full((len(lm.vocab),), float("nan"))}), "finite"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            charlm.CharLM.from_bytes(data)


def test_a_file_that_is_no_model_gets_the_message_every_model_upload_gets():
    """Random bytes, text, a zip: read by the same code as on Your Model, in plain words (never a decoder's
    error text), ending with this page's own advice."""
    from rnnviz.files import uploads

    rng = np.random.default_rng(0)
    advice = "Upload a .pt file saved by this page's download button."
    for data in (rng.bytes(4096), b"\x80\x80" + rng.bytes(4096), b"hello, this is not a model\n" * 5,
                 b"PK\x03\x04" + rng.bytes(300)):
        with pytest.raises(ValueError) as here:
            charlm.CharLM.from_bytes(data)
        with pytest.raises(uploads.UploadError) as there:
            uploads.load_model(data)
        message, theirs = str(here.value), str(there.value)
        assert "codec" not in message and "decode" not in message, message
        if message.endswith(advice):   # the same words, this page's advice in place of Your Model's
            assert theirs.startswith(message[:-len(advice)]), (message, theirs)
        else:
            assert message == theirs


# ------------------------------------------------------------------------------------ looking inside
def test_text_features_by_hand():
    f = units.text_features('a("b")\n 1')
    np.testing.assert_array_equal(f["inside quotes"], [0, 0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["bracket depth"], [0, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["position in line"], [1, 2, 3, 4, 5, 6, 0, 1, 2])
    np.testing.assert_array_equal(f["after a newline"], [0, 0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(f["after a space"], [0, 0, 0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(f["digit"], [0, 0, 0, 0, 0, 0, 0, 0, 1])


def test_rank_units_finds_the_unit_that_tracks_a_feature():
    rng = np.random.default_rng(0)
    text = ("x = (a + b) * 2\n" * 40)
    feats = units.text_features(text)
    T = len(text)
    hidden = rng.normal(size=(T, 6))
    hidden[:, 4] = np.tanh(feats["bracket depth"] - 0.5) + 0.05 * rng.normal(size=T)
    cell = rng.normal(size=(T, 6))
    cell[:, 1] = -feats["position in line"] / 10
    rows = units.rank_units({"hidden": hidden, "cell": cell}, feats, per_feature=2)
    by_feature = {}
    for r in rows:
        by_feature.setdefault(r.feature, r)
    assert (by_feature["bracket depth"].state, by_feature["bracket depth"].unit) == ("hidden", 4)
    assert by_feature["bracket depth"].r == pytest.approx(np.corrcoef(hidden[:, 4], feats["bracket depth"])[0, 1])
    assert (by_feature["position in line"].state, by_feature["position in line"].unit) == ("cell", 1)
    assert by_feature["position in line"].r == pytest.approx(-1.0)
    assert "inside quotes" not in by_feature                       # no quotes in the text: nothing to track
    assert [abs(r.r) for r in rows] == sorted((abs(r.r) for r in rows), reverse=True)


def test_unit_states_are_the_traces_arrays():
    lm = small_lm("lstm", H=5)
    tr = lm.trace("abc ab\nx")
    states = units.unit_states(tr)
    assert list(states) == ["hidden", "cell", "input", "forget", "candidate", "output"]
    assert states["hidden"] is tr.hidden and states["cell"] is tr.cell
    h, _ = lm.model(torch.from_numpy(lm.vocab.one_hot("abc ab\nx")))
    np.testing.assert_allclose(states["hidden"], h.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_input_gradient_matches_torch_modules(cell):
    lm = small_lm(cell, H=7, text="the cat sat on the mat\n")
    text = "the cat sat on the mat\nthe cat"
    pos = 25
    g = charlm.input_gradient(lm, text, pos)
    assert g.shape == (pos + 1,)
    rnn = lm.model.to_torch().double()
    head = torch.nn.Linear(lm.hidden_size, len(lm.vocab)).double()
    head.load_state_dict({k: v.double() for k, v in lm.readout.state_dict().items()})
    codes = lm.vocab.encode(text)
    x = torch.nn.functional.one_hot(torch.from_numpy(codes[:pos + 1]), len(lm.vocab)).double()[None]
    x.requires_grad_(True)
    out, _ = rnn(x)
    torch.log_softmax(head(out[0, -1]), -1)[int(codes[pos + 1])].backward()
    np.testing.assert_allclose(g, x.grad[0].norm(dim=1).numpy(), rtol=1e-9, atol=1e-300)
    with pytest.raises(ValueError, match="position"):
        charlm.input_gradient(lm, text, len(text) - 1)


def test_a_model_says_whether_it_can_read_a_text():
    lm = small_lm(text="abc ab\nxyz")
    lm.corpus = "zen"
    lm.check_fits(corpora.get_corpus("upload", "abc xyz\n" * 10))  # every character known: no error
    with pytest.raises(ValueError, match=r"it lacks 2 of the text's characters \('d', 'e'\). It was trained on "
                                         r"The Zen of Python"):
        lm.check_fits(corpora.get_corpus("upload", "abcde " * 10))
    lm.corpus = "somewhere"
    assert lm.trained_on == "another text"
