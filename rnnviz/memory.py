"""Short-term memory, word by word: how much each word of a sentence still contributes to the final
hidden state, measured by ablation.

    shares = word_shares(Scenario.from_values({"input_kind": "text", "text": "what time is it?"}), "rnn")
    shares.words, shares.share          # ("what", "time", "is", "it?"), fractions that sum to 1

The network reads the sentence one character at a time (one-hot). Ablating a word sets the input
vectors of its characters to zero (the positions stay, the word is not read); its effect is
‖h_T − h_T(without the word)‖₂, the distance the final hidden state moves. A word's share is its
effect over the sum of all words' effects. Spaces are read but belong to no word. Everything runs
in float64 so that tiny effects (a long-forgotten word) do not round to zero.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from .i18n import N_
from .spec import Scenario

METHOD = "ablation"
METHOD_TEXT = N_("ablation, each word removed in turn (its characters' inputs set to zero); a word's share of the "
                  "summed ‖h_T − h_T(without it)‖")  # marked: translated where shown


@dataclass(frozen=True)
class WordShares:
    """Each word's share of the final state of one cell (fractions summing to 1)."""

    cell: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]   # [start, end) character positions of each word
    effect: np.ndarray                   # ‖h_T − h_T(without word w)‖₂ for each word, float64
    share: np.ndarray                    # effect / effect.sum()
    text: str


def words_of(text: str) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """The whitespace-separated words of `text` and their [start, end) character spans."""
    found = [(m.group(), (m.start(), m.end())) for m in re.finditer(r"\S+", text)]
    if not found:
        raise ValueError("the text has no words")
    words, spans = zip(*found)
    return tuple(words), tuple(spans)


def word_shares(scenario: Scenario, cell: str | None = None) -> WordShares:
    """Each word's share of the final hidden state of the scenario's model (with `cell`, if given)
    reading the scenario's text once (the sequence length is the text's length)."""
    text = scenario.text
    scenario = scenario.replace(input_kind="text", seq_len=max(2, len(text)), **({"cell": cell} if cell else {}))
    words, spans = words_of(text)
    model = scenario.model().double()
    x = torch.from_numpy(scenario.inputs()[:len(text)].astype(np.float64))
    batch = x.repeat(len(words) + 1, 1, 1)       # row 0: the sentence; row w + 1: without word w
    for w, (a, b) in enumerate(spans):
        batch[w + 1, a:b] = 0.0
    with torch.no_grad():
        out, _ = model(batch)
    final = out[:, -1].numpy()
    effect = np.linalg.norm(final[1:] - final[0], axis=1)
    total = effect.sum()
    share = effect / total if total > 0 else np.full(len(words), 1.0 / len(words))
    return WordShares(scenario.cell, words, spans, effect, share, text)


def compare(scenario: Scenario, cells=("rnn", "lstm")) -> dict[str, WordShares]:
    """{cell: WordShares} of these cells with the scenario's other settings, on the same sentence."""
    return {c: word_shares(scenario, c) for c in cells}
