"""Step Through builds stacked and bidirectional models itself: the layers, bidirectional and residual
knobs go into the link, the grid holds every layer and direction, and the selector picks the layer whose
states, gates and equations the page shows."""
import numpy as np

import rnnviz
from tests.support.apphelp import decode, figures, run_page, texts

ST = "pages/1_Step_Through.py"
DEEP = {"cell": "LSTM", "num_layers": "3", "bidirectional": "true", "seq_len": "40", "hidden_size": "8",
        "input_kind": "noise", "t": "6"}


def stacked_trace(cell, layers, bidirectional, residual=False, **over):
    """The StackedTrace the page should show, from the engine alone."""
    settings = dict(seq_len=40, hidden_size=8, input_kind="noise", seed=0, loss="last")
    settings.update(over)
    spec = rnnviz.ModelSpec(cell=cell, hidden_size=settings["hidden_size"], num_layers=layers,
                            bidirectional=bidirectional, residual=residual, seed=settings["seed"])
    x = rnnviz.inputs.make(settings["input_kind"], settings["seq_len"], 1, seed=settings["seed"])
    return rnnviz.trace(rnnviz.build_model(spec), x, loss=settings["loss"])


def test_a_three_layer_bidirectional_lstm_from_a_link():
    at = run_page(ST, DEEP)
    assert not at.exception
    want = stacked_trace("lstm", 3, True)
    figs = figures(at)
    grid = [decode(t["z"]).astype(np.float64) for t in figs["step_layers_grid"]["data"]]
    for d in (0, 1):
        np.testing.assert_allclose(grid[d], want.grad_grid(d), rtol=1e-6)
    top = want.trace(2, 0)  # the top layer, forwards, is shown first
    np.testing.assert_allclose(decode(figs["hm_h"]["data"][0]["z"]), top.hidden.T, rtol=1e-6)
    np.testing.assert_allclose(decode(figs["hm_forget"]["data"][0]["z"]), top.gates["forget"].T, rtol=1e-6)
    assert "3 layers, each in both directions" in texts(at)
    assert (at.query_params["num_layers"], at.query_params["bidirectional"]) == ("3", "true")  # the link
    assert at.toggle(key="residual").disabled is False


def test_the_selector_picks_the_layer_and_direction_of_every_view():
    at = run_page(ST, DEEP)
    at.segmented_control(key="step_layer").set_value(1).run()
    at.segmented_control(key="step_direction").set_value("backward").run()
    assert not at.exception
    want = stacked_trace("lstm", 3, True).trace(0, 1)  # layer 1 backwards, in its reading order
    figs = figures(at)
    np.testing.assert_allclose(decode(figs["hm_h"]["data"][0]["z"]), want.hidden.T, rtol=1e-6)
    np.testing.assert_allclose(decode(figs["hm_c"]["data"][0]["z"]), want.cell.T, rtol=1e-6)
    latex = " ".join(e.value for e in at.latex)
    terms = want.step_terms(6, 0)
    assert f"{terms['h']:.3f}" in latex
    assert "reads the sequence's step T − 1 − t" in texts(at)
    at.segmented_control(key="step_layer").set_value(2).run()  # layer 2 reads both directions of layer 1
    assert "Layer 2 reads the states of layer 1 (both directions side by side)" in texts(at)
    want = stacked_trace("lstm", 3, True).trace(1, 1)
    np.testing.assert_allclose(decode(figures(at)["hm_h"]["data"][0]["z"]), want.hidden.T, rtol=1e-6)


def test_residual_connections_change_the_upper_layers_only():
    at = run_page(ST, {"cell": "GRU", "num_layers": "2", "residual": "true", "seq_len": "40", "hidden_size": "8",
                       "input_kind": "noise"})
    assert not at.exception
    want = stacked_trace("gru", 2, False, residual=True)
    grid = decode(figures(at)["step_layers_grid"]["data"][0]["z"]).astype(np.float64)
    np.testing.assert_allclose(grid, want.grad_grid(0), rtol=1e-6)
    plain = stacked_trace("gru", 2, False)
    assert not np.allclose(want.grad_grid(0)[0], plain.grad_grid(0)[0])  # the skip adds a path down


def test_one_layer_is_still_the_page_of_before():
    """The defaults: no grid, no selector, and the numbers of the one-layer model; residual connections
    need a second layer (the toggle is off)."""
    at = run_page(ST, {"cell": "GRU", "t": "3"})
    assert not at.exception
    figs = figures(at)
    assert "step_layers_grid" not in figs
    assert not [s for s in at.get("segmented_control") if s.key == "step_layer"]
    assert at.toggle(key="residual").disabled
    assert "num_layers" not in at.query_params


def test_bad_depth_values_in_a_link_get_a_note():
    at = run_page(ST, {"num_layers": "9", "bidirectional": "sideways"})
    assert not at.exception
    notes = " ".join(w.value for w in at.warning)
    assert "num_layers=`9` was ignored" in notes and "bidirectional=`sideways` was ignored" in notes
    assert "step_layers_grid" not in figures(at)
