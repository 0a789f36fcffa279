"""Every message of a bad or hostile upload, in Chinese: with lang=zh the message of each file of the
upload tests reads in Chinese, with no English word outside the names and symbols a Chinese lecture
uses too (RNN, state_dict, torch.save, weight_ih_l0), and quotes the file's own values exactly as
the English does: the same clipped, one-line text, bounded in length. The English stays the English."""
import json
import re

import pytest
import torch

from rnnviz import i18n
from rnnviz.files import quote, sandbox, sequences, uploads, wire
from rnnviz.i18n import Message, Untrusted, language
from rnnviz.labs import charlm, corpora
from tests.browser.test_chinese_pages import english_words
from tests.files import hostile as h
from tests.files.test_hostile_uploads import CSV, LONGEST, MODEL_FILES, TEXTS, small_lm
from tests.files.test_sequences import BAD_CSV
from tests.files.test_uploads import BAD_MODELS

# Besides the pages' names and symbols: names of file formats, encodings, dtypes, the tokens and keys of the app's
# own files, and what a hostile file is made of.
NAMES = {"zip", "pickle", "NumPy", "TorchScript", "hash", "repr", "meta", "NUL", "UTF", "HDF5", "Keras", "KB", "GB",
         "one-hot", "UTF-8", "UTF-16", "rnn", "lstm", "gru", "format", "int64", "int32", "int8", "uint8", "bool",
         "complex64", "complex128", "float16", "bfloat16"}
CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"\S*_\S*|\S+=\S+")   # weight_ih_l0, *_reverse, bias=False, num_layers=1


@pytest.fixture(scope="module", autouse=True)
def reader():
    sandbox.warm_up()


def masked(value):
    """A message with the file's own text (Untrusted fields) replaced by a mark, to check the app's words."""
    if isinstance(value, Untrusted):
        return "‹›"
    if isinstance(value, Message):
        return Message(value.template, **{k: masked(v) for k, v in value.fields.items()})
    return value


def untrusted(value) -> list[str]:
    """The file's own texts in a message, as they are shown."""
    if isinstance(value, Untrusted):
        return [str(value)]
    if isinstance(value, Message):
        return [t for v in value.fields.values() for t in untrusted(v)]
    return []


def assert_chinese(message: Message):
    """`message` shown with lang=zh: Chinese words around the file's values, quoted as in English."""
    assert isinstance(message, Message), repr(message)
    english = str(message)
    assert not CJK.search(english), english
    with language("zh"):
        shown = i18n.text(message)
        words = i18n.text(masked(message))
    assert CJK.search(shown), shown
    assert len(shown) <= LONGEST and "\n" not in shown, shown
    left = [w for w in english_words(CODE.sub(" ", words)) if w not in NAMES]
    assert not left, (left, shown)
    for text in untrusted(message):
        assert text in shown and text in english, (text, shown)
    return shown


def raised(read, data) -> Message:
    with pytest.raises(ValueError) as err:
        read(data)
    assert isinstance(err.value.args[0], Message), repr(err.value)
    return err.value.args[0]


@pytest.mark.parametrize("name, make, message", MODEL_FILES, ids=[m[0] for m in MODEL_FILES])
def test_hostile_model_files_are_refused_in_chinese_on_both_pages(name, make, message):
    data = make()
    for read in (uploads.load_model, charlm.CharLM.from_bytes):
        said = raised(read, data)
        assert message in str(said)   # the English of the hostile-upload tests, unchanged
        assert_chinese(said)


@pytest.mark.parametrize("name, make, message", BAD_MODELS, ids=[b[0] for b in BAD_MODELS])
def test_bad_model_files_are_explained_in_chinese(name, make, message):
    said = raised(uploads.load_model, make())
    assert message in str(said)
    assert_chinese(said)


@pytest.mark.parametrize("name, make, message", CSV, ids=[c[0] for c in CSV])
def test_hostile_csv_files_are_refused_in_chinese(name, make, message):
    said = raised(sequences.read_sequence_csv, make())
    assert message in str(said)
    shown = assert_chinese(said)
    if "characters)" in message:   # a cell of millions of characters: clipped as in English
        assert "（共 15,000,000 个字符）" in shown


@pytest.mark.parametrize("name, data, limits, message", BAD_CSV, ids=[b[0] for b in BAD_CSV])
def test_bad_csv_files_are_explained_in_chinese(name, data, limits, message):
    said = raised(lambda d: sequences.read_sequence_csv(d, **limits), data)
    assert message in str(said)
    assert_chinese(said)


@pytest.mark.parametrize("data, message", TEXTS, ids=["empty", "binary", "bad UTF-16", "over the limit"])
def test_bad_text_files_are_explained_in_chinese_on_both_pages(data, message):
    for read in (corpora.text_from_upload, sequences.read_text):
        said = raised(read, data)
        assert message in str(said)
        assert_chinese(said)


@pytest.mark.parametrize("changes", [
    {"cell": ["lstm"]}, {"activation": "x" * 5000}, {"readout.weight": torch.full((3, 4), 3e38)},
    {"readout.weight": torch.zeros(3, 4, dtype=torch.int64)}, {"rnn.weight_hh_l0": torch.full((12, 4), float("nan"))},
    {"vocab": ["a", "b", "c" * 3000]}, {"vocab": ["a", "b", "b"]}, {"format": "other"}, {"readout.bias": None},
    {"readout.weight": torch.zeros(5, 4)},
], ids=["cell", "activation", "huge readout", "integers", "nan", "long entry", "twice", "format", "missing", "vocab"])
def test_text_lab_model_files_are_explained_in_chinese(changes):
    assert_chinese(raised(charlm.CharLM.from_bytes, h.saved(small_lm(**changes))))


def test_a_text_lab_model_of_another_text_is_explained_in_chinese():
    lm = charlm.CharLM.from_bytes(h.saved(small_lm()))
    said = raised(lm.check_fits, corpora.get_corpus("zen"))
    assert str(said).startswith("Its vocabulary does not match this text: it lacks")
    assert "“另一段文本”" in assert_chinese(said)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_weights_of_the_wrong_dtype_are_explained_in_chinese(dtype):
    assert_chinese(raised(uploads.load_model, h.with_dtype(dtype)))


def test_notes_on_a_model_read_are_in_chinese_and_quote_its_keys_as_in_english():
    notes = [*uploads.load_model(h.long_key(500)).notes, *uploads.load_model(h.with_dtype(torch.float16)).notes,
             *uploads.load_model(h.saved(torch.nn.RNN(2, 3, bias=False).state_dict())).notes]
    assert len(notes) == 4
    shown = [assert_chinese(note) for note in notes]
    assert shown[0].startswith("忽略了 1 个不属于循环层的张量：[x](http://example.com/aaaa")
    assert shown[0].endswith("…（共 524 个字符）。")


def test_a_worker_out_of_memory_is_said_in_chinese():
    data = h.saved(torch.nn.LSTM(300, 300).state_dict())
    said = raised(lambda d: sandbox.load(d, sandbox.Limits(memory=512 << 10)), data)
    assert str(said) == "This file could not be read safely: it needs more memory than the 512.0 KB a file may use."
    assert assert_chinese(said) == "无法安全地读取这个文件：它需要的内存超过了一个文件可用的 512.0 KB。"


def test_the_workers_own_refusals_cross_the_pipe_as_messages_and_nothing_else_is_formatted():
    limits = sandbox.Limits()
    refusal = Message(wire.REFUSALS[1], n=5_000_000, most=4_000)
    with pytest.raises(sandbox.Refused) as err:
        wire.decode(wire.failure("refused", refusal)[0], limits)
    assert err.value.args[0] == refusal and isinstance(err.value.args[0], Message)
    assert_chinese(err.value.args[0])
    # An answer whose template number and fields do not give its text, or whose fields are not whole
    # numbers, is shown as the text it carries: nothing of a worker's answer is a format string.
    for forged in ({"kind": "refused", "text": "hello", "message": [1, {"n": 1, "most": 2}]},
                   {"kind": "refused", "text": "x", "message": [1, {"n": "{0.__class__}", "most": 2}]},
                   {"kind": "refused", "text": "x", "message": [-1, {}]}):
        with pytest.raises(sandbox.Refused) as err:
            wire.decode(b"E" + json.dumps(forged).encode(), limits)
        assert type(err.value.args[0]) is str and err.value.args[0] == forged["text"]


def test_an_english_session_still_reads_the_english():
    said = raised(uploads.load_model, h.cell_as_a_list())
    with language("en"):
        assert i18n.text(said) == str(said) == (
            "This rnnviz checkpoint names an unknown cell (a list of 1 item ('lstm')) or activation ('tanh'): the cell "
            "must be one of rnn, lstm, gru.")


def test_a_message_too_long_for_a_page_is_clipped_in_its_own_language():
    from rnnviz import ui

    said = raised(sequences.read_sequence_csv, b"x\n" + b"a" * 5000 + b"\n")
    with language("zh"):
        shown = ui.plain(said, width=40)
    assert shown.startswith("第 2 行第 1 列（x）不是数字：'aaaa") and shown.endswith("个字符）"), shown
    assert "characters" not in shown


def test_values_described_in_the_reader_process_are_said_in_chinese():
    """A value the reader does not pass on as it is (a set, bytes, a huge integer, very long text, an object)
    crosses the pipe as the app's own words: a page in Chinese names it in Chinese, quoting the file's text
    as the English does."""
    got = sandbox.load(h.saved({"set": {1, 2, 3}, "bytes": b"\x00" * 12, "int": 10 ** 100, "text": "x" * 200_000}))
    shown = {k: assert_chinese(Message("{value}", value=quote.describe(v))) for k, v in got.items()}
    assert shown["set"] == "一个有 3 项的集合" and shown["bytes"] == "12 字节" and shown["int"] == "一个约 101 位的整数"
    assert shown["text"] == "'" + "x" * 60 + "…'（共 200,000 个字符）"
    said = raised(uploads.load_model, h.with_checkpoint_cell({"lstm", "gru"}))
    assert "（一个有 2 项的集合）" in assert_chinese(said)


DESCRIPTION_SET = quote.DESCRIPTIONS.index("a set of {n:,} items")


@pytest.mark.parametrize("forged", [
    {"o": "a set of 3 items", "m": {"m": [DESCRIPTION_SET, {"n": "{0.__class__}"}]}},  # a text for a number
    {"o": "hello", "m": {"m": [DESCRIPTION_SET, {"n": 3}]}},  # words that are not its English
    {"o": "a set of 3 items", "m": {"m": [-1, {"n": 3}]}},
    {"o": "a set of 3 items", "m": {"m": [10 ** 6, {"n": 3}]}},
    {"o": "a set of 3 items", "m": {"m": [DESCRIPTION_SET, {"n": True}]}},
    {"o": "a set of 3 items", "m": {"x": 1, "m": [DESCRIPTION_SET, {"n": 3}]}},
    {"o": "x", "m": {"j": [{"j": [{"j": [{"j": [{"j": [{"j": [{"j": ["x"]}]}]}]}]}]}]}},
])
def test_a_forged_description_from_the_reader_is_shown_as_the_text_it_carries(forged):
    """Only the app's own templates, with whole numbers where numbers go and giving exactly the English sent,
    become a translated message; anything else is the plain text the answer carries, clipped."""
    header = json.dumps({"root": {"d": [["v", forged]]}, "tensors": []}).encode()
    got = wire.decode(b"V" + len(header).to_bytes(8, "little") + header, sandbox.Limits())["v"]
    assert isinstance(got, sandbox.Opaque) and type(got.text) is not Message and str(got) == forged["o"]
