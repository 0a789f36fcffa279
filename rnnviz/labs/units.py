"""Looking inside a character language model: which units track which simple features of the text.

    states, ranking = look_inside(lm, corpus.text[:1000])      # or, step by step:
    states = unit_states(lm.trace(corpus.text[:1000]))         # hidden state, LSTM cell state, gates: [T, H] each
    rank_units(states, text_features(corpus.text[:1000]))      # the units that correlate most with each feature

FEATURES names each feature and says what it is, for the page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..i18n import N_
from ..spec import LM_STATES
from ..trace import Trace

if TYPE_CHECKING:
    from .charlm import CharLM


def unit_states(tr: Trace) -> dict[str, np.ndarray]:
    """Every per-unit signal of a trace, [T, H] each: the hidden state, the LSTM cell state, the gates."""
    out = {"hidden": tr.hidden}
    if tr.cell is not None:
        out["cell"] = tr.cell
    out.update(tr.gates)
    return out


FEATURES = {N_("inside quotes"): N_('after an opening " and before its closing one'),
            N_("bracket depth"): N_("how many ( [ { are open"),
            N_("position in line"): N_("characters since the last newline"),
            N_("after a newline"): N_("the character just read is a newline"),
            N_("after a space"): N_("the character just read is a space"),
            N_("digit"): N_("the character just read is a digit 0-9")}


def text_features(text: str) -> dict[str, np.ndarray]:
    """Simple features of each position t of `text` (the situation after reading text[t]), float64 [T]."""
    T = len(text)
    quotes, depth, column = np.zeros(T), np.zeros(T), np.zeros(T)
    inside, d, col = False, 0, 0
    for t, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        elif ch in "([{":
            d += 1
        elif ch in ")]}":
            d = max(0, d - 1)
        col = 0 if ch == "\n" else col + 1
        quotes[t], depth[t], column[t] = inside, d, col
    chars = np.array(list(text)) if T else np.array([], dtype="<U1")
    return {"inside quotes": quotes, "bracket depth": depth, "position in line": column,
            "after a newline": (chars == "\n").astype(np.float64),
            "after a space": (chars == " ").astype(np.float64),
            "digit": np.char.isdigit(chars).astype(np.float64) if T else np.zeros(0)}


def look_inside(lm: CharLM, text: str, per_feature: int = 3) -> tuple[dict, list]:
    """What the model's units do while it reads `text`: (unit_states of its trace, rank_units of them
    against the text's features)."""
    states = unit_states(lm.trace(text))
    return states, rank_units(states, text_features(text), per_feature=per_feature)


def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of values [T, H] with feature [T] (0 where either is constant)."""
    v = np.asarray(values, dtype=np.float64)
    f = np.asarray(feature, dtype=np.float64)
    dv, df = v - v.mean(0), f - f.mean()
    den = np.sqrt((dv ** 2).sum(0) * (df ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = df @ dv / den
    return np.where(den > 1e-12, r, 0.0)


@dataclass(frozen=True)
class UnitScore:
    feature: str
    state: str        # a key of unit_states
    unit: int
    r: float          # Pearson correlation of the unit's activation with the feature


def rank_units(states: dict, features: dict, per_feature: int = 3) -> list[UnitScore]:
    """For each feature that varies in the text, the `per_feature` (state, unit) pairs whose activation
    correlates most strongly with it (largest |r|), all sorted by |r|, strongest first."""
    rows = []
    for fname, f in features.items():
        if len(f) == 0 or np.ptp(f) == 0:
            continue
        scores = [(abs(r), sname, u, r) for sname, v in states.items() for u, r in enumerate(correlations(v, f))]
        scores.sort(key=lambda s: (-s[0], LM_STATES.index(s[1]) if s[1] in LM_STATES else 99, s[2]))
        rows += [UnitScore(fname, s, int(u), float(r)) for _, s, u, r in scores[:per_feature]]
    rows.sort(key=lambda row: -abs(row.r))
    return rows
