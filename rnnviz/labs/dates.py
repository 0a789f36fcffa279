"""Dates written as people write them, and the same dates in ISO form: the translator's data.

    render(date, "Weekday, Month d, yyyy")   # "Sunday, November 22, 2026" (12 formats in FORMATS)
    read_date("due 22 Nov 2026, please confirm")   # date(2026, 11, 22): the right answer of any text
    train_days, held_days = split_dates(seed)      # disjoint: a held-out date never appears in training
    held_out(2000, seed)                            # examples of held-out dates, with words around them
    encode_batch(["22 Nov 2026"])                   # character ids for the encoder (SOURCE_VOCAB)

Dates run from 1969-01-01 to 2068-12-31, so two-digit years follow the POSIX rule that Python's
`datetime.strptime("%y")` uses (69-99: 19xx, 00-68: 20xx). All randomness comes from seeded
torch.Generators.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..i18n import _, ngettext
from ..inputs import UNKNOWN, Vocab
from ..spec import KNOBS

FIRST_DATE = dt.date(1969, 1, 1)
LAST_DATE = dt.date(2068, 12, 31)
N_DAYS = (LAST_DATE - FIRST_DATE).days + 1
OUTPUT_LENGTH = 10  # "YYYY-MM-DD"

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, ..."""
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parts(d: dt.date) -> dict:
    return dict(d=d.day, dd=f"{d.day:02d}", mm=f"{d.month:02d}", yyyy=d.year, yy=f"{d.year % 100:02d}",
                month=MONTHS[d.month - 1], mon=MONTHS[d.month - 1][:3], weekday=WEEKDAYS[d.weekday()],
                wkd=WEEKDAYS[d.weekday()][:3], th=ordinal(d.day))


# name -> template over _parts; each one is unambiguous for dates in [FIRST_DATE, LAST_DATE].
FORMATS = {
    "d Mon yyyy": "{d} {mon} {yyyy}",                              # 22 Nov 2026
    "Weekday, Month d, yyyy": "{weekday}, {month} {d}, {yyyy}",    # Sunday, November 22, 2026
    "mm/dd/yy": "{mm}/{dd}/{yy}",                                  # 11/22/26
    "dd.mm.yyyy": "{dd}.{mm}.{yyyy}",                              # 22.11.2026
    "Month d, yyyy": "{month} {d}, {yyyy}",                        # November 22, 2026
    "d Month yyyy": "{d} {month} {yyyy}",                          # 22 November 2026
    "Mon d, yyyy": "{mon} {d}, {yyyy}",                            # Nov 22, 2026
    "Wkd d Mon yyyy": "{wkd} {d} {mon} {yyyy}",                    # Sun 22 Nov 2026
    "dth of Month yyyy": "{th} of {month} {yyyy}",                 # 22nd of November 2026
    "weekday d month yyyy (lower case)": "{weekday} {d} {month} {yyyy}",  # sunday 22 november 2026
    "dd-MON-yyyy (upper case)": "{dd}-{mon}-{yyyy}",               # 22-NOV-2026
    "Weekday the dth of Month, yyyy": "{weekday} the {th} of {month}, {yyyy}",  # Sunday the 22nd of November, 2026
}
_CASE = {"weekday d month yyyy (lower case)": str.lower, "dd-MON-yyyy (upper case)": str.upper}
FORMAT_NAMES = tuple(FORMATS)


def render(date: dt.date, fmt: str) -> str:
    """`date` written in the format called `fmt` (a key of FORMATS)."""
    return _CASE.get(fmt, str)(FORMATS[fmt].format(**_parts(date)))


def iso(date: dt.date) -> str:
    return date.isoformat()


# Each placeholder of FORMATS as a pattern, for reading a date back out of a text.
_FIELD_PATTERNS = dict(d=r"(?P<d>\d{1,2})", dd=r"(?P<d>\d{2})", mm=r"(?P<m>\d{2})", yyyy=r"(?P<y>\d{4})",
                       yy=r"(?P<yy>\d{2})", month="(?P<month>" + "|".join(MONTHS) + ")",
                       mon="(?P<mon>" + "|".join(m[:3] for m in MONTHS) + ")",
                       weekday="(?:" + "|".join(WEEKDAYS) + ")", wkd="(?:" + "|".join(w[:3] for w in WEEKDAYS) + ")",
                       th=r"(?P<d>\d{1,2})(?:st|nd|rd|th)")
_READERS = {fmt: re.compile(r"(?<![\w])" + re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
                            .format(**_FIELD_PATTERNS) + r"(?![\w])", re.IGNORECASE)
            for fmt, template in FORMATS.items()}


def read_date(text: str) -> dt.date | None:
    """The date written in `text` in one of FORMATS, wherever it stands among other words (the
    longest match wins); None if there is none or it is not a real date in [FIRST_DATE, LAST_DATE].
    A weekday is read but not checked: the date is what the numbers and the month say."""
    found = []
    for regex in _READERS.values():
        for match in regex.finditer(text):
            g = match.groupdict()
            name = (g.get("month") or g.get("mon") or "").lower()
            month = int(g["m"]) if g.get("m") else [m[:3].lower() for m in MONTHS].index(name[:3]) + 1
            year = int(g["y"]) if g.get("y") else (1900 if int(g["yy"]) >= 69 else 2000) + int(g["yy"])
            try:
                date = dt.date(year, month, int(g["d"]))
            except ValueError:
                continue
            if FIRST_DATE <= date <= LAST_DATE:
                found.append((match.end() - match.start(), date))
    return max(found, key=lambda f: f[0])[1] if found else None


@dataclass(frozen=True)
class Example:
    text: str     # the human-readable input
    target: str   # the ISO date
    fmt: str      # the format's name


def split_dates(seed: int = 0, held_out_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (days since FIRST_DATE) for training and for held-out evaluation; disjoint."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(N_DAYS, generator=gen).numpy()
    n_held = int(round(N_DAYS * held_out_fraction))
    return np.sort(order[n_held:]), np.sort(order[:n_held])


# Words around the date (drawn with it when phrases are on): the date must then be carried past them.
PREFIXES = ("", "", "", "", "on ", "due ", "date: ", "from ", "meeting on ", "deadline: ")
SUFFIXES = ("", "", "", "", " sharp", " at noon", ", all day", " (tentative)", " in the morning", ", please confirm")


# Filler for the length experiment: words made of the vocabulary's letters, none used in training.
FILLER_WORDS = ("and", "then", "we", "will", "meet", "by", "old", "town", "hall", "for", "a", "long", "chat", "about",
                "plans", "new", "year", "after", "lunch", "with", "our", "friends", "school", "bring", "your",
                "notes", "tea", "is", "served", "garden", "music", "games", "dinner", "party", "bus")
WHERE = ("after", "before")


def filler(n: int, generator: torch.Generator, where: str = "after") -> str:
    """Exactly `n` characters of filler words drawn from `generator` (the last one may be cut), to
    put `where` the date goes: "after" starts with a space (" then we wi"), "before" ends with one
    ("then we wi "); the same characters otherwise."""
    if where not in WHERE:
        raise ValueError(f"where must be 'after' or 'before'; got {where!r}")
    if n <= 0:
        return ""
    words, total = [], -1
    while total < n - 1:
        words.append(FILLER_WORDS[int(torch.randint(len(FILLER_WORDS), (1,), generator=generator))])
        total += len(words[-1]) + 1
    body = " ".join(words)[:n - 1]
    return " " + body if where == "after" else body + " "


def sample(day_numbers: Sequence[int], n: int, generator: torch.Generator, formats: Sequence[str] = FORMAT_NAMES,
           phrases: bool = True) -> list[Example]:
    """`n` examples: dates from `day_numbers`, formats (and, with `phrases`, the words around the
    date: a prefix and a suffix, each absent 4 times in 10) uniformly, from `generator`."""
    days = torch.randint(len(day_numbers), (n,), generator=generator).tolist()
    fmts = torch.randint(len(formats), (n,), generator=generator).tolist()
    pre = torch.randint(len(PREFIXES), (n,), generator=generator).tolist()
    suf = torch.randint(len(SUFFIXES), (n,), generator=generator).tolist()
    out = []
    for i, k, a, b in zip(days, fmts, pre, suf):
        date = FIRST_DATE + dt.timedelta(days=int(day_numbers[i]))
        text = render(date, formats[k])
        if phrases:
            text = PREFIXES[a] + text + SUFFIXES[b]
        out.append(Example(text, iso(date), formats[k]))
    return out


def examples(day_numbers: Sequence[int], n: int, seed: int, formats: Sequence[str] = FORMAT_NAMES,
             phrases: bool = True) -> list[Example]:
    """`n` examples drawn by `sample` from a generator seeded with `seed`."""
    return sample(day_numbers, n, torch.Generator().manual_seed(int(seed)), formats, phrases)


def held_out(n: int = 2000, seed: int = 0, phrases: bool = True, sample_seed: int = 1_000_003) -> list[Example]:
    """A held-out set for data seed `seed`: dates never seen in training (`sample_seed` draws which)."""
    return examples(split_dates(seed)[1], n, seed=seed + sample_seed, phrases=phrases)


def _all_chars() -> str:
    year = [FIRST_DATE + dt.timedelta(days=k) for k in range(366)]
    chars = {ch for d in year for f in FORMATS for ch in render(d, f)} | set("0123456789")
    return "".join(chars | set("".join(PREFIXES + SUFFIXES)))


# Id 0 is padding, id 1 stands for any unknown character, the characters follow in sorted order.
SOURCE_VOCAB = Vocab([UNKNOWN, *sorted(set(_all_chars()) - {UNKNOWN})], padding=True)
TARGET_CHARS = "0123456789-"          # the decoder's output classes
BOS = len(TARGET_CHARS)               # the decoder's first input: "start"


def encode_batch(texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids [B, L] padded with 0, lengths [B]) for the encoder."""
    ids = [SOURCE_VOCAB.encode(t) for t in texts]
    if any(len(i) == 0 for i in ids):
        raise ValueError("an input text is empty")
    lengths = torch.tensor([len(i) for i in ids])
    out = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for r, i in enumerate(ids):
        out[r, :len(i)] = torch.tensor(i)
    return out, lengths


def encode_targets(targets: Sequence[str]) -> torch.Tensor:
    """[B, 10] class ids of the ISO strings."""
    return torch.tensor([[TARGET_CHARS.index(ch) for ch in t] for t in targets])


def with_filler(data: Sequence[Example], n: int, where: str = "after", seed: int = 0) -> list[Example]:
    """`data` with `n` characters of filler words after (or before) each text; the same words for
    the same `seed`, whichever side they go."""
    gen = torch.Generator().manual_seed(int(seed))
    return [Example(e.text + filler(n, gen, where) if where == "after" else filler(n, gen, where) + e.text,
                    e.target, e.fmt) for e in data]


# Characters after the date in training inputs: at most the longest suffix.
TRAINED_GAP = max(len(x) for x in SUFFIXES)
GAPS = (0, 16, 32, 48, 64, 80, 96)


def showcase(data_seed: int = 0) -> list[Example]:
    """Examples to pick on the page: one held-out date in every format, with words around it, and
    with filler after it."""
    held = split_dates(data_seed)[1]
    date = FIRST_DATE + dt.timedelta(days=int(held[len(held) // 3]))
    out = [Example(render(date, f), iso(date), f) for f in FORMAT_NAMES]
    phrase = "meeting on " + render(date, "Mon d, yyyy") + ", please confirm"
    long = render(date, "d Mon yyyy") + " and then we will meet our friends for a long lunch and a chat about plans"
    return out + [Example(phrase, iso(date), "Mon d, yyyy"), Example(long, iso(date), "d Mon yyyy")]

# The example a user types on the page: at most this many characters (also in a link).
MAX_EXAMPLE_CHARS = int(KNOBS["tr_text"].max)


def check_example(text: str) -> tuple[list[str], list[str]]:
    """Problems of a typed example: (errors: the model cannot be shown it, warnings: it can)."""
    if not text.strip():
        return [_("Type a date, for example “22 Nov 2026” or “Sunday, November 22, 2026”.")], []
    if len(text) > MAX_EXAMPLE_CHARS:
        return [_("The example is {n} characters long; this page reads at most {most}. Shorten it.").format(
            n=len(text), most=MAX_EXAMPLE_CHARS)], []
    unknown = SOURCE_VOCAB.missing(text)
    if unknown:
        shown = ", ".join(f"“{ch}”" if ch.strip() else repr(ch) for ch in unknown)
        return [], [ngettext("The model has never seen {shown}: it is read as the one “unknown” symbol (shown as ? "
                             "below).",
                             "The model has never seen {shown}: each is read as the one “unknown” symbol (shown as ? "
                             "below).", len(unknown)).format(shown=shown)]
    return [], []
