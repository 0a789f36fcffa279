"""The Training Lab page under AppTest: tiny training runs started with its Train button show exactly
what rnnviz.fit computes for the same arguments (called here independently), keep their results
across reruns, report NaN and bad URL values, and hand the trained models to the explorer pages."""
import json

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.labs import pretrained, training
from rnnviz.tasks import TASKS
from tests.support.apphelp import decode, figures, run_page, texts, trace_named, url_notes

LAB = "pages/4_Training_Lab.py"
TINY = {"train_steps": "20", "train_hidden": "4", "train_seq_len": "10", "batch_size": "8"}


def engine_fit(cell, task="adding", seq_len=10, steps=20, hidden=4, batch=8, lr=3e-3, clip=1.0, mode="norm",
               seed=0, activation="tanh"):
    """What the page should show, from rnnviz.fit called with explicit arguments (not the page's code)."""
    spec = rnnviz.ModelSpec(cell=cell, hidden_size=hidden, init="torch", seed=seed, activation=activation)
    return rnnviz.fit(spec, task, seq_len=seq_len, steps=steps, batch_size=batch, lr=lr, clip=clip, clip_mode=mode,
                      seed=seed, test_size=1000, test_every=10, checkpoints=20)


def train(query):
    at = run_page(LAB, query)
    assert not at.exception
    at.button(key="train").click().run()
    assert not at.exception
    return at


def y(fig, name):
    return decode(trace_named(fig, name)["y"]).astype(np.float64)


def test_defaults_open_with_the_stored_run_and_promise_a_short_demonstration():
    at = run_page(LAB)
    assert not at.exception
    assert not at.button(key="train").disabled and at.button(key="stop").disabled
    stored = json.loads((pretrained.DIR / pretrained.MANIFEST).read_text())["training_lab"]["metrics"]
    figs = figures(at)   # no button pressed: the run trained in advance at these settings
    assert {"loss", "grad", "reach"} <= set(figs)
    for label, cell in (("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru")):
        test = y(figs["loss"], f"{label} · test loss")
        assert test[-1] == pytest.approx(stored[cell]["final_test_loss"], rel=1e-6)
    assert any("trained in advance at the default settings" in i.value for i in at.info)
    page = texts(at)
    assert "RNN, LSTM, GRU: 1500 steps each" in page and "Adding problem" in page
    seconds = training.estimate_seconds(training.Settings())
    assert seconds < 75 and f"about **{training.format_seconds(seconds)}**" in page


def test_any_other_setting_opens_with_nothing_trained():
    at = run_page(LAB, {"train_steps": "1000"})
    assert not at.exception
    assert figures(at) == {}
    assert not any("trained in advance" in i.value for i in at.info)


def test_tiny_run_shows_the_engines_numbers_and_survives_reruns():
    at = train({**TINY, "cells": "RNN,GRU", "clip_threshold": "0.1"})
    want = {"RNN": engine_fit("rnn", clip=0.1), "GRU": engine_fit("gru", clip=0.1)}
    figs = figures(at)
    assert {"loss", "grad", "reach"} <= set(figs) and "example" not in figs
    for label, r in want.items():
        np.testing.assert_array_equal(y(figs["loss"], f"{label} · training loss (each batch)"), r.loss)
        test = trace_named(figs["loss"], f"{label} · test loss")
        np.testing.assert_array_equal(decode(test["x"]), r.test_steps)
        np.testing.assert_array_equal(decode(test["y"]), r.test_loss)
        np.testing.assert_array_equal(y(figs["grad"], f"{label} before clipping"), np.log10(r.grad_norm))
        np.testing.assert_array_equal(y(figs["grad"], f"{label} after clipping"), np.log10(r.grad_norm_clipped))
        clipped = decode(trace_named(figs["grad"], f"{label} clipped steps")["x"])
        np.testing.assert_array_equal(clipped, np.nonzero(r.clipped)[0] + 1)
        heat = next(d for d in figs["reach"]["data"] if d["name"] == label)
        np.testing.assert_array_equal(decode(heat["z"]), r.reach_by_lag.astype(np.float32))
        np.testing.assert_array_equal(decode(heat["y"]), r.reach_steps)
    assert want["RNN"].clipped.any()  # the clipping ticks are not vacuous
    np.testing.assert_allclose(y(figs["loss"], "baseline"), [TASKS["adding"].baseline(10)] * 2)
    np.testing.assert_allclose(y(figs["grad"], "clip threshold"), [np.log10(0.1)] * 2)
    # the trained models are in session state for the explorer pages, with the trained weights
    models = at.session_state["trained_models"]
    assert len(models) == 2
    gru = next(m for label, m in models.items() if label.startswith("GRU"))
    assert gru.task == "adding" and gru.seq_len == 10 and gru.settings["steps"] == 20
    for p, q in zip(gru.model.parameters(), want["GRU"].model.parameters()):
        assert torch.equal(p, q)
    # a rerun (presentation mode) keeps the results; a changed setting says they are the previous ones
    at.toggle(key="present").set_value(True).run()
    np.testing.assert_array_equal(y(figures(at)["loss"], "GRU · training loss (each batch)"), want["GRU"].loss)
    assert "previous settings" not in texts(at)
    at.number_input(key="train_seed").set_value(5).run()
    assert not at.exception
    assert "results below are for the previous settings (seed 0 → 5)" in texts(at)
    np.testing.assert_array_equal(y(figures(at)["loss"], "GRU · training loss (each batch)"), want["GRU"].loss)


def test_training_again_with_new_settings_replaces_the_results():
    at = train({**TINY, "cells": "LSTM", "clip": "off"})
    at.number_input(key="train_seed").set_value(3).run()
    at.button(key="train").click().run()
    want = engine_fit("lstm", clip=None, seed=3)
    figs = figures(at)
    np.testing.assert_array_equal(y(figs["loss"], "LSTM · training loss (each batch)"), want.loss)
    assert "previous settings" not in texts(at)
    assert not any("clip threshold" in str(d.get("name")) for d in figs["grad"]["data"])  # clipping off
    assert not any("after clipping" in str(d.get("name")) for d in figs["grad"]["data"])


def test_value_clipping_draws_no_norm_threshold():
    at = train({**TINY, "cells": "GRU", "clip": "value", "clip_threshold": "0.01"})
    fig = figures(at)["grad"]
    want = engine_fit("gru", clip=0.01, mode="value")
    np.testing.assert_array_equal(y(fig, "GRU after clipping"), np.log10(want.grad_norm_clipped))
    assert not any("clip threshold" in str(d.get("name")) for d in fig["data"])
    assert "every element to ±0.01" in fig["layout"]["title"]["text"]


def test_exploding_relu_rnn_stops_with_the_engines_message():
    at = train({"cells": "RNN", "rnn_activation": "relu", "lr": "1", "train_hidden": "16", "train_steps": "20"})
    want = engine_fit("rnn", activation="relu", lr=1.0, hidden=16, seq_len=50, batch=50)
    assert want.stop_reason == "nonfinite"
    errors = " ".join(e.value for e in at.error)
    assert want.message in errors and "Training stopped at step 2" in errors
    loss = figures(at)["loss"]
    np.testing.assert_array_equal(y(loss, "ReLU RNN · training loss (each batch)"), want.loss)
    assert "**ReLU RNN:** Training stopped" in errors
    model = next(iter(at.session_state["trained_models"].values())).model
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the last good model is kept


def test_binary_addition_worked_example_is_the_models_own():
    at = train({**TINY, "task": "binary_addition", "train_seq_len": "8", "cells": "GRU"})
    want = engine_fit("gru", task="binary_addition", seq_len=8)
    fig = figures(at)["example"]
    bits, units, carry = fig["data"][:3]
    x, total = TASKS["binary_addition"].sample(8, 0)
    predicted = want.predict(x).argmax(-1)
    np.testing.assert_array_equal(decode(bits["text"]), np.stack([x[:, 0], x[:, 1], total, predicted]))
    np.testing.assert_array_equal(decode(carry["z"])[0], TASKS["binary_addition"].carries(x))
    hidden = rnnviz.trace(want.model, x, loss="all").hidden
    r = TASKS["binary_addition"].carry_correlation(x, hidden)
    top = np.argsort(-np.abs(r), kind="stable")[:4]
    np.testing.assert_allclose(decode(units["z"]), hidden[:, top].T, rtol=1e-6)
    assert [f"unit {u}" in name for u, name in zip(top, units["y"])] == [True] * 4
    # another example is a rerun, not a retraining
    at.number_input(key="example_seed").set_value(7).run()
    x7, _ = TASKS["binary_addition"].sample(8, 7)
    np.testing.assert_array_equal(decode(figures(at)["example"]["data"][0]["text"])[0], x7[:, 0])


def test_bad_url_values_are_noted_and_replaced():
    at = run_page(LAB, {"task": "chess", "cells": "RNN,TPU", "lr": "0.0042", "train_steps": "999999",
                        "clip_threshold": "-1", "batch_size": "ten"})
    assert not at.exception
    notes = url_notes(at)
    for name in ("task='chess'", "cells='RNN,TPU'", "lr='0.0042'", "train_steps='999999'", "clip_threshold='-1'",
                 "batch_size='ten'"):
        assert f"{name} was ignored" in notes
    assert at.selectbox(key="task").value == "adding" and at.slider(key="train_steps").value == 1500
    short = run_page(LAB, {"task": "temporal_order", "train_seq_len": "3"})
    assert "train_seq_len='3' was ignored: train_seq_len must be in [8, 1000]" in url_notes(short)
    assert short.slider(key="train_seq_len").value == 50


def test_runs_too_long_for_one_click_are_refused():
    at = run_page(LAB, {"train_steps": "5000", "train_hidden": "128", "train_seq_len": "200", "batch_size": "256"})
    assert not at.exception
    assert at.button(key="train").disabled
    assert any("more than the 10\u00a0min one click may start" in w.value for w in at.warning)


def test_suggested_settings_button_sets_the_knobs():
    at = run_page(LAB, {"task": "temporal_order"})
    at.button(key="suggest").click().run()
    want = training.SUGGESTED["temporal_order"].values
    assert at.slider(key="train_seq_len").value == want["train_seq_len"]
    assert at.slider(key="train_hidden").value == want["train_hidden"]
    assert at.slider(key="train_steps").value == want["train_steps"]
    assert at.select_slider(key="lr").value == want["lr"]


@pytest.mark.parametrize("target, key", [("Step Through", "open_st_gru"), ("Gradient Flow", "open_gf_gru")])
def test_open_buttons_show_the_trained_model_on_the_explorer_pages(target, key):
    at = train({**TINY, "cells": "GRU"})
    want = engine_fit("gru")
    at.button(key=key).click().run()
    assert not at.exception
    assert at.selectbox(key="model_source").value.startswith("GRU · Adding problem, T=10")
    x, _ = TASKS["adding"].sample(10, 0)
    figs = figures(at)
    if target == "Step Through":
        np.testing.assert_allclose(decode(figs["hm_h"]["data"][0]["z"]), rnnviz.trace(want.model, x).hidden.T,
                                   rtol=1e-6)
        assert "trained GRU (Adding problem, T=10)" in texts(at)
        at.switch_page("pages/2_Gradient_Flow.py").run()  # the pick follows the user to the other page
        figs = figures(at)
    curve = trace_named(figs["grad"], "Trained GRU")
    assert curve["line"]["dash"] == "dot"
    np.testing.assert_array_equal(decode(curve["y"]), rnnviz.trace(want.model, x).log10_grad_norm)
    assert {"RNN", "LSTM", "GRU"} <= {d["name"].split()[0] for d in figs["grad"]["data"] if d.get("name")}
    # back to the settings' own model
    at.selectbox(key="model_source").set_value("Built from the settings").run()
    assert not at.exception
    assert not any(str(d.get("name", "")).startswith("Trained") for d in figures(at).get("grad", {}).get("data", []))
