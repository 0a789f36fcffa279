"""Named input sequences, seeded: every array is float32 of shape [T, input_size].

    impulse  x[0] = 1 on every input channel, 0 afterwards: what the network remembers of one kick
    noise    Gaussian noise N(0, 1)
    sine     a sine wave per channel, phases spread across channels
    binary   two random numbers fed least-significant bit first (2 channels), for binary addition
    text     one-hot characters of a string over a vocabulary

Characters become inputs through the one `Vocab` (characters <-> codes) and the one `one_hot`
encoder, which the character model, the date translator and uploaded text use too.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from .i18n import Message, Untrusted
from .spec import INPUT_KINDS, KNOBS

DEFAULT_TEXT = KNOBS["text"].default


def impulse(T: int, input_size: int = 1) -> np.ndarray:
    x = np.zeros((T, input_size), dtype=np.float32)
    x[0] = 1.0
    return x


def noise(T: int, input_size: int = 1, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    gen = torch.Generator().manual_seed(int(seed))
    return (torch.randn(T, input_size, generator=gen, dtype=torch.float64) * scale).numpy().astype(np.float32)


def sine(T: int, input_size: int = 1, period: float = 20.0) -> np.ndarray:
    t = np.arange(T)[:, None]
    phase = np.arange(input_size)[None, :] * (2 * np.pi / max(input_size, 1))
    return np.sin(2 * np.pi * t / period + phase).astype(np.float32)


def binary_addition(T: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two random T-bit numbers a, b fed LSB first, and the T bits of their sum (mod 2^T).

    Returns (x [T, 2], target [T]): x[t] = (bit t of a, bit t of b); target[t] = bit t of a + b.
    The carry out of step t is what the network must remember for step t + 1.
    """
    gen = torch.Generator().manual_seed(int(seed))
    bits = torch.randint(0, 2, (T, 2), generator=gen).numpy()
    total, _ = add_bits(bits[:, 0], bits[:, 1])
    return bits.astype(np.float32), total.astype(np.float32)


def add_bits(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add two binary numbers given as bit arrays, least-significant bit first along the last axis.

    Works on any leading (batch) shape. Returns (sum bits, carry bits), both int64 and shaped like
    `a`: sum[..., t] = bit t of a + b (mod 2^T); carry[..., t] = the carry out of step t, which
    is what a network must remember to get bit t + 1 right.
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    total, carries = np.empty_like(a), np.empty_like(a)
    carry = np.zeros(a.shape[:-1], dtype=np.int64)
    for t in range(a.shape[-1]):
        s = a[..., t] + b[..., t] + carry
        total[..., t] = s & 1
        carry = s >> 1
        carries[..., t] = carry
    return total, carries


UNKNOWN = "\ufffd"                # in a vocabulary, it stands for every character outside it
MAX_VOCAB = 256                   # Vocab.from_text keeps this many distinct characters at most


def one_hot(codes, size: int):
    """[len(codes), size] float32 one-hot rows (any leading shape): a numpy array of codes gives a numpy
    array, a torch tensor a tensor. The code -1 (a character outside the vocabulary) is an all-zero row."""
    if isinstance(codes, torch.Tensor):
        return torch.nn.functional.one_hot(codes, size).to(torch.float32)
    codes = np.asarray(codes, dtype=np.int64)
    x = np.zeros((*codes.shape, size), dtype=np.float32)
    known = codes >= 0
    x[known, codes[known]] = 1.0
    return x


class Vocab:
    """The characters a model reads, in a fixed order: code k is the k-th character.

    With `padding`, code 0 stands for no character (a padded position) and the characters start at 1.
    A vocabulary that holds UNKNOWN reads every character outside it as UNKNOWN; in one that does not,
    such a character is `missing` (encode refuses it, or gives the code asked for)."""

    def __init__(self, chars, padding: bool = False):
        chars = tuple(chars)
        if not chars:
            raise ValueError(Message("a vocabulary needs at least one character"))
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:   # never a repr of any size
                shown = (Message("{start} … ({n:,} characters)", start=Untrusted(repr(ch[:20])), n=len(ch))
                         if isinstance(ch, str) and len(ch) > 20 else Untrusted(repr(ch)) if isinstance(ch, str)
                         else Message("a {kind}", kind=type(ch).__name__[:40]))
                raise ValueError(Message("every vocabulary entry must be one character; got {entry}", entry=shown))
        if len(set(chars)) != len(chars):
            dup = [ch for ch, n in Counter(chars).items() if n > 1]
            raise ValueError(Message("the vocabulary lists a character twice: {char!r}", char=Untrusted(dup[0])))
        self.chars, self.padding = chars, bool(padding)
        self.index = {ch: k + self.padding for k, ch in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str, max_size: int = MAX_VOCAB) -> Vocab:
        """The sorted distinct characters of `text`. Beyond `max_size` of them the most frequent
        max_size - 1 are kept and the others are all read as UNKNOWN (then listed last)."""
        counts = Counter(text)
        if len(counts) <= max_size:
            return cls(sorted(counts))
        kept = sorted(ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_size - 1]
                      if ch != UNKNOWN)
        return cls(kept + [UNKNOWN])

    def __len__(self) -> int:
        return len(self.chars) + self.padding

    def __contains__(self, ch) -> bool:
        return ch in self.index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and (other.chars, other.padding) == (self.chars, self.padding)

    def __hash__(self) -> int:
        return hash((self.chars, self.padding))

    def __repr__(self) -> str:
        return f"Vocab({len(self.chars)} characters)"

    @property
    def unknown(self) -> int | None:
        """The code that stands for characters outside the vocabulary, if it has one."""
        return self.index.get(UNKNOWN)

    def missing(self, text: str) -> list[str]:
        """The distinct characters of `text` that are not in the vocabulary, sorted."""
        return sorted(set(text) - set(self.index))

    def encode(self, text: str, missing: int | None = None) -> np.ndarray:
        """Codes [len(text)] int64. A character outside the vocabulary becomes `missing` when that is
        given (-1: an all-zero one-hot row), else UNKNOWN's code if the vocabulary has it; otherwise it
        is a ValueError naming it."""
        fallback = self.unknown if missing is None else missing
        try:
            return np.fromiter((self.index[ch] if fallback is None else self.index.get(ch, fallback) for ch in text),
                               dtype=np.int64, count=len(text))
        except KeyError:
            absent = self.missing(text)
            shown = ", ".join(repr(ch) for ch in absent[:8]) + (" …" if len(absent) > 8 else "")
            raise ValueError(f"{len(absent)} character{'s' * (len(absent) != 1)} of the text "
                             f"{'are' if len(absent) != 1 else 'is'} not in the model's vocabulary: {shown}") from None

    def decode(self, codes) -> str:
        """The characters of these codes (padding left out)."""
        return "".join(self.chars[int(k) - self.padding] for k in np.asarray(codes).reshape(-1)
                       if int(k) >= self.padding)

    def one_hot(self, codes, size: int | None = None) -> np.ndarray:
        """[T, len(vocab)] (or [T, size]) float32 one-hot rows of codes (a str is encoded first)."""
        if isinstance(codes, str):
            codes = self.encode(codes)
        return one_hot(codes, len(self) if size is None else size)

    def label(self, k: int) -> str:
        """A character as it can be read in a table or on an axis: '↵' for a newline, '␣' for a space."""
        return display_char(self.chars[int(k) - self.padding])


def display_char(ch: str) -> str:
    return {"\n": "↵", " ": "␣", "\t": "⇥", "\r": "␍"}.get(ch, ch if ch.isprintable() else f"U+{ord(ch):04X}")


def vocabulary(text: str) -> list[str]:
    """Sorted distinct characters of `text`."""
    return sorted(set(text))


def one_hot_text(text: str, vocab: list[str] | None = None) -> np.ndarray:
    """[len(text), len(vocab)] one-hot rows; characters outside `vocab` are all-zero rows."""
    chars = Vocab(vocabulary(text) if vocab is None else vocab)
    return chars.one_hot(chars.encode(text, missing=-1))


def neuron_input(kind: str, T: int) -> np.ndarray:
    """One Neuron's input x_1..x_T, float64 [T] (the one-unit model runs in float64): a kick at the
    first step ("impulse"), 1 at every step ("constant") or nothing ("none")."""
    x = np.zeros(T)
    if kind == "impulse":
        x[0] = 1.0
    elif kind == "constant":
        x[:] = 1.0
    elif kind != "none":
        raise ValueError(f"neuron input must be impulse, constant or none; got {kind!r}")
    return x


def input_size_for(kind: str, input_size: int, text: str = DEFAULT_TEXT) -> int:
    """The number of input channels a named sequence has."""
    if kind == "binary":
        return 2
    if kind == "text":
        return max(1, len(vocabulary(text)))
    return input_size


def make(kind: str, T: int, input_size: int = 1, seed: int = 0, text: str = DEFAULT_TEXT) -> np.ndarray:
    """The named sequence `kind` (one of impulse, noise, sine, binary, text) of length T.

    Text is repeated or cut to length T.
    """
    KNOBS["seq_len"].validate(T)
    if kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {', '.join(INPUT_KINDS)}; got {kind!r}")
    if kind == "impulse":
        return impulse(T, input_size)
    if kind == "noise":
        return noise(T, input_size, seed)
    if kind == "sine":
        return sine(T, input_size)
    if kind == "binary":
        return binary_addition(T, seed)[0]
    if not text:
        raise ValueError("text input needs at least one character")
    reps = -(-T // len(text))
    return one_hot_text((text * reps)[:T], vocabulary(text))
