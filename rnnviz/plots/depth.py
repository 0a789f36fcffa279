"""Depth and time: the gradient of a stacked model over its [layers x steps] grid, and the two factors
of each cell of the grid (through time and through depth).

Grids come in as log10 values [L, T] (rnnviz.deep.StackedTrace.grad_grid and friends); layers run
upwards, time to the right, as the network is usually drawn. A value beyond float64's range keeps
its place on the colour scale (the numbers are exact log10 values, not powers computed here).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from .numbers import power_label
from .style import GRAD_SCALE, finite_range, log_ticks, style

FACTOR_SCALE = "RdBu_r"  # log10 of a factor: blue below 0 (the step shrinks the gradient), red above (it grows)


def _columns(T: int, max_columns: int) -> np.ndarray:
    """The steps drawn: all of them, or evenly spaced ones (first and last kept) for a long sequence."""
    if T <= max_columns:
        return np.arange(T)
    return np.unique(np.linspace(0, T - 1, max_columns).round().astype(int))


def _layer_labels(L: int) -> list[str]:
    return [_("layer {n}").format(n=layer + 1) for layer in range(L)]


def depth_time_grids(panels: dict, *, rows: list | None = None, title: str | None = None, scale: float = 1.0,
                     height: int = 460, max_columns: int = 600, colorbar_title: str = "‖∂L/∂h‖") -> go.Figure:
    """Heatmaps of log10 ‖∂L/∂h_t^(l)‖ over (step, layer), one panel per entry of `panels`
    ({column label: [grid per row]}: a list of [L, T] arrays, one per row, e.g. forward and backward
    directions), on one shared colour scale. `rows` names the rows ("forward", "backward")."""
    from plotly.subplots import make_subplots

    cols = list(panels)
    n_rows = max(len(g) for g in panels.values())
    rows = rows or [""] * n_rows
    titles = [f"<b>{c}</b>" + (f" · {_(rows[r])}" if rows[r] else "") for r in range(n_rows) for c in cols]
    fig = make_subplots(rows=n_rows, cols=len(cols), shared_yaxes=True, horizontal_spacing=0.07,
                        vertical_spacing=0.16 if n_rows > 1 else 0.1, subplot_titles=titles)
    grids = [g for col in panels.values() for g in col]
    lo, hi = finite_range(grids, pad=0.0)
    if hi - lo < 1:
        lo, hi = lo - 0.5, hi + 0.5
    ticks, ticktext = log_ticks(lo, hi, target=6)
    for c, label in enumerate(cols, start=1):
        for r, grid in enumerate(panels[label], start=1):
            L, T = grid.shape
            steps = _columns(T, max_columns)
            z = np.where(np.isfinite(grid[:, steps]), grid[:, steps], np.nan).astype(np.float32)
            fig.add_trace(go.Heatmap(
                z=z, x=steps, y=_layer_labels(L), zmin=lo, zmax=hi, colorscale=GRAD_SCALE, name=label,
                showscale=(c == 1 and r == 1), xgap=0, ygap=3,
                colorbar=dict(title=dict(text=colorbar_title, side="top"), tickvals=ticks, ticktext=ticktext,
                              thickness=16, len=0.9),
                hovertemplate=_("step %{x}, %{y}<br>log10 ‖∂L/∂h‖ = %{z:.2f}").replace("‖∂L/∂h‖", colorbar_title)
                + f"<extra>{label}</extra>"),
                row=r, col=c)
            fig.update_xaxes(title_text=_("step t") if r == n_rows else None, title_standoff=8, row=r, col=c)
    for a in fig.layout.annotations:
        a.update(font=dict(size=int(15 * scale)))
    return style(fig, height=height, scale=scale, title=title, legend=False)


def factor_grids(time_grid: np.ndarray, depth_grid: np.ndarray, *, title: str | None = None, scale: float = 1.0,
                 height: int = 420, max_columns: int = 600) -> go.Figure:
    """The two factors of each grid cell, log10 of their spectral norms: through time
    ‖∂h_t^(l)/∂h_(t−1)^(l)‖ (left) and through depth ‖∂h_t^(l)/∂h_t^(l−1)‖ (right), on one diverging
    scale centred at 1 (= 10⁰): blue shrinks the gradient on its way back, red grows it."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[_("<b>through time</b> ‖∂h_t/∂h_(t−1)‖ (same layer)"),
                                        _("<b>through depth</b> ‖∂h_t^(l)/∂h_t^(l−1)‖ (same step)")])
    lo, hi = finite_range([time_grid, depth_grid], pad=0.0)
    span = max(abs(lo), abs(hi), 0.5)
    ticks, _labels = log_ticks(-span, span, target=6)
    ticktext = [power_label(int(v)) for v in ticks]
    for c, (grid, what) in enumerate(((time_grid, _("through time")), (depth_grid, _("through depth"))), start=1):
        L, T = grid.shape
        steps = _columns(T, max_columns)
        z = np.where(np.isfinite(grid[:, steps]), grid[:, steps], np.nan).astype(np.float32)
        fig.add_trace(go.Heatmap(
            z=z, x=steps, y=_layer_labels(L), zmin=-span, zmax=span, zmid=0, colorscale=FACTOR_SCALE,
            showscale=c == 2, ygap=3, name=what,
            colorbar=dict(title=dict(text=_("factor"), side="top"), tickvals=ticks, ticktext=ticktext, thickness=16),
            hovertemplate=_("step %{x}, %{y}<br>log10 ‖factor‖ = %{z:.3f}") + f"<extra>{what}</extra>"),
            row=1, col=c)
        fig.update_xaxes(title_text=_("step t"), title_standoff=8, row=1, col=c)
    for a in fig.layout.annotations:
        a.update(font=dict(size=int(15 * scale)))
    return style(fig, height=height, scale=scale, title=title, legend=False)
