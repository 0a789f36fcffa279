"""Gradient figures: ‖∂L/∂h_k‖ against steps back, Jacobian product norms with the Pascanu bound,
the product of step Jacobians, and the eigenvalues of W_hh.

A Trace comes in with its numbers; the Jacobian norms, which cost O(T·H³) to compute, are passed
in (`values`, `step_norms`, `product`): a figure never starts that computation.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from .style import BOUND_COLOR, CELL_COLORS, finite_range, lag_axis, set_log_y, style, thinned

F32_MAX_LOG10 = math.log10(float(np.finfo(np.float32).max))   # 38.53
F32_TINY_LOG10 = math.log10(float(np.finfo(np.float32).tiny))  # -37.93

def gradient_vs_lag(traces: dict, *, cell_path: bool = True, title: str | None = None, scale: float = 1.0,
                    height: int = 460, horizon_fraction: float | None = None, dotted=()) -> go.Figure:
    """log ||dL/dh_k|| against steps back (T-1-k), one curve per trace on one log axis.

    `traces` maps a legend label to a Trace. The LSTM's cell path ||dL/dc_k|| is dashed; the curves
    of the labels in `dotted` (a trained model next to untrained ones) are dotted.
    Where a value leaves float32's range a marker says so: torch's own float32 backward
    would give inf (or 0) there.
    """
    fig = go.Figure()
    arrays = []
    notes = []
    for label, tr in traces.items():
        color = CELL_COLORS.get(tr.cell_type, "#555")
        lag = lag_axis(tr.T)
        y = tr.log10_grad_norm
        arrays.append(y)
        fig.add_trace(go.Scatter(**thinned(lag, y), name=f"{label}  ‖∂L/∂h‖", mode="lines",
                                 line=dict(color=color, width=(4.5 if label in dotted else 3) * scale,
                                           dash="dot" if label in dotted else None),
                                 hovertemplate=_("%{x} steps back<br>log10 = %{y:.2f}") + f"<extra>{label}</extra>"))
        if cell_path and tr.log10_cell_grad_norm is not None:
            yc = tr.log10_cell_grad_norm
            arrays.append(yc)
            fig.add_trace(go.Scatter(**thinned(lag, yc), name=_("{label}  ‖∂L/∂c‖ (cell path)").format(label=label),
                                     mode="lines",
                                     line=dict(color=color, width=2.5 * scale,
                                               dash="dashdot" if label in dotted else "dash"),
                                     hovertemplate=_("%{x} steps back<br>log10 = %{y:.2f}")
                                     + "<extra>" + _("{label} cell").format(label=label) + "</extra>"))
        if horizon_fraction is not None:
            h = tr.memory_horizon(horizon_fraction)
            if h is not None:
                fig.add_trace(go.Scatter(x=[h], y=[y[tr.T - 1 - h]], mode="markers", showlegend=False,
                                         marker=dict(color=color, size=12 * scale, symbol="diamond",
                                                     line=dict(color="white", width=1)),
                                         hovertemplate=_("{label}: memory horizon {h} steps").format(label=label, h=h)
                                         + "<extra></extra>"))
        notes += _overflow_notes(label, tr, y)
    lo, hi = finite_range(arrays)
    _add_float32_limits(fig, lo, hi, scale)
    T_max = max(tr.T for tr in traces.values())
    for k, (x, yv, text, color) in enumerate(notes):
        fig.add_trace(go.Scatter(x=[x], y=[yv], mode="markers", showlegend=False,
                                 marker=dict(symbol="x", size=14 * scale, color=color, line=dict(width=3)),
                                 hovertemplate=text + "<extra></extra>"))
        # Point from inside the plot: text on the side with room, below a mark in the upper half.
        upper = hi > lo and (yv - lo) / (hi - lo) > 0.5
        right = x > (T_max - 1) / 2
        fig.add_annotation(x=x, y=yv, text=text, showarrow=True, arrowhead=2,
                           ax=-40 if right else 40, ay=(1 if upper else -1) * (30 + 28 * k),
                           xanchor="right" if right else "left",
                           font=dict(size=int(13 * scale), color=color), bgcolor="rgba(255,255,255,0.85)")
    set_log_y(fig, lo, hi, _("‖∂L/∂h_k‖  (log scale)"))
    # A fixed range: annotations must not stretch the axis to negative "steps back".
    fig.update_xaxes(title_text=_("steps back in time  (T−1−k)"), range=[-0.01 * (T_max - 1), 1.01 * (T_max - 1)])
    return style(fig, height=height, scale=scale, title=title)


def _overflow_notes(label: str, tr, y: np.ndarray) -> list:
    """(x, y, text, color) markers for explosion / undefined values of one trace."""
    color = CELL_COLORS.get(tr.cell_type, "#555")
    notes = []
    k = tr.backward_overflow_step
    if k is not None:
        lag = tr.T - 1 - k
        notes.append((lag, float(y[k]), _("{label}: gradient past float32 at t = {k}").format(label=label, k=k), color))
    if tr.forward_overflow_step is not None:
        k = tr.forward_overflow_step
        yk = y[k] if np.isfinite(y[k]) else np.nanmax(np.where(np.isfinite(y), y, np.nan))
        notes.append((tr.T - 1 - k, float(yk) if np.isfinite(yk) else 0.0,
                      _("{label}: state overflowed at t = {k}").format(label=label, k=k), color))
    return notes


def _add_float32_limits(fig: go.Figure, lo: float, hi: float, scale: float):
    limits = ((F32_MAX_LOG10, _("float32 overflow: torch's backward gives inf above")),
              (F32_TINY_LOG10, _("float32 underflow: torch's backward gives 0 below")))
    where = "top left"
    if hi - lo > 12 * (F32_MAX_LOG10 - F32_TINY_LOG10):  # the two lines would print on top of each other
        limits = ((F32_MAX_LOG10, _("float32's range: torch's backward gives inf above, 0 below")),
                  (F32_TINY_LOG10, ""))
        where = "top right"  # clear of the explosion marks, which sit at few steps back
    for level, text in limits:
        if lo <= level <= hi:
            fig.add_hline(y=level, line=dict(color="#999", width=1.5, dash="dot"),
                          annotation_text=text, annotation_position=where,
                          annotation_font=dict(size=int(12 * scale), color="#666"))


def jacobian_vs_lag(traces: dict, *, values: dict, bound: bool = True, title: str | None = None,
                    scale: float = 1.0, height: int = 420, legend_below: bool = True, dotted=()) -> go.Figure:
    """||dh_{T-1}/dh_k||_2 against steps back, with the Pascanu bound (gamma sigma_max)^(T-1-k) dashed;
    the labels in `dotted` are drawn dotted.

    `values` gives each label's log10 norms, computed by the caller (`Trace.jacobian_norms`; a sweep
    limited to recent lags has NaN beyond)."""
    fig = go.Figure()
    arrays, bounds = [], []
    for label, tr in traces.items():
        color = CELL_COLORS.get(tr.cell_type, "#555")
        lag = lag_axis(tr.T)
        y = values[label]
        arrays.append(y)
        fig.add_trace(go.Scatter(**thinned(lag, y), name=f"{label}  ‖∂h_T/∂h_k‖₂", mode="lines",
                                 line=dict(color=color, width=3 * scale, dash="dot" if label in dotted else None),
                                 hovertemplate=_("%{x} steps back<br>log10 = %{y:.2f}") + f"<extra>{label}</extra>"))
        b = tr.log10_pascanu_bound
        if bound and b is not None:
            bounds.append(b)
            fig.add_trace(go.Scatter(x=lag[[0, -1]], y=b[[0, -1]], mode="lines",  # a straight line
                                     name=_("{label}  bound (γ·σ_max)^(T−1−k), γσ = {g:.3g}").format(
                                         label=label, g=tr.gamma * tr.sigma_max),
                                     line=dict(color=BOUND_COLOR, width=2 * scale, dash="dash"),
                                     hovertemplate=_("%{x} steps back<br>bound log10 = %{y:.2f}") + "<extra></extra>"))
    lo, hi = finite_range(arrays)
    hi = max(hi, finite_range(bounds)[1]) if bounds else hi  # the bound lies above; show it, not its depths
    set_log_y(fig, lo, hi, _("‖∂h_T/∂h_k‖₂  (log scale)"))
    fig.update_xaxes(title_text=_("steps back in time  (T−1−k)"))
    return style(fig, height=height, scale=scale, title=title, legend_below=legend_below)


def jacobian_chain(tr, *, step_norms: np.ndarray, product: np.ndarray, last: int = 60, title: str | None = None,
                   scale: float = 1.0, height: int = 520) -> go.Figure:
    """The gradient is a product of T factors. Top: each step's ||ds_k/ds_{k-1}||_2 for the last
    `last` steps (above 1 stretches, below 1 shrinks). Bottom: their running product from the
    end (an upper bound) against the true norm of the product ||dh_{T-1}/dh_k||_2.
    `step_norms` / `product` are the log10 norms [T] (`Trace.step_jacobian_norms`,
    `Trace.jacobian_norms`), computed by the caller; only the recent ones need be finite."""
    from plotly.subplots import make_subplots

    T = tr.T
    k0 = max(1, T - last)
    steps = np.arange(k0, T)
    logs, true = step_norms, product
    factors = np.power(10.0, logs[k0:T])
    color = CELL_COLORS.get(tr.cell_type, "#555")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.42, 0.58])
    fig.add_trace(go.Bar(x=steps, y=factors, name=_("‖∂s_k/∂s_{{k−1}}‖₂: one factor per step").format(),
                         marker=dict(color=np.where(factors >= 1, "#e6550d", "#3182bd")),
                         hovertemplate=_("step %{x}<br>‖J‖ = %{y:.4f}") + "<extra></extra>"), row=1, col=1)
    fig.add_hline(y=1, line=dict(color="#222", width=1.5, dash="dot"), row=1, col=1)
    running = np.concatenate([np.cumsum(logs[::-1])[::-1][1:], [0.0]])  # entry k: sum_{j=k+1}^{T-1}
    ks = np.arange(k0 - 1, T)
    fig.add_trace(go.Scatter(x=ks, y=running[k0 - 1:T], mode="lines", name=_("product of the factors (a bound)"),
                             line=dict(color=BOUND_COLOR, width=3 * scale, dash="dash")), row=2, col=1)
    fig.add_trace(go.Scatter(x=ks, y=true[k0 - 1:T], mode="lines",
                             name=_("norm of the product ‖∂h_T/∂h_k‖₂"), line=dict(color=color, width=3 * scale)),
                  row=2, col=1)
    vals = np.concatenate([running[k0 - 1:T], true[k0 - 1:T]])
    lo, hi = finite_range([vals], pad=0.2)
    set_log_y(fig, lo, hi, _("product (log)"), row=2, col=1)
    fig.update_yaxes(title_text=_("factor"), rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text=_("time step k"), row=2, col=1)
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def eigenvalue_plane(tr, *, title: str | None = None, scale: float = 1.0, height: int = 420) -> go.Figure:
    """Eigenvalues of W_hh (or its candidate block) in the complex plane, with the unit circle."""
    ev = np.asarray(tr.eigenvalues)
    color = CELL_COLORS.get(tr.cell_type, "#555")
    theta = np.linspace(0, 2 * np.pi, 361)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.cos(theta), y=np.sin(theta), mode="lines", name=_("unit circle |λ| = 1"),
                             line=dict(color="#222", width=2 * scale)))
    rho = tr.spectral_radius
    if np.isfinite(rho) and rho > 0:
        fig.add_trace(go.Scatter(x=rho * np.cos(theta), y=rho * np.sin(theta), mode="lines",
                                 name=_("spectral radius ρ = {rho:.3g}").format(rho=rho),
                                 line=dict(color=color, width=1.5, dash="dot")))
    fig.add_trace(go.Scatter(x=ev.real, y=ev.imag, mode="markers", name=_("eigenvalues λ"),
                             marker=dict(color=color, size=8 * scale, line=dict(color="white", width=0.5)),
                             hovertemplate="λ = %{x:.3f} %{y:+.3f}i<extra></extra>"))
    r = max(1.15, 1.1 * (rho if np.isfinite(rho) else 1.0))
    fig.update_xaxes(range=[-r, r], title_text="Re λ", zeroline=True, zerolinecolor="#ccc", constrain="domain")
    fig.update_yaxes(range=[-r, r], title_text="Im λ", zeroline=True, zerolinecolor="#ccc", scaleanchor="x",
                     scaleratio=1, constrain="domain")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)
