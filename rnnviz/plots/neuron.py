"""One Neuron's figures: the trajectory, the gradient as a product of factors, the cobweb of the map
h ↦ act(w h + b) with its fixed points, and the fixed points against the bias.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import N_, _
from .style import CELL_COLORS, style


def neuron_trajectory(h: np.ndarray, *, title: str | None = None, scale: float = 1.0, height: int = 320,
                      log: bool = False):
    """h_t over time; with log=True, |h_t| on a log axis (for a state that explodes)."""
    y = np.abs(h) if log else h
    fig = go.Figure(go.Scatter(x=np.arange(len(h)), y=y, mode="lines+markers", name="h_t",
                               line=dict(color=CELL_COLORS["rnn"], width=3 * scale), marker=dict(size=5 * scale)))
    fig.update_xaxes(title_text=_("time step t"))
    fig.update_yaxes(title_text=_("|h_t| (log scale)") if log else "h_t", type="log" if log else "linear",
                     exponentformat="power")
    return style(fig, height=height, scale=scale, title=title, legend=False)


def neuron_gradient(log10_factors: np.ndarray, log10_grad: np.ndarray, *, title: str | None = None,
                    scale: float = 1.0, height: int = 320):
    """dh_T/dh_k as a product of factors. Bars at step t: log10 |dh_t/dh_{t-1}| = log10 |w act'(a_t)|
    (t = 1..T). Line at k: log10 |dh_T/dh_k| (k = 0..T), the sum of the bars after k."""
    T = len(log10_factors)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=np.arange(1, T + 1), y=log10_factors, name=_("log10 |w·act′(a_t)|  (one factor)"),
                         marker_color=np.where(log10_factors >= 0, "#e6550d", "#3182bd")))
    fig.add_trace(go.Scatter(x=np.arange(T + 1), y=log10_grad, mode="lines+markers",
                             name=_("log10 |∂h_T/∂h_k| (their product)"), line=dict(color="#111", width=3 * scale),
                             marker=dict(size=5 * scale)))
    fig.add_hline(y=0, line=dict(color="#222", width=1))
    fig.update_xaxes(title_text=_("time step"))
    fig.update_yaxes(title_text="log10")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


_FIXED_POINT = {"stable": N_("stable fixed point h* = {h:.4f}, slope {slope}"),
                "unstable": N_("unstable fixed point h* = {h:.4f}, slope {slope}"),
                "neutral": N_("neutral fixed point h* = {h:.4f}, slope {slope}"),
                "semi-stable": N_("semi-stable fixed point h* = {h:.4f}, slope {slope}")}


def _slopes(fp: dict) -> str:
    left, right = fp.get("slopes", (fp["slope"], fp["slope"]))
    return f"{right:.3f}" if left == right else _("{left:.3g} below, {right:.3g} above").format(left=left, right=right)


def cobweb(grid: np.ndarray, curve: np.ndarray, path: np.ndarray, fixed_points, *, title: str | None = None,
           scale: float = 1.0, height: int = 420):
    """The map h -> f(h), the diagonal, the iterates' cobweb and the fixed points (stable filled)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=grid, y=curve, mode="lines", name="h_t = f(h_{t−1})",
                             line=dict(color=CELL_COLORS["rnn"], width=3 * scale)))
    fig.add_trace(go.Scatter(x=grid, y=grid, mode="lines", name="h_t = h_{t−1}",
                             line=dict(color="#888", width=1.5 * scale, dash="dash")))
    if len(path):
        xs = np.repeat(path, 2)[1:]
        ys = np.repeat(path, 2)[:-1]
        xs, ys = xs[:-1], ys[1:]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=_("iterates"), line=dict(color="#1f77b4", width=1.5)))
    for fp in fixed_points:
        fig.add_trace(go.Scatter(x=[fp["h"]], y=[fp["h"]], mode="markers", showlegend=False,
                                 marker=dict(size=13 * scale, color="#111" if fp["stable"] else "white",
                                             line=dict(color="#111", width=2)),
                                 hovertemplate=_(_FIXED_POINT[fp.get("kind", "stable" if fp["stable"] else "unstable")])
                                 .format(h=fp["h"], slope=_slopes(fp)) + f"<br>{fp.get('note', '')}<extra></extra>"))
    fig.update_xaxes(title_text="h_{t−1}", range=[float(grid[0]), float(grid[-1])], constrain="domain")
    fig.update_yaxes(title_text="h_t", scaleanchor="x", scaleratio=1, range=[float(grid[0]), float(grid[-1])],
                     constrain="domain")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def bifurcation_diagram(points, b_now: float, bistable: tuple | None, *, title: str | None = None,
                        scale: float = 1.0, height: int = 420) -> go.Figure:
    """Fixed points h* of h = act(w h + b) against the bias b: stable filled, unstable hollow; the
    bistable range shaded; the current b as a vertical line."""
    pts = np.array([(b, h) for b, h, _ in points]) if points else np.zeros((0, 2))
    stable = np.array([s for _, _, s in points], dtype=bool) if points else np.zeros(0, dtype=bool)
    fig = go.Figure()
    if bistable is not None:
        fig.add_vrect(x0=bistable[0], x1=bistable[1], fillcolor="#fdae6b", opacity=0.35, line_width=0,
                      annotation_text=_("bistable: two stable states"), annotation_position="top left",
                      annotation_font=dict(size=int(13 * scale)))
    for mask, name, marker in ((stable, _("stable fixed point"), dict(color="#111")),
                               (~stable, _("unstable fixed point"), dict(color="white", line=dict(color="#111",
                                                                                                width=1.5)))):
        if mask.any():
            fig.add_trace(go.Scatter(x=pts[mask, 0], y=pts[mask, 1], mode="markers", name=name,
                                     marker=dict(size=5 * scale, **marker)))
    fig.add_vline(x=b_now, line=dict(color=CELL_COLORS["rnn"], width=2.5 * scale),
                  annotation_text=f"b = {b_now:g}", annotation_position="bottom right",
                  annotation_font=dict(size=int(13 * scale), color=CELL_COLORS["rnn"]))
    fig.update_xaxes(title_text=_("bias b"))
    fig.update_yaxes(title_text=_("fixed point h*"))
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def cobweb_axis(h: np.ndarray, activation: str, start: int = 0, points: int = 401) -> tuple[np.ndarray, np.ndarray]:
    """What a cobweb is drawn over: (grid, path). The grid spans the activation's range (a little
    wider) or, for an unbounded activation, the trajectory h; the path is h from step `start` on,
    its finite values inside the grid."""
    lo, hi = {"tanh": (-1.05, 1.05), "sigmoid": (-0.05, 1.05)}.get(activation, (None, None))
    if lo is None:
        finite = h[np.isfinite(h)]
        span = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
        lo, hi = -1.1 * span, 1.1 * span
    path = h[start:]
    return np.linspace(lo, hi, points), path[np.isfinite(path) & (path >= lo) & (path <= hi)]


def bias_grid(w: float, activation: str, b: float, bistable: tuple | None, points: int = 201) -> np.ndarray:
    """The biases a bifurcation diagram samples: around the activation's centre, wide enough to show
    `b`, and densely inside the bistable range (when there is one)."""
    centre = {"sigmoid": -w / 2, "tanh": 0.0}.get(activation, 0.0)
    half = max(3.0, abs(b - centre) + 1.0)
    bs = np.linspace(centre - half, centre + half, points)
    if bistable is not None:
        bs = np.sort(np.concatenate([bs, np.linspace(bistable[0], bistable[1], 60)]))
    return bs
