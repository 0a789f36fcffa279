"""The one Vocab: any Unicode round-trips, rare characters fold into UNKNOWN, bad vocabularies are refused."""
from collections import Counter

import numpy as np
import pytest

from rnnviz.inputs import UNKNOWN, Vocab
from tests.support.payloads import UNICODE_SAMPLES


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
