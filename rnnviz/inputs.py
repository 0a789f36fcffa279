"""Named input sequences, seeded: every array is float32 of shape [T, input_size].

    impulse  x[0] = 1 on every input channel, 0 afterwards: what the network remembers of one kick
    noise    Gaussian noise N(0, 1)
    sine     a sine wave per channel, phases spread across channels
    binary   two random numbers fed least-significant bit first (2 channels), for binary addition
    text     one-hot characters of a string over a vocabulary
"""
from __future__ import annotations

import numpy as np
import torch

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


def vocabulary(text: str) -> list[str]:
    """Sorted distinct characters of `text`."""
    return sorted(set(text))


def one_hot_text(text: str, vocab: list[str] | None = None) -> np.ndarray:
    """[len(text), len(vocab)] one-hot rows; characters outside `vocab` are all-zero rows."""
    vocab = vocabulary(text) if vocab is None else list(vocab)
    index = {ch: k for k, ch in enumerate(vocab)}
    x = np.zeros((len(text), len(vocab)), dtype=np.float32)
    for t, ch in enumerate(text):
        k = index.get(ch)
        if k is not None:
            x[t, k] = 1.0
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
