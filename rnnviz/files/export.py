"""Take everything out of the app: traces as NPZ and CSV, models as checkpoints.

    trace_to_npz(tr, spec, seq_len=200, input_kind="impulse")   -> bytes (numpy.load reads it)
    trace_to_csv(tr, spec, ...)                                  -> bytes (one row per time step)
    model_to_bytes(model, meta)                                  -> bytes (rnnviz.files.uploads.load_model reads it)

A stacked or bidirectional model's trace (rnnviz.deep.StackedTrace) exports every layer and direction:
its arrays and columns are named by torch's numbering, "l0/hidden" (the first layer) to "l3_reverse/hidden"
(the fourth layer's backward direction), every one in sequence order (row t is the sequence's step t, also
for a backward direction, as torch's output holds it); a one-layer trace's files are as they always were.

A PyTorch script that recomputes the numbers: rnnviz.files.script.reproduce_script.

Every export carries the settings that produced it (`trace_metadata`): the spec's knobs, the
view's settings (sequence length, input, loss) and what the trace itself says (cell, sizes).
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..deep import StackedModel, StackedTrace
from ..model import PARAM_NAMES, RecurrentModel
from ..spec import ModelSpec, Scenario
from ..sweeps import jacobian_cost
from ..trace import Trace
from .intake import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

MAX_CSV_CELLS = 5_000_000   # beyond this a CSV is too large to be useful: use NPZ
JACOBIAN_BUDGET = 1e10      # multiply-adds (sweeps.jacobian_cost) above which exports leave out the Jacobian norms


# =============================================================================== metadata
def trace_metadata(tr: Trace, spec_or_meta: Scenario | ModelSpec | Mapping | None = None, **settings) -> dict:
    """The settings behind a trace, as a flat JSON-able dict.

    `spec_or_meta` is the Scenario the trace was made from (its spec's knobs, sequence length and
    input are added), the ModelSpec the model was built from (its knobs are added) or a dict of
    metadata (e.g. {"source": "uploaded model.pt"}); `settings` adds view settings such as
    input_kind="noise". What the trace itself records (cell, activation, loss, sizes) is always
    included; a value given for one of those that disagrees with the trace is an error.
    """
    facts = {"cell": tr.cell_type, "activation": tr.activation, "loss": tr.loss, "seq_len": tr.T,
             "hidden_size": tr.hidden_size, "input_size": int(tr.inputs.shape[1])}
    if isinstance(tr, StackedTrace):
        facts.update(num_layers=tr.num_layers, bidirectional=tr.bidirectional, residual=tr.residual)
        if tr.projected:  # every per-layer array is at m_t, before the projection; `output` is h = W_hr m
            facts["proj_size"] = tr.proj_size
    meta: dict[str, Any] = {"format": "rnnviz.trace", "version": 1}
    given: dict[str, Any] = {}
    if isinstance(spec_or_meta, Scenario):
        given.update(spec_or_meta.spec.to_dict(), seq_len=spec_or_meta.seq_len, input_kind=spec_or_meta.input_kind)
    elif isinstance(spec_or_meta, ModelSpec):
        given.update(spec_or_meta.to_dict())
    elif isinstance(spec_or_meta, Mapping):
        given.update(spec_or_meta)
    elif spec_or_meta is not None:
        raise ValueError(f"spec_or_meta must be a ModelSpec or a dict; got {type(spec_or_meta).__name__}")
    given.update(settings)
    if tr.cell_type != "rnn" and given.get("activation") not in (None, "tanh"):
        given = {**given, "activation": "tanh"}  # a spec's RNN activation means nothing for LSTM / GRU
    for key, value in given.items():
        if key in facts and value != facts[key]:
            raise ValueError(f"metadata says {key}={value!r} but the trace has {key}={facts[key]!r}")
        meta[key] = _jsonable(key, value)
    meta.update(facts)
    return meta


def _jsonable(key: str, value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        json.dumps(value)
    except TypeError:
        raise ValueError(f"metadata {key!r} must be a number, string, bool, list or None; "
                         f"got {type(value).__name__}") from None
    return value


# =============================================================================== arrays of a trace
def include_jacobian(tr: Trace, jacobian: bool | None = None) -> bool:
    """Whether an export holds the Jacobian norms: as asked, or (None) when already computed or cheap:
    their sweep costs about T * H^3 operations, minutes for the largest traces."""
    if jacobian is not None:
        return bool(jacobian)
    return ("log10_jacobian_norm" in tr.__dict__
            or jacobian_cost(tr.cell_type, tr.hidden_size, tr.T) <= JACOBIAN_BUDGET)


def trace_arrays(tr: Trace, jacobian: bool | None = None) -> dict[str, np.ndarray]:
    """Every array of a trace by a plain name (what the NPZ holds and the CSV's columns come from).

    float32 [T, *]: inputs, hidden, cell (LSTM), gate_<name>, pre_<name>, log10_grad_hidden;
    float64 [T]: grad_norm, log10_grad_norm, cell_grad_norm / log10_cell_grad_norm (LSTM),
    jacobian_norm, log10_jacobian_norm, step_jacobian_norm, log10_step_jacobian_norm,
    pascanu_bound / log10_pascanu_bound (RNN); h0, c0; eigenvalues (complex), singular_values.
    """
    out = {"inputs": tr.inputs, "hidden": tr.hidden}
    if tr.cell is not None:
        out["cell"] = tr.cell
    for name, g in tr.gates.items():
        out[f"gate_{name}"] = g
    for name, p in tr.pre.items():
        out[f"pre_{name}"] = p
    out["h0"] = tr.h0
    if tr.c0 is not None:
        out["c0"] = tr.c0
    scalars = {"grad_norm": tr.log10_grad_norm, "cell_grad_norm": tr.log10_cell_grad_norm}
    if include_jacobian(tr, jacobian):
        scalars["jacobian_norm"] = tr.log10_jacobian_norm
        scalars["step_jacobian_norm"] = tr.log10_step_jacobian_norm
        scalars["pascanu_bound"] = tr.log10_pascanu_bound
    for name, log10_values in scalars.items():
        if log10_values is not None:
            out[name] = _pow10(log10_values)
            out["log10_" + name] = np.asarray(log10_values, dtype=np.float64)
    out["log10_grad_hidden"] = tr.log10_grad_hidden
    out["eigenvalues"] = np.asarray(tr.eigenvalues)
    out["singular_values"] = np.asarray(tr.singular_values)
    return out


# Arrays of a layer's trace that are not one entry per time step (kept as they are for a backward direction).
_NOT_PER_STEP = ("h0", "c0", "eigenvalues", "singular_values")


def layer_prefix(layer: int, direction: int) -> str:
    """How the exports name a layer and direction: torch's numbering, "l0/" to "l3_reverse/"."""
    return f"l{layer}{'_reverse' if direction else ''}/"


def stacked_arrays(tr: StackedTrace, jacobian: bool | None = None) -> dict[str, np.ndarray]:
    """Every array of a stacked trace: inputs [T, I], output [T, D*H] (what the top layer passes on),
    input_grad_norm / log10_input_grad_norm (||dL/dx_t||), and for each layer and direction the arrays of
    `trace_arrays` (but its input) under `layer_prefix`, with depth_grad_norm / log10_depth_grad_norm (the
    part of ||dL/dh_t|| that arrives from the layer above: the loss's own, on the top layer). Everything
    per step is in sequence order: a backward direction's arrays are reversed from its reading order.
    `jacobian` as in `include_jacobian`, for every layer at once (None: when computed or cheap for all)."""
    subs = {(layer, d): tr.trace(layer, d) for layer in range(tr.num_layers) for d in range(tr.directions)}
    if jacobian is None:
        jacobian = (all("log10_jacobian_norm" in sub.__dict__ for sub in subs.values())
                    or sum(jacobian_cost(s.cell_type, s.hidden_size, s.T) for s in subs.values()) <= JACOBIAN_BUDGET)
    out = {"inputs": tr.inputs, "output": tr.output, "input_grad_norm": _pow10(tr.log10_input_grad_norm),
           "log10_input_grad_norm": np.asarray(tr.log10_input_grad_norm, dtype=np.float64)}
    for (layer, d), sub in subs.items():
        prefix = layer_prefix(layer, d)
        arrays = trace_arrays(sub, jacobian)
        del arrays["inputs"]  # the sequence, or the layer below's states: in `inputs` and the layer below
        depth = np.asarray(tr.depth_grad_grid(d)[layer], dtype=np.float64)
        arrays.update(depth_grad_norm=_pow10(depth), log10_depth_grad_norm=depth)
        for name, a in arrays.items():
            if d and name not in _NOT_PER_STEP and name not in ("depth_grad_norm", "log10_depth_grad_norm"):
                a = np.ascontiguousarray(a[::-1])
            out[prefix + name] = a
    return out


def _pow10(log10_values) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.power(10.0, np.asarray(log10_values, dtype=np.float64))


def trace_to_npz(tr: Trace, spec_or_meta: ModelSpec | Mapping | None = None, *, jacobian: bool | None = None,
                 **settings) -> bytes:
    """The trace's arrays (see `trace_arrays`) and its metadata, as a compressed .npz file.

    Read it with `np.load(f)` (no pickle needed): `json.loads(str(f["meta_json"]))` is the metadata.
    `jacobian`: include the Jacobian norms (None: when computed already or cheap, see `include_jacobian`).
    """
    arrays = stacked_arrays(tr, jacobian) if isinstance(tr, StackedTrace) else trace_arrays(tr, jacobian)
    meta = trace_metadata(tr, spec_or_meta, **settings)
    meta["jacobian_norms"] = "jacobian_norm" in arrays or "l0/jacobian_norm" in arrays
    arrays["meta_json"] = np.array(json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# Per-unit columns of the CSV and the per-step columns after them, with a line of legend each.
_UNIT_COLUMNS = (("inputs", "x", "input feature j at step t"),
                 ("hidden", "h", "hidden state of unit j after reading x_t"),
                 ("cell", "c", "LSTM cell state of unit j"))
_STEP_COLUMNS = (("grad_norm", "||dL/dh_t||, the total gradient through time (inf: beyond float64)"),
                 ("log10_grad_norm", "its log10, exact even beyond float64"),
                 ("cell_grad_norm", "||dL/dc_t||, the LSTM cell path"),
                 ("log10_cell_grad_norm", "its log10"),
                 ("jacobian_norm", "||dh_{T-1}/dh_t||_2, the Jacobian product's spectral norm"),
                 ("log10_jacobian_norm", "its log10"),
                 ("step_jacobian_norm", "||ds_t/ds_{t-1}||_2 of this step alone"),
                 ("log10_step_jacobian_norm", "its log10"),
                 ("pascanu_bound", "(gamma sigma_max(W_hh))^(T-1-t), an upper bound on jacobian_norm"),
                 ("log10_pascanu_bound", "its log10"),
                 ("depth_grad_norm", "the part of ||dL/dh_t|| that arrives from the layer above (on the top layer: "
                                     "the loss's own term)"),
                 ("log10_depth_grad_norm", "its log10"),
                 ("input_grad_norm", "||dL/dx_t||, what reaches the input"),
                 ("log10_input_grad_norm", "its log10"))


def trace_columns(tr: Trace | StackedTrace, jacobian: bool | None = None) -> tuple[list[str], list[np.ndarray],
                                                                              list[str]]:
    """(names, 1-D columns, legend lines) of the CSV export: one entry per time step each. A stacked trace's
    columns: x_j, then every layer and direction's under its prefix ("l0/h_0", "l1_reverse/grad_norm", ...),
    then ||dL/dx_t||."""
    names, cols, legend = ["t", "steps_back"], [np.arange(tr.T), tr.T - 1 - np.arange(tr.T)], [
        "t: time step (row t describes the state after reading x_t)", "steps_back: T-1-t"]
    if not isinstance(tr, StackedTrace):
        _add_columns(trace_arrays(tr, jacobian), tr.gate_names, "", names, cols, legend)
        return names, cols, legend
    arrays = stacked_arrays(tr, jacobian)
    legend[0] = "t: time step of the sequence (row t describes every layer and direction at the sequence's step t)"
    _add_columns({"inputs": arrays["inputs"]}, (), "", names, cols, legend)
    legend.append("lK/...: layer K (0: the first, reading x), forward direction; lK_reverse/...: its backward "
                  "direction, which reads the sequence from its last step (its jacobian_norm and pascanu_bound "
                  "run to its final state, at t = 0)")
    for layer in range(tr.num_layers):
        for d in range(tr.directions):
            prefix = layer_prefix(layer, d)
            part = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            seen = set(legend)
            more = []
            _add_columns(part, tr.gate_names, prefix, names, cols, more)
            legend += [line for line in (m.replace(prefix, "lK/", 1) for m in more) if line not in seen]
    _add_columns({k: arrays[k] for k in ("input_grad_norm", "log10_input_grad_norm")}, (), "", names, cols, legend)
    return names, cols, legend


def _add_columns(arrays: dict, gate_names, prefix: str, names: list, cols: list, legend: list):
    """The columns of one layer's arrays (`trace_arrays`), each name after `prefix`, with a legend line each."""
    units = [(key, p, text) for key, p, text in _UNIT_COLUMNS]
    units += [(f"gate_{g}", f"gate_{g}", f"{g} gate of unit j") for g in gate_names]
    for key, p, text in units:
        if key in arrays:
            a = arrays[key]
            names += [f"{prefix}{p}_{j}" for j in range(a.shape[1])]
            cols += [a[:, j] for j in range(a.shape[1])]
            legend.append(f"{prefix}{p}_j: {text}")
    for key, text in _STEP_COLUMNS:
        if key in arrays:
            names.append(prefix + key)
            cols.append(arrays[key])
            legend.append(f"{prefix}{key}: {text}")


def trace_to_csv(tr: Trace, spec_or_meta: ModelSpec | Mapping | None = None, *, jacobian: bool | None = None,
                 max_cells: int = MAX_CSV_CELLS, **settings) -> bytes:
    """One row per time step, clearly named columns (x_j, h_j, c_j, gate_<name>_j, grad_norm, ...).

    The metadata comes first as comment lines "# key: value" (values in JSON), then a legend
    "# - column: meaning", then the header row. Numbers are written exactly: float32 columns as
    the shortest text that reads back as the same float32, float64 columns likewise.
    `numpy.loadtxt(f, delimiter=",", skiprows=<comment lines + 1>)` reads it back. `jacobian` as in
    `trace_to_npz`; at most `max_cells` numbers (else ValueError: use NPZ).
    """
    names, cols, legend = trace_columns(tr, jacobian)
    if tr.T * len(names) > max_cells:
        raise ValueError(f"A CSV of this trace would have {tr.T} rows x {len(names)} columns; the limit is "
                         f"{max_cells} cells. Export NPZ instead, or shorten the sequence.")
    meta = trace_metadata(tr, spec_or_meta, **settings)
    meta["jacobian_norms"] = "jacobian_norm" in names or "l0/jacobian_norm" in names
    lines = ["# rnnviz trace"] + [f"# {k}: {_header_json(v)}" for k, v in meta.items()]
    lines += [f"# - {line}" for line in legend]
    lines.append(",".join(names))
    out = io.BytesIO()
    out.write(("\n".join(lines) + "\n").encode("utf-8"))
    for a in range(0, tr.T, 256):  # a few hundred rows at a time: text is ~30x the numbers' size
        b = min(tr.T, a + 256)
        text_cols = np.stack([np.asarray(c[a:b]).astype(str) for c in cols], axis=1)
        out.write(("\n".join(",".join(row) for row in text_cols) + "\n").encode("utf-8"))
    return out.getvalue()


# Inside the JSON strings of the CSV's comment lines, written as \u escapes (json.loads reads them
# back unchanged): the separators a spreadsheet splits a line at, so that a line stays one cell
# starting with "#", and every character that can start a formula (a file name "=HYPERLINK(...)").
_INERT_IN_CSV = str.maketrans({ch: f"\\u{ord(ch):04x}" for ch in ",;\t=+-@|'"})


def _header_json(value) -> str:
    """`value` as JSON for a comment line of the CSV, its text holding no separator and nothing
    that a spreadsheet could read as a formula."""
    if isinstance(value, str):
        return json.dumps(value).translate(_INERT_IN_CSV)   # all but the quotes is inside the string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_header_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_header_json(str(k))}: {_header_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def read_csv_metadata(data: bytes) -> dict:
    """The "# key: value" metadata at the top of a CSV written by `trace_to_csv`."""
    meta = {}
    for line in data.decode("utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# - ") or ": " not in line:
            continue
        key, _, value = line[2:].partition(": ")
        meta[key] = json.loads(value)
    return meta


# =============================================================================== checkpoints
def model_to_bytes(model: RecurrentModel | StackedModel, meta: Mapping | None = None,
                   extra: Mapping[str, torch.Tensor] | None = None) -> bytes:
    """An rnnviz checkpoint of `model`: loads with torch.load(weights_only=True) and `io.load_model`.

    The file is a dict of plain data and tensors: {"format", "version", "cell", "activation",
    "input_size", "hidden_size", "spec" (the ModelSpec's knobs or None), "meta" (`meta`: numbers,
    strings, lists, e.g. the task, training steps, a character vocabulary), "extra" (other named
    float tensors, e.g. a readout layer), "state_dict"}. The state_dict uses torch's names
    (weight_ih_l0, ...), so `torch.nn.LSTM(I, H).load_state_dict(ckpt["state_dict"])` works too.
    A stacked or bidirectional model adds "num_layers", "bidirectional" and "residual", and its
    state_dict holds every layer and direction (weight_ih_l1, bias_hh_l0_reverse, ...): without residual
    connections `torch.nn.LSTM(I, H, num_layers, bidirectional=...)` loads it (with proj_size=P for a projected
    LSTM, whose weight_hr_l{k} are in the state_dict).
    """
    if not isinstance(model, (RecurrentModel, StackedModel)):
        raise ValueError(f"model_to_bytes needs a RecurrentModel or a StackedModel; got {type(model).__name__}")
    meta = {k: _jsonable(k, v) for k, v in (meta or {}).items()}
    extra_tensors = {}
    for name, value in (extra or {}).items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ValueError(f"extra[{name!r}] must be a float tensor")
        extra_tensors[str(name)] = value.detach().to("cpu", torch.float32).clone().contiguous()
    if isinstance(model, StackedModel):
        params = dict(model.named_parameters())
    else:
        params = {f"{name}_l0": getattr(model, name) for name in PARAM_NAMES}
    ckpt = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "cell": model.cell, "activation": model.activation,
        "input_size": model.input_size, "hidden_size": model.hidden_size,
        "spec": model.spec.to_dict() if model.spec is not None else None,
        "meta": meta, "extra": extra_tensors,
        "state_dict": {name: p.detach().to("cpu", torch.float32).clone().contiguous() for name, p in params.items()},
    }
    if isinstance(model, StackedModel):
        ckpt.update(num_layers=model.num_layers, bidirectional=model.bidirectional, residual=model.residual)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


def spec_from_metadata(meta: Mapping) -> ModelSpec | None:
    """The ModelSpec recorded in export metadata, or None when it holds no complete spec."""
    names = [f.name for f in dataclasses.fields(ModelSpec)]
    if not all(n in meta for n in names):
        return None
    return ModelSpec(**{n: meta[n] for n in names})
