"""A figure with its own slider (plots.with_slider): one frame per value, each holding that value's own
curves, the slider starting at the page's value, and the values a knob's grid offers."""
import numpy as np
import pytest

from rnnviz import plots
from rnnviz.spec import KNOBS
from tests.support.apphelp import decode
from tests.support.engine import engine_trace


def test_the_gain_grid_is_every_tenth_from_0_to_4():
    grid = KNOBS["recurrent_gain"].grid()
    assert len(grid) == 41 and grid[0] == 0.0 and grid[-1] == 4.0
    assert grid[9] == 0.9 and all(KNOBS["recurrent_gain"].validate(g) == g for g in grid)


def test_each_frame_holds_the_curves_of_its_own_value():
    values = (0.5, 0.85, 1.3)
    traces = {g: engine_trace("rnn", recurrent_gain=g, seq_len=60) for g in values}
    figures = {g: plots.gradient_vs_lag({"RNN": tr}, horizon_fraction=1e-3, title=f"gain {g:g}")
               for g, tr in traces.items()}
    fig = plots.with_slider(figures, 0.85, label="Recurrent gain")
    assert [f.name for f in fig.frames] == ["value=0.5", "value=0.85", "value=1.3"]
    slider = fig.layout.sliders[0]
    assert slider.active == 1 and [s.label for s in slider.steps] == ["0.5", "0.85", "1.3"]
    assert slider.currentvalue.prefix == "Recurrent gain: "
    n = len(fig.data)
    for frame, g in zip(fig.frames, values):
        assert len(frame.data) == n  # padded: frame k's trace i replaces trace i
        np.testing.assert_array_equal(decode(frame.data[0].y), traces[g].log10_grad_norm)
        assert frame.layout.title.text == f"gain {g:g}"
    np.testing.assert_array_equal(decode(fig.data[0].y), traces[0.85].log10_grad_norm)  # drawn at 0.85


def test_the_active_value_must_be_one_of_the_figures():
    fig = plots.gradient_vs_lag({"RNN": engine_trace("rnn", seq_len=20)})
    with pytest.raises(ValueError):
        plots.with_slider({0.9: fig}, 1.0, label="Recurrent gain")
