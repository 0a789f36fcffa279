"""The character model's figures: coloured text is escaped, one span per character, on the fixed scales;
user text in figures is escaped; the curves hold the arrays."""

import html as stdlib_html
import re

import numpy as np

from rnnviz import plots


def test_coloured_text_is_escaped_and_one_span_per_character():
    text = "<script>alert(1)</script>\n<img src=x onerror=alert(2)> \"q\" & 👍🏽"
    values = np.linspace(-1, 1, len(text))
    tips = [f'<b onmouseover="x">{k}"' for k in range(len(text))]
    html = plots.text_colour_html(text, values, kind="state", tips=tips)
    assert "<script" not in html and "<img" not in html and "<b " not in html
    shown = re.findall(r"<span [^>]*>(.*?)</span>", html)
    assert len(shown) == len(text) and html.count("<br>") == 1
    assert "".join(stdlib_html.unescape(s) for s in shown) == text.replace("\n", "↵")
    assert 'title="&lt;b onmouseover=&quot;x&quot;&gt;0&quot;"' in html
    # the two ends of the diverging scale: -1 red, +1 blue; NaN neutral
    assert "rgb(103,0,31)" in html.split("</span>")[0] and "rgb(5,48,97)" in html.split("</span>")[-2]
    assert plots.NEUTRAL_STYLE in plots.text_colour_html("ab", [np.nan, 0.5], kind="gate")


def test_colour_levels_follow_the_fixed_scales():
    np.testing.assert_array_equal(plots.colour_levels([-1, 0, 1, 3, np.nan], "state"), [0, 50, 100, 100, 0])
    np.testing.assert_array_equal(plots.colour_levels([0, 0.25, 1], "gate"), [0, 25, 100])
    np.testing.assert_array_equal(plots.colour_levels([-8, -5, -2], "grad", lo=-8, hi=-2), [0, 50, 100])


def test_user_text_in_figures_is_escaped_for_plotly():
    fig = plots.next_char_bars(["<", "b", "&"], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1], 0,
                               title=plots.plain("after <b>x</b>"))
    assert list(fig.layout.yaxis.ticktext) == ["<b>'&lt;'</b>", "'b'", "'&amp;'"]   # the chosen one bold
    assert fig.layout.title.text == "after &lt;b&gt;x&lt;/b&gt;"


def test_bpc_and_gradient_figures_hold_the_arrays():
    steps = np.arange(1, 101)
    train = np.linspace(5, 2, 100)
    fig = plots.bpc_curves({"LSTM": {"cell": "lstm", "steps": steps, "train": train, "test_steps": [0, 50, 100],
                                     "test": [5.0, 3.5, 3.0]}}, 4.2, smooth=10)
    by_name = {d.name: d for d in fig.data}
    np.testing.assert_allclose(by_name["LSTM training text"].y[-1], train[-10:].mean())
    np.testing.assert_array_equal(by_name["LSTM held-out text"].y, [5.0, 3.5, 3.0])
    assert any(s["y0"] == 4.2 for s in fig.layout.shapes)
    g = np.array([1e-6, 1e-3, 1.0])
    fig = plots.input_gradient_figure({"GRU": ("gru", g)})
    np.testing.assert_allclose(fig.data[0].y, [0, -3, -6])
    assert fig.data[0].line.color == plots.CELL_COLORS["gru"]


def test_sampling_entropy_draws_both_curves_under_the_uniform_ceiling():
    """Two distributions per character written: a point mass (0 bits) and a uniform one over 8 (3 bits)."""
    sampled, model = np.array([0.0, 3.0, 1.5]), np.array([0.0, 1.0, 0.5])
    fig = plots.sampling_entropy(sampled, model, np.log2(8), title="t")
    by_name = {tr.name: tr for tr in fig.data}
    np.testing.assert_array_equal(by_name["sampled from"].y, sampled)
    np.testing.assert_array_equal(by_name["model (temperature 1)"].y, model)
    np.testing.assert_array_equal(by_name["sampled from"].x, [1, 2, 3])          # characters counted from 1
    assert [s.y0 for s in fig.layout.shapes] == [3.0] and "3.00 bits" in fig.layout.annotations[0].text
    assert fig.layout.yaxis.range[1] > 3.0                                       # the ceiling is on the chart
