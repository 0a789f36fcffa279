"""The lessons as data: every step's link reproduces its state, every question's answer follows the
live numbers (checked against independent computations while a knob moves), every explanation's
number is the engine's."""
import math
import re

import numpy as np
import pytest
import torch

from rnnviz import lessons
from rnnviz.i18n import language
from rnnviz.labs import corpora
from rnnviz.spec import KNOBS, parse_query
from tests.support import reference

STEPS = [(lesson.number, i) for lesson in lessons.LESSONS for i in range(1, len(lesson.steps) + 1)]


def test_the_course_follows_the_lecture():
    titles = [lesson.title for lesson in lessons.LESSONS]
    assert len(titles) == 9
    for n, words in enumerate(["one cell reused", "Structures", "Backpropagation through time", "One neuron",
                               "Activation functions", "LSTM", "GRU", "language model", "Translation"]):
        assert words.lower() in titles[n].lower(), titles[n]
    assert all(2 <= len(lesson.steps) <= 3 for lesson in lessons.LESSONS)


@pytest.mark.parametrize("number,index", STEPS)
def test_a_steps_link_reproduces_its_state(number, index):
    """The step's query, read back by the one URL codec, gives every knob value of the step's state."""
    step = lessons.step(number, index)
    query = step.query()
    names = [n for n in KNOBS if n in query]
    values, notes = parse_query(query, names)
    assert not notes
    assert values == {n: step.values()[n] for n in names}
    assert set(step.values()) - set(names) <= {"t", "unit", "text", "tr_text", "lesson", "step"} - set(query)


@pytest.mark.parametrize("number,index", STEPS)
def test_every_step_answers_from_its_numbers_and_fills_every_field(number, index):
    step = lessons.step(number, index)
    live = step.live()
    text = step.text(live)                      # a missing field would raise KeyError
    assert 0 <= step.correct(live) < len(step.choices) == len(text["choices"])
    assert "{" not in text["question"] + text["explanation"] + "".join(text["choices"])
    fig = step.figure(live, scale=1.35)
    assert fig.data and fig.layout.title.text


def test_bad_lesson_and_step_numbers_are_refused():
    with pytest.raises(ValueError, match="lesson must be 1 to 9"):
        lessons.lesson(10)
    with pytest.raises(ValueError, match="steps 1 to 3"):
        lessons.step(4, 4)
    assert lessons.neighbour(1, 1, -1) is None and lessons.neighbour(9, 2, +1) is None
    assert lessons.neighbour(1, 2, +1) == (2, 1) and lessons.neighbour(2, 1, -1) == (1, 2)


# ---------------------------------------------------------------------- answers follow the knobs
def _choice(step, live) -> str:
    return step.text(live)["choices"][step.correct(live)]


@pytest.mark.parametrize("w,bigger", [(0.9, False), (0.95, True)])
def test_lesson_4_w_below_one_answer_is_w_to_the_50th(w, bigger):
    """Linear neuron: ∂h_T/∂h_0 = w^T exactly; the answer follows w^50 against 1/100."""
    step = lessons.step(4, 1)
    live = step.live(w=w)
    assert (w ** 50 > 0.01) is bigger
    assert _choice(step, live) == ("Bigger than 1/100" if bigger else "Smaller than 1/100")
    assert live["grad"] == f"{w ** 50:.3g}" and f"{w ** 50:.3g}" in step.text(live)["explanation"]


@pytest.mark.parametrize("w", [1.1, 1.05])
def test_lesson_4_w_above_one_answer_is_w_to_the_50th(w):
    step = lessons.step(4, 2)
    assert _choice(step, step.live(w=w)) == ("Bigger than 100" if w ** 50 > 100 else "Smaller than 100")
    assert lessons.step(4, 2).correct(step.live(w=1.1)) != step.correct(step.live(w=1.05))


def test_lesson_4_saturation_answer_follows_the_activation():
    """tanh at w = 1.5 settles at the fixed point h* = tanh(1.5 h*), where the factor 1.5 (1 - h*²) < 1;
    the same neuron without saturation (linear) explodes as 1.5^49."""
    step = lessons.step(4, 3)
    h = 0.5
    for _ in range(200):
        h = math.tanh(1.5 * h)
    factor = 1.5 * (1 - h * h)
    live = step.live()
    assert factor < 1 and _choice(step, live) == "No, it fades"
    assert abs(live["last_factor"] - factor) < 1e-6 and f"{factor:.3f}" in step.text(live)["explanation"]
    assert _choice(step, step.live(activation="linear")) == "Yes, it grows"


def _reference_states(scenario):
    model = scenario.model()
    return reference.bptt(model, scenario.inputs(), loss=scenario.loss)


def test_lesson_1_the_same_letter_gives_the_same_state_only_without_memory():
    """Gain 0 makes W_hh = 0: the state after a letter depends on the letter alone."""
    step = lessons.step(1, 1)
    for gain, same in ((0.9, False), (0.0, True)):
        live = step.live(recurrent_gain=gain)
        sc = lessons.step(1, 1).state.scenario(recurrent_gain=gain)
        ref = _reference_states(sc)["hidden"]
        t1, t2 = [i for i, ch in enumerate("what time is it?") if ch == "t"][:2]
        assert (live["t1"], live["t2"]) == (t1, t2)
        distance = np.linalg.norm(ref[t2] - ref[t1])
        assert bool(distance < 1e-9) == same
        assert _choice(step, live).startswith("Yes" if same else "No")
        assert live["distance"] == pytest.approx(distance, abs=1e-5)


@pytest.mark.parametrize("gain", [0.9, 1.5])
def test_lesson_2_where_the_gradient_is_largest_follows_the_gain(gain):
    step = lessons.step(2, 1)
    sc = step.state.scenario(recurrent_gain=gain)
    g = _reference_states(sc)["grad_norm"]          # autograd through a plain loop, float64
    k = int(np.argmax(g))
    expected = "At the last step, where the loss is" if k >= len(g) / 2 else "At the first step"
    assert _choice(step, step.live(recurrent_gain=gain)) == expected
    if gain == 1.5:
        assert expected == "At the first step"


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("number", [6, 7])
@pytest.mark.parametrize("bias", [3.0, 0.0, -5.0])
def test_lessons_6_and_7_the_share_kept_follows_the_gate_bias(number, bias):
    """The forget (LSTM) / update (GRU) gate sits near σ(bias): 0.95 at 3, 0.5 at 0, 0.007 at -5."""
    step = lessons.step(number, 1)
    live = step.live(forget_bias=bias)
    expected = {3.0: "About 95%", 0.0: "About half", -5.0: "Almost none"}[bias]
    assert _choice(step, live) == expected
    assert abs(live["mean"] - _sigmoid(bias)) < 0.1
    assert f"{_sigmoid(bias):.2f}" in step.text(live)["explanation"]


def _ablation_shares(scenario, cell):
    """Each word's share by ablation, through torch's own module (not rnnviz's forward)."""
    text = "what time is it?"
    vocab = sorted(set(text))
    x = torch.zeros(len(text), len(vocab), dtype=torch.float64)
    for t, ch in enumerate(text):
        x[t, vocab.index(ch)] = 1.0
    module = scenario.replace(cell=cell).model().to_torch().double()
    spans = [(0, 4), (5, 9), (10, 12), (13, 16)]
    with torch.no_grad():
        final = module(x[None])[0][0, -1]
        effects = []
        for a, b in spans:
            xa = x.clone()
            xa[a:b] = 0
            effects.append(float((module(xa[None])[0][0, -1] - final).norm()))
    return np.array(effects) / sum(effects)


@pytest.mark.parametrize("bias", [3.0, 0.0])
def test_lesson_6_who_remembers_the_first_word_follows_the_forget_bias(bias):
    step = lessons.step(6, 3)
    live = step.live(forget_bias=bias)
    sc = step.state.scenario(forget_bias=bias)
    rnn, lstm = _ablation_shares(sc, "rnn"), _ablation_shares(sc, "lstm")
    np.testing.assert_allclose(live["shares"]["rnn"].share, rnn, atol=1e-9)
    np.testing.assert_allclose(live["shares"]["lstm"].share, lstm, atol=1e-9)
    assert _choice(step, live) == ("The LSTM" if lstm[0] > 1.25 * rnn[0] else "The RNN")
    assert f"{lstm[0]:.0%}" in step.text(live)["explanation"]
    if bias == 0.0:   # a forget gate at 0.5 halves the cell state every character: the LSTM forgets too
        assert _choice(step, live) == "The RNN"


def test_lesson_1_asks_for_the_word_that_holds_most_of_the_rnns_state():
    step = lessons.step(1, 2)
    shares = _ablation_shares(step.state.scenario(), "rnn")
    assert _choice(step, step.live()) == f"“{['what', 'time', 'is', 'it?'][int(np.argmax(shares))]}”"


def _text_lab_in_torch():
    """The Text Lab's stored run as torch's own nn.RNN and nn.Linear (float64), with its vocabulary."""
    from rnnviz.labs import pretrained

    result = pretrained.text_lab(pretrained.text_lab_defaults())
    weights, readout = result.model.state_dict(), result.readout.state_dict()
    H, V = weights["weight_hh"].shape[1], weights["weight_ih"].shape[1]
    rnn = torch.nn.RNN(V, H, nonlinearity="tanh", batch_first=True).double()
    rnn.load_state_dict({f"{k}_l0": w.double() for k, w in weights.items()})
    linear = torch.nn.Linear(H, V).double()
    linear.load_state_dict({k: w.double() for k, w in readout.items()})
    return rnn, linear, result.task.vocab


@pytest.mark.parametrize("temperature", [0.2, 1.5, 2.0])
def test_lesson_8_reads_the_text_labs_model_and_its_answer_follows_the_temperature(temperature):
    """The text the lesson quotes, read by torch's nn.RNN with the stored weights: at each character written,
    softmax(logits / T) is the distribution the lesson reports, and the share of characters that were the
    model's most likely one decides the answer (T = 0.2: nearly all, T = 2: half or fewer)."""
    rnn, linear, vocab = _text_lab_in_torch()
    step = lessons.step(8, 1)
    live = step.live(temperature=temperature)
    written = live["sample"].text
    assert live["prompt"] == "Beautiful is" and len(written) == live["n"] == KNOBS["sample_len"].default
    codes = torch.from_numpy(vocab.encode(live["prompt"] + written))
    with torch.no_grad():
        h, _ = rnn(torch.nn.functional.one_hot(codes, len(vocab)).double()[None])
        logits = linear(h[0])[len(live["prompt"]) - 1:-1]        # the distribution of each character written
    q = torch.softmax(logits / temperature, -1)
    entropy = -(q * torch.log2(q)).sum(-1)
    share = float((logits.argmax(-1) == codes[len(live["prompt"]):]).double().mean())
    np.testing.assert_allclose(live["sampled_bits"], entropy.numpy(), atol=1e-4)
    assert live["share"] == pytest.approx(share) and live["entropy"] == pytest.approx(float(entropy.mean()), abs=1e-4)
    expected = "Nearly all (over 90%)" if share > 0.9 else "Between half and 90%" if share > 0.5 else "Half or fewer"
    assert _choice(step, live) == expected
    if temperature == 0.2:
        assert expected == "Nearly all (over 90%)" and float(entropy.mean()) < 0.01
        zen = corpora.get_corpus("zen").text
        assert zen[zen.index("Beautiful is") + len("Beautiful is"):].startswith(written)   # it recites the Zen
    if temperature == 2.0:
        assert expected == "Half or fewer" and float(entropy.mean()) > 2
    train = corpora.get_corpus("zen").train_text
    follows = train[train.index("Beautiful is") + len("Beautiful is"):]
    agree = sum(a == b for a, b in zip(written, follows)) / len(written)   # its training text, place by place
    said = step.text(live)["explanation"]
    assert f"{share:.0%} of the 300 characters" in said and f"{float(entropy.mean()):.2f} bits" in said
    assert f"{agree:.0%} of its characters are those of its training text" in said


@pytest.mark.parametrize("index", [1, 2])
def test_lesson_8_at_temperature_0_decodes_greedily_and_says_so_in_both_languages(index):
    """Temperature 0 is greedy decoding: every character written is the one torch's nn.RNN with the stored
    weights finds likeliest, each distribution drawn from is certain (0 bits: no inf, no NaN, no −0), and
    neither the texts nor the figure speak of dividing by 0 or of an infinite factor, in English or Chinese."""
    rnn, linear, vocab = _text_lab_in_torch()
    step = lessons.step(8, index)
    live = step.live(temperature=0)
    prompt, written = live["prompt"], live["sample"].text
    codes = torch.from_numpy(vocab.encode(prompt + written))
    with torch.no_grad():
        h, _ = rnn(torch.nn.functional.one_hot(codes, len(vocab)).double()[None])
        logits = linear(h[0])[len(prompt) - 1:-1]
    assert torch.equal(logits.argmax(-1), codes[len(prompt):])              # the likeliest, every time
    bits = live["sampled_bits"]
    assert np.all(bits == 0) and not np.signbit(bits).any() and live["entropy"] == 0 and live["share"] == 1
    assert _choice(step, live) == "Nearly all (over 90%)"
    for lang, greedy in (("en", "greedy"), ("zh", "贪心")):
        with language(lang):
            text, fig = step.text(live), step.figure(live)
        said = " ".join([text["question"], *text["choices"], text["explanation"], fig.layout.title.text])
        assert not re.search(r"\binf\b|∞|nan", said, re.IGNORECASE), said
        assert greedy in text["explanation"] and greedy in fig.layout.title.text
        assert "100%" in text["explanation"] and "0.00" in text["explanation"]
        sampled = next(t for t in fig.data if t.line.dash != "dot")           # the distribution drawn from
        assert np.array_equal(np.asarray(sampled.y, dtype=float), np.zeros(live["n"]))


def test_lesson_8_quotes_how_well_the_model_predicts_its_training_text_and_a_text_it_never_saw():
    """Bits per character by torch's cross-entropy, reading each part of the Zen from the zero state."""
    rnn, linear, vocab = _text_lab_in_torch()
    zen = corpora.get_corpus("zen")

    def bpc(text):
        codes = torch.from_numpy(vocab.encode(text))
        with torch.no_grad():
            h, _ = rnn(torch.nn.functional.one_hot(codes[:-1], len(vocab)).double()[None])
            return float(torch.nn.functional.cross_entropy(linear(h[0]), codes[1:])) / math.log(2)

    step = lessons.step(8, 1)
    live = step.live()
    train, held = bpc(zen.train_text), bpc(zen.held_out_text)
    assert live["train_bpc"] == pytest.approx(train, abs=1e-4) and live["held_bpc"] == pytest.approx(held, abs=1e-4)
    assert train < 0.5 < math.log2(len(vocab)) < held                # memorised: it has not learned to write
    said = step.text(live)["explanation"]
    assert f"{train:.2f} bits per character" in said and f"{held:.2f} bits" in said


def test_lesson_8_links_open_the_text_lab_with_its_stored_model_at_the_steps_temperature():
    from rnnviz.labs import pretrained

    for index, temperature in ((1, 0.2), (2, 2.0)):
        step = lessons.step(8, index)
        assert step.page == "pages/6_Text_Lab.py" and step.values()["temperature"] == temperature
        assert pretrained.text_lab(step.values()) is not None         # the Text Lab shows its stored run


@pytest.mark.parametrize("cell,hidden", [("lstm", 64), ("gru", 64), ("lstm", 32)])
def test_lesson_9_the_context_size_follows_the_cell(cell, hidden):
    """torch's LSTM hands on (h, c), H numbers each; a GRU only h."""
    step = lessons.step(9, 1)
    live = step.live(tr_cell=cell, tr_hidden=hidden)
    expected = 2 * hidden if cell == "lstm" else hidden
    assert _choice(step, live).startswith(f"{expected}:")
    assert lessons.step(9, 2).correct(lessons.step(9, 2).live(tr_cell=cell, tr_hidden=hidden)) == 0


def test_lesson_9_at_the_defaults_reads_the_translator_trained_in_advance():
    """Lesson 9 opens the Translation page at its defaults, so it shows the run stored for them: the
    decoder writes the right date from the context alone, and the fading over longer inputs quoted is
    the stored assessment's. Another setting is the untrained model, and the lesson says so."""
    from rnnviz.labs import pretrained, translator

    model, _history, assessment = pretrained.translation()
    first, second = lessons.step(9, 1), lessons.step(9, 2)
    live = first.live()
    assert live["text"] == "Wednesday, June 20, 2001"
    assert live["look"].output == translator.look_inside(model, live["text"]).output == "2001-06-20"
    assert "trained in advance" in first.text(live)["explanation"] and "2001-06-20" in first.text(live)["explanation"]
    said = second.text(second.live())["explanation"]
    assert f"only {assessment.after[-1]:.0%} come out right, against {assessment.after[0]:.0%}" in said
    assert assessment.after[-1] < assessment.after[0] - 0.5      # the fixed-size context does fade
    assert "This model is untrained" in first.text(first.live(tr_hidden=64))["explanation"]


@pytest.mark.parametrize("changes", [{}, {"input_kind": "noise", "recurrent_gain": 1.2}])
def test_lesson_5_the_activation_that_keeps_most_follows_the_input_and_gain(changes):
    step = lessons.step(5, 1)
    sc = step.state.scenario(**changes)
    first = {a: _reference_states(sc.replace(activation=a))["grad_norm"][0] for a in ("tanh", "sigmoid", "relu")}
    winner = max(first, key=first.get)
    assert _choice(step, step.live(**changes)) == {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "ReLU"}[winner]
    assert winner == ("tanh" if not changes else "relu")


@pytest.mark.parametrize("bias", [3.0, 0.0])
def test_lesson_7_the_grus_reach_follows_its_update_bias(bias):
    step = lessons.step(7, 2)
    g = _reference_states(step.state.scenario(forget_bias=bias))["grad_norm"]
    keeps = bool(g[0] / g[-1] > 1e-3)
    assert _choice(step, step.live(forget_bias=bias)) == ("Yes" if keeps else "No")
    assert keeps is (bias == 3.0)
