"""Gradient Flow under AppTest: the engine's numbers in every figure and metric, edge values, explosions
announced rather than crashing, exports, and link values shown as inert text."""
import numpy as np
import pytest

from rnnviz import ui
from tests.support.apphelp import decode, figures, run_page, texts, trace_named, url_notes
from tests.support.engine import engine_trace

GF = "pages/2_Gradient_Flow.py"
ST = "pages/1_Step_Through.py"


def rnn_curve(at, key):
    return decode(trace_named(figures(at)[key], "RNN")["y"])


def test_gradient_flow_defaults_show_engine_numbers_and_metrics():
    at = run_page(GF)
    assert not at.exception
    figs = figures(at)
    assert {"grad", "jac", "eig", "chain"} <= set(figs)
    rnn = engine_trace("rnn")
    np.testing.assert_allclose(rnn_curve(at, "grad"), rnn.log10_grad_norm, rtol=1e-12)
    np.testing.assert_allclose(decode(trace_named(figs["jac"], "RNN  bound")["y"]), rnn.log10_pascanu_bound[[0, -1]])
    page_text = texts(at)
    h = rnn.memory_horizon(1e-3)
    assert f"RNN horizon (steps): {h}" in page_text
    assert f"{rnn.sigma_max:.3f} < 1" in page_text


@pytest.mark.parametrize("query", [
    {"seq_len": "5000"},
    {"recurrent_gain": "4", "activation": "linear"},
    {"hidden_size": "512", "seq_len": "50"},
    {"activation": "sigmoid", "init": "gaussian", "loss": "all"},
    {"activation": "relu", "init": "identity", "recurrent_gain": "2", "input_kind": "noise"},
    {"init": "torch", "input_kind": "text", "forget_bias": "-10"},
    {"input_kind": "binary", "seed": "2147483647", "recurrent_gain": "0"},
])
def test_gradient_flow_edge_values(query):
    at = run_page(GF, query)
    assert not at.exception
    over = {k: (float(v) if k in ("recurrent_gain", "forget_bias") else int(v) if k in ("seq_len", "hidden_size",
                                                                                          "seed") else v)
            for k, v in query.items()}
    T = over.get("seq_len", 200)
    fig = trace_named(figures(at)["grad"], "RNN")
    x, y = decode(fig["x"]).astype(int), decode(fig["y"])
    want = engine_trace("rnn", **over).log10_grad_norm
    k = T - 1 - x  # the figure's x is steps back
    if T <= 2000:
        assert len(y) == T
    else:  # thinned for drawing: real points only, and the extremes kept
        assert len(y) <= 2000 and np.nanmax(y) == np.nanmax(want) and np.nanmin(y) == np.nanmin(want)
    ok = np.isfinite(want[k])
    np.testing.assert_allclose(y[ok], want[k][ok], rtol=1e-12)


def test_gradient_flow_explosion_is_announced_not_a_crash():
    at = run_page(GF, {"recurrent_gain": "3", "activation": "linear", "seq_len": "400"})
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "RNN exploded" in errors and "float32" in errors
    warnings = " ".join(w.value for w in at.warning)
    assert "RNN's gradient exploded" in warnings
    fig = figures(at)["grad"]
    assert any("gradient past float32" in a["text"] for a in fig["layout"]["annotations"])


def test_gradient_flow_explosion_numbers_agree_with_the_figure():
    """ReLU, identity init, gain 4: the warning quotes the largest gradient and where it is, the
    horizon says the memory explodes rather than 'reaches everything'."""
    at = run_page(GF, {"activation": "relu", "init": "identity", "recurrent_gain": "4"})
    assert not at.exception
    rnn = engine_trace("rnn", activation="relu", init="identity", recurrent_gain=4.0)
    top = int(np.nanargmax(rnn.log10_grad_norm))
    warnings = " ".join(w.value for w in at.warning)
    assert (f"passes float32's largest number at t = {rnn.backward_overflow_step} and reaches "
            f"10^{rnn.log10_grad_norm[top]:.0f} at t = {top}") in warnings
    assert np.nanmax(rnn_curve(at, "grad")) == pytest.approx(rnn.log10_grad_norm[top])
    assert "RNN horizon (steps): explodes" in texts(at)


def test_gradient_flow_sigma_max_at_the_threshold_reads_approximately_equal():
    """ReLU (γ = 1) with identity init and gain 1: σ_max = 1 = 1/γ up to float32 rounding."""
    at = run_page(GF, {"activation": "relu", "init": "identity", "recurrent_gain": "1"})
    assert not at.exception
    assert "1.000 ≈ 1" in texts(at)


def test_gradient_flow_loss_switch_changes_the_curve():
    at = run_page(GF)
    before = rnn_curve(at, "grad")
    at.selectbox(key="loss").set_value("all").run()
    after = rnn_curve(at, "grad")
    np.testing.assert_allclose(after, engine_trace("rnn", loss="all").log10_grad_norm, rtol=1e-12)
    assert not np.allclose(before, after)


def test_explorer_pages_offer_exports():
    for page in (ST, GF):
        at = run_page(page)
        labels = {b.label for b in at.get("download_button")}
        assert {"Trace as CSV", "Trace as NPZ", "PyTorch script"} <= labels, page


def test_link_values_are_shown_as_inert_text():
    """A link cannot put a clickable link or an image into the page through a bad value."""
    at = run_page(GF, {"seed": "[Sign in](https://evil.example)", "seq_len": "![x](https://t.example/p.png)"})
    assert not at.exception
    source = " ".join(w.value for w in at.warning)
    # each value sits inside a code span, where markdown makes no link, image, icon or formula
    assert "`[Sign in](https://evil.example)`" in source and "`![x](https://t.example/p.png)`" in source
    assert ui.inert("a`b\nc") == "`aˋb·c`"  # a backtick cannot end the span early, a line break shows as ·
    assert "seed='[Sign in](https://evil.example)' was ignored" in url_notes(at)
    assert "seq_len='![x](https://t.example/p.png)' was ignored" in url_notes(at)
