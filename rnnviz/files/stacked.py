"""Uploads of stacked and bidirectional torch.nn.RNN / LSTM / GRU state_dicts (weight_ih_l1, ...,
weight_hh_l0_reverse): every layer and direction checked against layer 0, each problem in its own
plain message (a missing weight_hh_l2, a reverse weight of the wrong shape), then a StackedModel.

`rnnviz.files.uploads.load_model` hands a state_dict here when its keys name a layer above l0 or a
_reverse direction; the single-layer checks of that module are reused for every tensor.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..cells import NUM_BLOCKS, article
from ..deep import StackedModel, param_name
from ..model import PARAM_NAMES


def is_stacked(state: Mapping, prefix: str | None) -> bool:
    """True when the recurrent module's keys (under `prefix`, if given) name a layer above l0 or a
    backward direction."""
    from .uploads import _TORCH_NAME

    for key in (k for k in state if isinstance(k, str)):
        head, _, tail = key.rpartition(".")
        m = _TORCH_NAME.match(tail)
        if m and (prefix is None or head == prefix.rstrip(".")) and (int(m.group(2)) > 0 or m.group(3)):
            return True
    return False


def load_stacked(state: Mapping, prefix: str | None, activation: str | None, notes: list, max_hidden: int,
                 max_input: int):
    """A LoadedModel holding the StackedModel of this state_dict, or UploadError saying what is wrong."""
    from .uploads import _TORCH_NAME, LoadedModel, UploadError, _check_tensors, _infer_shapes, _shape

    heads = sorted({k.rpartition(".")[0] for k in state
                    if isinstance(k, str) and _TORCH_NAME.match(k.rpartition(".")[2])})
    if prefix is not None:
        head = prefix.rstrip(".")
        if head not in heads:
            raise UploadError(f"The state_dict has no recurrent layer named {head!r}.")
    elif len(heads) > 1:
        raise UploadError(f"The state_dict holds {len(heads)} recurrent modules "
                          f"({', '.join(repr(h) if h else 'the top level' for h in heads)}); choose one.")
    else:
        head = heads[0]
    lead = head + "." if head else ""
    own = {k[len(lead):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(lead)
           and "." not in k[len(lead):]}
    ignored = [k for k in state if k not in {lead + n for n in own}]
    if ignored:
        notes.append(f"Ignored {len(ignored)} tensor{'s' * (len(ignored) != 1)} that "
                     f"{'is' if len(ignored) == 1 else 'are'} not part of the "
                     f"recurrent module.")
    if any(n.startswith("weight_hr") for n in own):
        raise UploadError("This LSTM has projections (weight_hr_l0, proj_size > 0), which rnnviz does not show: "
                          "use an LSTM with proj_size=0.")
    parsed = {}
    for name in own:
        m = _TORCH_NAME.match(name)
        if not m:
            raise UploadError(f"Unexpected key {lead + name}: a stacked RNN / LSTM / GRU has only keys like "
                              f"weight_ih_l0, weight_hh_l1, bias_ih_l0_reverse.")
        parsed[name] = (m.group(1), int(m.group(2)), bool(m.group(3)))
    L = 1 + max(layer for _, layer, _ in parsed.values())
    D = 2 if any(rev for _, _, rev in parsed.values()) else 1
    if L > 4:
        raise UploadError(f"This is a {L}-layer network; rnnviz shows up to 4 layers.")
    biased = any(p.startswith("bias") for p, _, _ in parsed.values())
    wanted = [param_name(p, layer, d) for layer in range(L) for d in range(D)
              for p in PARAM_NAMES if biased or p.startswith("weight")]
    kind = f"{L}-layer{' bidirectional' if D == 2 else ''}"
    missing = [n for n in wanted if n not in own]
    if missing:
        twins = " and their _reverse twins" if D == 2 else ""
        raise UploadError(f"Missing key{'s' * (len(missing) > 1)} {', '.join(lead + n for n in missing[:6])}: a "
                          f"{kind} RNN / LSTM / GRU has weight_ih_l{{k}}, weight_hh_l{{k}}"
                          f"{', bias_ih_l{k}, bias_hh_l{k}' if biased else ''}{twins} for every layer "
                          f"k = 0 to {L - 1}.")
    tensors = _check_tensors({n: own[n] for n in wanted}, notes)
    first = {p: tensors[p + "_l0"] for p in PARAM_NAMES if p + "_l0" in tensors}
    cell, I, H = _infer_shapes(first, max_hidden, max_input)
    rows = NUM_BLOCKS[cell] * H
    for name in wanted:
        p, layer, d = parsed[name]
        width = I if layer == 0 else D * H
        want = {"weight_ih": (rows, width), "weight_hh": (rows, H)}.get(p, (rows,))
        if tuple(tensors[name].shape) != want:
            why = (f"layer {layer} reads {'both directions of ' if D == 2 else ''}layer {layer - 1}: "
                   f"{D} × {H} values per step" if p == "weight_ih" and layer else
                   f"{article(cell)} with hidden size H = {H} and input size {I}, as layer 0 forwards says")
            raise UploadError(f"Shape mismatch: {lead + name} has shape {_shape(tensors[name])}; it must be "
                              f"[{', '.join(str(s) for s in want)}] ({why}).")
    if cell == "rnn" and activation is None:
        activation = "tanh"
        notes.append("A state_dict does not record an RNN's nonlinearity: assuming tanh "
                     "(choose relu if the module was built with nonlinearity='relu').")
    if not biased:
        notes.append("The file has no biases (a module built with bias=False): they are zero.")
    model = StackedModel(cell, I, H, L, D == 2, False, activation or "tanh")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in tensors:
                p.copy_(tensors[name].to(torch.float32))
    source = f"a {kind} torch.nn.RNN / LSTM / GRU state_dict" + (f", module {head!r}" if head else "")
    return LoadedModel(model=model, source=source, notes=notes)
