"""Your own model files: uploads are untrusted input, checked and answered in plain words.

    loaded = load_model(file_bytes)            # state_dict of an nn.RNN / LSTM / GRU (stacked, bidirectional),
    loaded.model, loaded.notes                 # of a RecurrentModel, or a checkpoint this app saved
    obj = read_torch_file(file_bytes)          # what any .pt file holds (weights only), or UploadError

The limits of every upload, the tags of the app's own file formats and `UploadError` are defined in
`rnnviz.files.intake`; any .pt file is read by `rnnviz.files.torchfile`; sequences (CSV and text) by
`rnnviz.files.sequences`.

Model files are read by `rnnviz.files.sandbox`: scanned without unpickling, then read with
`torch.load(..., weights_only=True, map_location="cpu")` in a worker process with limits, so
that neither a pickled object nor a bomb can run or freeze anything here. Every problem raises
`UploadError` (a ValueError) whose message says what is wrong in words a practitioner knows,
and what to do; values from a file are quoted short (`sandbox.describe`). Messages and notes are
`rnnviz.i18n.Message`s: English as str, shown by a page in its language (`rnnviz.i18n.text`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..cells import LABELS, NUM_BLOCKS, article_message
from ..i18n import Message, _
from ..model import PARAM_NAMES, RecurrentModel
from ..spec import ACTIVATIONS, ModelSpec
from . import stacked
from .intake import (
    CHARLM_FORMAT,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    MAX_HIDDEN,
    MAX_INPUT,
    MAX_MODEL_BYTES,
    MODEL_FILE,
    UploadError,
    checked_bytes,
)
from .quote import clip, describe, dtype_problem, holds, quote, widened
from .quote import size_text as size_text
from .torchfile import _SAVE_HINT, _torch_load
from .torchfile import read_torch_file as read_torch_file

ROWS_PER_CELL = {"rnn": "H", "gru": "3H", "lstm": "4H"}
_CELL_OF_BLOCKS = {n: cell for cell, n in NUM_BLOCKS.items()}
NO_BIASES = Message("The file has no biases (a module built with bias=False): they are zero.")
TANH_ASSUMED = Message("A state_dict does not record an RNN's nonlinearity: assuming tanh (choose relu if the module "
                       "was built with nonlinearity='relu').")


# =============================================================================== models
@dataclass
class LoadedModel:
    """A model read from an upload."""

    model: RecurrentModel
    source: str                               # what the file was, in words
    meta: dict = field(default_factory=dict)  # metadata saved with an rnnviz checkpoint
    extra: dict = field(default_factory=dict)  # other named tensors of a checkpoint (e.g. a readout)
    notes: list = field(default_factory=list)  # things the user should know (assumptions made)

    @property
    def summary(self) -> str:
        m = self.model
        act = f" ({m.activation})" if m.cell == "rnn" else ""
        if getattr(m, "proj_size", 0):  # a projected LSTM: its output h_t = W_hr m_t has proj_size values
            return _("{cell}, input size {i}, hidden size {h} projected to {p} (proj_size), from {source}").format(
                cell=LABELS[m.cell], i=m.input_size, h=m.hidden_size, p=m.proj_size, source=_(self.source))
        return _("{cell}{act}, input size {i}, hidden size {h}, from {source}").format(
            cell=LABELS[m.cell], act=act, i=m.input_size, h=m.hidden_size, source=_(self.source))


def load_state_dict(data: bytes, max_bytes: int = MAX_MODEL_BYTES, **kwargs) -> RecurrentModel:
    """The RecurrentModel in an uploaded file; see `load_model` (which also returns notes and metadata)."""
    return load_model(data, max_bytes=max_bytes, **kwargs).model


def load_model(data: bytes, *, max_bytes: int = MAX_MODEL_BYTES, activation: str | None = None,
               prefix: str | None = None, max_hidden: int = MAX_HIDDEN, max_input: int = MAX_INPUT) -> LoadedModel:
    """Read a single-layer RNN / LSTM / GRU from the bytes of a file.

    Accepted: the state_dict of torch.nn.RNN / LSTM / GRU (keys weight_ih_l0, weight_hh_l0,
    bias_ih_l0, bias_hh_l0; without biases for bias=False), the state_dict of a RecurrentModel
    (keys weight_ih, ...), either one inside the state_dict of a larger model (keys such as
    "encoder.rnn.weight_ih_l0"; the other tensors are ignored, `prefix` picks a layer when there
    are several), and a checkpoint saved by `rnnviz.files.export.model_to_bytes`.

    The cell comes from the shapes: weight_hh is [G*H, H], so H is its column count and
    G = 1, 3, 4 rows per unit means RNN, GRU, LSTM. A plain RNN's state_dict does not say its
    nonlinearity: tanh is assumed (and said in `notes`) unless `activation` is given.
    """
    if activation is not None and activation not in ACTIVATIONS:
        raise UploadError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    data = checked_bytes(data, max_bytes, MODEL_FILE)
    obj = _torch_load(data, max_bytes=max_bytes)
    notes: list[str] = []
    meta: dict = {}
    extra: dict = {}
    spec = saved_cell = None
    if isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT:
        state, saved_cell, saved_act, spec, meta, extra = _read_checkpoint(obj)
        source = Message("an rnnviz checkpoint")
        if activation is not None and activation != saved_act and saved_cell == "rnn":
            notes.append(Message("The checkpoint says its RNN uses {saved}; using {activation} as you asked.",
                                 saved=saved_act, activation=activation))
        activation = activation or saved_act
        if stacked.is_stacked(state, None):  # a stacked or bidirectional model saved by this app
            return stacked.load_checkpoint(obj, state, saved_cell, activation, spec, meta, extra, notes, max_hidden,
                                           max_input)
        state, _, _ = _find_layer(state, "")
    elif isinstance(obj, Mapping) and obj.get("format") == CHARLM_FORMAT:
        corpus = obj.get("corpus", "")
        meta = {"vocab": _vocab(obj.get("vocab"), Message("This Text Lab model's vocabulary")),
                "corpus": corpus[:80] if isinstance(corpus, str) else ""}
        saved_act = obj.get("activation", "tanh")
        if not isinstance(saved_act, str) or saved_act not in ACTIVATIONS:
            raise UploadError(Message("This Text Lab model names an unknown activation: {value}.",
                                      value=describe(saved_act)))
        activation = activation or saved_act
        state, _, _ = _find_layer({k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}, "rnn")
        source = Message("a Text Lab character model")
        notes.append(Message("A character model from the Text Lab: its readout (hidden state to next-character "
                             "scores) is not shown here, and text is one-hot encoded with its own vocabulary."))
    else:
        if not isinstance(obj, Mapping):
            raise UploadError(Message("The file holds {what}, not a state_dict (a dictionary of named tensors). "
                                      "Save the module's weights with {hint}.", what=_describe(obj), hint=_SAVE_HINT))
        if not _has_layer(obj):  # a training checkpoint: {"epoch": ..., "model_state_dict": {...}, ...}
            nested = [k for k, v in obj.items() if isinstance(v, Mapping) and _has_layer(v)]
            if len(nested) == 1:
                obj = obj[nested[0]]
                notes.append(Message("Read the weights from the file's entry {key}.", key=describe(nested[0])))
        if stacked.is_stacked(obj, prefix):  # weight_ih_l1, ..._reverse: a stacked or bidirectional module
            return stacked.load_stacked(obj, prefix, activation, notes, max_hidden, max_input)
        state, source, ignored = _find_layer(obj, prefix)
        if ignored:
            shown = Message.join(clip(k, 40) for k in ignored[:6])
            if len(ignored) > 6:
                shown = Message("{keys} and {n} more", keys=shown, n=len(ignored) - 6)
            notes.append(Message("Ignored {n} tensor that is not part of the recurrent layer: {keys}.", n=1,
                                 keys=shown) if len(ignored) == 1 else
                         Message("Ignored {n} tensors that are not part of the recurrent layer: {keys}.",
                                 n=len(ignored), keys=shown))
    tensors = _check_tensors(state, notes)
    cell, I, H = _infer_shapes(tensors, max_hidden, max_input)
    if "bias_ih" not in tensors:
        notes.append(NO_BIASES)
    if cell == "rnn" and activation is None:
        activation = "tanh"
        notes.append(TANH_ASSUMED)
    if saved_cell is not None and saved_cell != cell:
        raise UploadError(Message("The checkpoint says it is {a_saved} but its weights have the shapes of {a_cell}: "
                                  "the file is damaged.", a_saved=article_message(saved_cell),
                                  a_cell=article_message(cell)))
    model = RecurrentModel(cell, I, H, activation or "tanh")
    model.spec = _spec_or_none(spec, model, notes)
    with torch.no_grad():
        for name in PARAM_NAMES:
            value = tensors.get(name)
            if value is None:
                getattr(model, name).zero_()
            else:
                getattr(model, name).copy_(value)
    return LoadedModel(model=model, source=source, meta=meta, extra=extra, notes=notes)


def _describe(obj: Any) -> str:
    if isinstance(obj, torch.Tensor):
        return Message("a single tensor of shape {shape}", shape=list(obj.shape))
    return describe(obj)


def _read_checkpoint(obj: Mapping):
    version = obj.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise UploadError(Message("This rnnviz checkpoint has version {version}; this app reads version {most} and "
                                  "older. Update rnnviz.", version=describe(version), most=CHECKPOINT_VERSION))
    state = obj.get("state_dict")
    if not isinstance(state, Mapping):
        raise UploadError(Message("This rnnviz checkpoint has no state_dict: the file is damaged."))
    cell = obj.get("cell")
    act = obj.get("activation", "tanh")
    if not isinstance(cell, str) or cell not in NUM_BLOCKS or not isinstance(act, str) or act not in ACTIVATIONS:
        raise UploadError(Message("This rnnviz checkpoint names an unknown cell ({cell}) or activation "
                                  "({activation}): the cell must be one of {cells}.", cell=describe(cell),
                                  activation=describe(act), cells=", ".join(NUM_BLOCKS)))
    meta = obj.get("meta") or {}
    extra = obj.get("extra") or {}
    if not isinstance(meta, Mapping) or not isinstance(extra, Mapping):
        raise UploadError(Message("This rnnviz checkpoint's metadata is damaged."))
    if "vocab" in meta:
        meta = {**meta, "vocab": _vocab(meta["vocab"], Message("This rnnviz checkpoint's vocabulary"))}
    for name, value in extra.items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise UploadError(Message("This rnnviz checkpoint's extra entry {key} is not a float tensor.",
                                      key=_key(name)))
        if not torch.isfinite(value).all():
            raise UploadError(Message("The checkpoint's tensor {key} contains NaN or infinite values.",
                                      key=_key(name)))
    spec = obj.get("spec")
    spec = dict(spec) if isinstance(spec, Mapping) else None
    return state, cell, act, spec, dict(meta), {k: v.to(torch.float32) for k, v in extra.items()}


def _vocab(value, what: str) -> list:
    """A saved vocabulary: a list of distinct single characters, or UploadError."""
    if (not isinstance(value, (list, tuple)) or not value or len(value) > MAX_INPUT
            or any(not isinstance(c, str) or len(c) != 1 for c in value) or len(set(value)) != len(value)):
        raise UploadError(Message("{what} is damaged: it must be a list of distinct single characters.", what=what))
    return list(value)


def _spec_or_none(spec: Mapping | None, model: RecurrentModel, notes: list) -> ModelSpec | None:
    """The checkpoint's ModelSpec, if it is valid and describes these weights' shapes."""
    if not spec:
        return None
    try:
        spec = ModelSpec(**spec)
    except (TypeError, ValueError) as exc:
        notes.append(Message("The checkpoint's settings could not be read ({why}); the weights are used as they are.",
                             why=clip(str(exc), 120)))
        return None
    said = (spec.cell, spec.input_size, spec.hidden_size)
    if said != (model.cell, model.input_size, model.hidden_size):
        notes.append(Message("The checkpoint's settings (cell {cell}, input size {i}, hidden size {h}) do not match "
                             "its weights; the weights are used as they are.", cell=said[0], i=said[1], h=said[2]))
        return None
    return spec


# Names a recurrent layer's tensors may have, after the layer's prefix.
_TORCH_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")
_OWN_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)$")


def _is_layer_key(key) -> bool:
    tail = key.rpartition(".")[2] if isinstance(key, str) else ""
    return bool(_TORCH_NAME.match(tail) or _OWN_NAME.match(tail))


def _has_layer(state: Mapping) -> bool:
    return any(_is_layer_key(k) for k in state)


def _find_layer(state: Mapping, prefix: str | None):
    """(the layer's tensors keyed weight_ih ..., a description, keys ignored) from a state_dict."""
    keys = [k for k in state if isinstance(k, str)]
    if len(keys) != len(state):
        raise UploadError(Message("The state_dict has keys that are not strings: it is not a PyTorch state_dict."))
    if not keys:
        raise UploadError(Message("The state_dict is empty: it holds no tensors."))
    layers: dict[str, list[str]] = {}
    for key in keys:
        if _is_layer_key(key):
            head = key.rpartition(".")[0]
            layers.setdefault(head + "." if head else "", []).append(key)
    if prefix is not None:
        prefix = prefix if prefix == "" or prefix.endswith(".") else prefix + "."
        if prefix not in layers:
            name = quote(prefix.rstrip('.'), 40)
            raise UploadError(Message("The state_dict has no recurrent layer named {name}; it has {layers}.",
                                      name=name, layers=_names(layers)) if layers else
                              Message("The state_dict has no recurrent layer named {name}.", name=name))
    elif not layers:
        shown = Message.join([*(clip(k, 40) for k in keys[:6]), *(["..."] if len(keys) > 6 else [])])
        raise UploadError(Message("Missing weights: the state_dict has no weight_ih_l0 / weight_hh_l0 (the names "
                                  "torch.nn.RNN, LSTM and GRU use); its keys are {keys}.", keys=shown))
    elif len(layers) > 1:
        raise UploadError(Message("The state_dict holds {n} recurrent layers ({layers}); choose one.", n=len(layers),
                                  layers=_names(layers)))
    else:
        prefix = next(iter(layers))
    own = [k for k in keys if k.startswith(prefix) and "." not in k[len(prefix):]]
    ignored = [k for k in keys if k not in own]
    names = [k[len(prefix):] for k in own]
    where = Message(" (layer {name})", name=quote(prefix.rstrip('.'), 40)) if prefix else ""

    layer_numbers = sorted({int(m.group(2)) for n in names if (m := _TORCH_NAME.match(n))})
    # Stacked, bidirectional and projected modules are read by .stacked before this; what reaches here with
    # them is a Text Lab character model, which the Text Lab trains with one layer, one way, no projection.
    if any(n > 0 for n in layer_numbers):
        raise UploadError(Message("A Text Lab character model has one layer, and this one has {n} (weights "
                                  "for layers l0 to l{last}). To see a stacked network, upload the recurrent "
                                  "module's own state_dict: {hint}.", n=max(layer_numbers) + 1,
                                  last=max(layer_numbers), hint=_SAVE_HINT))
    if any(n.endswith("_reverse") for n in names):
        raise UploadError(Message("A Text Lab character model reads one way, and this one also has backward "
                                  "weights (*_reverse). To see a bidirectional network, upload the recurrent "
                                  "module's own state_dict: {hint}.", hint=_SAVE_HINT))
    if any(n.startswith("weight_hr") for n in names):
        raise UploadError(Message("A Text Lab character model has no projection, and this LSTM has one "
                                  "(weight_hr_l0, proj_size > 0). To see a projected LSTM, upload the recurrent "
                                  "module's own state_dict: {hint}.", hint=_SAVE_HINT))
    torch_style = any(_TORCH_NAME.match(n) for n in names)
    own_style = any(_OWN_NAME.match(n) for n in names)
    if torch_style and own_style:
        raise UploadError(Message("The state_dict mixes torch's names (weight_ih_l0) with plain ones "
                                  "(weight_ih){where}.", where=where))
    suffix = "_l0" if torch_style else ""
    expected = [p + suffix for p in PARAM_NAMES]
    extra = [n for n in names if n not in expected]
    if extra:
        shown = Message.join(clip(prefix + n, 40) for n in extra[:6])
        raise UploadError(Message("Unexpected key {keys}: a single-layer RNN / LSTM / GRU has only {expected}.",
                                  keys=shown, expected=", ".join(expected)) if len(extra) == 1 else
                          Message("Unexpected keys {keys}: a single-layer RNN / LSTM / GRU has only {expected}.",
                                  keys=shown, expected=", ".join(expected)))
    missing = [n for n in expected if n not in names]
    if missing and not (set(missing) == {"bias_ih" + suffix, "bias_hh" + suffix}):
        shown = Message.join(clip(prefix + n, 40) for n in missing)
        raise UploadError(Message("Missing key {keys}: a single-layer RNN / LSTM / GRU has {expected}.", keys=shown,
                                  expected=", ".join(expected)) if len(missing) == 1 else
                          Message("Missing keys {keys}: a single-layer RNN / LSTM / GRU has {expected}.", keys=shown,
                                  expected=", ".join(expected)))
    layer = {n[:-len(suffix)] if suffix else n: state[prefix + n] for n in names}
    kind = "torch.nn.RNN / LSTM / GRU" if torch_style else "RecurrentModel"
    source = (Message("a {kind} state_dict, layer {name}", kind=kind, name=quote(prefix.rstrip('.'), 40)) if prefix
              else Message("a {kind} state_dict", kind=kind))
    return layer, source, ignored


def _names(layers: Mapping) -> str:
    return Message.join(quote(p.rstrip("."), 40) if p else TOP_LEVEL for p in layers)


TOP_LEVEL = Message("the top level")   # the keys of a state_dict outside any module


def _key(key) -> str:
    """A key of the file in a message: quoted, at most 40 characters."""
    return quote(key, 40) if isinstance(key, str) else describe(key, 40)


def _check_tensors(layer: Mapping, notes: list) -> dict:
    out = {}
    for name, value in layer.items():
        if not isinstance(value, torch.Tensor):
            raise UploadError(Message("{name} is {what}, not a tensor.", name=name, what=describe(value)))
        problem = dtype_problem(value.dtype)
        if problem:
            raise UploadError(holds(name, problem))
        if value.is_sparse or value.layout != torch.strided:
            raise UploadError(Message("{name} is a sparse tensor; save dense weights.", name=name))
        note = widened(name, value.dtype)
        if note:
            notes.append(note)
            value = value.to(torch.float32)
        bad = ~torch.isfinite(value)
        if bad.any():
            n_nan = int(torch.isnan(value).sum())
            n_inf = int(bad.sum()) - n_nan
            raise UploadError(Message("{name} contains {nan} NaN and {inf} infinite value: the weights are broken "
                                      "(often a training run that diverged).", name=name, nan=n_nan, inf=n_inf)
                              if n_inf == 1 else
                              Message("{name} contains {nan} NaN and {inf} infinite values: the weights are broken "
                                      "(often a training run that diverged).", name=name, nan=n_nan, inf=n_inf))
        out[name] = value
    return out


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _infer_shapes(t: dict, max_hidden: int, max_input: int) -> tuple[str, int, int]:
    """(cell, input size, hidden size) from the shapes, each checked against the others."""
    w_hh, w_ih = t["weight_hh"], t["weight_ih"]
    if w_hh.dim() != 2 or w_hh.shape[1] == 0:
        raise UploadError(Message("weight_hh has shape {shape}; it must be a matrix [G*H, H].", shape=_shape(w_hh)))
    if w_ih.dim() != 2:
        raise UploadError(Message("weight_ih has shape {shape}; it must be a matrix [G*H, input size].",
                                  shape=_shape(w_ih)))
    H = int(w_hh.shape[1])
    rows = int(w_hh.shape[0])
    G = rows // H
    if rows % H or G not in _CELL_OF_BLOCKS:
        raise UploadError(Message("weight_hh has shape {shape}: {rows} rows for hidden size {H} (its column count). "
                                  "An RNN has H = {H} rows, a GRU 3H = {H3}, an LSTM 4H = {H4}.", shape=_shape(w_hh),
                                  rows=rows, H=H, H3=3 * H, H4=4 * H))
    cell = _CELL_OF_BLOCKS[G]
    if H > max_hidden:
        raise UploadError(Message("The hidden size is {n}; the largest this app shows is {most}.", n=H,
                                  most=max_hidden))
    I = int(w_ih.shape[1])
    if I > max_input:
        raise UploadError(Message("The input size is {n}; the largest this app shows is {most}.", n=I,
                                  most=max_input))
    if I == 0:
        raise UploadError(Message("weight_ih has shape {shape}: the input size is 0.", shape=_shape(w_ih)))
    if w_ih.shape[0] != rows:
        raise UploadError(Message("Shape mismatch: weight_ih has shape {shape} but weight_hh has {hh_shape}; both "
                                  "must have {rows} rows ({per_cell} for {a_cell} with H = {H}).", shape=_shape(w_ih),
                                  hh_shape=_shape(w_hh), rows=rows, per_cell=ROWS_PER_CELL[cell],
                                  a_cell=article_message(cell), H=H))
    for name in ("bias_ih", "bias_hh"):
        if name in t and tuple(t[name].shape) != (rows,):
            raise UploadError(Message("Shape mismatch: {name} has shape {shape} but weight_hh has {hh_shape}; it must "
                                      "be [{rows}].", name=name, shape=_shape(t[name]), hh_shape=_shape(w_hh),
                                      rows=rows))
    return cell, I, H
