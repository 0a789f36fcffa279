"""Every page under AppTest: runs without exception, shows the engine's numbers, reacts to its
widgets (including edge values), and answers bad URL values with a visible note."""
import math
import subprocess

import numpy as np
import pytest

import rnnviz
from rnnviz import ui
from tests.apphelp import ROOT, decode, figures, run_page, texts, trace_named, url_notes


def engine_trace(cell, **over):
    """The trace a page should show for these settings, computed independently of the page."""
    settings = dict(activation="tanh", init="orthogonal", hidden_size=32, recurrent_gain=0.9, input_gain=1.0,
                    forget_bias=3.0, seed=0, seq_len=200, input_kind="impulse", loss="last")
    settings.update(over)
    size = rnnviz.inputs.input_size_for(settings["input_kind"], 1)
    spec = rnnviz.ModelSpec(cell=cell, input_size=size, hidden_size=settings["hidden_size"],
                            activation=settings["activation"], init=settings["init"],
                            recurrent_gain=settings["recurrent_gain"], input_gain=settings["input_gain"],
                            forget_bias=settings["forget_bias"], seed=settings["seed"])
    x = rnnviz.inputs.make(settings["input_kind"], settings["seq_len"], size, seed=settings["seed"])
    return rnnviz.trace(rnnviz.build_model(spec), x, loss=settings["loss"])


def rnn_curve(at, key):
    return decode(trace_named(figures(at)[key], "RNN")["y"])


# ------------------------------------------------------------------------------- home
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


# ------------------------------------------------------------------------------- gradient flow
GF = "pages/2_Gradient_Flow.py"


def test_home_takes_every_sequence_length_the_other_pages_allow():
    """A setting carried from Gradient Flow (T up to 5000) is shown on Home, not refused and reset."""
    at = run_page("viz_app.py", {"seq_len": "3000"})
    assert not at.exception
    assert not url_notes(at)
    x = decode(trace_named(figures(at)["hero"], "RNN")["x"])
    assert x.max() == 2999


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


# ------------------------------------------------------------------------------- step through
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
    for name, value in terms["value"].items():
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


# ------------------------------------------------------------------------------- one neuron
ON = "pages/3_One_Neuron.py"


def test_one_neuron_sigmoid_bistability_of_pascanu():
    at = run_page(ON, {"activation": "sigmoid", "w": "5", "b": "-2.5"})
    assert not at.exception
    page = texts(at)
    assert "(-2.6556, -2.3444)" in page and "b is inside" in page
    fig = figures(at)["cobweb"]
    stable = [d for d in fig["data"] if d.get("mode") == "markers" and d["marker"]["color"] == "#111"]
    assert len(stable) == 2


def test_one_neuron_linear_gradient_is_w_to_the_power():
    at = run_page(ON, {"activation": "linear", "w": "0.5", "steps": "20"})
    y = decode(figures(at)["grad"]["data"][1]["y"])
    np.testing.assert_allclose(y, [(20 - k) * math.log10(0.5) for k in range(21)], atol=1e-12)


def test_one_neuron_explosion_is_a_message():
    at = run_page(ON, {"activation": "linear", "w": "8", "steps": "300", "neuron_input": "constant"})
    assert not at.exception
    # h_T = sum_{j<300} 8^j = (8^300 - 1) / 7 = 1.21e270 (float64 still holds it)
    assert any("The state explodes: |h_T| = 1.21 × 10²⁷⁰" in w.value for w in at.warning)
    assert figures(at)["traj"]["layout"]["yaxis"]["type"] == "log"


# ------------------------------------------------------------------------------- house rules
def test_no_st_navigation_and_streamlit_only_in_ui():
    # Navigation comes from the pages/ folder; a navigation call of Streamlit's would replace it.
    import ast

    for path in [ROOT / "viz_app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "rnnviz").glob("*.py")]:
        calls = [n.func.attr for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "navigation" not in calls, path
    importers = subprocess.run(["grep", "-rln", "--include=*.py", "import streamlit", "rnnviz"], cwd=ROOT,
                               capture_output=True, text=True).stdout.split()
    assert importers == ["rnnviz/ui.py"]


def test_every_page_starts_with_page_setup():
    for path in [ROOT / "viz_app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        code = path.read_text()
        body = code.split("ui.page_setup(", 1)
        assert len(body) == 2, f"{path.name} does not call ui.page_setup"
        assert "st." not in body[0].split('"""', 2)[-1].replace("import streamlit as st", ""), path.name
    assert [p for p, _, _ in ui.PAGES][0] == "viz_app.py"


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
    assert ui.inert("a`b\nc") == "`aˋb c`"  # a backtick cannot end the span early
    assert "seed='[Sign in](https://evil.example)' was ignored" in url_notes(at)
    assert "seq_len='![x](https://t.example/p.png)' was ignored" in url_notes(at)
