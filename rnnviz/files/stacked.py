"""Uploads of stacked and bidirectional torch.nn.RNN / LSTM / GRU state_dicts (weight_ih_l1, ...,
weight_hh_l0_reverse): every layer and direction checked against layer 0, each problem in its own
plain message (a missing weight_hh_l2, a reverse weight of the wrong shape), then a StackedModel.

`rnnviz.files.uploads.load_model` hands a state_dict here when its keys name a layer above l0 or a
_reverse direction; the single-layer checks of that module are reused for every tensor.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..cells import NUM_BLOCKS, article_message
from ..deep import StackedModel, param_name
from ..i18n import Message, Untrusted
from ..model import PARAM_NAMES
from ..spec import ModelSpec


def is_stacked(state: Mapping, prefix: str | None) -> bool:
    """True when the recurrent module's keys (under `prefix`, if given) name a layer above l0, a
    backward direction or an LSTM's projection (weight_hr_l0)."""
    from .uploads import _TORCH_NAME

    for key in (k for k in state if isinstance(k, str)):
        head, _, tail = key.rpartition(".")
        m = _TORCH_NAME.match(tail)
        if m and (prefix is None or head == prefix.rstrip(".")) and (int(m.group(2)) > 0 or m.group(3)
                                                                     or m.group(1) == "weight_hr"):
            return True
    return False


def load_checkpoint(obj: Mapping, state: Mapping, cell: str, activation: str, spec: Mapping | None, meta: dict,
                    extra: dict, notes: list, max_hidden: int, max_input: int):
    """A LoadedModel holding the stacked model of an rnnviz checkpoint (`rnnviz.files.export.model_to_bytes`):
    its state_dict checked as an upload's, its residual connections and, when they describe these weights,
    its settings."""
    from .uploads import UploadError

    residual = obj.get("residual", False)
    if not isinstance(residual, bool):
        raise UploadError(Message("This rnnviz checkpoint's metadata is damaged."))
    loaded = load_stacked(state, None, activation, notes, max_hidden, max_input, residual=residual)
    model = loaded.model
    if model.cell != cell:
        raise UploadError(Message("The checkpoint says it is {a_saved} but its weights have the shapes of {a_cell}: "
                                  "the file is damaged.", a_saved=article_message(cell),
                                  a_cell=article_message(model.cell)))
    model.spec = _spec_of(spec, model, notes)
    kind = (Message("{n}-layer bidirectional", n=model.num_layers) if model.bidirectional else
            Message("{n}-layer", n=model.num_layers))
    loaded.source = Message("an rnnviz checkpoint of a {kind} network", kind=kind)
    loaded.meta, loaded.extra = meta, extra
    return loaded


def _spec_of(spec: Mapping | None, model: StackedModel, notes: list) -> ModelSpec | None:
    """The checkpoint's ModelSpec, if it is valid and describes this stacked model."""
    if not spec:
        return None
    try:
        spec = ModelSpec(**spec)
    except (TypeError, ValueError):
        notes.append(Message("The checkpoint's settings could not be read; the weights are used as they are."))
        return None
    said = (spec.cell, spec.input_size, spec.hidden_size, spec.num_layers, spec.bidirectional, spec.residual)
    if said != (model.cell, model.input_size, model.hidden_size, model.num_layers, model.bidirectional,
                model.residual):
        notes.append(Message("The checkpoint's settings do not match its weights; the weights are used as they are."))
        return None
    return spec


def _projection_size(tensors: Mapping, first: dict, lead: str) -> int:
    """P of a projected LSTM, from weight_hr_l0 [P, H]; `first` then gets a stand-in weight_hh [4H, H] so that
    layer 0's shapes are inferred as an unprojected LSTM's (weight_hh itself is checked afterwards)."""
    from .uploads import UploadError, _shape

    hr, hh = tensors["weight_hr_l0"], first.get("weight_hh")
    if hr.dim() != 2 or not 0 < hr.shape[0] < hr.shape[1]:
        raise UploadError(Message("{key} has shape {shape}; an LSTM's projection must be a matrix [P, H] with P "
                                  "smaller than the hidden size H.", key=Untrusted(lead + "weight_hr_l0"),
                                  shape=_shape(hr)))
    if hh is not None and hh.dim() == 2:
        first["weight_hh"] = torch.empty(hh.shape[0], hr.shape[1], device="meta")  # a shape: nothing allocated
    return int(hr.shape[0])


def load_stacked(state: Mapping, prefix: str | None, activation: str | None, notes: list, max_hidden: int,
                 max_input: int, *, residual: bool = False):
    """A LoadedModel holding the StackedModel of this state_dict, or UploadError saying what is wrong.
    `residual`: the model has residual connections (only an rnnviz checkpoint says so)."""
    from .uploads import (
        _TORCH_NAME,
        NO_BIASES,
        TANH_ASSUMED,
        TOP_LEVEL,
        LoadedModel,
        UploadError,
        _check_tensors,
        _infer_shapes,
        _shape,
    )

    heads = sorted({k.rpartition(".")[0] for k in state
                    if isinstance(k, str) and _TORCH_NAME.match(k.rpartition(".")[2])})
    if prefix is not None:
        head = prefix.rstrip(".")
        if head not in heads:
            raise UploadError(Message("The state_dict has no recurrent layer named {name!r}.", name=Untrusted(head)))
    elif len(heads) > 1:
        raise UploadError(Message("The state_dict holds {n} recurrent modules ({modules}); choose one.", n=len(heads),
                                  modules=Message.join(Untrusted(repr(h)) if h else TOP_LEVEL for h in heads)))
    else:
        head = heads[0]
    lead = head + "." if head else ""
    own = {k[len(lead):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(lead)
           and "." not in k[len(lead):]}
    ignored = [k for k in state if k not in {lead + n for n in own}]
    if ignored:
        notes.append(Message("Ignored {n} tensor that is not part of the recurrent module.", n=1)
                     if len(ignored) == 1 else
                     Message("Ignored {n} tensors that are not part of the recurrent module.", n=len(ignored)))
    parsed = {}
    for name in own:
        m = _TORCH_NAME.match(name)
        if not m:
            raise UploadError(Message("Unexpected key {key}: a stacked RNN / LSTM / GRU has only keys like "
                                      "weight_ih_l0, weight_hh_l1, bias_ih_l0_reverse.", key=Untrusted(lead + name)))
        parsed[name] = (m.group(1), int(m.group(2)), bool(m.group(3)))
    L = 1 + max(layer for _, layer, _ in parsed.values())
    D = 2 if any(rev for _, _, rev in parsed.values()) else 1
    if L > 4:
        raise UploadError(Message("This is a {n}-layer network; rnnviz shows up to 4 layers.", n=L))
    biased = any(p.startswith("bias") for p, _, _ in parsed.values())
    projected = any(p == "weight_hr" for p, _, _ in parsed.values())
    names = PARAM_NAMES + ("weight_hr",) if projected else PARAM_NAMES
    wanted = [param_name(p, layer, d) for layer in range(L) for d in range(D)
              for p in names if biased or p.startswith("weight")]
    kind = (Message("{n}-layer bidirectional", n=L) if D == 2 else Message("{n}-layer", n=L))
    missing = [n for n in wanted if n not in own]
    if missing:
        keys = Untrusted(", ".join(lead + n for n in missing[:6]))
        names = ("weight_ih_l{k}, weight_hh_l{k}" + (", bias_ih_l{k}, bias_hh_l{k}" if biased else "")
                 + (", weight_hr_l{k}" if projected else ""))
        raise UploadError(Message("Missing key {keys}: a {kind} RNN / LSTM / GRU has {names} and their _reverse twins "
                                  "for every layer k = 0 to {last}.", keys=keys, kind=kind, names=names, last=L - 1)
                          if D == 2 and len(missing) == 1 else
                          Message("Missing keys {keys}: a {kind} RNN / LSTM / GRU has {names} and their _reverse "
                                  "twins for every layer k = 0 to {last}.", keys=keys, kind=kind, names=names,
                                  last=L - 1) if D == 2 else
                          Message("Missing key {keys}: a {kind} RNN / LSTM / GRU has {names} for every layer k = 0 "
                                  "to {last}.", keys=keys, kind=kind, names=names, last=L - 1) if len(missing) == 1
                          else Message("Missing keys {keys}: a {kind} RNN / LSTM / GRU has {names} for every layer "
                                       "k = 0 to {last}.", keys=keys, kind=kind, names=names, last=L - 1))
    tensors = _check_tensors({n: own[n] for n in wanted}, notes)
    first = {p: tensors[p + "_l0"] for p in PARAM_NAMES if p + "_l0" in tensors}
    P = _projection_size(tensors, first, lead) if projected else 0
    cell, I, H = _infer_shapes(first, max_hidden, max_input)
    rows, out = NUM_BLOCKS[cell] * H, P or H
    if projected and cell != "lstm":
        raise UploadError(Message("weight_hr_l0 is an LSTM's projection, but these weights have the shapes of "
                                  "{a_cell}.", a_cell=article_message(cell)))
    if projected and residual:
        raise UploadError(Message("This rnnviz checkpoint's metadata is damaged."))
    for name in wanted:
        p, layer, d = parsed[name]
        width = I if layer == 0 else D * out
        want = {"weight_ih": (rows, width), "weight_hh": (rows, out), "weight_hr": (P, H)}.get(p, (rows,))
        if tuple(tensors[name].shape) != want:
            why = (Message("layer {layer} reads both directions of layer {below}: {D} × {H} values per step",
                           layer=layer, below=layer - 1, D=D, H=out) if p == "weight_ih" and layer and D == 2 else
                   Message("layer {layer} reads layer {below}: {D} × {H} values per step",
                           layer=layer, below=layer - 1, D=D, H=out) if p == "weight_ih" and layer else
                   Message("an LSTM with hidden size H = {H} projected to P = {P} values per step, as weight_hr_l0 "
                           "says", H=H, P=P) if p in ("weight_hh", "weight_hr") and projected else
                   Message("{a_cell} with hidden size H = {H} and input size {I}, as layer 0 forwards says",
                           a_cell=article_message(cell), H=H, I=I))
            raise UploadError(Message("Shape mismatch: {key} has shape {shape}; it must be [{want}] ({why}).",
                                      key=Untrusted(lead + name), shape=_shape(tensors[name]),
                                      want=", ".join(str(s) for s in want), why=why))
    if cell == "rnn" and activation is None:
        activation = "tanh"
        notes.append(TANH_ASSUMED)
    if not biased:
        notes.append(NO_BIASES)
    model = StackedModel(cell, I, H, L, D == 2, residual, activation or "tanh", proj_size=P)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in tensors:
                p.copy_(tensors[name].to(torch.float32))
    source = (Message("a {kind} torch.nn.RNN / LSTM / GRU state_dict, module {name!r}", kind=kind, name=Untrusted(head))
              if head
              else Message("a {kind} torch.nn.RNN / LSTM / GRU state_dict", kind=kind))
    return LoadedModel(model=model, source=source, notes=notes)
