"""The texts to learn from: the Zen of Python read from the `this` module, the standard-library
source, the held-out split, and uploaded texts (decoded by the one decoder) with their messages."""

import codecs
import contextlib
import io

import pytest

from rnnviz.files import intake
from rnnviz.labs import corpora


def test_zen_of_python_is_the_this_module_decoded_without_printing():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        import this  # noqa: F401 - the oracle; importing it prints, so it is captured here
    assert corpora.zen_of_python() == codecs.decode(this.s, "rot13")
    assert out.getvalue().strip() == corpora.zen_of_python().strip()


def test_stdlib_corpus_is_python_source_bounded_and_deterministic():
    corpora.stdlib_source.cache_clear()
    a = corpora.stdlib_source(50_000)
    corpora.stdlib_source.cache_clear()
    b = corpora.stdlib_source(50_000)
    assert a == b and 40_000 < len(a) <= 50_000 and a.endswith("\n")
    assert a.startswith("# module textwrap.py\n") and "def " in a and "import " in a
    corpus = corpora.get_corpus("stdlib")
    assert len(corpus.text) <= corpora.STDLIB_CHARS


def test_held_out_split_starts_a_line_and_covers_the_last_tenth():
    corpus = corpora.get_corpus("zen")
    assert corpus.train_text + corpus.held_out_text == corpus.text
    assert corpus.train_text.endswith("\n")
    assert 0.08 <= len(corpus.held_out_text) / len(corpus.text) <= 0.2


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"x" * (intake.MAX_TEXT_BYTES + 1),
     r"is 1,048,577 bytes; the largest this app reads is 1,048,576 bytes \(1.0 MB\)"),
    (b"caf\xe9 au lait " * 10, "byte 0xe9 at position 3 cannot be decoded"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 60, "looks binary"),
    (b" \n\t \r\n" * 20, "no visible characters"),
    (b"too short", "at least 50"),
    (codecs.BOM_UTF16_LE + b"\x00\xd8" + b"a\x00" * 60, "is not UTF-16 text"),
])
def test_bad_uploads_get_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        corpora.text_from_upload(data)


def test_uploads_in_utf8_with_bom_and_utf16_are_read_and_line_ends_normalised():
    text = "Grüße aus Köln 🌧️\r\nzweite Zeile\rdritte\n" * 3
    want = text.replace("\r\n", "\n").replace("\r", "\n")
    assert corpora.text_from_upload(text.encode("utf-8")) == want
    assert corpora.text_from_upload(codecs.BOM_UTF8 + text.encode("utf-8")) == want
    assert corpora.text_from_upload(text.encode("utf-16")) == want          # with its byte-order mark


def test_a_corpus_key_tells_texts_apart():
    assert corpora.get_corpus("zen").key == ("zen", "")
    a, b = corpora.get_corpus("upload", "x" * 60), corpora.get_corpus("upload", "x" * 59 + "y")
    assert a.key[0] == "upload" and a.key != b.key and a.key == corpora.get_corpus("upload", "x" * 60).key
