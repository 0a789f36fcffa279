"""Finished runs kept with the app, so that a lab opens with its result on screen: the Training Lab and
the Text Lab at their default settings, trained once by `python -m rnnviz pretrain` (seeded, one
thread) and stored here as weights and records (loaded weights-only), with a manifest of the settings
and the metrics.

    results = pretrained.training_lab(settings)   # {cell: FitResult} when settings are the defaults, else None
    result = pretrained.text_lab(values)          # the Text Lab's FitResult at its default knob values, else None
    pretrained.pretrain()                         # train again, write the files and the manifest

A stored run is what pressing Train with the same settings computes (`tests/labs/test_pretrained.py`
retrains one cell and checks that the stored metrics are met).
"""
from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..spec import KNOBS
from ..train import FitResult, fit
from . import training

DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = "manifest.json"
TRAINING_LAB = "training_lab.pt"
TEXT_LAB = "text_lab.pt"
# The Text Lab's knobs that decide what it trains (its page's names), all at their defaults.
TEXT_LAB_KNOBS = ("corpus", "cell", "lm_hidden", "seed", "lm_steps", "lm_seq_len", "lm_batch", "lm_lr")
COMMAND = "python -m rnnviz pretrain"


def manifest(directory: Path = DIR) -> dict:
    """The manifest: for each stored run its file, settings, metrics, seconds and torch version ({} if none)."""
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


# --------------------------------------------------------------------------- the Training Lab
def training_lab(settings: training.Settings | None = None, directory: Path = DIR) -> dict | None:
    """The stored Training Lab run ({cell: FitResult}) if it was trained with `settings` (default: the
    defaults), else None."""
    settings = settings or training.Settings()
    entry = manifest(directory).get("training_lab")
    if entry is None or training.Settings(**_settings_fields(entry["settings"])) != settings:
        return None
    data = _load(directory, entry)
    return {cell: _restore(settings.spec(cell), {**settings.fit_kwargs(), "steps": settings.steps}, record)
            for cell, record in data["cells"].items()}


def _load(directory: Path, entry: dict) -> dict:
    return torch.load(io.BytesIO((Path(directory) / entry["file"]).read_bytes()), weights_only=True,
                      map_location="cpu")


# --------------------------------------------------------------------------- the Text Lab
def text_lab_defaults() -> dict:
    return {name: KNOBS[name].default for name in TEXT_LAB_KNOBS}


def _text_lab_fit(values: dict) -> tuple:
    """(spec, fit arguments) of the Text Lab's run with these knob values, as its page trains it."""
    from . import charlm, corpora

    task = charlm.CharTask(corpora.get_corpus(values["corpus"]))
    spec = charlm.lm_spec(values["cell"], values["lm_hidden"], values["seed"])
    return spec, dict(task=task, seq_len=values["lm_seq_len"], steps=values["lm_steps"],
                      batch_size=values["lm_batch"], lr=values["lm_lr"], clip=charlm.CLIP, seed=values["seed"],
                      **charlm.FIT_RECORDS)


def text_lab(values: dict, directory: Path = DIR) -> FitResult | None:
    """The stored Text Lab run (a FitResult on a CharTask) if `values` (its knobs) are the defaults, else None."""
    entry = manifest(directory).get("text_lab")
    if entry is None or {k: values.get(k) for k in TEXT_LAB_KNOBS} != entry["settings"]:
        return None
    spec, kwargs = _text_lab_fit(entry["settings"])
    return _restore(spec, kwargs, _load(directory, entry)["run"])


def _settings_fields(values: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _record(r: FitResult) -> dict:
    """What a FitResult learned and measured, as tensors and plain values (torch.load weights-only reads it)."""
    reach_cell = r.reach_cell
    return {
        "model": r.model.state_dict(), "readout": r.readout.state_dict(), "probe": torch.from_numpy(r.probe),
        "per_step": torch.from_numpy(np.asarray(r._per_step[:r.steps_done])), "steps_done": r.steps_done,
        "test": torch.tensor(r._test, dtype=torch.float64).reshape(-1, 3),
        "reach_steps": torch.from_numpy(r.reach_steps), "reach": torch.from_numpy(r.reach),
        "reach_cell": None if reach_cell is None else torch.from_numpy(reach_cell),
        "model_step": r.model_step, "stopped_early": r.stopped_early, "stop_reason": r.stop_reason,
        "message": r.message, "seconds": r.seconds,
    }


def _restore(spec, kwargs: dict, rec: dict) -> FitResult:
    """The FitResult that `fit(spec, **kwargs)` returned, from its record: the model and readout are
    built as fit builds them (0 steps) and given the stored weights."""
    steps = kwargs["steps"]
    r = fit(spec, **{**kwargs, "steps": 0, "test_size": 0, "checkpoints": 0})
    r.model.load_state_dict(rec["model"])
    r.readout.load_state_dict(rec["readout"])
    steps_done = int(rec["steps_done"])
    per_step = np.full((steps, 3), np.nan)
    per_step[:steps_done] = rec["per_step"].numpy()
    reach_cell = rec["reach_cell"]
    reach = [(int(s), row, None if reach_cell is None else reach_cell[k].numpy())
             for k, (s, row) in enumerate(zip(rec["reach_steps"].tolist(), rec["reach"].numpy()))]
    return dataclasses.replace(
        r, steps=steps, probe=rec["probe"].numpy(), model_step=int(rec["model_step"]),
        stopped_early=bool(rec["stopped_early"]), stop_reason=rec["stop_reason"], message=rec["message"],
        seconds=float(rec["seconds"]), _per_step=per_step, _n=steps_done,
        _test=[(int(s), float(loss), float(acc)) for s, loss, acc in rec["test"].tolist()], _reach=reach)


def metrics(results: dict) -> dict:
    """{cell: final test loss and accuracy, steps} of a Training Lab run, as the manifest records them."""
    return {cell: {"final_test_loss": r.final_test_loss, "final_test_accuracy": float(r.test_accuracy[-1]),
                   "baseline": r.baseline, "steps": r.model_step} for cell, r in results.items()}


# --------------------------------------------------------------------------- producing them
def pretrain(directory: Path = DIR, labs=("training_lab", "text_lab"), log: Callable[[str], None] = print) -> dict:
    """Train the stored runs of `labs` again at their lab's defaults (seeded), write their files and the
    manifest (other entries are kept)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    entries = {}
    if "training_lab" in labs:
        settings = training.Settings()
        log(f"Training Lab: {', '.join(settings.cells)}, {settings.steps} steps each …")
        start = time.perf_counter()
        results = training.fit_cells(settings)
        _save(directory / TRAINING_LAB, {"cells": {cell: _record(r) for cell, r in results.items()}})
        entries["training_lab"] = _entry(TRAINING_LAB, settings.to_dict(), metrics(results), start)
    if "text_lab" in labs:
        values = text_lab_defaults()
        log(f"Text Lab: {values} …")
        start = time.perf_counter()
        spec, kwargs = _text_lab_fit(values)
        result = fit(spec, **kwargs)
        _save(directory / TEXT_LAB, {"run": _record(result)})
        entries["text_lab"] = _entry(TEXT_LAB, values, text_metrics(result), start)
    for name, entry in entries.items():
        log(f"  {name}: {json.dumps(entry['metrics'])}")
    out = {**manifest(directory), **entries}
    (directory / MANIFEST).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def text_metrics(result: FitResult) -> dict:
    """Bits per character of a Text Lab run: on the held-out text at the end, and of the last 20 batches."""
    from .charlm import bpc

    return {"held_out_bpc": float(bpc(result.final_test_loss)),
            "train_bpc": float(bpc(float(np.mean(result.loss[-20:])))), "steps": result.model_step}


def _save(path: Path, data: dict) -> None:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    path.write_bytes(buffer.getvalue())


def _entry(file: str, settings: dict, measured: dict, start: float) -> dict:
    return {"file": file, "settings": settings, "metrics": measured, "seconds": round(time.perf_counter() - start, 1),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "command": COMMAND}
