"""Short-term memory, word by word: shares by ablation, checked against torch's own modules."""
import numpy as np
import pytest
import torch

from rnnviz import memory, plots
from rnnviz.spec import Scenario


def test_words_and_their_spans():
    assert memory.words_of("  what time  is it?") == (("what", "time", "is", "it?"), ((2, 6), (7, 11), (13, 15),
                                                                                        (16, 19)))
    with pytest.raises(ValueError, match="no words"):
        memory.words_of("   ")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_shares_are_the_final_states_moves_when_a_word_is_removed(cell):
    text = "the cat sat on the mat"
    sc = Scenario.from_values({"input_kind": "text", "text": text, "hidden_size": 12, "seed": 3})
    got = memory.word_shares(sc, cell)
    vocab = sorted(set(text))
    x = torch.zeros(1, len(text), len(vocab), dtype=torch.float64)
    for t, ch in enumerate(text):
        x[0, t, vocab.index(ch)] = 1
    module = sc.replace(cell=cell).model().to_torch().double()
    with torch.no_grad():
        final = module(x)[0][0, -1]
        effects = []
        for start in (0, 4, 8, 12, 15, 19):
            end = text.find(" ", start) if " " in text[start:] else len(text)
            xa = x.clone()
            xa[0, start:end] = 0
            effects.append(float((module(xa)[0][0, -1] - final).norm()))
    np.testing.assert_allclose(got.effect, effects, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.share, np.array(effects) / sum(effects), rtol=1e-9)
    assert got.words == tuple(text.split()) and got.share.sum() == pytest.approx(1.0)


def test_one_word_holds_the_whole_state():
    sc = Scenario.from_values({"input_kind": "text", "text": "hello"})
    assert memory.word_shares(sc).share.tolist() == [1.0]


def test_the_figure_shows_each_word_its_share_and_the_method():
    fig = plots.word_share_grid(("what", "time"), {"RNN": [0.25, 0.75], "LSTM": [0.6, 0.4]},
                                method=memory.METHOD_TEXT, title="t")
    heat = fig.data[0]
    assert list(heat.x) == ["“what”", "“time”"] and list(heat.y) == ["RNN", "LSTM"]
    np.testing.assert_allclose(heat.z, [[0.25, 0.75], [0.6, 0.4]])
    assert [list(r) for r in heat.text] == [["25%", "75%"], ["60%", "40%"]]
    assert any(a.text.replace("<br>", " ") == "Method: " + memory.METHOD_TEXT for a in fig.layout.annotations)
    assert "ablation" in memory.METHOD_TEXT
