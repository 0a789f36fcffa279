"""The reader's answer on the pipe: plain data, never a pickle (see rnnviz.files.sandbox).

    encode(value, limits) -> [bytes, ...]   in the worker: the structure as JSON, tensors as raw bytes
    failure(kind, text)   -> [bytes]        in the worker: what went wrong, as JSON
    decode(message, limits) -> value         in the app: every shape and byte count checked before a
                                             tensor is built; a malformed answer is `Unsafe`

A value the worker describes in words (a set, bytes, very long text) crosses as its English and the numbers
of the app's own templates that make it (`quote.DESCRIPTIONS`), whole numbers and the file's text; the app
rebuilds the Message only when it gives exactly that English, so that a page says it in its language.

Like the rest of the reading server, this module imports torch and rnnviz.files only.
"""
from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import torch

from ..i18n import N_, Message, Untrusted
from .limits import MAX_DIMS, READABLE_DTYPES, Damaged, Limits, NotWeightsOnly, Refused, Unsafe, torch_tables
from .quote import DESCRIPTIONS, Opaque, clip, describe, dtype_name, size_text

# The worker's own refusals, which cross the pipe as a template's number and its whole-number fields (the
# app formats only its own templates), so that the page says them in its language.
REFUSALS = (N_("The file holds more, or more deeply nested, data than this app reads."),
            N_("A tensor of the file has {n:,} numbers; the largest this app reads has {most:,}."))


def failure(kind: str, text: str) -> list[bytes]:
    answer = {"kind": kind, "text": text[:2000]}
    if isinstance(text, Message) and text.template in REFUSALS:
        answer["message"] = [REFUSALS.index(text.template), text.fields]
    return [b"E" + json.dumps(answer).encode()]


def _refusal(failure: dict, text: str) -> str:
    """The worker's refusal as a Message, when it names one of REFUSALS with whole-number fields."""
    try:
        index, fields = failure["message"]
        template = REFUSALS[index]
        if isinstance(index, int) and index >= 0 and all(type(v) is int for v in fields.values()):
            message = Message(template, **fields)
            if message == text:
                return message
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        pass
    return text


def _words(text: str) -> dict:
    """{"o": the English words of a value described in the worker} and, when they are a Message of
    quote.DESCRIPTIONS, {"m": its template's number and fields}: fields are whole numbers, texts (the
    file's own, shown as they are) and such Messages, or lists of them (a Message.join)."""
    def part(x):
        if isinstance(x, Message):
            if x.template in DESCRIPTIONS:
                return {"m": [DESCRIPTIONS.index(x.template), {k: part(v) for k, v in x.fields.items()}]}
            if x.template == Message.join(x.fields.values()).template:
                return {"j": [part(v) for v in x.fields.values()]}
            return str(x)
        return x if type(x) is int else str(x)

    node = part(text)
    return {"o": str(text), "m": node} if isinstance(node, dict) else {"o": str(text)}


def _described(node: dict):
    """The worker's words for a value: a Message of the app's own templates (`_words`) when its parts give
    exactly the English it carries, else that English as plain text. Nothing the worker sends is a template."""
    text = clip(str(node["o"]), 200)
    try:
        message = _description(node["m"], 0)
        if message == node["o"] and len(message) <= 200:
            return Opaque(message)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        pass
    return Opaque(text)


def _description(x, depth: int):
    if depth > 6:
        raise ValueError("depth")
    if type(x) is int:
        return x
    if type(x) is str:
        return Untrusted(x)
    (tag, v), = x.items()
    if tag == "m":
        index, fields = v
        if type(index) is not int or index < 0:
            raise IndexError(index)
        return Message(DESCRIPTIONS[index], **{str(k): _description(f, depth + 1) for k, f in fields.items()})
    if tag == "j" and len(v) <= 8:
        return Message.join(_description(item, depth + 1) for item in v)
    raise ValueError(tag)


def encode(value: Any, limits: Limits) -> list[bytes]:
    """b"V", the header's length (8 bytes), the header (JSON: the structure, tensors as {"x": i},
    and each tensor's dtype and shape), then every tensor's bytes in order. Dicts are {"d": [[k, v],
    ...]}, lists {"l": [...]}, tuples {"t": [...]}, anything else not plain {"o": "words", "m": ...}
    (`_words`)."""
    blobs: list[bytes] = []
    tensors: list = []
    seen: dict[int, int] = {}
    budget = [limits.max_items]

    def encode(x, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > limits.max_depth + 1:
            raise Refused(Message(REFUSALS[0]))
        if x is None or isinstance(x, (bool, float)):
            return x
        if isinstance(x, int):
            return x if x.bit_length() <= 256 else _words(describe(x))
        if isinstance(x, str):
            return x if len(x) <= limits.max_text_chars else _words(describe(x))
        if isinstance(x, torch.Tensor):
            return tensor(x)
        if isinstance(x, Mapping):
            return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in x.items()]}
        if type(x) is list:
            return {"l": [encode(v, depth + 1) for v in x]}
        if isinstance(x, tuple):
            return {"t": [encode(v, depth + 1) for v in x]}
        return _words(describe(x))

    def tensor(t):
        if id(t) in seen:
            return {"x": seen[id(t)]}
        if (type(t) not in (torch.Tensor, torch.nn.Parameter) or t.layout != torch.strided or t.is_quantized
                or t.device.type != "cpu" or t.dtype not in READABLE_DTYPES):
            return _words(describe(t))
        if t.numel() > limits.tensor_elements:
            raise Refused(Message(REFUSALS[1], n=t.numel(), most=limits.tensor_elements))
        flat = t.detach().contiguous().reshape(-1)
        blobs.append(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        tensors.append([dtype_name(t.dtype), list(t.shape)])
        seen[id(t)] = len(tensors) - 1
        return {"x": seen[id(t)]}

    header = json.dumps({"root": encode(value, 0), "tensors": tensors}).encode()
    return [b"V" + struct.pack("<Q", len(header)) + header, *blobs]


def decode(message: bytes, limits: Limits) -> Any:
    """The worker's answer as plain data, every size checked before a tensor is built."""
    if message[:1] == b"E":
        try:
            failure = json.loads(message[1:])
            kind, text = str(failure["kind"]), str(failure["text"])[:2000]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise Unsafe(_MALFORMED) from None
        if kind == "memory":
            raise Unsafe(Message("it needs more memory than the {size} a file may use",
                                 size=size_text(limits.worker_memory)))
        if kind == "recursion":
            raise Unsafe(Message("its structures are nested too deeply to read"))
        if kind == "unpickling":
            raise NotWeightsOnly(text)
        if kind == "refused":
            raise Refused(_refusal(failure, text))
        raise Damaged(text)
    if message[:1] != b"V" or len(message) < 9:
        raise Unsafe(_MALFORMED)
    length = struct.unpack_from("<Q", message, 1)[0]
    view = memoryview(message)
    try:
        head = json.loads(message[9:9 + length])
        specs = head["tensors"]
        root = head["root"]
        at = 9 + length
        tensors = []
        _, _, dtypes = torch_tables()
        for name, shape in specs:
            dtype = dtypes[f"torch.{name}"]
            if not all(isinstance(n, int) and n >= 0 for n in shape) or len(shape) > MAX_DIMS:
                raise ValueError("shape")
            count = math.prod(shape)
            if count > limits.tensor_elements:
                raise ValueError("size")
            nbytes = count * dtype.itemsize
            if at + nbytes > len(message):
                raise ValueError("length")
            if count:
                tensors.append(torch.frombuffer(bytearray(view[at:at + nbytes]), dtype=dtype).reshape(shape))
            else:
                tensors.append(torch.zeros(shape, dtype=dtype))
            at += nbytes
        if at != len(message):
            raise ValueError("length")
        return _build(root, tensors, 0, limits)
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        raise Unsafe(_MALFORMED) from None


_MALFORMED = Message("the reader's answer was malformed")


def _build(x, tensors: list, depth: int, limits: Limits):
    if depth > limits.max_depth + 2:
        raise ValueError("depth")
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, dict) and set(x) in ({"o"}, {"o", "m"}):
        return _described(x)
    if isinstance(x, dict) and len(x) == 1:
        (tag, v), = x.items()
        if tag == "d":
            return {_build(k, tensors, depth + 1, limits): _build(item, tensors, depth + 1, limits) for k, item in v}
        if tag == "l":
            return [_build(item, tensors, depth + 1, limits) for item in v]
        if tag == "t":
            return tuple(_build(item, tensors, depth + 1, limits) for item in v)
        if tag == "x":
            return tensors[v]
    raise ValueError("node")
