"""The character language model: corpora, vocabulary, the text task, sampling, model files and
what the page shows inside. Each check compares against an independent computation: the `this`
module itself, a full-prefix greedy decoder, torch.nn modules, frequency counts, finite sums."""
import codecs
import contextlib
import html as stdlib_html
import io
import math
import pickle
import re
from collections import Counter

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import plots
from rnnviz import text as tx
from rnnviz.files import uploads
from rnnviz.inputs import UNKNOWN, Vocab
from tests.support.payloads import Payload

# Emoji (with a ZWJ sequence and a skin tone), CJK, combining marks, right-to-left scripts,
# newlines of every kind, tabs, control and private-use characters, astral symbols.
UNICODE_SAMPLES = [
    "",
    "a",
    "Hello, world!\n",
    "👩‍👩‍👧‍👦 family 👍🏽 thumbs\n🎉",
    "漢字かなカナ한국어 中文，标点。",
    "e\u0301 = é, n\u0303, a\u0308\u0323 (combining marks)",
    "שלום עולם مرحبا بالعالم",
    "line\r\nwindows\rmac\n\u2028sep\u2029para",
    "\t tab \x00 nul \x1b esc \u200b zero-width \ufeff bom \ufffd",
    "\U0001d54f\U0001d560 math, \U000e0041 tag, \ue000 private",
    "<script>alert('x')</script> & \"quotes\"",
]


def small_lm(cell="lstm", H=12, text="abcabc ab\nxyz", seed=0):
    vocab = Vocab.from_text(text)
    spec = tx.lm_spec(cell, H, seed).replace(input_size=len(vocab))
    model = rnnviz.build_model(spec)
    readout = rnnviz.train.make_readout(spec, len(vocab))
    return tx.CharLM(vocab, model, readout)


# ------------------------------------------------------------------------------------ vocabulary
@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_encode_decode_round_trip_on_unicode(text):
    vocab = Vocab.from_text(text) if text else Vocab(["a"])
    codes = vocab.encode(text)
    assert codes.dtype == np.int64 and codes.shape == (len(text),)
    assert vocab.decode(codes) == text
    assert sorted(set(text)) == sorted(set(vocab.chars) & set(text))
    x = vocab.one_hot(text)
    assert x.shape == (len(text), len(vocab)) and np.all(x.sum(1) == 1)
    assert vocab.decode(x.argmax(1)) == text


def test_all_samples_share_one_vocabulary_and_round_trip():
    joined = "".join(UNICODE_SAMPLES)
    vocab = Vocab.from_text(joined)
    assert len(vocab) == len(set(joined))
    for text in UNICODE_SAMPLES:
        assert vocab.decode(vocab.encode(text)) == text


def test_more_characters_than_the_vocabulary_holds_become_unknown():
    text = "".join(chr(0x4E00 + k) * (k + 1) for k in range(300))   # 300 CJK characters, distinct counts
    vocab = Vocab.from_text(text, max_size=256)
    assert len(vocab) == 256 and vocab.unknown == 255 and vocab.chars[-1] == UNKNOWN
    counts = Counter(text)
    kept = set(vocab.chars[:-1])
    assert kept == {ch for ch, _ in counts.most_common(255)}            # the most frequent are kept
    decoded = vocab.decode(vocab.encode(text))
    assert decoded == "".join(ch if ch in kept else UNKNOWN for ch in text)


def test_unknown_characters_are_named_when_there_is_no_unknown_code():
    vocab = Vocab.from_text("abc")
    with pytest.raises(ValueError, match=r"2 characters of the text are not in the model's vocabulary: 'x', 'y'"):
        vocab.encode("axby")
    assert vocab.missing("axby") == ["x", "y"]


@pytest.mark.parametrize("chars, message", [([], "at least one"), (["ab"], "one character"), (["a", "a"], "twice"),
                                             ([1], "one character")])
def test_invalid_vocabularies_are_refused(chars, message):
    with pytest.raises(ValueError, match=message):
        Vocab(chars)


# ------------------------------------------------------------------------------------ corpora
def test_zen_of_python_is_the_this_module_decoded_without_printing():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        import this  # noqa: F401 - the oracle; importing it prints, so it is captured here
    assert tx.zen_of_python() == codecs.decode(this.s, "rot13")
    assert out.getvalue().strip() == tx.zen_of_python().strip()


def test_stdlib_corpus_is_python_source_bounded_and_deterministic():
    tx.stdlib_source.cache_clear()
    a = tx.stdlib_source(50_000)
    tx.stdlib_source.cache_clear()
    b = tx.stdlib_source(50_000)
    assert a == b and 40_000 < len(a) <= 50_000 and a.endswith("\n")
    assert a.startswith("# module textwrap.py\n") and "def " in a and "import " in a
    corpus = tx.get_corpus("stdlib")
    assert len(corpus.text) <= tx.STDLIB_CHARS


def test_held_out_split_starts_a_line_and_covers_the_last_tenth():
    corpus = tx.get_corpus("zen")
    assert corpus.train_text + corpus.held_out_text == corpus.text
    assert corpus.train_text.endswith("\n")
    assert 0.08 <= len(corpus.held_out_text) / len(corpus.text) <= 0.2


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"x" * (uploads.MAX_TEXT_BYTES + 1), "the largest this app reads is 1.0 MB"),
    (b"caf\xe9 au lait " * 10, "byte 0xe9 at position 3 cannot be decoded"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 60, "looks binary"),
    (b" \n\t \r\n" * 20, "no visible characters"),
    (b"too short", "at least 50"),
    (codecs.BOM_UTF16_LE + b"\x00\xd8" + b"a\x00" * 60, "is not UTF-16 text"),
])
def test_bad_uploads_get_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        tx.text_from_upload(data)


def test_uploads_in_utf8_with_bom_and_utf16_are_read_and_line_ends_normalised():
    text = "Grüße aus Köln 🌧️\r\nzweite Zeile\rdritte\n" * 3
    want = text.replace("\r\n", "\n").replace("\r", "\n")
    assert tx.text_from_upload(text.encode("utf-8")) == want
    assert tx.text_from_upload(codecs.BOM_UTF8 + text.encode("utf-8")) == want
    assert tx.text_from_upload(text.encode("utf-16")) == want          # with its byte-order mark


# ------------------------------------------------------------------------------------ the task
def test_text_task_windows_are_the_text_shifted_by_one():
    corpus = tx.get_corpus("zen")
    task = tx.CharTask(corpus)
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
    corpus = tx.get_corpus("zen")
    text = corpus.train_text
    pairs, firsts, counts = Counter(zip(text, text[1:])), Counter(text[:-1]), Counter(text)
    n, m = len(text) - 1, len(text)
    bigram = -sum(c / n * math.log(c / firsts[a]) for (a, _), c in pairs.items())
    unigram = -sum(c / m * math.log(c / m) for c in counts.values())
    task = tx.CharTask(corpus)
    memoryless, nothing = task.baselines(64)
    assert memoryless.value == pytest.approx(bigram, rel=1e-12) and task.baseline(64) == memoryless.value
    assert nothing.value == pytest.approx(unigram, rel=1e-12)
    assert round(tx.bpc(memoryless.value), 2) == 2.76 and round(tx.bpc(nothing.value), 2) == 4.50


def test_short_training_beats_the_unigram_baseline_and_stop_keeps_the_model():
    rnnviz.warm_up()
    corpus = tx.get_corpus("stdlib")
    task = tx.CharTask(corpus)
    baseline_bits = tx.bpc(task.baselines(0)[1].value)  # the unigram entropy: what knows nothing

    def stop_at_150(info):
        if info.step == 150:
            raise rnnviz.StopTraining("enough")

    result = rnnviz.fit(tx.lm_spec("gru", 64, seed=0), task, seq_len=48, steps=1000, batch_size=32, lr=5e-3,
                        clip=tx.CLIP, on_step=stop_at_150, **tx.FIT_RECORDS)
    assert result.stopped_early and result.model_step == 150
    lm = tx.CharLM.from_fit(result)
    assert tx.bpc(float(result.test_loss[0])) > 0.95 * baseline_bits       # untrained: no better
    held = lm.bits_per_char(corpus.held_out_text[:3000])
    train = tx.bpc(float(result.loss[-20:].mean()))          # the last 20 batches of training windows
    print(f"baseline {baseline_bits:.3f}, training text {train:.3f}, held-out {held:.3f}, "
          f"fit's held-out {tx.bpc(result.final_test_loss):.3f} bits per character")
    assert train < 0.9 * baseline_bits and held < 0.9 * baseline_bits
    assert tx.bpc(result.final_test_loss) < 0.9 * baseline_bits


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
    loaded = tx.CharLM.from_bytes(lm.to_bytes())
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
            tx.CharLM.from_bytes(data)
        assert not target.exists()
        message = str(err.value)
        assert message.startswith("Refused: the file is a pickle") and "Nothing in it was run" in message
    with pytest.raises(ValueError, match=r"Refused: the file is a pickle that refers to the Python object "
                                         r"(io|builtins)\.open.*Nothing in it was run"):
        tx.CharLM.from_bytes(as_torch.getvalue())
    module = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), module)                   # a whole pickled module, not a state dict
    with pytest.raises(ValueError, match=r"whole pickled Python object \(torch.nn.modules.linear.Linear\).*"
                                         "nothing in the file was run"):
        tx.CharLM.from_bytes(module.getvalue())


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
        (_saved(torch.zeros(3)), "holds a Tensor, not a state dict"),
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
            tx.CharLM.from_bytes(data)


def test_a_file_that_is_no_model_gets_the_message_every_model_upload_gets():
    """Random bytes, text, a zip: read by the same code as on Your Model, in plain words (never a decoder's
    error text), ending with this page's own advice."""
    from rnnviz.files import uploads

    rng = np.random.default_rng(0)
    advice = "Upload a .pt file saved by this page's download button."
    for data in (rng.bytes(4096), b"\x80\x80" + rng.bytes(4096), b"hello, this is not a model\n" * 5,
                 b"PK\x03\x04" + rng.bytes(300)):
        with pytest.raises(ValueError) as here:
            tx.CharLM.from_bytes(data)
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
    f = tx.text_features('a("b")\n 1')
    np.testing.assert_array_equal(f["inside quotes"], [0, 0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["bracket depth"], [0, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["position in line"], [1, 2, 3, 4, 5, 6, 0, 1, 2])
    np.testing.assert_array_equal(f["after a newline"], [0, 0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(f["after a space"], [0, 0, 0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(f["digit"], [0, 0, 0, 0, 0, 0, 0, 0, 1])


def test_rank_units_finds_the_unit_that_tracks_a_feature():
    rng = np.random.default_rng(0)
    text = ("x = (a + b) * 2\n" * 40)
    feats = tx.text_features(text)
    T = len(text)
    hidden = rng.normal(size=(T, 6))
    hidden[:, 4] = np.tanh(feats["bracket depth"] - 0.5) + 0.05 * rng.normal(size=T)
    cell = rng.normal(size=(T, 6))
    cell[:, 1] = -feats["position in line"] / 10
    rows = tx.rank_units({"hidden": hidden, "cell": cell}, feats, per_feature=2)
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
    states = tx.unit_states(tr)
    assert list(states) == ["hidden", "cell", "input", "forget", "candidate", "output"]
    assert states["hidden"] is tr.hidden and states["cell"] is tr.cell
    h, _ = lm.model(torch.from_numpy(lm.vocab.one_hot("abc ab\nx")))
    np.testing.assert_allclose(states["hidden"], h.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_input_gradient_matches_torch_modules(cell):
    lm = small_lm(cell, H=7, text="the cat sat on the mat\n")
    text = "the cat sat on the mat\nthe cat"
    pos = 25
    g = tx.input_gradient(lm, text, pos)
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
        tx.input_gradient(lm, text, len(text) - 1)


# ------------------------------------------------------------------------------------ figures
def test_coloured_text_is_escaped_and_one_span_per_character():
    text = "<script>alert(1)</script>\n<img src=x onerror=alert(2)> \"q\" & 👍🏽"
    values = np.linspace(-1, 1, len(text))
    tips = [f'<b onmouseover="x">{k}"' for k in range(len(text))]
    html = plots.text_colour_html(text, values, kind="state", tips=tips)
    assert "<script" not in html and "<img" not in html and "<b " not in html
    shown = re.findall(r"<span [^>]*>(.*?)</span>", html)
    assert len(shown) == len(text) and html.count("<br>") == 1
    assert "".join(stdlib_html.unescape(s) for s in shown) == text.replace("\n", "↵")
    assert 'title="&lt;b onmouseover=&quot;x&quot;&gt;0&quot;"' in html
    # the two ends of the diverging scale: -1 red, +1 blue; NaN neutral
    assert "rgb(103,0,31)" in html.split("</span>")[0] and "rgb(5,48,97)" in html.split("</span>")[-2]
    assert plots.NEUTRAL_STYLE in plots.text_colour_html("ab", [np.nan, 0.5], kind="gate")


def test_colour_levels_follow_the_fixed_scales():
    np.testing.assert_array_equal(plots.colour_levels([-1, 0, 1, 3, np.nan], "state"), [0, 50, 100, 100, 0])
    np.testing.assert_array_equal(plots.colour_levels([0, 0.25, 1], "gate"), [0, 25, 100])
    np.testing.assert_array_equal(plots.colour_levels([-8, -5, -2], "grad", lo=-8, hi=-2), [0, 50, 100])


def test_user_text_in_figures_is_escaped_for_plotly():
    fig = plots.next_char_bars(["<", "b", "&"], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1], 0,
                               title=plots.plain("after <b>x</b>"))
    assert list(fig.layout.yaxis.ticktext) == ["<b>'&lt;'</b>", "'b'", "'&amp;'"]   # the chosen one bold
    assert fig.layout.title.text == "after &lt;b&gt;x&lt;/b&gt;"


def test_bpc_and_gradient_figures_hold_the_arrays():
    steps = np.arange(1, 101)
    train = np.linspace(5, 2, 100)
    fig = plots.bpc_curves({"LSTM": {"cell": "lstm", "steps": steps, "train": train, "test_steps": [0, 50, 100],
                                     "test": [5.0, 3.5, 3.0]}}, 4.2, smooth=10)
    by_name = {d.name: d for d in fig.data}
    np.testing.assert_allclose(by_name["LSTM training text"].y[-1], train[-10:].mean())
    np.testing.assert_array_equal(by_name["LSTM held-out text"].y, [5.0, 3.5, 3.0])
    assert any(s["y0"] == 4.2 for s in fig.layout.shapes)
    g = np.array([1e-6, 1e-3, 1.0])
    fig = plots.input_gradient_figure({"GRU": ("gru", g)})
    np.testing.assert_allclose(fig.data[0].y, [0, -3, -6])
    assert fig.data[0].line.color == plots.CELL_COLORS["gru"]
