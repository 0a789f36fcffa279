"""The date data: every format reads back as its date (against datetime.strptime), held-out dates never
appear in training, filler, the character ids, and the typed example's checks."""
import datetime as dt
import re

import numpy as np
import pytest
import torch

from rnnviz.inputs import UNKNOWN
from rnnviz.labs import dates

# Each format as datetime.strptime reads it (after dropping ordinal suffixes "st", "nd", "rd", "th").
STRPTIME = {
    "d Mon yyyy": "%d %b %Y",
    "Weekday, Month d, yyyy": "%A, %B %d, %Y",
    "mm/dd/yy": "%m/%d/%y",
    "dd.mm.yyyy": "%d.%m.%Y",
    "Month d, yyyy": "%B %d, %Y",
    "d Month yyyy": "%d %B %Y",
    "Mon d, yyyy": "%b %d, %Y",
    "Wkd d Mon yyyy": "%a %d %b %Y",
    "dth of Month yyyy": "%d of %B %Y",
    "weekday d month yyyy (lower case)": "%A %d %B %Y",
    "dd-MON-yyyy (upper case)": "%d-%b-%Y",
    "Weekday the dth of Month, yyyy": "%A the %d of %B, %Y",
}


WEEKDAY_FORMATS = {"Weekday, Month d, yyyy": "%A", "Wkd d Mon yyyy": "%a", "weekday d month yyyy (lower case)": "%A",
                   "Weekday the dth of Month, yyyy": "%A"}


def parse(text: str, fmt: str) -> dt.date:
    plain = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text)
    return dt.datetime.strptime(plain, STRPTIME[fmt]).date()


def some_dates():
    special = [dates.FIRST_DATE, dates.LAST_DATE, dt.date(2000, 2, 29), dt.date(1999, 12, 31), dt.date(2026, 11, 22),
               dt.date(1972, 1, 1), dt.date(2011, 3, 11), dt.date(2023, 7, 12), dt.date(2040, 8, 13)]
    gen = np.random.default_rng(0)
    return special + [dates.FIRST_DATE + dt.timedelta(days=int(k)) for k in gen.integers(0, dates.N_DAYS, 300)]


def test_every_format_reads_back_as_the_iso_date():
    assert set(STRPTIME) == set(dates.FORMATS)
    for date in some_dates():
        for fmt in dates.FORMAT_NAMES:
            text = dates.render(date, fmt)
            assert parse(text, fmt) == date, (text, fmt)
            assert dates.iso(date) == date.isoformat() == parse(text, fmt).strftime("%Y-%m-%d")
            if fmt in WEEKDAY_FORMATS:  # the weekday named is the date's own
                assert date.strftime(WEEKDAY_FORMATS[fmt]).lower() in text.lower()
    assert dates.render(dt.date(2026, 11, 22), "Weekday, Month d, yyyy") == "Sunday, November 22, 2026"
    assert dates.render(dt.date(2026, 11, 22), "mm/dd/yy") == "11/22/26"
    assert [dates.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_examples_with_phrases_still_hold_the_right_date():
    data = dates.examples(dates.split_dates(0)[0], 300, seed=4)
    for e in data:
        core = e.text
        for p in sorted(dates.PREFIXES, key=len, reverse=True):
            if p and core.startswith(p):
                core = core[len(p):]
                break
        for q in sorted(dates.SUFFIXES, key=len, reverse=True):
            if q and core.endswith(q):
                core = core[:-len(q)]
                break
        assert parse(core, e.fmt).isoformat() == e.target
    assert len({e.fmt for e in data}) == len(dates.FORMATS)
    assert any(e.text != dates.render(dt.date.fromisoformat(e.target), e.fmt) for e in data)  # phrases do occur


def test_held_out_dates_never_appear_in_training_and_the_split_is_seeded():
    train, held = dates.split_dates(0)
    assert len(train) + len(held) == dates.N_DAYS and not set(train) & set(held)
    assert len(held) == round(0.1 * dates.N_DAYS)
    np.testing.assert_array_equal(held, dates.split_dates(0)[1])
    assert not np.array_equal(held, dates.split_dates(1)[1])
    held_dates = {(dates.FIRST_DATE + dt.timedelta(days=int(k))).isoformat() for k in held}
    assert {e.target for e in dates.held_out(500)} <= held_dates
    assert dates.held_out(50) == dates.held_out(50) and dates.held_out(50) != dates.held_out(50, sample_seed=5)


def test_vocabularies_round_trip():
    vocab = dates.SOURCE_VOCAB
    for e in dates.examples(np.arange(dates.N_DAYS), 500, seed=1):
        ids = vocab.encode(e.text)
        assert min(ids) >= 2 and vocab.decode(ids) == e.text
    # id 0 pads, id 1 stands for every unknown character (the ids the trained models were built with)
    assert vocab.padding and vocab.unknown == 1 and len(vocab) == len(vocab.chars) + 1
    assert vocab.encode("2026€")[-1] == 1 and vocab.decode(vocab.encode("a€b")) == f"a{UNKNOWN}b"
    assert vocab.missing("a€b£") == ["£", "€"]
    src, lengths = dates.encode_batch(["22 Nov 2026", "11/22/26"])
    assert src.shape == (2, 11) and lengths.tolist() == [11, 8] and src[1, 8:].tolist() == [0] * 3
    tgt = dates.encode_targets(["2026-11-22"])
    assert "".join(dates.TARGET_CHARS[k] for k in tgt[0].tolist()) == "2026-11-22"


def test_read_date_finds_the_date_in_every_format_and_among_words():
    for date in some_dates()[:60]:
        for fmt in dates.FORMAT_NAMES:
            text = dates.render(date, fmt)
            assert dates.read_date(text) == date, (text, fmt)
            assert dates.read_date("deadline: " + text + ", please confirm") == date
    for e in dates.examples(dates.split_dates(0)[1], 200, seed=3):  # with phrases
        assert dates.read_date(e.text).isoformat() == e.target
    assert dates.read_date("Monday, November 22, 2026") == dt.date(2026, 11, 22)  # the weekday is not checked
    assert dates.read_date("12/31/68") == dt.date(2068, 12, 31) and dates.read_date("01/01/69") == dt.date(1969, 1, 1)
    for bad in ("", "hello", "31 Feb 2020", "5 May 2100", "11/22/2026", "122 Nov 2026", "22 Nov 20266"):
        assert dates.read_date(bad) is None, bad


def test_filler_has_the_asked_length_known_characters_and_the_same_words_on_both_sides():
    for n in (0, 1, 7, 16, 96):
        after = dates.filler(n, torch.Generator().manual_seed(n))
        before = dates.filler(n, torch.Generator().manual_seed(n), "before")
        assert len(after) == len(before) == n and not dates.SOURCE_VOCAB.missing(after + before)
        if n:
            assert after[0] == " " and before[-1] == " "
    assert not set(dates.FILLER_WORDS) & set(" ".join(dates.PREFIXES + dates.SUFFIXES).split())  # never in training
    data = dates.held_out(20, phrases=False)
    late, early = dates.with_filler(data, 30), dates.with_filler(data, 30, "before")
    for e, a, b in zip(data, late, early):
        assert a.text.startswith(e.text) and b.text.endswith(e.text) and len(a.text) == len(b.text) == len(e.text) + 30
        assert a.target == b.target == e.target and dates.read_date(a.text).isoformat() == e.target
        assert a.text[len(e.text) + 1:] == b.text[:-len(e.text) - 1]  # the same words
    assert dates.with_filler(data, 30) == late and dates.with_filler(data, 30, seed=1) != late
    with pytest.raises(ValueError, match="where must be"):
        dates.filler(3, torch.Generator(), "middle")


def test_check_example_and_showcase():
    assert dates.check_example("22 Nov 2026") == ([], [])
    errors, _ = dates.check_example("x" * (dates.MAX_EXAMPLE_CHARS + 1))
    assert "121 characters long" in errors[0]
    assert dates.check_example("x" * dates.MAX_EXAMPLE_CHARS)[0] == []
    assert "Type a date" in dates.check_example("   ")[0][0]
    _, warnings = dates.check_example("22 Nov 2026 €k")
    assert "never seen “k”, “€”" in warnings[0]
    shown = dates.showcase()
    held = {(dates.FIRST_DATE + dt.timedelta(days=int(k))).isoformat() for k in dates.split_dates(0)[1]}
    assert {e.fmt for e in shown} == set(dates.FORMAT_NAMES) and {e.target for e in shown} <= held
    for e in shown:
        assert dates.read_date(e.text).isoformat() == e.target and dates.check_example(e.text) == ([], [])
