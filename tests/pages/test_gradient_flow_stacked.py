"""Gradient Flow builds stacked and bidirectional RNN, LSTM and GRU: each curve is the picked layer's
||dL/dh_t|| (the stacked model's total derivative), also in every frame of the slider inside the chart."""
import time

import numpy as np

import rnnviz
from rnnviz.spec import KNOBS
from tests.support.apphelp import decode, figures, run_page, texts, trace_named

GF = "pages/2_Gradient_Flow.py"
DEEP = {"num_layers": "2", "bidirectional": "true", "seq_len": "40", "hidden_size": "8"}


def stacked(cell, gain=0.9, layers=2, bidirectional=True, loss="last"):
    spec = rnnviz.ModelSpec(cell=cell, hidden_size=8, num_layers=layers, bidirectional=bidirectional,
                            recurrent_gain=gain)
    return rnnviz.trace(rnnviz.build_model(spec), rnnviz.inputs.make("impulse", 40, 1), loss=loss)


def test_each_cell_is_the_picked_layers_gradient():
    at = run_page(GF, DEEP)
    assert not at.exception
    fig = figures(at)["grad"]
    for cell, label in rnnviz.cells.LABELS.items():
        if cell in rnnviz.cells.CELLS:  # the top layer, forwards, first
            np.testing.assert_allclose(decode(trace_named(fig, label)["y"]), stacked(cell).trace(1, 0).log10_grad_norm,
                                       rtol=1e-12)
    at.segmented_control(key="flow_built_layer").set_value(1).run()
    at.segmented_control(key="flow_built_direction").set_value("backward").run()
    assert not at.exception
    fig = figures(at)["grad"]
    for cell in rnnviz.cells.CELLS:
        want = stacked(cell).trace(0, 1)
        np.testing.assert_allclose(decode(trace_named(fig, rnnviz.cells.LABELS[cell])["y"]), want.log10_grad_norm,
                                   rtol=1e-12)
    rnn = stacked("rnn").trace(0, 1)
    assert f"{rnn.sigma_max:.3f}" in texts(at)  # the metrics are the picked layer's too
    assert at.query_params["num_layers"] == "2"


def test_loss_on_every_step_reaches_the_picked_layer():
    at = run_page(GF, {**DEEP, "bidirectional": "false", "loss": "all"})
    assert not at.exception
    np.testing.assert_allclose(decode(trace_named(figures(at)["grad"], "LSTM")["y"]),
                               stacked("lstm", bidirectional=False, loss="all").trace(1, 0).log10_grad_norm,
                               rtol=1e-12)


def test_every_frame_of_the_slider_is_the_picked_layer_at_its_gain():
    """The slider inside the chart switches frames computed in the background; for a stacked model each
    frame holds the picked layer's curves at that frame's gain (not the first layer's)."""
    at = run_page(GF, {**DEEP, "flow_cells": "RNN,GRU"})
    at.segmented_control(key="flow_built_layer").set_value(1).run()
    at.segmented_control(key="flow_built_direction").set_value("backward").run()
    fig = figures(at)["grad"]
    deadline = time.monotonic() + 300
    while not fig.get("frames") and time.monotonic() < deadline:
        time.sleep(2)
        at.run()
        fig = figures(at)["grad"]
    assert not at.exception
    frames = {f["name"]: f for f in fig["frames"]}
    assert len(frames) == len(KNOBS["recurrent_gain"].grid())
    for gain in (0.3, 1.5):
        frame = frames[f"value={gain:g}"]
        for cell in ("rnn", "gru"):
            want = stacked(cell, gain=gain).trace(0, 1).log10_grad_norm
            curve = trace_named(frame, rnnviz.cells.LABELS[cell] + "  ‖∂L/∂h‖")
            np.testing.assert_allclose(decode(curve["y"]), want, rtol=1e-12)


def test_a_stack_costs_one_trace_per_layer_and_direction_for_the_slider():
    """Frames are precomputed only while a trace is cheap; a stacked model's trace is one per layer and
    direction, so the defaults (T = 200, H = 32) get frames with one layer and not with 4 bidirectional ones."""
    from rnnviz.spec import Scenario
    from rnnviz.ui.cache import fluid_cost_ok

    one = Scenario.from_values({})
    assert fluid_cost_ok(one) and fluid_cost_ok(one.replace(num_layers=2, bidirectional=True))
    assert not fluid_cost_ok(one.replace(num_layers=4, bidirectional=True))


def test_the_cells_after_the_lstm_stay_one_layer_and_say_so():
    at = run_page(GF, {**DEEP, "flow_cells": "LSTM,LRU"})
    assert not at.exception
    assert "The cells after the LSTM are built with one layer in one direction." in texts(at)
    lru = rnnviz.trace(rnnviz.build_model(rnnviz.ModelSpec(cell="lru", hidden_size=8)),
                       rnnviz.inputs.make("impulse", 40, 1))
    np.testing.assert_allclose(decode(trace_named(figures(at)["grad"], "LRU")["y"]), lru.log10_grad_norm, rtol=1e-12)
