"""Hostile files, built at test time (nothing large is committed).

Each builder returns the bytes of one upload. Model files are written the way an attacker would:
raw pickle instructions (only those torch's weights-only unpickler accepts) inside a zip archive
laid out as torch.save lays it out, or torch.save itself where it writes the hostile thing for us
(expanded views, wrong dtypes). None of them is ever unpickled by the test process.
"""
from __future__ import annotations

import io
import struct
import warnings
import zipfile

import torch

# ------------------------------------------------------------------------- pickle instructions
PROTO2 = b"\x80\x02"
STOP = b"."
MARK = b"("
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE = b"}", b"]", b")"
TUPLE, TUPLE1, TUPLE2 = b"t", b"\x85", b"\x86"
SETITEM, SETITEMS, APPEND, APPENDS = b"s", b"u", b"a", b"e"
REDUCE, BINPERSID, NEWFALSE = b"R", b"Q", b"\x89"


def text(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(n: int) -> bytes:
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if -(1 << 31) <= n < (1 << 31):
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tensor(key: str, size: tuple, stride: tuple, numel: int, storage: str = "FloatStorage", offset: int = 0) -> bytes:
    """_rebuild_tensor_v2 of storage `key` (numel numbers), as torch.save writes it."""
    def ints(values):
        return MARK + b"".join(integer(v) for v in values) + TUPLE
    return (global_("torch._utils", "_rebuild_tensor_v2") + MARK
            + MARK + text("storage") + global_("torch", storage) + text(key) + text("cpu") + integer(numel) + TUPLE
            + BINPERSID + integer(offset) + ints(size) + ints(stride) + NEWFALSE
            + global_("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE)


def torch_zip(pickled: bytes, storages: dict | None = None) -> bytes:
    """A zip archive laid out as torch.save writes one: archive/data.pkl, archive/data/<key>, ..."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", "little")
        for key, raw in (storages or {}).items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def one_float_storage(n: int = 1) -> dict:
    return {"0": b"\x00" * (4 * n)}


def saved(obj, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def lstm_state(**changes) -> dict:
    torch.manual_seed(0)
    state = torch.nn.LSTM(3, 5).state_dict()
    state.update(changes)
    return state


# ------------------------------------------------------------------------- hostile model files
def deep_key_tuple(depth: int = 1_000_000) -> bytes:
    """{((((...)))): tensor}: a dictionary key that is a tuple nested `depth` deep (1 MB at a million).
    Hashing it recursed until the app's process died of a segmentation fault."""
    key = EMPTY_TUPLE + TUPLE1 * depth
    body = PROTO2 + EMPTY_DICT + key + tensor("0", (1,), (1,), 1) + SETITEM + STOP
    return torch_zip(body, one_float_storage())


def deep_list_top_down(depth: int = 60) -> bytes:
    """Lists nested `depth` deep, each appended to its parent after the parent was placed: the depth
    shows only once the whole pickle is read."""
    body = PROTO2 + EMPTY_DICT + text("weight_ih_l0") + MARK + EMPTY_LIST + put(0)
    for i in range(1, depth + 1):
        body += get(i - 1) + EMPTY_LIST + put(i) + APPEND   # list i goes into list i-1, already placed
    return torch_zip(body + TUPLE + SETITEM + STOP)


def hash_bomb(n: int = 40) -> bytes:
    """A few hundred bytes: a key (t_0, ..., t_n) with t_i = (t_i-1, t_i-1), t_0 = (); hashing it
    costs 2^n."""
    key = MARK + EMPTY_TUPLE + put(0)
    for i in range(1, n + 1):
        key += get(i - 1) + get(i - 1) + TUPLE2 + put(i)
    body = PROTO2 + EMPTY_DICT + key + TUPLE + tensor("0", (1,), (1,), 1) + SETITEM + STOP
    return torch_zip(body, one_float_storage())


def repr_bomb(n: int = 40) -> bytes:
    """An rnnviz checkpoint whose cell is (l_0, ..., l_n) with l_i = [l_i-1, l_i-1]: formatting it
    for a message costs ~6 * 2^n characters."""
    cell = MARK + EMPTY_LIST + put(0)
    for i in range(1, n + 1):
        cell += EMPTY_LIST + put(i) + MARK + get(i - 1) + get(i - 1) + APPENDS
    body = (PROTO2 + EMPTY_DICT + MARK + text("format") + text("rnnviz.checkpoint") + text("version") + integer(1)
            + text("cell") + cell + TUPLE + text("state_dict") + EMPTY_DICT + SETITEMS + STOP)
    return torch_zip(body)


def self_containing_list() -> bytes:
    """{"weight_ih_l0": a} where a = [a]."""
    body = PROTO2 + EMPTY_DICT + text("weight_ih_l0") + EMPTY_LIST + put(0) + get(0) + APPEND + SETITEM + STOP
    return torch_zip(body)


def many_instructions(n: int = 300_000) -> bytes:
    """A list of n small numbers: n + a few instructions."""
    body = PROTO2 + EMPTY_DICT + text("loss_history") + EMPTY_LIST
    for start in range(0, n, 1000):
        body += MARK + integer(1) * min(1000, n - start) + APPENDS
    return torch_zip(body + SETITEM + STOP)


def buffer_allocation(n: int = 10 ** 11) -> bytes:
    """bytearray(10**11): allowed by torch's weights-only unpickler, 100 GB to allocate."""
    body = PROTO2 + EMPTY_DICT + text("x") + global_("builtins", "bytearray") + integer(n) + TUPLE1 + REDUCE
    return torch_zip(body + SETITEM + STOP)


def tensor_from_a_size(n: int = 10 ** 10) -> bytes:
    """torch.FloatTensor(10**10): an allowed global that allocates 40 GB."""
    body = PROTO2 + EMPTY_DICT + text("weight_ih_l0") + global_("torch", "FloatTensor") + integer(n) + TUPLE1 + REDUCE
    return torch_zip(body + SETITEM + STOP)


def zero_stride_giant(hidden: int = 100_000) -> bytes:
    """An LSTM state_dict of hidden size 100,000 whose tensors are views of one stored number."""
    one = torch.zeros(1)
    return saved({"weight_ih_l0": one.expand(4 * hidden, 3), "weight_hh_l0": one.expand(4 * hidden, hidden),
                  "bias_ih_l0": one.expand(4 * hidden), "bias_hh_l0": one.expand(4 * hidden)})


def view_past_its_storage() -> bytes:
    """A tensor of 10 numbers over a storage of 4."""
    body = PROTO2 + EMPTY_DICT + text("weight_hh_l0") + tensor("0", (10,), (1,), 4) + SETITEM + STOP
    return torch_zip(body, one_float_storage(4))


def storage_bigger_than_stored() -> bytes:
    """A storage that claims a million numbers but stores 4 bytes."""
    body = PROTO2 + EMPTY_DICT + text("weight_hh_l0") + tensor("0", (1,), (1,), 1_000_000) + SETITEM + STOP
    return torch_zip(body, one_float_storage(1))


def legacy_storage_claim(numel: int = 10 ** 12) -> bytes:
    """A file in torch's format before 1.6 whose storage claims 10^12 numbers (4 TB)."""
    state = saved({"w": torch.zeros(2)}, _use_new_zipfile_serialization=False)
    return state.replace(b"cpuq\x06K\x02N", b"cpuq\x06" + integer(numel) + b"N", 1)   # the storage's size


def truncated_zips() -> dict:
    data = saved(lstm_state())
    return {"half": data[:len(data) // 2], "first 100 bytes": data[:100], "no end record": data[:-22],
            "one byte short": data[:-1]}


def too_many_entries(n: int = 10_001) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", PROTO2 + EMPTY_DICT + STOP)
        for i in range(n):
            z.writestr(f"archive/data/{i}", b"")
    return buf.getvalue()


def deflate_claim() -> bytes:
    """A zip whose data.pkl says 10 compressed bytes unpack to 1 GB (its central directory edited)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", PROTO2 + EMPTY_DICT + STOP)
    data = bytearray(buf.getvalue())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1 << 30)   # uncompressed size
    return bytes(data)


def overlapping_entries() -> bytes:
    """A torch zip whose storage entry's central record points at data.pkl's bytes."""
    data = bytearray(saved({"w": torch.zeros(1)}))
    records, at = {}, 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        records[bytes(data[at + 46:at + 46 + name_length])] = at
        at += 46
    first = struct.unpack_from("<I", data, records[b"archive/data.pkl"] + 42)[0]
    struct.pack_into("<I", data, records[b"archive/data/0"] + 42, first)
    return bytes(data)


def torchscript() -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():   # torch.jit is deprecated; its archives are still uploaded
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    return buf.getvalue()


def with_dtype(dtype: torch.dtype) -> bytes:
    state = lstm_state()
    state["weight_ih_l0"] = state["weight_ih_l0"].to(dtype) if dtype != torch.bool else state["weight_ih_l0"] > 0
    return saved(state)


def nan_weights() -> bytes:
    return saved(lstm_state(weight_hh_l0=torch.full((20, 5), float("nan"))))


def cell_as_a_list() -> bytes:
    """An rnnviz checkpoint whose cell is ["lstm"] (a TypeError once)."""
    return with_checkpoint_cell(["lstm"])


def with_checkpoint_cell(cell) -> bytes:
    """An rnnviz checkpoint of a small LSTM whose cell is `cell`."""
    from rnnviz import ModelSpec, build_model
    from rnnviz.files.export import model_to_bytes

    ckpt = torch.load(io.BytesIO(model_to_bytes(build_model(ModelSpec(cell="lstm", hidden_size=3)))),
                      weights_only=True)
    return saved({**ckpt, "cell": cell})


def long_key(chars: int) -> bytes:
    return saved({**lstm_state(), "[x](http://example.com/" + "a" * chars + ")": torch.zeros(1)})
