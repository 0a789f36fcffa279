"""Step Through under AppTest: heatmaps and equations carry the engine's numbers at the cursor, the
time controls move it, overflow is announced and drawn, and a typed text goes into the link."""
import numpy as np
import pytest

import rnnviz
from tests.support.apphelp import decode, figures, run_page, url_notes
from tests.support.engine import engine_trace

ST = "pages/1_Step_Through.py"


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_step_through_every_cell_heatmaps_and_equations(cell):
    at = run_page(ST, {"cell": cell, "t": "7", "input_kind": "noise"})
    assert not at.exception
    tr = engine_trace(cell.lower(), input_kind="noise")
    figs = figures(at)
    z = decode(figs["hm_h"]["data"][0]["z"])
    np.testing.assert_allclose(z, tr.hidden.T, rtol=1e-6)
    assert figs["hm_h"]["layout"]["shapes"][0]["x0"] == 7  # the cursor
    for name in tr.gate_names:
        np.testing.assert_allclose(decode(figs[f"hm_{name}"]["data"][0]["z"]), tr.gates[name].T, rtol=1e-6)
    latex = " ".join(e.value for e in at.latex)
    terms = tr.step_terms(7, 0)
    assert f"{terms['h']:.3f}" in latex
    for value in terms["value"].values():
        assert f"{value:.3f}" in latex


def test_step_through_buttons_move_the_cursor():
    at = run_page(ST, {"t": "5"})
    at.button(key="step").click().run()
    assert at.slider(key="t").value == 6
    at.button(key="back").click().run()
    at.button(key="back").click().run()
    assert at.slider(key="t").value == 4
    at.button(key="reset").click().run()
    assert at.slider(key="t").value == 0
    assert figures(at)["hm_h"]["layout"]["shapes"][0]["x0"] == 0
    assert not at.exception


def test_step_through_cursor_outside_the_sequence_is_noted():
    at = run_page(ST, {"t": "900", "seq_len": "50"})
    assert not at.exception
    assert "t='900' was ignored" in url_notes(at)
    assert 0 <= at.slider(key="t").value < 50


def test_step_through_at_maximum_size():
    at = run_page(ST, {"cell": "LSTM", "seq_len": "5000", "hidden_size": "512", "t": "4999"})
    assert not at.exception
    z = decode(figures(at)["hm_h"]["data"][0]["z"])
    assert z.shape == (512, 800)  # 5000 steps pooled to the chart's width


EXPLODING = {"activation": "relu", "init": "identity", "recurrent_gain": "4", "t": "150"}


@pytest.mark.parametrize("query", [EXPLODING, {**EXPLODING, "input_gain": "4", "seq_len": "5000",
                                               "hidden_size": "512"}])
def test_step_through_overflow_is_announced_and_drawn(query):
    at = run_page(ST, query)
    assert not at.exception
    over = {"activation": "relu", "init": "identity", "recurrent_gain": 4.0,
            **{k: float(v) if k == "input_gain" else int(v) for k, v in query.items() if k in
               ("input_gain", "seq_len", "hidden_size")}}
    k = engine_trace("rnn", **over).forward_overflow_step
    assert k is not None and k < 150
    errors = " ".join(e.value for e in at.error)
    assert "RNN exploded" in errors and f"at t = {k}" in errors
    assert f"past the overflow at step {k}" in " ".join(w.value for w in at.warning)
    latex = " ".join(e.value for e in at.latex)
    assert "nan" not in latex
    figs = figures(at)
    hm = figs["hm_h"]
    assert hm["data"][0]["zmax"] < 50  # readable colours: a signed log scale, not ±3e38
    assert any(d.get("name") == "overflow" for d in hm["data"])  # overflowed cells painted
    assert any(sh.get("name") == "overflow" and sh["x0"] == k - 0.5 for sh in hm["layout"]["shapes"])
    lines = figs["lines_h"]
    assert lines["layout"]["yaxis"].get("ticktext")
    assert any(sh.get("type") == "rect" and sh["x0"] == k - 0.5 for sh in lines["layout"]["shapes"])


def test_step_through_equation_of_an_overflowed_unit_says_infinity():
    tr = engine_trace("rnn", activation="relu", init="identity", recurrent_gain=4.0)
    unit = int(np.flatnonzero(np.isinf(tr.hidden[150]))[0])
    at = run_page(ST, {**EXPLODING, "unit": str(unit)})
    assert not at.exception
    latex = " ".join(e.value for e in at.latex)
    assert r"\infty" in latex and "nan" not in latex and "inf)" not in latex


def _share_link(at) -> str:
    import re

    links = [m for e in at.markdown for m in re.findall(r"\[Link to exactly this view\]\((.*?)\)", e.value)]
    assert links, "no share link"
    return links[0]


def test_step_through_text_input_goes_into_the_link():
    from urllib.parse import parse_qs, urlsplit

    at = run_page(ST, {"input_kind": "text", "seq_len": "30"})
    assert not at.exception
    typed = "to be or not to be & 100% #1"
    at.text_input(key="text").set_value(typed).run()
    assert not at.exception
    assert at.query_params["text"] == [typed] or at.query_params["text"] == typed
    query = parse_qs(urlsplit(_share_link(at)).query)
    assert query["text"] == [typed] and query["input_kind"] == ["text"]
    # the link reproduces the numbers on screen
    again = run_page(ST, {"input_kind": "text", "seq_len": "30", "text": typed})
    assert not again.exception and again.text_input(key="text").value == typed
    np.testing.assert_array_equal(decode(figures(again)["hm_h"]["data"][0]["z"]),
                                  decode(figures(at)["hm_h"]["data"][0]["z"]))
    default = run_page(ST, {"input_kind": "text", "seq_len": "30"})
    assert not np.array_equal(decode(figures(default)["hm_h"]["data"][0]["z"]),
                              decode(figures(again)["hm_h"]["data"][0]["z"]))


@pytest.mark.parametrize("bad", ["x" * 401, "two\nlines", ""])
def test_step_through_bad_text_in_the_link_falls_back_with_a_note(bad):
    at = run_page(ST, {"input_kind": "text", "seq_len": "30", "text": bad})
    assert not at.exception
    assert "text=" in url_notes(at) and "was ignored" in url_notes(at)
    assert at.text_input(key="text").value == rnnviz.inputs.DEFAULT_TEXT
    assert "text" not in at.query_params
