"""Untrusted values in a few words of plain text: what a file, a link or a form holds, quoted short.

    clip(key, 40)          # at most 40 characters on one line, and the length of a longer text
    quote(cell, 20)        # the same in quotes: 'abc'
    describe(value)        # what any value is ("a list of 1 item ('lstm')"), never its repr
    size_text(n)           # 900 bytes, 1.2 KB, 3.0 MB
    sizes(n, limit)        # a size and its limit in words that never read as equal when they differ

The text these return is plain: a page shows it through its inert-text path (`rnnviz.ui.inert`,
`rnnviz.ui.plain`), which keeps markup in it from being read as markup. Their words are `Message`s
(the English as a str, translated where a page shows them); the untrusted text in them stays as it is,
marked `rnnviz.i18n.Untrusted` (a str), so that what came from outside can be told from the app's own words.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..i18n import N_, Message, Untrusted

MiB = 1 << 20


@dataclass(frozen=True)
class Opaque:
    """A value of the file that is not passed on as it is (a set, bytes, a dtype, very long text):
    what it was, in words (a Message from `describe`, said in the reader's language, or plain text)."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<{self.text}>"



_UNPRINTABLE = dict.fromkeys([*range(32), 127, *range(0x80, 0xA0), 0x2028, 0x2029, 0x200E, 0x200F,
                              *range(0x202A, 0x202F), *range(0x2066, 0x206A)], "·")


# The words `describe` and `clip` use: the only templates a value described in the reader's process may
# name when its description crosses the pipe (`rnnviz.files.wire`), so that the page says it in its language.
CLIPPED, QUOTED = N_("{shown}… ({n:,} characters)"), N_("'{shown}…' ({n:,} characters)")
BIG_INT, BYTES, TENSOR, OBJECT = (N_("an integer of about {n:,} digits"), N_("{n:,} bytes"),
                                  N_("a {dtype} tensor of shape {shape}"), N_("a {name} object"))
# (plural, singular) of a dictionary, without and with its first keys
_DICTS = ((N_("a dictionary of {n:,} entries"), N_("a dictionary of {n:,} entry")),
          (N_("a dictionary of {n:,} entries (keys {keys})"), N_("a dictionary of {n:,} entry (keys {keys})")))


def clip(text: str, width: int = 60) -> str:
    """At most `width` characters of untrusted text on one line: line breaks, control and
    direction characters become "·"; a longer text ends with "…" and says its length."""
    shown = Untrusted(text[:width].translate(_UNPRINTABLE))
    return shown if len(text) <= width else Message(CLIPPED, shown=shown, n=len(text))


def quote(text: str, width: int = 60) -> str:
    """`clip` in quotes: 'weight_ih_l0'."""
    shown = Untrusted(text[:width].translate(_UNPRINTABLE))
    return Untrusted(f"'{shown}'") if len(text) <= width else Message(QUOTED, shown=shown, n=len(text))


def describe(value: Any, width: int = 60) -> str:
    """What an untrusted value is, in a few words of plain text: its type, length and a short
    preview ("a list of 1 item ('lstm')"). Never the value's repr: a few hundred characters at
    most, whatever the value's size or depth. Pages show it through their inert-text path."""
    return _describe(value, width, preview=True)


def _describe(v: Any, width: int, preview: bool) -> str:
    if v is None or isinstance(v, (bool, float)):
        return repr(v)
    if isinstance(v, int):
        return str(v) if v.bit_length() <= 64 else Message(BIG_INT, n=int(v.bit_length() * 0.30103) + 1)
    if isinstance(v, str):
        return quote(v, width)
    if isinstance(v, Opaque):
        return v.text if isinstance(v.text, Message) else clip(v.text, 200)
    if isinstance(v, (bytes, bytearray)):
        return Message(BYTES, n=len(v))
    if isinstance(v, torch.Tensor):
        return Message(TENSOR, dtype=dtype_name(v.dtype), shape=shape_text(v.shape))
    if isinstance(v, (torch.dtype, torch.device, torch.layout)):
        return str(v)
    if isinstance(v, Mapping):
        n = len(v)
        if not (preview and n):
            return Message(_DICTS[0][n == 1], n=n)
        keys = _listing([_describe(k, 20, False) for k in itertools.islice(v, 3)], n > 3)
        return Message(_DICTS[1][n == 1], n=n, keys=keys)
    if isinstance(v, (list, tuple, set, frozenset)):
        n = len(v)
        text = _COLLECTIONS[list if isinstance(v, list) else tuple if isinstance(v, tuple) else set][n == 1]
        if not (preview and n) or isinstance(v, (set, frozenset)):
            return Message(text, n=n)
        items = _listing([_describe(x, 20, False) for x in v[:3]], n > 3)
        return Message(_PREVIEW, collection=Message(text, n=n), items=items)
    return Message(OBJECT, name=clip(type(v).__name__, 40))


# (plural, singular) of each kind of collection in `describe`, and a collection with its first items
_COLLECTIONS = {list: (N_("a list of {n:,} items"), N_("a list of {n:,} item")),
                tuple: (N_("a tuple of {n:,} items"), N_("a tuple of {n:,} item")),
                set: (N_("a set of {n:,} items"), N_("a set of {n:,} item"))}
_PREVIEW = N_("{collection} ({items})")
DESCRIPTIONS = (CLIPPED, QUOTED, BIG_INT, BYTES, TENSOR, OBJECT, _PREVIEW, *(t for pair in _DICTS for t in pair),
                *(t for pair in _COLLECTIONS.values() for t in pair))


def _listing(items: list, more: bool) -> Message:
    return Message.join([*items, "…"] if more else items)


def listing(items, most: int = 6, width: int = 40) -> str:
    """Up to `most` untrusted names (keys of a file), each clipped to `width`, then "…" if there are more."""
    items = list(itertools.islice(items, most + 1))
    shown = Message.join(clip(k, width) if isinstance(k, str) else _describe(k, width, False) for k in items[:most])
    return Message("{items} …", items=shown) if len(items) > most else shown


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def shape_text(shape) -> str:
    dims = list(shape)
    shown = ", ".join(str(s) for s in dims[:8])
    return f"[{shown}]" if len(dims) <= 8 else f"[{shown}, …] ({len(dims)} dimensions)"


def size_text(n: int) -> str:
    """A number of bytes in words: 900 bytes, 1.2 KB, 3.0 MB, 1.5 GB."""
    if n < 1024:
        return Message("{n} bytes", n=n)
    if n < MiB:
        return f"{n / 1024:.1f} KB"
    if n < 1024 * MiB:
        return f"{n / MiB:.1f} MB"
    return f"{n / (1024 * MiB):,.1f} GB"


def sizes(n: int, limit: int, fmt=size_text) -> tuple[str, str]:
    """A size and its limit in words that never read as equal when they differ ("1.0 MB ... the
    largest is 1.0 MB"): exact byte counts where the short forms would coincide."""
    a, b = fmt(n), fmt(limit)
    return (a, b) if a != b or n == limit else (Message("{n:,} bytes", n=n),
                                                Message("{n:,} bytes ({size})", n=limit, size=b))


def dtype_problem(dtype: torch.dtype) -> str | None:
    """Why tensors of `dtype` cannot be weights, to follow "<name> holds ..." (`holds`), or None for
    real floating point. (float16, bfloat16 and the float8 types are read as float32, which holds each
    of their values exactly: see `widened`.)"""
    if dtype.is_floating_point:
        return None
    name = dtype_name(dtype)
    if dtype == torch.bool:
        return Message("{dtype} values (true / false, a mask); weights must be floating point (float32 or "
                       "float64).", dtype=name)
    if dtype.is_complex:
        return Message("{dtype} values (complex numbers); weights must be floating point (float32 or float64): "
                       "an RNN's weights are real.", dtype=name)
    return Message("{dtype} values; weights must be floating point (float32 or float64): integers are counts or "
                   "indices, not weights.", dtype=name)


def holds(name: str, problem: str) -> Message:
    """"<name> holds <dtype_problem>": a tensor that cannot be weights."""
    return Message("{name} holds {problem}", name=name, problem=problem)


def widened(name: str, dtype: torch.dtype) -> str | None:
    """A note when tensor `name` of a floating-point dtype narrower than float32 is read as float32."""
    if not dtype.is_floating_point or dtype in (torch.float32, torch.float64):
        return None
    return Message("{name} is stored as {dtype}; it is read as float32, which holds every {dtype} number exactly.",
                   name=name, dtype=dtype_name(dtype))
