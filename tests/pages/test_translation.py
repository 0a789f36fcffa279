"""The Translation page: its figures carry the engine's numbers, a training run through the page
equals the same run called directly, bad examples get a note; and the page in a real browser."""
import dataclasses
import re
from urllib.parse import quote

import numpy as np
import pytest
import torch

from rnnviz import plots
from rnnviz.labs import dates, pretrained, translator
from rnnviz.spec import KNOBS
from tests.support.apphelp import decode, figures, run_page, texts, trace_named, url_notes

TR = "pages/5_Translation.py"
SMALL = {"tr_hidden": "16", "tr_steps": "5", "tr_seconds": "300"}  # a step-budgeted run: the same on any machine


def small_config(**over):
    """What the page should train for SMALL, written out independently of the page."""
    return translator.TrainConfig(**{**dict(cell="lstm", hidden_size=16, seconds=300.0, steps=5, target_accuracy=0.95,
                                         seed=0), **over})


def trace_of(fig: dict, name: str) -> dict:
    return next(d for d in fig["data"] if d.get("name") == name)


def candidates(fig: dict):
    """The top-candidates figure as (probabilities [k, 10], characters [k][10])."""
    heat = fig["data"][0]
    return decode(heat["z"]), heat["customdata"]


def assert_shows_inspection(at, look: translator.Inspection):
    figs = figures(at)
    enc = trace_of(figs["tr_states"], "encoder")
    z = decode(enc["z"])
    H = look.encoder_states.shape[1]
    assert z.shape == (H, len(look.text))  # one column per input character
    order = np.argsort(look.context, kind="stable")
    np.testing.assert_allclose(z, look.encoder_states[:, order].T, rtol=1e-6)
    np.testing.assert_allclose(decode(trace_of(figs["tr_states"], "decoder")["z"]), look.decoder_states[:, order].T,
                               rtol=1e-6)
    np.testing.assert_allclose(decode(trace_of(figs["tr_states"], "context")["z"])[:, 0], look.context[order],
                               rtol=1e-6)
    ticks = figs["tr_states"]["layout"]["xaxis"]["ticktext"]
    assert ticks == ["?" if ch in look.unknown else "␣" if ch == " " else ch for ch in look.text]
    p, chars = candidates(figs["tr_top"])
    assert p.shape == (3, 10) and np.all(p.sum(0) <= 1 + 1e-6)
    np.testing.assert_allclose(p, [[look.top[t][r][1] for t in range(10)] for r in range(3)], rtol=1e-6)
    assert chars == [[look.top[t][r][0] for t in range(10)] for r in range(3)]
    assert "".join(chars[0]) == look.output
    assert f"The model writes: {look.output}" in texts(at)


def test_page_opens_at_its_defaults_with_the_run_trained_in_advance():
    """No button pressed: the stored run at the defaults, every figure the page draws after training, and
    the note that says what it is."""
    at = run_page(TR)
    assert not at.exception
    model, history, a = pretrained.translation()
    figs = figures(at)
    assert {"tr_curve", "tr_states", "tr_top", "tr_length", "tr_gap"} <= set(figs)
    curve = figs["tr_curve"]
    np.testing.assert_array_equal(decode(trace_named(curve, "whole date")["x"]), history.seconds)
    np.testing.assert_array_equal(decode(trace_named(curve, "whole date")["y"]), history.accuracy)
    np.testing.assert_array_equal(decode(trace_named(curve, "characters right")["y"]), history.char_accuracy)
    note = " ".join(i.value for i in at.info)
    stored = pretrained.manifest()["translation"]["metrics"]
    assert "trained in advance at the default settings" in note and "Press **Train** to repeat it live" in note
    assert (f"{stored['steps']} steps, {history.seconds[-1]:.0f} s on the machine that trained it, "
            f"{stored['held_out_exact_match']:.1%} of the 1000 held-out dates right") in note
    page = texts(at)
    assert f"Held-out exact match: {a.exact_match:.1%}" in page and "No model yet" not in page
    assert f"Training time: {history.seconds[-1]:.0f} s ({stored['steps']} steps; reached 95%)" in page
    np.testing.assert_array_equal(decode(trace_named(figs["tr_gap"], "filler after")["y"]), a.after)
    text = at.text_input(key="tr_text").value
    assert text == dates.showcase()[1].text
    look = translator.look_inside(model, text, top_k=3)
    assert_shows_inspection(at, look)
    assert look.output == dates.showcase()[1].target   # the trained model gets the example right
    assert f"Correct ISO date: {dates.showcase()[1].target}" in texts(at)
    assert not at.slider(key="tr_hidden").disabled and not at.button(key="tr_train").disabled


@pytest.mark.parametrize("kind, key, value, change", [("slider", "tr_hidden", 64, {"hidden_size": 64}),
                                                      ("selectbox", "tr_cell", "GRU", {"cell": "gru"}),
                                                      ("slider", "tr_target", 80, {"target_accuracy": 0.8})])
def test_changing_a_setting_falls_back_to_the_normal_flow(kind, key, value, change):
    """Off the defaults nothing stored applies: the untrained model of the new settings, and Train."""
    at = run_page(TR)
    getattr(at, kind)(key=key).set_value(value).run()
    assert not at.exception
    page = texts(at)
    assert "No model yet" in page and "trained in advance" not in page and "settings changed" not in page
    assert {"tr_states", "tr_top"} <= set(figures(at)) and "tr_curve" not in figures(at)
    untrained = translator.new_model(dataclasses.replace(pretrained.translation_config(), **change))
    assert_shows_inspection(at, translator.look_inside(untrained, at.text_input(key="tr_text").value, top_k=3))
    assert not at.button(key="tr_train").disabled


def test_training_through_the_page_equals_the_engine():
    at = run_page(TR, SMALL)
    at.button(key="tr_train").click().run()
    assert not at.exception
    trained, got = at.session_state["_job_translation"].record   # the session's training run: (model, history)
    model, history = translator.train(small_config())
    assert got.steps == history.steps == [0, 5] and got.stop_reason == "steps"
    assert got.accuracy == history.accuracy and got.char_accuracy == history.char_accuracy
    np.testing.assert_array_equal(got.loss, history.loss)
    for (name, p), q in zip(trained.named_parameters(), model.parameters()):
        assert torch.equal(p, q), name
    figs = figures(at)
    np.testing.assert_array_equal(decode(trace_named(figs["tr_curve"], "whole date")["y"]), history.accuracy)
    a = translator.assess(model)
    assert f"Held-out exact match: {a.exact_match:.1%}" in texts(at)
    np.testing.assert_array_equal(decode(trace_named(figs["tr_gap"], "filler after")["y"]), a.after)
    np.testing.assert_array_equal(decode(trace_named(figs["tr_gap"], "filler before")["y"]), a.before)
    # the example view now shows the trained model, and the settings are usable again
    assert_shows_inspection(at, translator.look_inside(model, at.text_input(key="tr_text").value, top_k=3))
    assert not at.slider(key="tr_hidden").disabled
    # changing a setting afterwards is announced; the model shown stays the trained one
    at.slider(key="tr_hidden").set_value(24).run()
    assert any("settings changed after training (hidden size)" in w.value for w in at.warning)
    assert decode(trace_of(figures(at)["tr_states"], "encoder")["z"]).shape[0] == 16


def test_bad_examples_get_a_note():
    at = run_page(TR)
    at.text_input(key="tr_text").set_value("22 Nov 2026 " * 11).run()  # 132 characters
    assert not at.exception
    assert any(f"at most {dates.MAX_EXAMPLE_CHARS}" in e.value and "132 characters" in e.value for e in at.error)
    assert "tr_states" not in figures(at)
    at.text_input(key="tr_text").set_value("22 Nov 2026 €").run()
    assert any("never seen “€”" in w.value for w in at.warning)
    states = figures(at)["tr_states"]
    assert decode(trace_of(states, "encoder")["z"]).shape[1] == len("22 Nov 2026 €")
    assert states["layout"]["xaxis"]["ticktext"][-2:] == ["␣", "?"]  # read as the unknown symbol
    at.text_input(key="tr_text").set_value("").run()
    assert any("Type a date" in e.value for e in at.error)


def test_picking_an_example_sets_the_text_and_the_answer():
    at = run_page(TR)
    pick = dates.showcase()[2]  # mm/dd/yy
    at.selectbox(key="tr_pick").set_value(pick.text).run()
    assert at.text_input(key="tr_text").value == pick.text
    assert f"Correct ISO date: {pick.target}" in texts(at)


def test_bad_url_values_fall_back_with_a_note():
    at = run_page(TR, {"tr_hidden": "4096", "tr_cell": "rnn"})
    assert not at.exception
    notes = url_notes(at)
    assert "tr_hidden='4096' was ignored" in notes and "tr_cell='rnn' was ignored" in notes
    assert at.slider(key="tr_hidden").value == 128 and at.selectbox(key="tr_cell").value == "LSTM"


def test_the_typed_date_is_in_the_link_and_a_link_opens_it():
    at = run_page(TR)
    assert "tr_text" not in at.query_params                       # the default example needs no parameter
    typed = "meet me on 22 Nov 2026 (Sunday) & bring *cake*"
    at.text_input(key="tr_text").set_value(typed).run()
    assert at.query_params["tr_text"] == typed
    link = next(m.value for m in at.markdown if m.value.startswith("[Link to exactly this view]"))
    url = link.split("](", 1)[1][:-1]
    assert url.endswith("tr_text=" + quote(typed, safe=",")) and not re.search(r"[ ()*&]", url.split("?")[1])
    opened = run_page(TR, {"tr_text": typed})
    assert not opened.exception and "was ignored" not in url_notes(opened)
    assert opened.text_input(key="tr_text").value == typed
    model, _history, _a = pretrained.translation()   # at the defaults: the run trained in advance
    assert_shows_inspection(opened, translator.look_inside(model, typed, top_k=3))
    at.switch_page("pages/2_Gradient_Flow.py").run()               # it belongs to this page: never carried
    assert "tr_text" not in at.query_params
    # a text too long to translate is left out of the link (which then opens the default example)
    at = run_page(TR)
    at.text_input(key="tr_text").set_value("22 Nov 2026 " * 11).run()
    assert "tr_text" not in at.query_params


@pytest.mark.parametrize("raw", ["x" * 121, "   ", "22 Nov\n2026"])
def test_a_bad_date_in_a_link_is_noted_and_the_default_used(raw):
    with pytest.raises(ValueError):
        KNOBS["tr_text"].validate(raw)
    at = run_page(TR, {"tr_text": raw})
    assert not at.exception
    assert "was ignored: tr_text must be text of 1 to 120 characters on one line" in url_notes(at)
    assert at.text_input(key="tr_text").value == dates.showcase()[1].text
    assert KNOBS["tr_text"].validate("x" * dates.MAX_EXAMPLE_CHARS) == "x" * 120


@pytest.mark.slow
def test_default_training_through_the_page_passes_90_percent_within_the_time_shown():
    """The issue's promise, through the page at its defaults (LSTM, H = 128) but for the time budget,
    set to its largest (300 s) so that a busy machine cannot cut the run short: held-out exact match
    passes 90% within the training time the page shows, and the fresh held-out set agrees. (Most runs
    stop at 95% well within a minute on an idle machine: benchmarks/bench_seq2seq.py measures that.)"""
    at = run_page(TR, {"tr_seconds": "300"})
    at.button(key="tr_train").click().run(timeout=360)
    assert not at.exception
    _, history = at.session_state["_job_translation"].record
    reach = history.seconds_to(0.9)
    assert reach is not None and reach <= history.seconds[-1] <= 302
    page = texts(at)
    assert f"90% exact match after: {reach:.0f} s" in page and f"Training time: {history.seconds[-1]:.0f} s" in page
    fresh = at.session_state["tr_assessment"][1].exact_match
    assert fresh > 0.9 and f"Held-out exact match: {fresh:.1%}" in page
    # the defaults' run, as stored: the same evaluations (all of them when it reached the target in time)
    _model, stored, _a = pretrained.translation()
    n = len(history.steps) if history.stop_reason == "target" else len(history.steps) - 1
    assert history.steps[:n] == stored.steps[:n] and history.accuracy[:n] == stored.accuracy[:n]
    assert history.stop_reason != "target" or history.steps == stored.steps


# ------------------------------------------------------------------------------- figures
def test_translation_figures_carry_the_numbers():
    top = [[("2", 0.7), ("1", 0.2), ("9", 0.05)]] * 10
    fig = plots.top_candidates(top, target="1222222222")
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z[:, 0], [0.7, 0.2, 0.05])
    colours = [s.line.color for s in fig.layout.shapes]
    assert colours == ["#d62728"] + ["#2ca02c"] * 9  # the right answer lost in column 1 only
    curve = plots.accuracy_over_time([0, 10, 20, 30], [0.0, 0.5, 0.92, 0.97], level=0.9)
    assert any("90% after 20 s" in a.text for a in curve.layout.annotations)
    never = plots.accuracy_over_time([0, 10], [0.0, 0.5], level=0.9)
    assert not any("after" in (a.text or "") for a in never.layout.annotations)
    gap = plots.accuracy_by_gap([0, 16, 32], [1.0, 0.8, 0.5], [1.0, 0.9, 0.9], trained_max=16)
    assert [d.name for d in gap.data] == ["filler before the date (date read last)",
                                         "filler after the date (carried to the end)"]


# ------------------------------------------------------------------------------- browser
