"""The runs kept with the app (rnnviz/labs/pretrained/): what the labs show before anyone presses Train
is a real run at the default settings. Its files load weights-only into models that give the numbers
the manifest records, the lab's story holds for it, and training again meets the stored metrics."""
import json

import numpy as np
import pytest
import torch

from rnnviz.labs import charlm, corpora, pretrained, training
from rnnviz.tasks import get_task
from rnnviz.train import TEST_SEED

MANIFEST = pretrained.manifest()


def test_the_stored_files_are_small_and_named_in_the_manifest():
    files = [pretrained.DIR / entry["file"] for entry in MANIFEST.values()]
    assert {"training_lab", "text_lab"} <= set(MANIFEST)
    assert all(f.exists() for f in files)
    assert sum(f.stat().st_size for f in files) < 5e6
    for entry in MANIFEST.values():
        assert entry["command"] == "python -m rnnviz pretrain" and entry["threads"] == 1
    assert json.loads((pretrained.DIR / "manifest.json").read_text())["training_lab"]["settings"] == \
        training.Settings().to_dict() | {"cells": list(training.Settings().cells)}


def test_the_training_lab_run_is_only_offered_at_its_settings():
    assert pretrained.training_lab(training.Settings(steps=1000)) is None
    assert pretrained.training_lab(training.Settings(seed=1)) is None
    assert pretrained.text_lab({**pretrained.text_lab_defaults(), "lm_hidden": 64}) is None


def test_the_restored_models_give_the_recorded_test_loss():
    """Evaluated here on the fixed test set, apart from fit: each restored model's loss is the manifest's."""
    results = pretrained.training_lab()
    settings = training.Settings()
    task = get_task(settings.task)
    x, y = task.test_batch(training.TEST_SIZE, settings.seq_len, torch.Generator().manual_seed(TEST_SEED))
    for cell, r in results.items():
        with torch.no_grad():
            h, _ = r.model(x)
            loss = task.loss(r.readout(h[:, -1]), y).item()
        recorded = MANIFEST["training_lab"]["metrics"][cell]
        assert loss == pytest.approx(recorded["final_test_loss"], rel=1e-5)
        assert r.final_test_loss == recorded["final_test_loss"] and r.model_step == recorded["steps"] == settings.steps
        assert r.steps_done == settings.steps and np.isfinite(r.loss).all() and len(r.reach_steps) > 1


def test_the_training_lab_story_holds_for_the_stored_run():
    """What the page says of its defaults: the RNN stays at the memoryless baseline, the gated cells learn."""
    m = MANIFEST["training_lab"]["metrics"]
    assert m["rnn"]["final_test_loss"] > 0.8 * m["rnn"]["baseline"]
    assert m["gru"]["final_test_loss"] < 0.01 and m["lstm"]["final_test_loss"] < 0.05


def test_the_text_lab_model_beats_the_bigram_floor_on_held_out_text():
    result = pretrained.text_lab(pretrained.text_lab_defaults())
    lm = charlm.CharLM.from_fit(result)
    corpus = corpora.get_corpus("zen")
    floor = charlm.bpc(charlm.CharTask(corpus).baseline(0))
    recorded = MANIFEST["text_lab"]["metrics"]
    assert charlm.bpc(result.final_test_loss) == pytest.approx(recorded["held_out_bpc"], rel=1e-9)
    assert lm.bits_per_char(corpus.train_text) < floor  # it learned more than which character follows which


def test_training_again_meets_the_stored_metrics():
    """The smallest stored run, one cell of the Training Lab (the GRU), trained again from the same seed."""
    settings = training.Settings().replace(cells=("gru",))
    again = training.fit_cells(settings)["gru"]
    stored = MANIFEST["training_lab"]["metrics"]["gru"]["final_test_loss"]
    assert again.final_test_loss <= max(1.25 * stored, stored + 1e-3)
