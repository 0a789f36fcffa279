"""Hostile uploads, as an attacker would make them: each gets its message, and nothing else, fast.

Model files go through both readers of the app (Your Model's `io.load_model`, the Text Lab's
`CharLM.from_bytes`), sequences and texts through theirs. A message is one line of plain words,
a few hundred characters at most, whatever the file holds. Every file is answered within
BOUND seconds on the 2-core test machine (most in milliseconds: the scan refuses them before
any unpickling).
"""
import time

import numpy as np
import pytest
import torch

from rnnviz.files import sandbox, sequences, uploads
from rnnviz.inputs import Vocab
from rnnviz.labs import charlm, corpora
from rnnviz.model import RecurrentModel
from tests.files import hostile as h

BOUND = 3.0           # seconds, for any one hostile file
LONGEST = 600         # characters in a message


@pytest.fixture(scope="module", autouse=True)
def reader():
    sandbox.warm_up()   # the reading server's start (once per app process) is not the file's time


def answer(read, data: bytes) -> str:
    """The message `read` gives for `data`, checked to be a plain, short message that came fast."""
    t0 = time.monotonic()
    with pytest.raises(ValueError) as err:
        read(data)
    seconds = time.monotonic() - t0
    message = str(err.value)
    assert seconds < BOUND, (message, seconds)
    assert len(message) <= LONGEST and "\n" not in message and "Traceback" not in message, message
    return message


REFUSED = "It was refused before reading: nothing in it was run or unpacked."
MODEL_FILES = [   # (name, builder, what both readers say)
    ("key tuple nested 1,000,000 deep", h.deep_key_tuple, "The file nests containers more than 32 deep"),
    ("lists nested 60 deep, top down", h.deep_list_top_down, "The file nests containers more than 32 deep"),
    ("hash bomb", h.hash_bomb, "The file builds a structure out of copies of itself"),
    ("repr bomb", h.repr_bomb, "The file builds a structure out of copies of itself"),
    ("a list that contains itself", h.self_containing_list, "The file holds a structure that contains itself"),
    ("300,000 pickle instructions", h.many_instructions, "The file's pickle has more than 200,000 instructions"),
    ("bytearray(10**11)", h.buffer_allocation, "The file calls builtins.bytearray with arguments no model file needs"),
    ("torch.FloatTensor(10**10)", h.tensor_from_a_size, "The file holds an object made by torch.FloatTensor"),
    ("zero-stride giant", h.zero_stride_giant,
     "The tensor 'weight_ih_l0' has shape [400000, 3], 1,200,000 numbers, but its storage holds only 1: it is a view "
     "that repeats stored numbers (a stride of 0)"),
    ("a view past its storage", h.view_past_its_storage,
     "The tensor 'weight_hh_l0' (shape [10]) reaches past the end of its storage of 4 numbers"),
    ("a storage bigger than its data", h.storage_bigger_than_stored, "The PyTorch checkpoint is damaged or incomplete"),
    ("legacy storage of 10^12 numbers", h.legacy_storage_claim,
     "A storage of the file claims 1,000,000,000,000 numbers (3,725.3 GB)"),
    ("10,002 zip entries", h.too_many_entries, "The checkpoint's zip archive has 10,002 entries"),
    ("deflate bomb", h.deflate_claim, "unpack to 1,073,741,824, more than compression can give"),
    ("overlapping zip entries", h.overlapping_entries, "Entries of the checkpoint's zip archive overlap"),
    ("TorchScript archive", h.torchscript, "This is a TorchScript archive (torch.jit.save)"),
    ("a key of 2,000 characters", lambda: h.long_key(2000), "The file has a dictionary key of 2,024 characters"),
    ("empty", lambda: b"", "The model file is empty (0 bytes)."),
    *[(f"truncated: {k}", lambda v=v: v, "The PyTorch checkpoint is damaged or incomplete")
      for k, v in h.truncated_zips().items()],
]


@pytest.mark.parametrize("name, make, message", MODEL_FILES, ids=[m[0] for m in MODEL_FILES])
def test_hostile_model_files_get_their_message_on_both_pages(name, make, message):
    data = make()
    for read in (uploads.load_model, charlm.CharLM.from_bytes):
        said = answer(read, data)
        assert said.startswith(message) or message in said, (read, said)
        if "refused before" in said:
            assert said.endswith(REFUSED)


def test_the_test_process_outlives_a_key_nested_a_million_deep():
    data = h.deep_key_tuple(1_000_000)
    assert len(data) > 1_000_000
    for _ in range(3):
        answer(uploads.load_model, data)
    loaded = uploads.load_model(h.saved(h.lstm_state()))   # and the next file is read as ever
    assert loaded.model.hidden_size == 5


# ------------------------------------------------------------------------- wrong dtypes, NaN, names
@pytest.mark.parametrize("dtype, message", [
    (torch.int64, "weight_ih holds int64 values; weights must be floating point (float32 or float64): integers are "
                  "counts or indices, not weights."),
    (torch.bool, "weight_ih holds bool values (true / false, a mask); weights must be floating point (float32 or "
                 "float64)."),
    (torch.complex64, "weight_ih holds complex64 values (complex numbers); weights must be floating point (float32 "
                      "or float64): an RNN's weights are real."),
])
def test_weights_of_the_wrong_dtype_say_what_is_wrong(dtype, message):
    assert answer(uploads.load_model, h.with_dtype(dtype)) == message


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_are_read_as_float32_exactly_and_said_so(dtype):
    state = h.lstm_state()
    loaded = uploads.load_model(h.with_dtype(dtype))
    assert torch.equal(loaded.model.weight_ih, state["weight_ih_l0"].to(dtype).to(torch.float32))
    assert torch.equal(loaded.model.weight_hh, state["weight_hh_l0"])
    assert f"weight_ih is stored as {str(dtype)[6:]}; it is read as float32" in " ".join(loaded.notes)


def test_nan_weights_are_named():
    assert answer(uploads.load_model, h.nan_weights()).startswith("weight_hh contains 100 NaN and 0 infinite values")


def test_a_cell_that_is_a_list_gets_a_message_not_a_type_error():
    assert answer(uploads.load_model, h.cell_as_a_list()) == (
        "This rnnviz checkpoint names an unknown cell (a list of 1 item ('lstm')) or activation ('tanh'): the cell "
        "must be one of rnn, lstm, gru.")


def test_long_key_names_are_quoted_short():
    loaded = uploads.load_model(h.long_key(500))
    note = loaded.notes[0]
    assert note.startswith("Ignored 1 tensor that is not part of the recurrent layer: [x](http://example.com/aaaa")
    assert note.endswith("… (524 characters).") and len(note) < 200


# ------------------------------------------------------------------------- Text Lab model files
def small_lm(**changes) -> dict:
    lm = charlm.CharLM(Vocab("abc"), RecurrentModel("gru", 3, 4), torch.nn.Linear(4, 3))
    return {**lm.state_dict(), **changes}


@pytest.mark.parametrize("changes, message", [
    ({"cell": ["lstm"]}, "The file's cell must be one of rnn, lstm, gru; got a list of 1 item ('lstm')."),
    ({"activation": "x" * 5000}, "The file's activation 'xxxxxxxxxx"),
    ({"readout.weight": torch.full((3, 4), 3e38)},
     "The readout's weights are so large that the next-character scores reach 1.2e+39, beyond float32"),
    ({"readout.weight": torch.zeros(3, 4, dtype=torch.int64)}, "'readout.weight' holds int64 values; weights must be"),
    ({"rnn.weight_hh_l0": torch.full((12, 4), float("nan"))}, "'rnn.weight_hh_l0' must hold finite floating-point"),
    ({"vocab": ["a", "b", "c" * 3000]}, "every vocabulary entry must be one character; got 'ccccc"),
])
def test_text_lab_model_files_get_their_message(changes, message):
    said = answer(charlm.CharLM.from_bytes, h.saved(small_lm(**changes)))
    assert message in said


def test_huge_but_finite_readout_weights_were_nan_bits_per_character():
    """What the refusal prevents: a model whose states are all 1 and whose readout rows are 3e38,
    -3e38 and 0 scores +inf, -inf and 0: NaN bits per character, and a sample of one character."""
    rnn = RecurrentModel("rnn", 3, 4, "tanh")
    readout = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for p in (*rnn.parameters(), *readout.parameters()):
            p.zero_()
        rnn.weight_ih.fill_(100.0)                                  # every state is tanh(100) = 1
        readout.weight.copy_(torch.tensor([[3e38] * 4, [-3e38] * 4, [0.0] * 4]))
    lm = charlm.CharLM(Vocab("abc"), rnn, readout)
    assert np.isnan(lm.bits_per_char("abcabc"))
    said = answer(charlm.CharLM.from_bytes, lm.to_bytes())
    assert said.startswith("The readout's weights are so large that the next-character scores reach 1.2e+39")
    with torch.no_grad():
        readout.weight.mul_(1e-2)                                   # scores up to 1.2e37: finite, and read
    fine = charlm.CharLM.from_bytes(lm.to_bytes())
    assert np.isfinite(fine.bits_per_char("abcabc"))


# ------------------------------------------------------------------------- sequences and texts
CSV = [
    ("1,000,000 rows", lambda: b"1\n" * 1_000_000, "The CSV has 1000000 rows; the largest this app reads is 10000"),
    ("10,000 columns", lambda: b",".join([b"1"] * 10_000) + b"\n",
     "The CSV has 10000 columns; the largest this app reads is 1024"),
    ("16 MB of commas", lambda: b"," * (16 << 20), "The CSV has 16777217 columns"),
    ("a row of 10 million values", lambda: b"1,2\n" + b"3," * 5_000_000 + b"4\n",
     "Ragged rows: line 2 has 5000001 values but the first row has 2."),
    ("a cell of 15 million digits", lambda: b"x\n" + b"1" * 15_000_000 + b"\n",
     "Infinite or too large value at line 2, column 1 (x): '11111111111111111111…' (15,000,000 characters)"),
    ("a cell of 15 million letters", lambda: b"x\n1\n" + b"a" * 15_000_000 + b"\n",
     "Not a number at line 3, column 1 (x): 'aaaaaaaaaaaaaaaaaaaa…' (15,000,000 characters)."),
    ("a header of 15 million characters and a bad cell", lambda: b"h" * 15_000_000 + b"\nzz\n",
     "Not a number at line 2, column 1 (hhhhhhhhhhhhhhhhhhhhhhhhhhhhhh… (15,000,000 characters)): 'zz'."),
    ("NaN", lambda: b"a;b\n1,5;nan\n", "NaN at line 2, column 2 (b): fill in or drop missing values"),
    ("UTF-16 with a damaged character", lambda: b"\xff\xfe" + "1,2\n".encode("utf-16-le") + b"\x00\xd8",
     "The CSV file is not UTF-16 text: byte 0x00 at position 10 cannot be decoded"),
    ("binary", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The CSV file looks binary (it contains NUL bytes)"),
    ("empty", lambda: b"", "The CSV file is empty (0 bytes)."),
    ("over 16 MB", lambda: b"1\n" * (8 << 20) + b"1", "The CSV file is 16,777,217 bytes; the largest this app "
                                                       "reads is 16,777,216 bytes (16.0 MB)."),
]


@pytest.mark.parametrize("name, make, message", CSV, ids=[c[0] for c in CSV])
def test_hostile_csv_files_get_their_message(name, make, message):
    said = answer(sequences.read_sequence_csv, make())
    assert message in said, said


@pytest.mark.parametrize("data, values, columns", [
    ("\ufeffspeed;angle\n1,5;-2\n".encode(), [[1.5, -2]], ["speed", "angle"]),            # BOM, semicolons
    ("température,ψ\n1,2\n".encode(), [[1, 2]], ["température", "ψ"]),                   # unicode names
    ("a,b\r\n1,2\r\n".encode("utf-16"), [[1, 2]], ["a", "b"]),                            # UTF-16 (Notepad)
])
def test_csv_dialects_people_save(data, values, columns):
    seq = sequences.read_sequence_csv(data)
    np.testing.assert_array_equal(seq.values, np.array(values, dtype=np.float32))
    assert seq.columns == columns


TEXTS = [   # the Text Lab's corpus upload and Your Model's text reader: one decoder, one message
    (b"", "The text file is empty (0 bytes)."),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "The text file looks binary (it contains NUL bytes)"),
    (b"\xff\xfe" + b"\x00\xd8" * 40, "The text file is not UTF-16 text: byte 0x00 at position 2"),
    (b"x" * (1 << 20) + b"x", "The text file is 1,048,577 bytes; the largest this app reads is 1,048,576 bytes "
                             "(1.0 MB)."),
]


@pytest.mark.parametrize("data, message", TEXTS, ids=["empty", "binary", "bad UTF-16", "over the limit"])
def test_hostile_text_files_get_their_message(data, message):
    assert message in answer(corpora.text_from_upload, data)
    assert message in answer(sequences.read_text, data)


def test_utf16_text_is_read_on_both_pages():
    text = "Grüße 🌧️\n" * 20
    assert corpora.text_from_upload(text.encode("utf-16")) == text
    assert sequences.read_text(text.encode("utf-16")) == text
