"""The home page under AppTest: the three cells' gradient curves are the engine's, the gain slider and
link values drive them, and bad link values fall back with a note."""
import numpy as np

import rnnviz
from tests.support.apphelp import decode, figures, run_page, trace_named, url_notes
from tests.support.engine import engine_trace


def rnn_curve(at, key):
    return decode(trace_named(figures(at)[key], "RNN")["y"])


def test_home_shows_the_three_cells_and_reacts_to_the_gain_slider():
    at = run_page("viz_app.py")
    assert not at.exception
    fig = figures(at)["hero"]
    names = [d["name"] for d in fig["data"] if d.get("name")]
    assert any(n.startswith("RNN") for n in names) and any(n.startswith("GRU") for n in names)
    assert any("cell path" in n for n in names)
    want = engine_trace("rnn", forget_bias=3.0)
    np.testing.assert_allclose(rnn_curve(at, "hero"), want.log10_grad_norm, rtol=1e-12)
    at.slider(key="recurrent_gain").set_value(1.5).run()
    assert not at.exception
    np.testing.assert_allclose(rnn_curve(at, "hero"), engine_trace("rnn", recurrent_gain=1.5).log10_grad_norm,
                               rtol=1e-12)
    assert rnn_curve(at, "hero")[0] > 0  # exploding: the first step's gradient is above 1


def test_home_bad_url_values_fall_back_with_a_note():
    at = run_page("viz_app.py", {"recurrent_gain": "lots", "seq_len": "999999"})
    assert not at.exception
    notes = url_notes(at)
    assert "recurrent_gain='lots' was ignored" in notes and "seq_len='999999' was ignored" in notes
    assert at.slider(key="recurrent_gain").value == rnnviz.KNOBS["recurrent_gain"].default
    assert at.slider(key="seq_len").value == rnnviz.KNOBS["seq_len"].default


def test_url_parameters_set_the_widgets():
    at = run_page("viz_app.py", {"recurrent_gain": "1.25", "seq_len": "60"})
    assert at.slider(key="recurrent_gain").value == 1.25 and at.slider(key="seq_len").value == 60
    np.testing.assert_allclose(rnn_curve(at, "hero"),
                               engine_trace("rnn", recurrent_gain=1.25, seq_len=60).log10_grad_norm, rtol=1e-12)


def test_home_takes_every_sequence_length_the_other_pages_allow():
    """A setting carried from Gradient Flow (T up to 5000) is shown on Home, not refused and reset."""
    at = run_page("viz_app.py", {"seq_len": "3000"})
    assert not at.exception
    assert not url_notes(at)
    x = decode(trace_named(figures(at)["hero"], "RNN")["x"])
    assert x.max() == 2999
