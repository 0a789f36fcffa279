"""The runs kept with the app (rnnviz/labs/pretrained/): what the labs show before anyone presses Train
is a real run at the default settings. Its files load weights-only into models that give the numbers
the manifest records, the lab's story holds for it, and training again meets the stored metrics."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from rnnviz.labs import charlm, corpora, pretrained, training, translator
from rnnviz.labs.dates import encode_batch, encode_targets, held_out
from rnnviz.tasks import get_task
from rnnviz.train import TEST_SEED

MANIFEST = pretrained.manifest()


def test_the_stored_files_are_small_and_named_in_the_manifest():
    files = [pretrained.DIR / entry["file"] for entry in MANIFEST.values()]
    assert {"training_lab", "text_lab", "translation"} <= set(MANIFEST)
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


# ------------------------------------------------------------------------------------------ Translation
def test_the_translation_run_is_only_offered_at_the_pages_defaults():
    defaults = translator.TrainConfig(cell="lstm", hidden_size=128, seconds=90.0, steps=None, target_accuracy=0.95,
                                      seed=0)   # the page's knobs at their defaults, written out
    assert pretrained.translation_config() == defaults
    assert MANIFEST["translation"]["settings"] == {"tr_cell": "lstm", "tr_hidden": 128, "tr_seconds": 90,
                                                   "tr_target": 95, "tr_steps": 0, "tr_seed": 0}
    assert pretrained.translation(defaults) is not None
    for change in ({"hidden_size": 64}, {"cell": "gru"}, {"seconds": 30.0}, {"steps": 200},
                   {"target_accuracy": 0.8}, {"seed": 2}):
        assert pretrained.translation(dataclasses.replace(defaults, **change)) is None


def test_the_stored_translator_gives_its_recorded_held_out_accuracy_exactly():
    """The stored weights, evaluated here on the seeded held-out dates the training evaluated on (apart
    from train): every date's translation is recomputed, and exact match and character accuracy are the
    last evaluation's; the run stopped at the first evaluation that reached the target (so Train at the
    defaults stops there too), and the fresh assessment the page shows is the stored one."""
    model, history, stored = pretrained.translation()
    m = MANIFEST["translation"]["metrics"]
    config = pretrained.translation_config()
    evaluation = held_out(config.eval_size, config.data_seed, config.phrases)
    src, lengths = encode_batch([e.text for e in evaluation])
    with torch.no_grad():
        right = model.greedy(src, lengths) == encode_targets([e.target for e in evaluation])
    assert history.accuracy[-1] == float(right.all(1).float().mean()) == m["held_out_exact_match"]
    assert history.char_accuracy[-1] == float(right.float().mean())
    assert history.stop_reason == "target" and history.steps[-1] == m["steps"]
    assert history.steps == list(range(0, m["steps"] + 1, config.eval_every))
    assert history.accuracy[-1] >= config.target_accuracy > max(history.accuracy[:-1])
    assert history.seconds[-1] == pytest.approx(m["training_seconds"], abs=0.05)
    again = translator.assess(model, config.data_seed)
    assert again.exact_match == stored.exact_match == m["fresh_held_out_exact_match"]
    np.testing.assert_array_equal(again.after, stored.after)
    np.testing.assert_array_equal(again.before, stored.before)
    np.testing.assert_array_equal(again.by_length.accuracy, stored.by_length.accuracy)


def test_training_again_repeats_the_stored_translation_history():
    """The first 200 steps of the defaults' run, trained again from the same seed: the same held-out
    accuracies and training losses at every evaluation, to the last bit."""
    config = pretrained.translation_config()
    _model, again = translator.train(dataclasses.replace(config, seconds=None, steps=200))
    _model, stored, _a = pretrained.translation()
    n = len(again.steps)
    assert again.steps == stored.steps[:n] == [0, 100, 200]
    assert again.accuracy == stored.accuracy[:n] and again.char_accuracy == stored.char_accuracy[:n]
    np.testing.assert_array_equal(again.loss, stored.loss[:n])
