"""The static scan of an untrusted PyTorch file: its bytes read without unpickling anything.

    report = scan(data, Limits(max_bytes=20 << 20))   # ScanReport, or Refused / NotWeightsOnly / Damaged

The zip archive's entries and sizes are checked first (a zip bomb, entries that overlap or reach
past the file), then its pickle is played by `rnnviz.files.pickles.PickleScan`: nesting deeper than
`Limits.max_depth`, structures built from copies of themselves (hash and repr bombs), too many
instructions, and tensors whose declared size, stride or dtype is out of bounds are refused before
anything of the file is built.
"""
from __future__ import annotations

import io
import struct
import zipfile

from ..i18n import Message
from .limits import DEFAULT, LEGACY_MAGIC, LEGACY_PROTOCOL, MAX_DEFLATE_RATIO, Damaged, Limits, Refused, ScanReport
from .pickles import Container, PickleScan
from .quote import sizes


def scan(data: bytes, limits: Limits = DEFAULT) -> ScanReport:
    """Refuse `data` unless it is a PyTorch file that torch's weights-only loader can read within
    `limits`: raises Refused, NotWeightsOnly or Damaged. Nothing of the file is unpickled."""
    if len(data) > limits.max_bytes:
        shown, most = sizes(len(data), limits.max_bytes)
        raise Refused(Message("The file is {size}; the largest this app reads is {most}.", size=shown, most=most))
    if data.startswith(b"PK\x03\x04"):
        return _scan_zip(data, limits)
    return _scan_legacy(data, limits)


def _scan_zip(data: bytes, limits: Limits) -> ScanReport:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, struct.error,
            NotImplementedError) as exc:
        raise Damaged(f"its zip archive cannot be read ({exc})") from None
    if not infos:
        raise Damaged("its zip archive is empty")
    if len(infos) > limits.max_entries:
        raise Refused(Message("The checkpoint's zip archive has {n:,} entries; a model file has a few per tensor, "
                              "and this app reads at most {most:,}.", n=len(infos), most=limits.max_entries))
    names = {info.filename: info for info in infos}
    if len(names) != len(infos):
        raise Refused(Message("The checkpoint's zip archive lists the same entry twice, which torch.save never "
                              "writes: the file is damaged or crafted."))
    root = infos[0].filename.partition("/")[0] + "/"
    if root + "constants.pkl" in names:
        raise Refused(Message("This is a TorchScript archive (torch.jit.save), which holds code as well as weights. "
                              "This app reads weights only: save the module's state_dict with torch.save."))
    extents, unpacked = [], 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Refused(Message("The checkpoint's zip archive is encrypted; torch cannot read it."))
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise Damaged("a stored entry's sizes disagree")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
                raise Refused(Message("An entry of the checkpoint's zip archive says {packed:,} compressed bytes "
                                      "unpack to {unpacked:,}, more than compression can give: the file is crafted "
                                      "(a zip bomb).", packed=info.compress_size, unpacked=info.file_size))
        else:
            raise Refused(Message("The checkpoint's zip archive uses compression method {method}, which "
                                  "torch.save never writes. Save the file again with torch.save.",
                                  method=info.compress_type))
        unpacked += info.file_size
        start = _entry_data_start(data, info)
        extents.append((info.header_offset, start + info.compress_size))
        if start + info.compress_size > len(data):
            raise Damaged("an entry reaches past the end of the file")
    if unpacked > limits.unpacked:
        shown, most = sizes(unpacked, limits.unpacked)
        raise Refused(Message("The checkpoint unpacks to {size}; the largest this app reads is {most}.",
                              size=shown, most=most))
    extents.sort()
    if any(later[0] < earlier[1] for earlier, later in zip(extents, extents[1:])):
        raise Refused(Message("Entries of the checkpoint's zip archive overlap, which torch.save never writes: the "
                              "file is crafted (a zip bomb)."))
    pickle_info = names.get(root + "data.pkl")
    if pickle_info is None:
        raise Damaged("its zip archive has no data.pkl")
    try:
        with archive.open(pickle_info) as f:
            pickled = f.read(pickle_info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise Damaged(f"its data.pkl cannot be unpacked ({exc})") from None
    records = {name[len(root) + 5:]: info.file_size for name, info in names.items()
               if name.startswith(root + "data/")}
    machine = PickleScan(limits, records)
    machine.run(io.BytesIO(pickled))
    return machine.report("zip")


def _entry_data_start(data: bytes, info: zipfile.ZipInfo) -> int:
    """Where an entry's bytes start, read from its local header."""
    at = info.header_offset
    if at < 0 or at + 30 > len(data) or data[at:at + 4] != b"PK\x03\x04":
        raise Damaged("an entry's local header is missing")
    name_length, extra_length = struct.unpack_from("<HH", data, at + 26)
    return at + 30 + name_length + extra_length


def _scan_legacy(data: bytes, limits: Limits) -> ScanReport:
    """A file of torch before 1.6: pickles of a magic number, the protocol, system information, the
    object and its storage keys, then each storage's raw numbers (an 8-byte count, then the data)."""
    stream = io.BytesIO(data)
    machine = PickleScan(limits, None)
    if machine.run(stream) != LEGACY_MAGIC:   # a global or instruction torch refuses raises here first
        raise Damaged("it is not a PyTorch file (no magic number)")
    if machine.run(stream) != LEGACY_PROTOCOL:
        raise Damaged("unknown protocol version")
    machine.run(stream)                                          # system information
    machine.run(stream)                                          # the object
    keys = machine.run(stream)
    if type(keys) is not Container or keys.kind != "list" or not all(isinstance(k, str) for k in keys.items):
        raise Damaged("its list of storages is malformed")
    at = stream.tell()
    for key in keys.items:
        if key not in machine.storages:
            raise Damaged("it lists a storage it never declared")
        dtype, numel = machine.storages[key]
        if at + 8 > len(data) or int.from_bytes(data[at:at + 8], "little") != numel:
            raise Damaged("a storage's stored size differs from its declared size")
        at += 8 + numel * dtype.itemsize
        if at > len(data):
            raise Damaged("the file ends inside a storage's data")
    return machine.report("legacy")

