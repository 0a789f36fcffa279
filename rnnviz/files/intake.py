"""What the app accepts from an upload: the limits of every file, the tags of its own formats, and
`UploadError`, the one exception whose message is meant for the person who uploaded the file.

    data = checked_bytes(file_bytes, MAX_CSV_BYTES, CSV_FILE)   # bytes, or UploadError in plain words

Models are read by `rnnviz.files.uploads` (the .pt reading itself in `rnnviz.files.torchfile`),
sequences by `rnnviz.files.sequences`.
"""
from __future__ import annotations

from ..i18n import N_, Message
from ..spec import KNOBS
from .quote import MiB, sizes

# What the app reads: the pages' uploaders take files of these sizes (Streamlit counts MB as MiB).
MAX_MODEL_BYTES = 20 * MiB                     # a model file (.pt), on every page
MAX_CSV_BYTES = 16 * MiB                       # a sequence as CSV
MAX_TEXT_BYTES = 1 * MiB                       # a text to learn from
MAX_HIDDEN = int(KNOBS["hidden_size"].max)     # 1024 (the pages show up to KNOBS["hidden_size"].page_range)
MAX_INPUT = int(KNOBS["input_size"].max)       # 1024
MAX_ROWS = int(KNOBS["seq_len"].max)           # 10000 time steps
MAX_COLS = MAX_INPUT
MAX_TEXT_CHARS = MAX_ROWS

# The app's own file formats: a "format" entry in the saved dict says which one a file is.
CHECKPOINT_FORMAT = "rnnviz.checkpoint"        # a model with its spec (rnnviz.files.export.model_to_bytes)
CHECKPOINT_VERSION = 1
CHARLM_FORMAT = "rnnviz.charlm"                # a Text Lab character model (rnnviz.labs.charlm.CharLM.to_bytes)
CHARLM_VERSION = 1
MODEL_FILE, CSV_FILE, TEXT_FILE = N_("model file"), N_("CSV file"), N_("text file")   # what checked_bytes reads


class UploadError(ValueError):
    """An upload that cannot be used, with a message meant for the person who uploaded it."""


def checked_bytes(data: bytes, max_bytes: int, what: str) -> bytes:
    """`data` as bytes, or UploadError when it is not bytes, is empty or is larger than `max_bytes`.
    `what`: MODEL_FILE, CSV_FILE or TEXT_FILE."""
    what = Message(what)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UploadError(Message("Expected the {what}'s bytes; got {kind}.", what=what, kind=type(data).__name__))
    data = bytes(data)
    if len(data) == 0:
        raise UploadError(Message("The {what} is empty (0 bytes).", what=what))
    if len(data) > max_bytes:
        shown, most = sizes(len(data), max_bytes)
        raise UploadError(Message("The {what} is {size}; the largest this app reads is {most}.", what=what,
                                  size=shown, most=most))
    return data
