"""Depth and Time under AppTest: the engine's [layers x steps] grids in the heatmaps for RNN, LSTM and GRU,
both directions, the three losses, residual connections, edge values and bad links."""
import numpy as np
import pytest

import rnnviz
from rnnviz.deep import trace_stacked
from tests.support.apphelp import decode, figures, run_page, texts, url_notes

DT = "pages/8_Depth_and_Time.py"


def engine_grids(cell, *, num_layers=2, bidirectional=False, residual=False, loss="last", seq_len=200,
                 recurrent_gain=0.9, input_gain=1.0, input_kind="impulse", hidden_size=32):
    """What the page should show, from the engine alone."""
    spec = rnnviz.ModelSpec(cell=cell, hidden_size=hidden_size, recurrent_gain=recurrent_gain, input_gain=input_gain,
                            num_layers=num_layers, bidirectional=bidirectional, residual=residual)
    x = rnnviz.inputs.make(input_kind, seq_len, 1, seed=0)
    return trace_stacked(rnnviz.build_model(spec), x, loss=loss)


def heatmaps(fig):
    return [(t["name"], decode(t["z"]).astype(np.float64)) for t in fig["data"] if t["type"] == "heatmap"]


def test_defaults_show_the_engine_grid_of_each_cell():
    at = run_page(DT)
    assert not at.exception
    figs = figures(at)
    assert {"grid", "factors", "cell_grid"} <= set(figs)
    maps = heatmaps(figs["grid"])
    assert [name for name, _ in maps] == ["RNN", "LSTM", "GRU"]
    for (_name, z), cell in zip(maps, ("rnn", "lstm", "gru")):
        want = engine_grids(cell).grad_grid(0)
        assert z.shape == (2, 200)
        np.testing.assert_allclose(z, want, rtol=1e-6)  # float32 on the wire
    first = engine_grids("rnn").grad_grid(0)[0, 0]
    assert f"RNN: ‖∂L/∂h‖ at layer 1, first step: {rnnviz.plots.sci(first)}" in texts(at)
    cell = figs["cell_grid"]["data"][0]  # the cell path's grid reads ‖∂L/∂c‖, on its colour bar and in a hover
    np.testing.assert_allclose(decode(cell["z"]).astype(np.float64), engine_grids("lstm").cell_grad_grid(0), rtol=1e-6)
    assert cell["colorbar"]["title"]["text"] == "‖∂L/∂c‖" and "log10 ‖∂L/∂c‖ =" in cell["hovertemplate"]
    factor = heatmaps(figs["factors"])
    np.testing.assert_allclose(factor[0][1], engine_grids("rnn").time_step_norm_grid(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(factor[1][1], engine_grids("rnn").depth_step_norm_grid(0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", ["last", "all", "tag"])
def test_bidirectional_grids_show_both_directions_with_each_loss(loss):
    at = run_page(DT, {"bidirectional": "true", "depth_loss": loss, "num_layers": "3", "seq_len": "80"})
    assert not at.exception
    maps = heatmaps(figures(at)["grid"])
    assert len(maps) == 6  # three cells x two directions
    for cell, label in (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
        tr = engine_grids(cell, num_layers=3, bidirectional=True, loss=loss, seq_len=80)
        got = [z for name, z in maps if name == label]
        np.testing.assert_allclose(got[0], tr.grad_grid(0), rtol=1e-6)
        np.testing.assert_allclose(got[1], tr.grad_grid(1), rtol=1e-6)
    if loss == "last":  # the backward direction's final state is the first step: its gradient fades rightwards
        back = [z for name, z in maps if name == "RNN"][1]
        assert back[-1, 0] > back[-1, -1] + 1


def test_residual_connections_change_what_reaches_the_bottom_layer():
    at = run_page(DT, {"residual": "true", "num_layers": "4", "input_kind": "noise"})
    assert not at.exception
    z = heatmaps(figures(at)["grid"])[0][1]
    tr = engine_grids("rnn", num_layers=4, residual=True, input_kind="noise")
    np.testing.assert_allclose(z, tr.grad_grid(0), rtol=1e-6)
    plain = engine_grids("rnn", num_layers=4, input_kind="noise").grad_grid(0)
    assert z[0, -1] > plain[0, -1] + 0.3  # at the last step the skip path keeps layer 1 close to the top


@pytest.mark.parametrize("query", [
    {"seq_len": "1000", "num_layers": "4", "bidirectional": "true", "hidden_size": "64"},
    {"recurrent_gain": "4", "input_gain": "4", "input_kind": "noise", "num_layers": "4"},
    {"recurrent_gain": "0", "input_gain": "0"},
    {"seq_len": "2", "depth_loss": "tag", "bidirectional": "true"},
])
def test_edge_values_show_numbers_not_a_crash(query):
    at = run_page(DT, query)
    assert not at.exception
    z = heatmaps(figures(at)["grid"])[0][1]
    assert z.shape[0] == int(query.get("num_layers", 2))


def test_bad_link_values_get_a_note_and_the_default():
    at = run_page(DT, {"num_layers": "9", "bidirectional": "sometimes", "depth_loss": "sum"})
    assert not at.exception
    notes = url_notes(at)
    assert "num_layers" in notes and "bidirectional must be true or false" in notes and "depth_loss" in notes
    assert len(heatmaps(figures(at)["grid"])) == 3
