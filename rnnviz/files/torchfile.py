"""Any uploaded .pt file, read weights-only in the sandbox; each failure said in plain words.

    obj = read_torch_file(file_bytes)          # what the file holds (tensors and plain data), or UploadError

Zip archives that are not torch checkpoints are refused here; everything else is scanned and loaded
by `rnnviz.files.sandbox` (torch.load(weights_only=True) in a worker process with limits). A
failure names what the file is instead (a NumPy archive, a pickled module, text, HDF5...) and how
to save the weights.
"""
from __future__ import annotations

import io
import pickle
import re
import zipfile
from typing import Any

from ..i18n import Message, Untrusted
from . import sandbox
from .intake import MAX_MODEL_BYTES, MODEL_FILE, UploadError, checked_bytes

_SAVE_HINT = "torch.save(module.state_dict(), 'model.pt')"


def read_torch_file(data: bytes, *, max_bytes: int = MAX_MODEL_BYTES, advice: str | None = None) -> Any:
    """What an uploaded .pt file holds, read with torch.load(weights_only=True), or UploadError in
    plain words. `advice` replaces the closing "save it like this" sentence of the messages (a page
    whose files come from its own download button says so)."""
    return _torch_load(checked_bytes(data, max_bytes, MODEL_FILE), advice, max_bytes=max_bytes)


def _torch_load(data: bytes, advice: str | None = None, *, max_bytes: int = MAX_MODEL_BYTES) -> Any:
    """torch.load with weights_only=True in the sandbox's worker process, after its scan; its
    failures turned into plain words."""
    _check_archive(data, advice)
    try:
        return sandbox.load(data, sandbox.Limits(max_bytes=max_bytes))
    except sandbox.Refused as exc:  # a limit, a bomb, a crash or a hang: the sandbox's own words
        raise UploadError(exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - every failure of an untrusted file becomes a message
        raise UploadError(_load_failure(data, exc, advice)) from None


def _check_archive(data: bytes, advice: str | None = None) -> None:
    """Refuse zip archives that are not torch checkpoints (the sandbox checks the rest)."""
    if not data.startswith(b"PK\x03\x04"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # torch reports the damage below
    names = [i.filename for i in infos]
    save = advice or Message("Save the module's weights with {hint}.", hint=_SAVE_HINT)
    if names and all(n.endswith(".npy") for n in names):
        raise UploadError(Message("This is a NumPy .npz archive, not a PyTorch file. {advice}", advice=save))
    if not any(n.endswith("/data.pkl") for n in names):
        raise UploadError(Message("This is a zip archive but not a PyTorch checkpoint (it has no data.pkl). "
                                  "{advice}", advice=save))


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _load_failure(data: bytes, exc: Exception, advice: str | None = None) -> Message:
    said = str(exc)
    found = _GLOBAL.search(said)
    save_weights = advice or Message("Save the weights with {hint}.", hint=_SAVE_HINT)
    if found:
        name = Untrusted(found.group(1))
        if name.startswith("torch.nn.modules") or name.startswith("__main__"):
            return Message("The file holds a whole pickled Python object ({name}), not just weights. For safety this "
                           "app only loads weights (nothing in the file was run). {advice}", name=name,
                           advice=save_weights)
        if name.startswith("numpy"):
            return Message("The file holds NumPy arrays, which a weights-only load does not accept. {advice}",
                           advice=advice or Message("Convert them to torch tensors (torch.from_numpy) and save with "
                                                    "{hint}.", hint=_SAVE_HINT))
        return Message("Refused: the file is a pickle that refers to the Python object {name}, so it is not a "
                       "weights-only file. Nothing in it was run. {advice}", name=name, advice=save_weights)
    if data.startswith(b"\x80") and (isinstance(exc, pickle.UnpicklingError) or "Weights only" in said):
        return Message("Refused: the file is a pickle that is not a weights-only PyTorch file (it uses instructions "
                       "or objects beyond tensors and plain data). Nothing in it was run. {advice}",
                       advice=save_weights)
    if data.startswith(b"PK\x03\x04"):
        return Message("The PyTorch checkpoint is damaged or incomplete (its zip archive cannot be read). "
                       "Save it again.")
    if data.startswith(b"\x80"):
        return Message("The file looks like a PyTorch file in the old format (torch before 1.6) but it is damaged "
                       "or incomplete. Save it again.")
    return Message("This is not a PyTorch file ({why}). {advice}", why=_sniff(data),
                   advice=advice or Message("Save the module's weights with {hint}.", hint=_SAVE_HINT))


def _sniff(data: bytes) -> Message:
    try:
        head = data[:64].decode("utf-8")
    except UnicodeDecodeError:
        head = ""
    lines = head.splitlines()
    if lines and all(line.isprintable() for line in lines):
        return Message("it looks like text starting {start!r}", start=Untrusted(lines[0][:30]))
    if data.startswith(b"\x89HDF"):
        return Message("it looks like an HDF5 file, e.g. from Keras")
    return Message("its first bytes are not a PyTorch header")
