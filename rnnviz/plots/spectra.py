"""Eigenvalues on the unit circle and the figures of the "Beyond LSTM" story: arrays in, figures out.

    unit_circle      eigenvalues of every cell in one complex plane: W_hh's for an RNN, the LRU's fixed
                     λ, the per-step transitions of the input-dependent cells as a cloud over time
    radius_horizon   memory horizon against the eigenvalue radius, measured and closed form
    state_size       the LRU's state size against the radius, with and without the γ normalisation
    parity_counter   bits, their parity, a counting cell's state and its transition at every step
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from .style import CELL_COLORS, style

MAX_CLOUD_POINTS = 6000   # per cell: a trajectory [T, S] is thinned over time to about this many points
RADII_TICKS = (0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999)


def unit_circle(eigenvalues: dict, *, title: str | None = None, scale: float = 1.0, height: int = 460) -> go.Figure:
    """{label: (cell, values)}: values a complex array [S] of fixed eigenvalues (markers) or [T, S],
    the eigenvalues of every step (a cloud, the last step outlined)."""
    theta = np.linspace(0, 2 * np.pi, 361)
    fig = go.Figure(go.Scatter(x=np.cos(theta), y=np.sin(theta), mode="lines", name=_("unit circle |λ| = 1"),
                               line=dict(color="#222", width=2 * scale), hoverinfo="skip"))
    reach = 1.0
    for label, (cell, values) in eigenvalues.items():
        ev = np.asarray(values)
        color = CELL_COLORS.get(cell, "#555")
        finite = ev[np.isfinite(ev)]
        if finite.size:
            reach = max(reach, float(np.max(np.abs(finite))))
        if ev.ndim == 2:
            every = max(1, int(np.ceil(ev.size / MAX_CLOUD_POINTS)))
            cloud = ev[::every].ravel()
            fig.add_trace(go.Scatter(x=cloud.real, y=cloud.imag, mode="markers",
                                     name=_("{label}: every step").format(label=label),
                                     marker=dict(color=color, size=5 * scale, opacity=0.3),
                                     hovertemplate=f"{label}<br>a = %{{x:.4f}} %{{y:+.4f}}i<extra></extra>"))
            ev, label = ev[-1], _("{label}: last step").format(label=label)
        fig.add_trace(go.Scatter(x=ev.real, y=ev.imag, mode="markers", name=label,
                                 marker=dict(color=color, size=9 * scale, line=dict(color="white", width=0.8)),
                                 hovertemplate=f"{label}<br>λ = %{{x:.4f}} %{{y:+.4f}}i<extra></extra>"))
    r = min(1.1 * reach, 4.0) if reach > 1.0 else 1.15
    fig.update_xaxes(range=[-r, r], title_text="Re λ", zeroline=True, zerolinecolor="#ccc", constrain="domain")
    fig.update_yaxes(range=[-r, r], title_text="Im λ", zeroline=True, zerolinecolor="#ccc", scaleanchor="x",
                     scaleratio=1, constrain="domain")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def _radius_axis(fig: go.Figure, radii: np.ndarray, **where):
    """x: the radius |λ| drawn at 1 − |λ| on a reversed log axis, so 0.5, 0.9, 0.99 … are evenly spaced."""
    lo, hi = float(np.min(radii)), float(np.max(radii))
    ticks = [r for r in RADII_TICKS if lo - 1e-12 <= r <= hi + 1e-12] or [lo, hi]
    fig.update_xaxes(type="log", autorange="reversed", tickvals=[1 - r for r in ticks],
                     ticktext=[f"{r:g}" for r in ticks], title_text=_("eigenvalue radius |λ|"), **where)


def radius_horizon(radii, measured, closed_form, *, T: int, fraction: float, title: str | None = None,
                   scale: float = 1.0, height: int = 420) -> go.Figure:
    """Memory horizon (steps until |λ|^k < fraction) against |λ|: the closed form ln(fraction)/ln|λ|
    as a line, the measured horizon of a trace as dots (missing where it lies beyond the T steps traced)."""
    radii = np.asarray(radii, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=1 - radii, y=closed_form, mode="lines", name=f"ln({fraction:g}) / ln|λ|",
                             line=dict(color="#444", width=2.5 * scale, dash="dash"),
                             customdata=radii, hovertemplate="|λ| = %{customdata:g}: %{y:.4g} steps<extra></extra>"))
    fig.add_trace(go.Scatter(x=1 - radii, y=measured, mode="markers", name=_("measured on the LRU's trace"),
                             marker=dict(color=CELL_COLORS["lru"], size=12 * scale, line=dict(color="white", width=1)),
                             customdata=radii, hovertemplate="|λ| = %{customdata:g}: %{y:.0f} steps<extra></extra>"))
    fig.add_hline(y=T, line=dict(color="#999", width=1.5, dash="dot"),
                  annotation_text=_("T = {T} steps traced").format(T=T),
                  annotation_position="top left", annotation_font=dict(size=int(13 * scale)))
    _radius_axis(fig, radii)
    fig.update_yaxes(type="log", title_text=_("memory horizon (steps)"))
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def state_size(radii, measured: dict, closed_form: dict, *, title: str | None = None, scale: float = 1.0,
               height: int = 420) -> go.Figure:
    """The state's root-mean-square size on white noise against |λ|: γ on and off, measured (dots)
    and closed form (lines)."""
    radii = np.asarray(radii, dtype=np.float64)
    fig = go.Figure()
    looks = {"on": ("γ = √(1 − |λ|²)", CELL_COLORS["lru"]), "off": (_("γ = 1 (no normalisation)"), "#d62728")}
    for mode, (name, color) in looks.items():
        fig.add_trace(go.Scatter(x=1 - radii, y=closed_form[mode], mode="lines",
                                 name=_("{name}: closed form").format(name=name),
                                 line=dict(color=color, width=2 * scale, dash="dash"), hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=1 - radii, y=measured[mode], mode="markers",
                                 name=_("{name}: measured").format(name=name),
                                 marker=dict(color=color, size=11 * scale, line=dict(color="white", width=1)),
                                 customdata=radii, hovertemplate="|λ| = %{customdata:g}: %{y:.3g}<extra></extra>"))
    _radius_axis(fig, radii)
    fig.update_yaxes(type="log", title_text=_("state size √E|x_t|²"))
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def parity_counter(bits, parity, state, transition, read, *, cell: str = "mingru", title: str | None = None,
                   scale: float = 1.0, height: int = 560) -> go.Figure:
    """Three rows over time: the bits and their running parity; the cell's state h_t with the line its
    answer is read at (wrong answers marked); the transition a_t, its one eigenvalue, in [−1, 1]."""
    T = len(bits)
    t = np.arange(T)
    color = CELL_COLORS.get(cell, "#555")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07, row_heights=[0.28, 0.38, 0.34])
    fig.add_trace(go.Bar(x=t, y=bits, name=_("bit x_t"), marker_color="#bbb"), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=parity, mode="lines", line_shape="hv", name=_("parity so far"),
                             line=dict(color="#222", width=2.5 * scale)), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=state, mode="lines+markers", name=_("state h_t"), line=dict(color=color,
                             width=2.5 * scale), marker=dict(size=5 * scale)), row=2, col=1)
    wrong = np.nonzero(np.asarray(read) != np.asarray(parity))[0]
    if wrong.size:
        fig.add_trace(go.Scatter(x=wrong, y=np.asarray(state)[wrong], mode="markers", name=_("wrong answer"),
                                 marker=dict(symbol="x", color="#d62728", size=11 * scale)), row=2, col=1)
    fig.add_hline(y=1.0, line=dict(color="#999", dash="dot"), row=2, col=1)
    fig.add_trace(go.Scatter(x=t, y=transition, mode="lines+markers", line_shape="hv", name=_("transition a_t"),
                             line=dict(color="#444", width=2 * scale), marker=dict(size=5 * scale)), row=3, col=1)
    fig.update_yaxes(title_text="bit", range=[-0.1, 1.15], tickvals=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="h_t", row=2, col=1)
    fig.update_yaxes(title_text="a_t", range=[-1.15, 1.15], tickvals=[-1, 0, 1], zeroline=True,
                     zerolinecolor="#ccc", row=3, col=1)
    fig.update_xaxes(title_text=_("time step t"), row=3, col=1)
    return style(fig, height=height, scale=scale, title=title, legend_below=True)
