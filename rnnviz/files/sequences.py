"""Sequences from files: a CSV of numbers or a text, read as untrusted input.

    x = load_sequence_csv(csv_bytes)           # [T, I] float32: rows are time steps
    text = read_text(text_bytes)               # UTF-8 or UTF-16 text (the one text decoder)
    x, vocab, notes = text_to_inputs(text, input_size=model.input_size)
    check_compatible(model, x)                 # x as the model reads it, or UploadError saying why not

Every problem raises `UploadError` (a ValueError) whose message names it in plain words (a
`rnnviz.i18n.Message`: a page shows it in its language).
"""
from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..i18n import N_, Message, Untrusted
from ..inputs import Vocab
from ..model import RecurrentModel
from .intake import (
    CSV_FILE,
    MAX_COLS,
    MAX_CSV_BYTES,
    MAX_ROWS,
    MAX_TEXT_BYTES,
    MAX_TEXT_CHARS,
    TEXT_FILE,
    UploadError,
    checked_bytes,
)
from .quote import clip, quote


@dataclass
class CsvSequence:
    values: np.ndarray       # [T, I] float32
    columns: list            # I column names (from the header, or "x_0", "x_1", ...)
    has_header: bool


def load_sequence_csv(data: bytes, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_ROWS,
                      max_cols: int = MAX_COLS, header: bool | None = None) -> np.ndarray:
    """A [T, I] float32 sequence from CSV bytes: one row per time step, one column per feature."""
    return read_sequence_csv(data, max_bytes=max_bytes, max_rows=max_rows, max_cols=max_cols, header=header).values


def read_sequence_csv(data: bytes, *, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_ROWS,
                      max_cols: int = MAX_COLS, header: bool | None = None) -> CsvSequence:
    """Parse a CSV of numbers. Returns the values and the column names.

    Separators: comma, semicolon or tab (whichever the first line uses; with semicolons a
    decimal comma is read too: "1,5;2" is 1.5 and 2). Lines starting with "#" and blank lines
    are skipped. `header` None: the first row is a header when one of its cells is not a
    number. Positions in messages are the file's line numbers and 1-based column numbers.
    """
    text = decode_text(checked_bytes(data, max_bytes, CSV_FILE), CSV_FILE)
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise UploadError(Message("The CSV file has no data (only blank or comment lines)."))
    sep = next((s for s in (";", "\t", ",") if s in lines[0][1]), None)
    decimal_comma = sep == ";"

    def split(line: str, most: int) -> list[str]:
        """The cells of a line, at most `most` + 1 of them (a longer line is never split whole)."""
        cells = line.split(sep, most) if sep else line.split(None, most)  # no separator: one column, or spaces
        return [c.strip().strip('"').strip() for c in cells]

    def count(line: str, most: int) -> str:
        return str(line.count(sep) + 1) if sep else Message("more than {most}", most=most)

    def number(cell: str) -> float | None:
        return _number(cell.replace(",", ".") if decimal_comma else cell)

    first = split(lines[0][1], max_cols)
    if len(first) > max_cols:
        raise UploadError(Message("The CSV has {n} columns; the largest this app reads is {most} (one column per "
                                  "input feature).", n=count(lines[0][1], max_cols), most=max_cols))
    if header is None:
        header = any(number(c) is None for c in first)
    columns = ([clip(c, 100) or f"x_{j}" for j, c in enumerate(first)] if header
               else [f"x_{j}" for j in range(len(first))])
    body = lines[1:] if header else lines
    if not body:
        raise UploadError(Message("The CSV has a header row but no data rows."))
    if len(body) > max_rows:
        raise UploadError(Message("The CSV has {n} rows; the largest this app reads is {most} (one row per time "
                                  "step).", n=len(body), most=max_rows))
    width = len(first)
    values = np.empty((len(body), width), dtype=np.float64)

    def where(r: int, j: int) -> str:
        return (Message("line {line}, column {column} ({name})", line=body[r][0], column=j + 1,
                        name=clip(first[j], 30)) if header else
                Message("line {line}, column {column}", line=body[r][0], column=j + 1))

    for r, (lineno, line) in enumerate(body):
        cells = split(line, width)
        if len(cells) != width:
            n = count(line, width) if len(cells) > width else str(len(cells))
            raise UploadError(Message(_RAGGED[header, n == "1"], line=lineno, n=n, width=width))
        row = [number(c) for c in cells]
        if None in row:
            j = row.index(None)
            if cells[j] == "":
                raise UploadError(Message("Empty cell at {where}: every time step needs a value for every feature.",
                                          where=where(r, j)))
            raise UploadError(Message("Not a number at {where}: {value}.", where=where(r, j),
                                      value=quote(cells[j], 20)))
        values[r] = row
    with np.errstate(over="ignore"):   # too large: what rounds to infinity in float32 (3.4028235e+38 does not)
        bad = ~np.isfinite(values.astype(np.float32))
    if bad.any():
        r, j = (int(i) for i in np.argwhere(bad)[0])
        if np.isnan(values[r, j]):
            raise UploadError(Message("NaN at {where}: fill in or drop missing values before uploading.",
                                      where=where(r, j)))
        raise UploadError(Message("Infinite or too large value at {where}: {value} (float32 holds up to 3.4e38).",
                                  where=where(r, j), value=quote(split(body[r][1], width)[j], 20)))
    return CsvSequence(values=values.astype(np.float32), columns=columns, has_header=bool(header))


# "Ragged rows" by (the CSV has a header, the short row has 1 value)
_RAGGED = {(True, False): N_("Ragged rows: line {line} has {n} values but the header has {width}."),
           (True, True): N_("Ragged rows: line {line} has {n} value but the header has {width}."),
           (False, False): N_("Ragged rows: line {line} has {n} values but the first row has {width}."),
           (False, True): N_("Ragged rows: line {line} has {n} value but the first row has {width}.")}


def _number(cell: str) -> float | None:
    if not cell or "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


# =============================================================================== text
def decode_text(data: bytes, what: str) -> str:
    """The text of an uploaded file, the one decoder of the app: UTF-8 (with or without a byte-order
    mark) or UTF-16 with a byte-order mark, line ends made "\\n". The bytes are only decoded, never
    interpreted; a binary file or an undecodable byte is an UploadError naming it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, name = "utf-16", "UTF-16"
    else:
        encoding, name = "utf-8-sig", "UTF-8"
        if b"\x00" in data:
            raise UploadError(Message("The {what} looks binary (it contains NUL bytes), not text. Upload a "
                                      "plain-text file saved as UTF-8.", what=Message(what)))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UploadError(Message("The {what} is not {encoding} text: byte 0x{byte:02x} at position {at} cannot be "
                                  "decoded. Save it as UTF-8.", what=Message(what), encoding=name,
                                  byte=data[exc.start], at=exc.start)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(data: bytes, max_bytes: int = MAX_TEXT_BYTES, max_chars: int = MAX_TEXT_CHARS) -> str:
    """The text of an uploaded text file (see `decode_text`), with visible characters and at most
    `max_chars` of them."""
    text = decode_text(checked_bytes(data, max_bytes, TEXT_FILE), TEXT_FILE)
    if not text.strip():
        raise UploadError(Message("The text file has no visible characters (it is blank)."))
    if len(text) > max_chars:
        raise UploadError(Message("The text has {n} characters; the largest this app reads is {most} (one time step "
                                  "per character).", n=len(text), most=max_chars))
    return text


def text_to_inputs(text: str, input_size: int | None = None,
                   vocab: Sequence[str] | str | None = None) -> tuple[np.ndarray, list, list]:
    """One-hot rows [len(text), V] for `text`, with the vocabulary used and notes.

    With `vocab` (the characters the model was trained on, in its order; e.g. from a
    checkpoint's meta["vocab"]) character k of the vocabulary is input k; characters outside it
    become all-zero rows (listed in the notes). Without it the vocabulary is the text's sorted
    distinct characters, padded with unused inputs up to `input_size`.
    """
    if not text:
        raise UploadError(Message("The text is empty."))
    if vocab is not None:
        vocab = list(vocab)
        if len(set(vocab)) != len(vocab) or any(not isinstance(c, str) or len(c) != 1 for c in vocab):
            raise UploadError(Message("The vocabulary must be distinct single characters."))
        if input_size is not None and len(vocab) != input_size:
            raise UploadError(Message("The vocabulary has {n} characters but the model reads {inputs} inputs per "
                                      "step: one input per character is needed.", n=len(vocab), inputs=input_size))
    else:
        vocab = sorted(set(text))
        if input_size is not None and len(vocab) > input_size:
            raise UploadError(Message("The text has {n} distinct characters but the model reads only {inputs} inputs "
                                      "per step (one per character). Give the model's vocabulary, or use fewer "
                                      "distinct characters.", n=len(vocab), inputs=input_size))
    chars = Vocab(vocab)
    width = len(vocab) if input_size is None else max(input_size, len(vocab))
    x = chars.one_hot(chars.encode(text, missing=-1), width)
    unknown = Counter(ch for ch in text if ch not in chars)
    notes = []
    if unknown:
        shown = Untrusted(", ".join(repr(c) for c in sorted(unknown)[:10]))
        notes.append(Message("{n} character(s) are not in the model's vocabulary ({chars}); they are read as "
                             "all-zero inputs.", n=sum(unknown.values()), chars=shown))
    return x, vocab, notes


# =============================================================================== both together
def check_compatible(model: RecurrentModel, x) -> np.ndarray:
    """`x` as a [T, input_size] float32 array, or UploadError saying why the model cannot read it."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 1 and model.input_size == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise UploadError(Message("The input must be a table of time steps x features; got an array of shape "
                                  "{shape}.", shape=list(arr.shape)))
    features = arr.shape[1]
    if features != model.input_size:
        raise UploadError(Message(_FEATURES[features == 1, model.input_size == 1], n=features,
                                  inputs=model.input_size))
    if arr.shape[0] == 0:
        raise UploadError(Message("The input has no time steps."))
    if not np.all(np.isfinite(arr)):
        raise UploadError(Message("The input contains NaN or infinite values."))
    return np.ascontiguousarray(arr)


# A sequence of the wrong width, by (it has 1 column, the model reads 1 input)
_FEATURES = {
    (False, False): N_("The input has {n} features per time step (columns) but the model reads {inputs} (the column "
                       "count of its weight_ih). Upload a sequence with {inputs} columns."),
    (True, False): N_("The input has {n} feature per time step (columns) but the model reads {inputs} (the column "
                      "count of its weight_ih). Upload a sequence with {inputs} columns."),
    (False, True): N_("The input has {n} features per time step (columns) but the model reads {inputs} (the column "
                      "count of its weight_ih). Upload a sequence with {inputs} column."),
}
