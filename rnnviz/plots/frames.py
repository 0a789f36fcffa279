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
    each a frame. The figures are not changed."""
    values = sorted(figures)
    if active not in figures:
        raise ValueError(f"{active!r} is not one of the slider's values")
    n_traces = max(len(f.data) for f in figures.values())
    frames = []
    for v in values:
        fig = figures[v]
        data = [t.to_plotly_json() for t in fig.data]
        data += [_EMPTY] * (n_traces - len(data))
        layout = fig.layout.to_plotly_json()
        switched = {k: layout.get(k, [] if k in ("annotations", "shapes") else {}) for k in _SWITCHED}
        frames.append(go.Frame(name=frame_name(v), data=data, layout=switched))
    base = go.Figure(figures[active])
    base.add_traces([go.Scatter(_EMPTY) for _ in range(n_traces - len(base.data))])
    steps = [dict(method="animate", label=f"{v:g}",
                  args=[[frame_name(v)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                              transition=dict(duration=0))]) for v in values]
    font = int(14 * scale)
    base.frames = frames
    margin = base.layout.margin
    bottom = int((margin.b or 60) + 70 * scale)
    legend = {}
    if base.layout.legend.y is not None and base.layout.legend.y < 0:   # a legend below the plot goes under the slider
        legend = dict(legend_y=base.layout.legend.y - 70 * scale / max(base.layout.height or 450, 1))
    base.update_layout(
        height=int((base.layout.height or 450) + 70 * scale), margin=dict(b=bottom), **legend,
        sliders=[dict(active=values.index(active), steps=steps, x=0.0, len=1.0, y=-0.1, yanchor="top",
                      pad=dict(t=20 * scale, b=0), font=dict(size=font),
                      currentvalue=dict(prefix=f"{label}: ", font=dict(size=int(16 * scale)), xanchor="left"),
                      transition=dict(duration=0))],
    )
    return base


_EMPTY = {"type": "scatter", "x": [], "y": [], "showlegend": False, "hoverinfo": "skip", "mode": "lines"}
