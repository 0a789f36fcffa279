"""Finished runs kept with the app, so that a lab opens with its result on screen: the Training Lab and
the Text Lab at their default settings, trained once by `python -m rnnviz pretrain` (seeded, one
thread) and stored here as weights and records (loaded weights-only), with a manifest of the settings
and the metrics.

    results = pretrained.training_lab(settings)   # {cell: FitResult} when settings are the defaults, else None
    result = pretrained.text_lab(values)          # the Text Lab's FitResult at its default knob values, else None
    stored = pretrained.translation(config)       # Translation's (model, history, assessment) at its defaults
    pretrained.pretrain()                         # train again, write the files and the manifest

A stored run is what pressing Train with the same settings computes (`tests/labs/test_pretrained.py`
retrains one cell and checks that the stored metrics are met). Translation's default run stops on a
time budget or at a target accuracy, whichever comes first: it is stored as trained without the time
budget, to the first evaluation at the target (seeded, so the same steps and the same model as
pressing Train wherever those steps fit within the budget), with the seconds it took where it was made.
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
TRANSLATION = "translation.pt"
# Translation's knobs that decide what it trains, all at their defaults (TrainConfig.from_knobs without "tr_").
TRANSLATION_KNOBS = ("tr_cell", "tr_hidden", "tr_seconds", "tr_target", "tr_steps", "tr_seed")
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


# --------------------------------------------------------------------------- Translation
def translation_defaults() -> dict:
    return {name: KNOBS[name].default for name in TRANSLATION_KNOBS}


def translation_config(values: dict | None = None):
    """The TrainConfig of Translation's knob values (default: the defaults), as its page builds it."""
    from .translator import TrainConfig

    values = values or translation_defaults()
    return TrainConfig.from_knobs(**{name.removeprefix("tr_"): values[name] for name in TRANSLATION_KNOBS})


def translation(config=None, directory: Path = DIR) -> tuple | None:
    """The stored Translation run (model, history, assessment) if it was trained with `config` (a
    TrainConfig; default: the page's defaults), else None."""
    config = config or translation_config()
    entry = manifest(directory).get("translation")
    if entry is None or translation_config(entry["settings"]) != config:
        return None
    from . import translator

    rec = _load(directory, entry)["run"]
    model = translator.new_model(config)
    model.load_state_dict(rec["model"])
    model.eval()
    h = rec["history"]
    history = translator.History(
        steps=h["steps"].tolist(), seconds=h["seconds"].tolist(), accuracy=h["accuracy"].tolist(),
        char_accuracy=h["char_accuracy"].tolist(), loss=h["loss"].tolist(),
        by_length=[_lengths(b) for b in h["by_length"]], stop_reason=h["stop_reason"])
    a = rec["assessment"]
    assessment = translator.Assessment(
        exact_match=float(a["exact_match"]), n=int(a["n"]), by_length=_lengths(a["by_length"]),
        gaps=a["gaps"].numpy(), after=a["after"].numpy(), before=a["before"].numpy(), gap_n=int(a["gap_n"]))
    return model, history, assessment


def _lengths(rec: dict):
    from .translator import LengthAccuracy

    return LengthAccuracy(rec["lengths"].numpy(), rec["accuracy"].numpy(), rec["counts"].numpy())


def _lengths_record(b) -> dict:
    return {"lengths": torch.from_numpy(np.asarray(b.lengths)), "accuracy": torch.from_numpy(np.asarray(b.accuracy)),
            "counts": torch.from_numpy(np.asarray(b.counts))}


def _translation_record(model, history, assessment) -> dict:
    """A trained translator, its history and its assessment as tensors and plain values."""
    a = assessment
    return {
        "model": model.state_dict(),
        "history": {"steps": torch.tensor(history.steps, dtype=torch.int64),
                    **{name: torch.tensor(getattr(history, name), dtype=torch.float64)
                       for name in ("seconds", "accuracy", "char_accuracy", "loss")},
                    "by_length": [_lengths_record(b) for b in history.by_length], "stop_reason": history.stop_reason},
        "assessment": {"exact_match": a.exact_match, "n": a.n, "by_length": _lengths_record(a.by_length),
                       "gaps": torch.from_numpy(np.asarray(a.gaps)), "after": torch.from_numpy(np.asarray(a.after)),
                       "before": torch.from_numpy(np.asarray(a.before)), "gap_n": a.gap_n},
    }


def train_translation(config):
    """Translation's run with `config` as pressing Train computes it, but without its time budget: up
    to the target accuracy (or the step limit, or the largest step limit a link can set)."""
    from . import translator

    steps = config.steps or int(KNOBS["tr_steps"].max)
    return translator.train(dataclasses.replace(config, seconds=None, steps=steps))


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
def pretrain(directory: Path = DIR, labs=("training_lab", "text_lab", "translation"),
             log: Callable[[str], None] = print) -> dict:
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
    if "translation" in labs:
        from .translator import assess

        values = translation_defaults()
        config = translation_config(values)
        log(f"Translation: {values}, to {config.target_accuracy:.0%} held-out exact match …")
        start = time.perf_counter()
        model, history = train_translation(config)
        if history.stop_reason != "target":
            raise RuntimeError(f"Translation's defaults did not reach {config.target_accuracy:.0%} in "
                               f"{history.steps[-1]} steps: no stored run would be what Train computes")
        assessment = assess(model, config.data_seed)
        _save(directory / TRANSLATION, {"run": _translation_record(model, history, assessment)})
        entries["translation"] = _entry(TRANSLATION, values, translation_metrics(history, assessment), start)
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


def translation_metrics(history, assessment) -> dict:
    """Of a Translation run: the steps it trained, the seconds its training took (evaluations included),
    held-out exact match at its last evaluation (1000 dates) and on the assessment's fresh held-out set."""
    return {"steps": history.steps[-1], "training_seconds": round(history.seconds[-1], 1),
            "held_out_exact_match": history.accuracy[-1], "fresh_held_out_exact_match": assessment.exact_match}


def _save(path: Path, data: dict) -> None:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    path.write_bytes(buffer.getvalue())


def _entry(file: str, settings: dict, measured: dict, start: float) -> dict:
    return {"file": file, "settings": settings, "metrics": measured, "seconds": round(time.perf_counter() - start, 1),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "command": COMMAND}
