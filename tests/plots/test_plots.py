"""Figures carry exactly the engine's arrays."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest

import rnnviz
from rnnviz import ModelSpec, build_model, dynamics, plots, trace
from rnnviz.cells import LABELS


def _arr(v):
    return np.asarray(v, dtype=np.float64)


@pytest.fixture(scope="module")
def traces():
    x = rnnviz.inputs.impulse(120)
    return {LABELS[c]: trace(build_model(ModelSpec(cell=c, hidden_size=8, recurrent_gain=0.8)), x)
            for c in ("rnn", "lstm", "gru")}


def test_gradient_figure_holds_the_log_norms(traces):
    fig = plots.gradient_vs_lag(traces)
    for label, tr in traces.items():
        line = next(d for d in fig.data if d.name.startswith(label) and "∂L/∂h" in d.name)
        np.testing.assert_array_equal(_arr(line.x), np.arange(tr.T - 1, -1, -1))
        np.testing.assert_array_equal(_arr(line.y), tr.log10_grad_norm)
    cell = next(d for d in fig.data if "cell path" in (d.name or ""))
    np.testing.assert_array_equal(_arr(cell.y), traces["LSTM"].log10_cell_grad_norm)
    # log-scale ticks are powers of ten at integer log10 positions
    ticks = fig.layout.yaxis.tickvals
    assert all(float(t).is_integer() for t in ticks)
    assert fig.layout.yaxis.ticktext[list(ticks).index(0)] == "1"


def test_exploding_gradient_is_marked_not_blank():
    model = build_model(ModelSpec(activation="linear", recurrent_gain=2.0, hidden_size=4))
    tr = trace(model, rnnviz.inputs.impulse(300))
    fig = plots.gradient_vs_lag({"RNN": tr})
    notes = [a.text for a in fig.layout.annotations]
    assert any(f"gradient past float32 at t = {tr.backward_overflow_step}" in t for t in notes)
    assert any(f"state overflowed at t = {tr.forward_overflow_step}" in t for t in notes)
    # the notes do not stretch the axis: steps back run from 0 to T-1, never negative
    lo, hi = fig.layout.xaxis.range
    assert -0.02 * (tr.T - 1) <= lo <= 0 and tr.T - 1 <= hi <= 1.02 * (tr.T - 1)
    line = fig.data[0]
    assert np.isfinite(_arr(line.y)).all()  # the exact log values, not inf
    # the float32 overflow level is drawn
    assert any(abs(s.y0 - plots.F32_MAX_LOG10) < 1e-9 for s in fig.layout.shapes)


def test_long_lines_are_thinned_without_losing_extremes():
    rng = np.random.default_rng(0)
    y = rng.normal(size=10000).cumsum()
    y[1234] = 500.0  # a spike
    y[7000:7005] = np.nan  # a gap
    x = np.arange(10000)
    xs, ys = plots.decimate(x, y)
    assert len(ys) <= plots.MAX_LINE_POINTS
    np.testing.assert_array_equal(ys, y[xs])  # every point drawn is a real point, in time order
    assert np.all(np.diff(xs) > 0)
    assert np.nanmax(ys) == 500.0 and np.nanmin(ys) == np.nanmin(y)
    short = np.arange(50.0)
    assert plots.decimate(short, short)[1] is short


def test_jacobian_figure_and_bound(traces):
    fig = plots.jacobian_vs_lag(traces, values={label: tr.log10_jacobian_norm for label, tr in traces.items()})
    rnn = traces["RNN"]
    bound = next(d for d in fig.data if "bound" in d.name)
    # the bound (T-1-k) log10(gamma sigma_max) is a straight line through its two ends
    np.testing.assert_allclose(_arr(bound.y), rnn.log10_pascanu_bound[[0, -1]])
    np.testing.assert_allclose(_arr(bound.x), [rnn.T - 1, 0])
    line = next(d for d in fig.data if d.name.startswith("RNN") and "bound" not in d.name)
    np.testing.assert_array_equal(_arr(line.y), rnn.log10_jacobian_norm)
    assert sum("bound" in d.name for d in fig.data) == 1  # gated cells get no (invalid) bound


def test_chain_figure_factors_and_running_product(traces):
    tr = traces["GRU"]
    fig = plots.jacobian_chain(tr, step_norms=tr.log10_step_jacobian_norm, product=tr.log10_jacobian_norm, last=30)
    bars = fig.data[0]
    np.testing.assert_allclose(_arr(bars.y), 10 ** tr.log10_step_jacobian_norm[tr.T - 30:])
    running = fig.data[1]
    # entry k of the running product is sum_{j>k} log10 ||J_j||; the last entry is 0 (empty product)
    want = [tr.log10_step_jacobian_norm[k + 1:].sum() for k in range(tr.T - 31, tr.T)]
    np.testing.assert_allclose(_arr(running.y), want, atol=1e-9)
    # the product of norms bounds the norm of the product
    true = _arr(fig.data[2].y)
    assert np.all(true <= _arr(running.y) + 1e-6)


def test_eigenvalue_plane(traces):
    tr = traces["RNN"]
    fig = plots.eigenvalue_plane(tr)
    pts = next(d for d in fig.data if d.name == "eigenvalues λ")
    np.testing.assert_allclose(_arr(pts.x) + 1j * _arr(pts.y), tr.eigenvalues)
    circle = fig.data[0]
    np.testing.assert_allclose(_arr(circle.x) ** 2 + _arr(circle.y) ** 2, 1.0, atol=1e-12)


def test_heatmap_downsamples_over_time_by_mean():
    values = np.arange(12 * 2, dtype=np.float32).reshape(12, 2)
    fig = plots.heatmap(values, kind="state", max_cols=4, cursor=5)
    z = _arr(fig.data[0].z)
    assert z.shape == (2, 4)
    np.testing.assert_allclose(z[:, 0], values[0:3].mean(0))
    np.testing.assert_allclose(_arr(fig.data[0].x), [1, 4, 7, 10])
    assert fig.data[0].zmid == 0
    assert fig.layout.shapes[0].x0 == 5
    small = plots.heatmap(values[:3], kind="gate")
    np.testing.assert_array_equal(_arr(small.data[0].z), values[:3].T)
    assert (small.data[0].zmin, small.data[0].zmax) == (0.0, 1.0)


def test_heatmap_keeps_overflow_visible_as_gaps():
    v = np.ones((10, 1), dtype=np.float32)
    v[6:] = np.inf
    z, _ = plots.downsample_time(v, 5)
    assert np.isfinite(z[:3]).all() and not np.isfinite(z[3:]).any()


def test_saturation_bars_sum_to_one(traces):
    sat = traces["LSTM"].saturation()
    fig = plots.saturation_bars(sat)
    total = sum(_arr(d.x) for d in fig.data)
    np.testing.assert_allclose(total, 1.0)
    np.testing.assert_allclose(_arr(fig.data[0].x), [sat[g]["low"] for g in sat])


def test_one_neuron_figures():
    run = dynamics.one_neuron(0.5, 1.0, 0.0, "linear", [1.0] + [0.0] * 9)
    np.testing.assert_allclose(run["h"], [0.0] + [0.5 ** k for k in range(10)])
    fig = plots.neuron_gradient(np.log10(np.abs(run["factor"])), run["log10_grad"])
    # dh_10/dh_k = 0.5^(10-k)
    np.testing.assert_allclose(_arr(fig.data[1].y), [math.log10(0.5) * (10 - k) for k in range(11)], atol=1e-12)
    np.testing.assert_allclose(_arr(fig.data[0].y), math.log10(0.5))
    grid = np.linspace(-1, 1, 5)
    fps = dynamics.fixed_points(0.5, 0.0, "linear")
    cob = plots.cobweb(grid, dynamics.neuron_map(0.5, 0.0, "linear", grid), run["h"][1:], fps)
    np.testing.assert_allclose(_arr(cob.data[0].y), 0.5 * grid)
    assert isinstance(cob, go.Figure)


def test_sci_and_power_labels():
    assert plots.power_label(-30) == "10⁻³⁰"
    assert plots.sci(-46.6) == "2.51 × 10⁻⁴⁷"
    assert plots.sci(math.log10(0.0123)) == "0.0123"
    assert plots.sci(-math.inf) == "0"
    assert plots.sci(400.0) == "1.00 × 10⁴⁰⁰"


def _exploding_relu(T=200):
    model = build_model(ModelSpec(activation="relu", init="identity", recurrent_gain=4.0, hidden_size=8))
    return trace(model, rnnviz.inputs.impulse(T))


def test_state_heatmap_stays_readable_when_the_state_overflows():
    tr = _exploding_relu()
    k = tr.forward_overflow_step
    assert k is not None and np.isinf(tr.hidden).any()
    fig = plots.heatmap(tr.hidden, kind="state", cursor=150, colorbar_title="h")
    main = fig.data[0]
    z = _arr(main.z)
    assert main.zmax < 50 and main.zmin == -main.zmax  # a signed log scale, not ±3e38
    assert "log" in main.colorbar.title.text
    assert "10²⁰" in main.colorbar.ticktext
    # values up to 10 are still told apart: 1e3 sits at 4 of the scale's ~39.5, not at 1e3 / 3e38
    finite = np.isfinite(tr.hidden.T)
    np.testing.assert_allclose(z[finite], plots.symlog(tr.hidden.T[finite]), rtol=1e-6)
    np.testing.assert_allclose(_arr(main.customdata)[finite], tr.hidden.T[finite], rtol=1e-6)
    # the overflowed cells are painted, not blank, and the step is marked
    over = next(d for d in fig.data if d.name == "overflow")
    np.testing.assert_array_equal(np.isfinite(_arr(over.z)), ~finite)
    assert fig.layout.shapes[0].name == "cursor" and fig.layout.shapes[0].x0 == 150
    mark = next(s for s in fig.layout.shapes if s.name == "overflow")
    assert mark.x0 == k - 0.5
    assert any(f"overflow from step {k}" in a.text for a in fig.layout.annotations)


def test_normal_states_keep_the_linear_colour_scale(traces):
    tr = traces["RNN"]
    fig = plots.heatmap(tr.hidden, kind="state")
    np.testing.assert_array_equal(_arr(fig.data[0].z), tr.hidden.T)
    assert len(fig.data) == 1 and fig.data[0].zmax == 1.0 and fig.data[0].customdata is None


def test_unit_lines_stay_readable_when_the_state_overflows():
    tr = _exploding_relu()
    k = tr.forward_overflow_step
    units = [u for u in range(8) if np.isinf(tr.hidden[:, u]).any()][:3]
    fig = plots.unit_lines(tr.hidden, units, cursor=10)
    ys = np.concatenate([_arr(d.y) for d in fig.data])
    assert np.nanmax(np.abs(ys)) < 50  # one log-ish axis: the growth is a slope, not a single spike
    assert np.isfinite(ys[: k]).all()
    assert "log" in fig.layout.yaxis.title.text and fig.layout.yaxis.ticktext
    assert any(s.type == "rect" and s.x0 == k - 0.5 for s in fig.layout.shapes)  # the overflowed part shaded


def test_equation_numbers_say_overflow_plainly():
    assert plots.tex_number(0.12345) == "0.123" and plots.tex_number(-0.5, sign=True) == "-0.500"
    assert plots.tex_number(4.2912285e37) == r"4.29\times 10^{37}"
    # a small gate or derivative value keeps its digits instead of printing as 0.000
    assert plots.tex_number(4.5e-5) == r"4.50\times 10^{-5}"
    assert plots.tex_number(-4.5e-5, sign=True) == r"-4.50\times 10^{-5}"
    assert plots.tex_number(0.0) == "0.000" and plots.tex_number(9.99e-4) == r"9.99\times 10^{-4}"
    assert plots.tex_number(math.inf) == r"\infty" and plots.tex_number(-math.inf, sign=True) == r"-\infty"
    assert plots.tex_number(math.nan, sign=True) == r"+ \text{overflow}"
    assert "nan" not in plots.tex_number(math.nan)


def test_percent_keeps_small_probabilities_visible():
    assert [plots.percent(p) for p in (0.954, 0.001, 0.00031, 2.5e-6, 0.0)] == ["95.4%", "0.1%", "0.031%", "0.00025%",
                                                                              "0.0%"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cell_equations_carry_the_step_terms(cell):
    """The equations read the numbers of one unit at one step; the LSTM's cell update adds up."""
    tr = trace(build_model(ModelSpec(cell=cell, hidden_size=4, seed=2)), rnnviz.inputs.make("noise", 12, 1, seed=2))
    terms = tr.step_terms(7, 3)
    latex = plots.cell_equations_tex(cell, "tanh", terms)
    assert latex.startswith(r"\begin{aligned}") and f"{terms['h']:.3f}" in latex
    for value in terms["value"].values():
        assert f"{value:.3f}" in latex
    if cell == "lstm":
        v = terms["value"]
        assert terms["c"] == pytest.approx(v["forget"] * terms["c_prev"] + v["input"] * v["candidate"], rel=1e-5)
        assert f"{terms['c_prev']:.3f}" in latex


def test_one_neuron_axes_hold_the_iterates_and_the_bistable_range():
    h = np.array([0.0, 0.5, 3.0, np.inf, -0.2])
    grid, path = plots.cobweb_axis(h, "tanh", start=1)
    assert (grid[0], grid[-1], len(grid)) == (-1.05, 1.05, 401)
    np.testing.assert_array_equal(path, [0.5, -0.2])  # outside the axis or not finite: left out
    grid, path = plots.cobweb_axis(np.array([1.0, -20.0, np.nan]), "linear")
    assert grid[0] == pytest.approx(-22.0) and grid[-1] == pytest.approx(22.0) and len(path) == 2
    bs = plots.bias_grid(5.0, "sigmoid", -2.5, (-2.66, -2.34))
    assert np.all(np.diff(bs) >= 0) and ((bs > -2.66) & (bs < -2.34)).sum() >= 60 and bs[0] < -2.5 - 3 + 1e-9
