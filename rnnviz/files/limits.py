"""What reading an untrusted PyTorch file may cost (`Limits`), and the ways it can be refused.

    Refused          a file this app does not read; the message is meant for the uploader
    Unsafe           its worker crashed, hung or went beyond its limits ("could not be read safely")
    NotWeightsOnly   what torch.load(weights_only=True) refuses ("GLOBAL posix.system")
    Damaged          truncated or malformed

Nothing here imports the rest of rnnviz but `rnnviz.i18n` (which imports nothing of it): the reading
worker (`rnnviz.files.sandbox`) starts from these modules alone.
"""
from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass

import torch

from ..i18n import Message
from .quote import MiB, dtype_name

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C   # the first pickle of a file saved by torch before 1.6
LEGACY_PROTOCOL = 1001
MAX_DEFLATE_RATIO = 1100                 # deflate cannot expand data more than ~1032 times
MAX_DIMS = 32                            # dimensions of one tensor
READABLE_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                   torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128)
READERS = 2                              # files read at the same time by one app process
PIPE_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost. The limits left None follow `max_bytes`."""

    max_bytes: int = 64 * MiB                # the file itself
    max_unpacked: int | None = None          # what the zip archive says it holds (default 2 x max_bytes)
    max_entries: int = 10_000                # entries of the zip archive
    max_opcodes: int = 200_000               # pickle instructions (a state_dict needs ~30 per tensor)
    max_depth: int = 32                      # containers inside containers
    max_items: int = 1_000_000               # items of the whole structure written out as a tree
    max_key_chars: int = 1_000               # one dictionary key
    max_text_chars: int = 100_000            # longer text comes back described, not as text
    max_tensor_elements: int | None = None   # numbers in one tensor (default max_unpacked // 2)
    max_total_elements: int | None = None    # numbers in all tensors together (default max_unpacked // 2)
    seconds: float = 20.0                    # wall clock of the worker
    cpu_seconds: int = 10                    # processor time of the worker
    memory: int | None = None                # what the worker may add to its memory (default 256 MiB + 4 x unpacked)

    @property
    def unpacked(self) -> int:
        return self.max_unpacked if self.max_unpacked is not None else 2 * self.max_bytes

    @property
    def tensor_elements(self) -> int:
        return self.max_tensor_elements if self.max_tensor_elements is not None else self.unpacked // 2

    @property
    def total_elements(self) -> int:
        return self.max_total_elements if self.max_total_elements is not None else self.unpacked // 2

    @property
    def worker_memory(self) -> int:
        return self.memory if self.memory is not None else 256 * MiB + 4 * self.unpacked


DEFAULT = Limits()


class Refused(ValueError):
    """A file this app does not read, with a message for the person who uploaded it."""


class Unsafe(Refused):
    """The worker reading the file crashed, hung or went beyond its limits."""

    def __init__(self, reason: str):
        super().__init__(Message("This file could not be read safely: {reason}.", reason=reason))
        self.reason = reason


class NotWeightsOnly(pickle.UnpicklingError):
    """What torch.load(weights_only=True) refuses; names a refused global as "GLOBAL module.name"."""


class Damaged(ValueError):
    """A truncated or malformed file."""


@dataclass
class ScanReport:
    """What the scan found: the file's format and how much it holds."""

    format: str = ""       # "zip" (torch >= 1.6) or "legacy"
    opcodes: int = 0       # pickle instructions
    tensors: int = 0
    elements: int = 0      # numbers in all tensors


@functools.lru_cache(maxsize=1)
def torch_tables() -> tuple[frozenset, dict, dict]:
    """(globals torch's weights-only unpickler allows, storage class -> dtype, dtype name -> dtype)."""
    from torch import _weights_only_unpickler as weights_only

    allowed = frozenset(weights_only._get_allowed_globals())
    storages = {"torch.storage.UntypedStorage": torch.uint8}
    for name in allowed:
        if name.endswith("Storage") and not name.startswith("torch.storage."):
            try:
                storages[name] = torch.serialization._get_dtype_from_pickle_storage_type(name.rpartition(".")[2])
            except (KeyError, AttributeError):
                pass
    dtypes = {f"torch.{dtype_name(d)}": d for d in READABLE_DTYPES}
    return allowed, storages, dtypes
