"""The CSV reader, by properties: what any spreadsheet writes comes back exactly, and whatever
bytes arrive, the answer is the numbers or one short message (never another exception)."""
import codecs

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnviz.files import sequences, uploads

float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
names = st.text(st.characters(categories=("L",)), min_size=1, max_size=8)


@st.composite
def tables(draw):
    rows = draw(st.integers(1, 12))
    cols = draw(st.integers(1, 6))
    values = np.array(draw(st.lists(float32s, min_size=rows * cols, max_size=rows * cols)),
                      dtype=np.float32).reshape(rows, cols)
    header = draw(st.none() | st.lists(names, min_size=cols, max_size=cols))
    return values, header


@settings(max_examples=200, deadline=None)
@given(tables(), st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]), st.booleans(),
       st.sampled_from(["utf-8", "utf-16"]), st.booleans())
def test_a_written_table_reads_back_exactly(table, sep, newline, bom, encoding, quoted):
    values, header = table
    cell = (lambda v: f'"{v}"') if quoted else str
    lines = [sep.join(cell(h) for h in header)] if header else []
    lines += [sep.join(cell(str(v)) for v in row) for row in values]   # str(np.float32): shortest exact text
    text = newline.join(lines) + newline
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8") if encoding == "utf-8" else text.encode("utf-16")
    seq = sequences.read_sequence_csv(data)
    np.testing.assert_array_equal(seq.values, values)
    assert seq.values.dtype == np.float32 and seq.has_header == (header is not None)
    assert seq.columns == (header if header else [f"x_{j}" for j in range(values.shape[1])])


def outcome(data: bytes, **limits):
    """The parsed values, or the message; any other exception fails the test."""
    try:
        seq = sequences.read_sequence_csv(data, **limits)
    except uploads.UploadError as exc:
        message = str(exc)
        assert 0 < len(message) <= 400 and "\n" not in message, message
        return message
    assert seq.values.dtype == np.float32 and np.isfinite(seq.values).all()
    assert seq.values.ndim == 2 and seq.values.shape[1] == len(seq.columns)
    assert all(len(c) <= 130 for c in seq.columns)
    return seq


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_get_numbers_or_one_short_message(data):
    outcome(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["1", "-2.5", "1e39", "nan", "inf", "", " ", "x", '"3"', "1,5", "#",
                                          "\u202e", "é", "🌧", "0x10", "1_0", "=1+1", "9" * 80, "ab" * 60]),
                         max_size=6), max_size=8),
       st.sampled_from([",", ";", "\t", " "]), st.sampled_from(["\n", "\r\n", "\r"]),
       st.integers(1, 5), st.integers(1, 5))
def test_any_table_of_odd_cells_gets_numbers_or_one_short_message(rows, sep, newline, max_rows, max_cols):
    data = newline.join(sep.join(row) for row in rows).encode()
    result = outcome(data, max_rows=max_rows, max_cols=max_cols)
    if not isinstance(result, str):
        assert result.values.shape[0] <= max_rows and result.values.shape[1] <= max_cols


def test_the_largest_float32_written_shortest_reads_back():
    """str(np.float32 max) is 3.4028235e+38, a little above float32's max as a float64: it rounds to
    the max, not to infinity, so it is a value like any other."""
    np.testing.assert_array_equal(sequences.load_sequence_csv(b"3.4028235e+38\n-3.4028235e+38\n"),
                                  np.array([[3.4028235e38], [-3.4028235e38]], dtype=np.float32))
    assert "Infinite or too large value at line 1" in outcome(b"3.4028236e+38\n")
