"""Uploaded sequences: CSV and text, read by one decoder. Each bad file gets the message promised for it."""
import codecs
import re

import numpy as np
import pytest

import rnnviz
from rnnviz import ModelSpec, build_model
from rnnviz.files import sequences as rio


def test_csv_with_header_and_exact_float32_values():
    data = b"# my sensor\nspeed,angle\n0.1,1e-3\n-2.5,3.4e38\n\n7,8\n"
    seq = rio.read_sequence_csv(data)
    assert seq.columns == ["speed", "angle"] and seq.has_header
    want = np.array([[0.1, 1e-3], [-2.5, 3.4e38], [7, 8]], dtype=np.float32)
    assert seq.values.dtype == np.float32
    np.testing.assert_array_equal(seq.values, want)


@pytest.mark.parametrize("data, want", [
    (b"1\n2\n3\n", [[1], [2], [3]]),                           # one column, no header
    (b"1,2\r\n3,4\r\n", [[1, 2], [3, 4]]),                     # Windows line endings
    (b"\xef\xbb\xbfa;b\n1,5;2\n-0,25;4\n", [[1.5, 2], [-0.25, 4]]),  # BOM, semicolons, decimal commas
    (b"1\t2\n3\t4\n", [[1, 2], [3, 4]]),                       # tabs
    (b"1 2\n3   4\n", [[1, 2], [3, 4]]),                       # spaces
    (b'"x","y"\n"1","2"\n', [[1, 2]]),                          # quoted
])
def test_csv_dialects(data, want):
    np.testing.assert_array_equal(rio.load_sequence_csv(data), np.array(want, dtype=np.float32))


BAD_CSV = [
    ("empty", b"", {}, "The CSV file is empty (0 bytes)."),
    ("blank", b"\n  \n# only a comment\n", {}, "The CSV file has no data (only blank or comment lines)."),
    ("latin-1", "temp\n1\n\xe9\n".encode("latin-1"), {},
     "The CSV file is not UTF-8 text: byte 0xe9 at position 7 cannot be decoded. Save it as UTF-8."),
    ("binary", b"\x00\x01\x02", {}, "The CSV file looks binary (it contains NUL bytes), not text."),
    ("non-numeric", b"a,b\n1,2\n3,x7\n", {}, "Not a number at line 3, column 2 (b): 'x7'."),
    ("non-numeric no header", b"1,2\n3,4\n5,abc\n", {}, "Not a number at line 3, column 2: 'abc'."),
    ("ragged", b"a,b,c\n1,2,3\n4,5\n", {}, "Ragged rows: line 3 has 2 values but the header has 3."),
    ("ragged no header", b"1,2\n3,4,5\n", {}, "Ragged rows: line 2 has 3 values but the first row has 2."),
    ("empty cell", b"a,b\n1,\n", {},
     "Empty cell at line 2, column 2 (b): every time step needs a value for every feature."),
    ("nan", b"a,b\n1,2\nnan,3\n", {}, "NaN at line 3, column 1 (a): fill in or drop missing values before uploading."),
    ("NaN word", b"1,NaN\n", {}, "NaN at line 1, column 2"),
    ("inf", b"a\n1\ninf\n", {}, "Infinite or too large value at line 3, column 1 (a): 'inf'"),
    ("too large for float32", b"1e39\n", {}, "Infinite or too large value at line 1, column 1: '1e39' "
                                             "(float32 holds up to 3.4e38)."),
    ("header only", b"a,b\n", {}, "The CSV has a header row but no data rows."),
    ("too many rows", b"1\n2\n3\n4\n", {"max_rows": 3}, "The CSV has 4 rows; the largest this app reads is 3 "
                                                         "(one row per time step)."),
    ("too many columns", b"1,2,3\n", {"max_cols": 2}, "The CSV has 3 columns; the largest this app reads is 2 "
                                                      "(one column per input feature)."),
    ("too many bytes", b"1\n" * 600, {"max_bytes": 1000}, "The CSV file is 1.2 KB; the largest this app reads is "
                                                          "1000 bytes."),
]


@pytest.mark.parametrize("name, data, limits, message", BAD_CSV, ids=[b[0] for b in BAD_CSV])
def test_bad_csv_gets_a_clear_message(name, data, limits, message):
    with pytest.raises(rio.UploadError) as err:
        rio.load_sequence_csv(data, **limits)
    assert message in str(err.value)


def test_default_csv_limits_follow_the_knobs():
    assert rio.MAX_ROWS == rnnviz.KNOBS["seq_len"].max and rio.MAX_COLS == rnnviz.KNOBS["input_size"].max


# ------------------------------------------------------------------------------ text and compatibility

def test_text_upload():
    assert rio.read_text("héllo\r\nworld\r".encode()) == "héllo\nworld\n"
    for data, message in [
        (b"", "The text file is empty (0 bytes)."),
        (b" \n\t", "The text file has no visible characters (it is blank)."),
        (b"ok\xff", "The text file is not UTF-8 text: byte 0xff at position 2 cannot be decoded."),
        (b"abcdef", "The text has 6 characters; the largest this app reads is 5 (one time step per character)."),
    ]:
        with pytest.raises(rio.UploadError, match=re.escape(message)):
            rio.read_text(data, max_chars=5)


def test_one_decoder_reads_utf8_with_or_without_bom_and_utf16_and_refuses_binary():
    text = "Grüße 🌧️\r\nzweite\rdritte\n"
    want = "Grüße 🌧️\nzweite\ndritte\n"
    for data in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8"), text.encode("utf-16")):
        assert rio.decode_text(data, "file") == want
    with pytest.raises(rio.UploadError, match="The CSV file looks binary"):
        rio.decode_text(b"1,2\x00", "CSV file")
    with pytest.raises(rio.UploadError, match="is not UTF-16 text: byte 0x00 at position 2"):
        rio.decode_text(codecs.BOM_UTF16_LE + b"\x00\xd8a\x00", "file")
    np.testing.assert_array_equal(rio.load_sequence_csv("a\n1\n2\n".encode("utf-16")), [[1], [2]])


def test_text_to_inputs_against_a_vocabulary_and_an_input_size():
    x, vocab, notes = rio.text_to_inputs("abca!", vocab="abc")
    assert vocab == ["a", "b", "c"]
    np.testing.assert_array_equal(x, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]])
    assert notes == ["1 character(s) are not in the model's vocabulary ('!'); they are read as all-zero inputs."]
    x, vocab, notes = rio.text_to_inputs("ba", input_size=4)
    assert vocab == ["a", "b"] and x.shape == (2, 4) and notes == []
    np.testing.assert_array_equal(x, [[0, 1, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(rio.UploadError, match="The text has 3 distinct characters but the model reads only 2 inputs"):
        rio.text_to_inputs("abc", input_size=2)
    with pytest.raises(rio.UploadError, match="The vocabulary has 3 characters but the model reads 4 inputs"):
        rio.text_to_inputs("abc", input_size=4, vocab="abc")


def test_check_compatible_names_both_sizes():
    model = build_model(ModelSpec(input_size=3, hidden_size=4))
    x = rio.check_compatible(model, np.zeros((7, 3)))
    assert x.dtype == np.float32 and x.shape == (7, 3)
    with pytest.raises(rio.UploadError, match=re.escape(
            "The input has 2 features per time step (columns) but the model reads 3 (the column count of its "
            "weight_ih). Upload a sequence with 3 columns.")):
        rio.check_compatible(model, np.zeros((7, 2)))
    with pytest.raises(rio.UploadError, match="The input contains NaN or infinite values."):
        rio.check_compatible(model, np.full((2, 3), np.nan))
