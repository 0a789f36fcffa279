"""Gradient Flow comparing the cells after the LSTM with RNN, LSTM and GRU on the same input: the curves
are the engine's exact traces, the unit circle holds W_hh's eigenvalues, the LRU's λ and the input-dependent
cells' transitions at every step; the old links still show the three classic cells."""
import numpy as np

from rnnviz import modern, modern_trace
from tests.support.apphelp import decode, figures, run_page, texts, trace_named, url_notes
from tests.support.engine import engine_trace

GF = "pages/2_Gradient_Flow.py"


def impulse(T):
    x = np.zeros((T, 1), dtype=np.float32)
    x[0] = 1.0
    return x


def test_modern_cells_next_to_the_rnn_on_the_same_input():
    at = run_page(GF, {"flow_cells": "RNN,LRU,minGRU,S6", "r_min": "0.99", "negative": "negative",
                       "seq_len": "150"})
    assert not at.exception
    figs = figures(at)
    assert "eig_all" in figs and "eig" not in figs
    names = {t.get("name") for t in figs["grad"]["data"]}
    assert {"RNN", "LRU", "minGRU", "S6"} <= {n.split(" ")[0] for n in names if n}
    for cell, label, knobs in (("lru", "LRU", {"r_min": 0.99}), ("mingru", "minGRU", {"negative": "negative"}),
                               ("s6", "S6", {"negative": "negative"})):
        tr = modern_trace.trace(modern.build(cell, 1, 32, seed=0, **knobs), impulse(150))
        np.testing.assert_allclose(decode(trace_named(figs["grad"], label)["y"]), tr.log10_grad_norm, rtol=1e-9)
        if cell != "lru":   # every step's transitions, the last step outlined
            last = trace_named(figs["eig_all"], f"{label}: last step")
            np.testing.assert_allclose(decode(last["x"]), tr.eigenvalue_trajectory[-1].real, atol=1e-6)
            assert np.any(decode(last["x"]) < 0) or cell == "s6"  # [-1, 1]: minGRU's 1 - 2z goes negative
    rnn = engine_trace("rnn", seq_len=150)
    ev = trace_named(figs["eig_all"], "RNN")
    np.testing.assert_allclose(np.sort(np.abs(decode(ev["x"]) + 1j * decode(ev["y"]))),
                               np.sort(np.abs(rnn.eigenvalues)), atol=1e-6)
    np.testing.assert_allclose(decode(trace_named(figs["grad"], "RNN")["y"]), rnn.log10_grad_norm, rtol=1e-12)


def test_without_the_rnn_the_page_still_runs_and_says_no_rnn_metric():
    at = run_page(GF, {"flow_cells": "LRU,minLSTM"})
    assert not at.exception
    page = texts(at)
    assert "LRU horizon (steps)" in page and "minLSTM horizon (steps)" in page
    assert "RNN σ_max" not in page


def test_default_link_still_shows_the_three_classic_cells():
    at = run_page(GF)
    figs = figures(at)
    assert "eig" in figs and "eig_all" not in figs
    cells = {str(t.get("name")).split(" ")[0] for t in figs["grad"]["data"]}
    assert {"RNN", "LSTM", "GRU"} <= cells and not {"LRU", "minGRU", "minLSTM", "S6"} & cells


def test_an_unknown_cell_in_the_link_is_named():
    at = run_page(GF, {"flow_cells": "RNN,Transformer"})
    assert not at.exception
    assert "flow_cells" in url_notes(at)
