"""A class on one link shares its figures: the chart with the gain slider in it (every value of the
gain's grid a frame) is put together once per process for each value, language and screen, and every
session showing the same settings gets that one figure, holding the engine's numbers in every frame."""
import time

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz import plots
from rnnviz.spec import KNOBS
from rnnviz.ui import cache
from tests.support.apphelp import decode, figures, run_page, trace_named
from tests.support.engine import engine_trace

GRID = KNOBS["recurrent_gain"].grid()


@pytest.fixture
def count_builds(monkeypatch):
    """How many times the slider's figure is put together, and for which slider labels."""
    built = []
    real = plots.slider_spec

    def counted(figures, active, *, label, scale=1.0):
        built.append(label)
        return real(figures, active, label=label, scale=scale)

    monkeypatch.setattr(plots, "slider_spec", counted)
    monkeypatch.delenv("RNNVIZ_FLUID", raising=False)
    cache._shared_figures.clear()
    return built


def open_home(query: dict | None = None, timeout: float = 180):
    """The home page, opened again until the slider's grid (computed in the background) is there."""
    deadline = time.monotonic() + timeout
    while True:
        at = run_page("viz_app.py", query)
        assert not at.exception
        fig = figures(at)["hero"]
        if fig.get("frames") or time.monotonic() > deadline:
            return fig
        time.sleep(2)


def test_sessions_at_the_same_settings_share_one_slider_figure_with_the_engines_numbers(count_builds):
    first = open_home({"recurrent_gain": "1.3"})
    assert count_builds == ["Recurrent gain"]
    second = open_home({"recurrent_gain": "1.3"})     # another student on the same link
    assert count_builds == ["Recurrent gain"], "the second session put the figure together again"
    assert second == first
    frames = {f["name"]: f for f in first["frames"]}
    assert len(frames) == len(GRID) and first["layout"]["sliders"][0]["active"] == GRID.index(1.3)
    for gain in (0.0, 0.9, 1.3, 4.0):  # each frame holds its own value's curves
        rnn = trace_named(frames[f"value={gain:g}"], "RNN")
        np.testing.assert_allclose(decode(rnn["y"]), engine_trace("rnn", recurrent_gain=gain).log10_grad_norm,
                                   rtol=1e-12)
    np.testing.assert_allclose(decode(trace_named(first, "RNN")["y"]),
                               engine_trace("rnn", recurrent_gain=1.3).log10_grad_norm, rtol=1e-12)
    go.Figure(first)  # what the page sends is a valid Plotly figure

    chinese = open_home({"recurrent_gain": "1.3", "lang": "zh"})   # another language: its own figure
    assert len(count_builds) == 2 and count_builds[1] != "Recurrent gain"
    assert chinese["layout"]["sliders"][0]["currentvalue"]["prefix"].startswith(count_builds[1])
    other = open_home({"recurrent_gain": "0.5"})                  # another value: its own figure, same frames
    assert len(count_builds) == 3 and other["layout"]["sliders"][0]["active"] == GRID.index(0.5)
    assert [f["name"] for f in other["frames"]] == [f["name"] for f in first["frames"]]


def test_the_shared_figure_equals_the_checked_one():
    """`slider_spec` (put together without checking every frame) is the figure `with_slider` checks,
    except that a frame with no annotations or shapes clears them (an empty list) rather than keeping
    the last frame's."""
    traces = {g: engine_trace("rnn", recurrent_gain=g, seq_len=60) for g in (0.5, 0.9, 1.5)}
    figs = {g: plots.gradient_vs_lag({"RNN": tr}, horizon_fraction=1e-3, title=f"gain {g:g}", scale=1.35)
            for g, tr in traces.items()}
    spec = plots.slider_spec(figs, 0.9, label="Recurrent gain", scale=1.35)
    checked = plots.with_slider(figs, 0.9, label="Recurrent gain", scale=1.35).to_dict()
    assert go.Figure(spec).to_dict() == checked
    for frame in spec["frames"]:
        assert isinstance(frame["layout"]["annotations"], list) and isinstance(frame["layout"]["shapes"], list)
    assert spec["layout"]["height"] == figs[0.9].layout.height + int(70 * 1.35)


def open_flow(query: dict, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        at = run_page("pages/2_Gradient_Flow.py", query)
        assert not at.exception
        figs = figures(at)
        if figs["grad"].get("frames") or time.monotonic() > deadline:
            return figs
        time.sleep(2)


def test_gradient_flow_shares_its_charts_and_its_slider_moves_only_the_cells_shown(count_builds, monkeypatch):
    drawn = []
    real = plots.jacobian_vs_lag
    monkeypatch.setattr(plots, "jacobian_vs_lag", lambda *a, **k: drawn.append(1) or real(*a, **k))
    query = {"flow_cells": "RNN,GRU", "recurrent_gain": "1.1", "seq_len": "80"}
    first = open_flow(query)
    drawn.clear()
    second = open_flow(query)                       # another student on the same link
    assert drawn == [] and second == first
    names = {d.get("name") for d in first["grad"]["data"] if d.get("name")}
    assert any(n.startswith("RNN") for n in names) and not any(n.startswith("LSTM") for n in names)
    for frame in first["grad"]["frames"]:           # dragging shows the same cells, at each gain their curves
        assert {d.get("name") for d in frame["data"] if d.get("name")} == names
    gain = 2.0
    frame = next(f for f in first["grad"]["frames"] if f["name"] == f"value={gain:g}")
    np.testing.assert_allclose(decode(trace_named(frame, "GRU")["y"]),
                               engine_trace("gru", recurrent_gain=gain, seq_len=80).log10_grad_norm, rtol=1e-12)
    jac = trace_named(first["jac"], "RNN")
    want = engine_trace("rnn", recurrent_gain=1.1, seq_len=80)
    np.testing.assert_allclose(decode(jac["y"]), np.asarray(want.jacobian_norms(79), dtype=float), rtol=1e-9)
    open_flow({**query, "lang": "zh"})              # another language: drawn again, in that language
    assert drawn == [1]
