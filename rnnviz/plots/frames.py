"""A figure that follows a slider in the browser: one Plotly frame per value of a knob's grid and a
Plotly slider that switches between them, with no server in between (a dragged slider redraws at
once; the same figure works in a page, in an offline lesson and in an exported HTML file).

    figures = {g: plots.gradient_vs_lag(traces_at[g], title=...) for g in grid}
    fig = plots.with_slider(figures, active=0.9, label="Recurrent gain")

Every figure of the grid is built by the same builder, so they differ in their numbers, titles,
axis ranges and marks. A frame carries each figure's traces (padded with empty ones to the same
count, so frame k's trace i replaces trace i) and the parts of its layout that change.
"""
from __future__ import annotations

import plotly.graph_objects as go

# The parts of a figure's layout that change with the slider's value and are switched with it.
_SWITCHED = ("title", "annotations", "shapes", "yaxis", "xaxis")
FRAME_PREFIX = "value="  # frame names: "value=0.9"; a step's label is the value alone


def frame_name(value: float) -> str:
    return f"{FRAME_PREFIX}{value:g}"


def with_slider(figures: dict, active: float, *, label: str, scale: float = 1.0) -> go.Figure:
    """The figure of `active` (a key of `figures`, {value: Figure}) with a slider over every value,
    each a frame, as a checked Plotly figure. The figures are not changed."""
    return go.Figure(slider_spec(figures, active, label=label, scale=scale))


def slider_spec(figures: dict, active: float, *, label: str, scale: float = 1.0) -> dict:
    """`with_slider` as Plotly's plain dict, put together from the figures' own dicts without checking
    every frame again (which costs about 40 times as much): what a page hands to its chart, built once
    and shared. `figures` may hold Figures or their `to_dict()`."""
    values = sorted(figures)
    if active not in figures:
        raise ValueError(f"{active!r} is not one of the slider's values")
    specs = {v: f if isinstance(f, dict) else f.to_dict() for v, f in figures.items()}
    n_traces = max(len(d.get("data", ())) for d in specs.values())
    frames = []
    for v in values:
        data, layout = list(specs[v].get("data", ())), specs[v].get("layout", {})
        data += [_EMPTY] * (n_traces - len(data))
        switched = {k: layout.get(k, [] if k in ("annotations", "shapes") else {}) for k in _SWITCHED}
        frames.append({"name": frame_name(v), "data": data, "layout": switched})
    base = specs[active]
    layout = dict(base.get("layout", {}))
    data = list(base.get("data", ())) + [_EMPTY] * (n_traces - len(base.get("data", ())))
    steps = [dict(method="animate", label=f"{v:g}",
                  args=[[frame_name(v)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                              transition=dict(duration=0))]) for v in values]
    font = int(14 * scale)
    height = layout.get("height") or 450
    legend = layout.get("legend", {})
    if legend.get("y") is not None and legend["y"] < 0:   # a legend below the plot goes under the slider
        layout["legend"] = {**legend, "y": legend["y"] - 70 * scale / max(height, 1)}
    layout["height"] = int(height + 70 * scale)
    margin = layout.get("margin", {})
    layout["margin"] = {**margin, "b": int((margin.get("b") or 60) + 70 * scale)}
    layout["sliders"] = [dict(active=values.index(active), steps=steps, x=0.0, len=1.0, y=-0.1, yanchor="top",
                              pad=dict(t=20 * scale, b=0), font=dict(size=font),
                              currentvalue=dict(prefix=f"{label}: ", font=dict(size=int(16 * scale)),
                                                xanchor="left"),
                              transition=dict(duration=0))]
    return {"data": data, "layout": layout, "frames": frames}


_EMPTY = {"type": "scatter", "x": [], "y": [], "showlegend": False, "hoverinfo": "skip", "mode": "lines"}
