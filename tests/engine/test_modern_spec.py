"""The modern cells through the one recipe: KNOBS and ModelSpec carry their settings, build_model and
trace() dispatch to them, a Scenario compares them with the classic cells, links spell them one way."""
import math

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import beyond, modern, modern_trace
from rnnviz.labs import training
from rnnviz.spec import KNOBS, ModelSpec, Scenario, parse_query


def test_build_model_and_trace_dispatch_to_the_modern_cells():
    spec = ModelSpec(cell="lru", hidden_size=6, r_min=0.95, r_max=0.99, max_phase=1.0, seed=4)
    model = rnnviz.build_model(spec)
    assert isinstance(model, modern.LRU)
    direct = modern.build("lru", 1, 6, seed=4, r_min=0.95, r_max=0.99, max_phase=1.0, output_size=6)
    np.testing.assert_array_equal(model.eigenvalues, direct.eigenvalues)
    r = np.abs(model.eigenvalues)
    assert np.all((r >= 0.95 - 1e-6) & (r <= 0.99 + 1e-6))
    assert np.all(np.angle(model.eigenvalues) % (2 * math.pi) <= 1.0 + 1e-6)
    x = np.random.default_rng(0).standard_normal((40, 1)).astype(np.float32)
    via = rnnviz.trace(model, x, loss="all")
    ref = modern_trace.trace(direct, x, loss="all")
    np.testing.assert_array_equal(via.log10_grad_norm, ref.log10_grad_norm)
    np.testing.assert_array_equal(via.hidden, ref.hidden)


@pytest.mark.parametrize("cell,knobs,check", [
    ("mingru", {"negative": "negative"}, lambda m: m.negative),
    ("minlstm", {}, lambda m: not m.negative),
    ("s6", {"d_state": 3, "discretization": "euler"}, lambda m: m.d_state == 3 and m.discretization == "euler"),
    ("lru", {"normalize": "off"}, lambda m: not m.normalize and torch.all(m.gamma_log == 0)),
])
def test_spec_knobs_reach_the_cell(cell, knobs, check):
    assert check(rnnviz.build_model(ModelSpec(cell=cell, hidden_size=4, **knobs)))


def test_scenario_compares_modern_and_classic_cells_on_the_same_input():
    sc = Scenario.from_values({"seq_len": 30, "input_kind": "noise", "hidden_size": 5, "seed": 2, "r_min": 0.5})
    traces = sc.traces(("rnn", "lru", "s6"))
    x = sc.inputs()
    np.testing.assert_array_equal(traces["rnn"].inputs, traces["lru"].inputs)
    lru = modern.build("lru", 1, 5, seed=2, r_min=0.5, output_size=5)
    np.testing.assert_array_equal(traces["lru"].log10_grad_norm, modern_trace.trace(lru, x).log10_grad_norm)
    assert traces["s6"].hidden.shape == (30, 5 * KNOBS["d_state"].default)


def test_an_r_min_above_r_max_is_read_as_r_max():
    r = np.abs(rnnviz.build_model(ModelSpec(cell="lru", hidden_size=8, r_min=0.999, r_max=0.9)).eigenvalues)
    np.testing.assert_allclose(r, 0.9, rtol=1e-6)


def test_links_spell_the_new_cells_one_way_and_refuse_others():
    cells = KNOBS["cells"]
    assert cells.format(("rnn", "mingru_neg", "s6")) == "RNN,minGRU_neg,S6"
    assert cells.validate("RNN,minGRU_neg,S6") == ("rnn", "s6", "mingru_neg")
    values, notes = parse_query({"r_min": "0.97", "flow_cells": "LRU,mamba"}, ["r_min", "flow_cells"])
    assert values["r_min"] == KNOBS["r_min"].default and values["flow_cells"] == KNOBS["flow_cells"].default
    assert len(notes) == 2 and "0.995" in notes[0]        # the radii a link may carry are named
    assert ModelSpec.from_query({"cell": "minLSTM"})[0].cell == "minlstm"


def test_training_lab_settings_build_cells_with_negative_eigenvalues():
    s = training.Settings(task="parity", cells=("mingru", "mingru_neg", "s6_neg"), seq_len=6, steps=20, hidden_size=4)
    assert s.spec("mingru_neg").cell == "mingru" and s.spec("mingru_neg").negative == "negative"
    assert s.spec("mingru").negative == "positive"
    assert [s.cell_label(c) for c in s.cells] == ["minGRU", "minGRU [−1, 1]", "S6 [−1, 1]"]
    results = training.fit_cells(s)
    assert results["s6_neg"].model.negative and results["mingru"].model.mode == "scan"
    x, _ = rnnviz.tasks.get_task("parity").batch(3, 6, torch.Generator().manual_seed(0))
    m = results["mingru_neg"].model
    with torch.no_grad():   # the trained cell: its parallel scan is its sequential loop
        torch.testing.assert_close(m(x, mode="scan")[0], m(x, mode="loop")[0], atol=1e-5, rtol=1e-5)
    for title, (values, _) in training.AFTER_LSTM.items():
        assert training.over_budget(training.Settings.from_values(values)) is None, title


def test_parity_counter_is_right_only_with_negative_eigenvalues():
    bits = beyond.parity_bits(300, seed=5)[:, 0]
    parity = np.cumsum(bits) % 2
    neg, pos = beyond.parity_counter(bits, True), beyond.parity_counter(bits, False)
    assert neg.accuracy == 1.0
    seen = (np.cumsum(bits) > 0).astype(int)            # with [0, 1] it says whether a 1 was seen
    np.testing.assert_array_equal(pos.read, seen)
    assert pos.accuracy == pytest.approx(np.mean(seen == parity))
    # ||dL/dh_0|| is the product of the later transitions: sigmoid(-k) or -tanh(k/2), k = +-12 (bit 1 / 0)
    k = np.where(bits[1:] > 0.5, 12.0, -12.0)
    pos_closed = np.sum(-np.logaddexp(0.0, k)) / math.log(10)
    neg_closed = np.sum(np.log10(np.tanh(np.abs(k) / 2)))
    assert pos.trace.log10_grad_norm[0] == pytest.approx(pos_closed, rel=1e-9)   # about 10^-5 per 1-bit
    assert neg.trace.log10_grad_norm[0] == pytest.approx(neg_closed, rel=1e-6)   # |a| = 1 - 1e-5: kept
    assert pos_closed < -500 and neg_closed > -0.01
