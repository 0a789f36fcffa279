"""Plotly figure builders: engine arrays (or a Trace) in, go.Figure out. No model runs here.

Colour has one meaning everywhere:
  - cells: RNN red, LSTM blue, GRU green (the LSTM's cell path dashed blue);
  - states in [-1, 1]: diverging red-white-blue centred at 0 (STATE_SCALE);
  - gates in [0, 1]: sequential viridis (GATE_SCALE);
  - gradient norms: always on a log scale, drawn as log10 values with 10^n tick labels, so
    values beyond float64's range (1e-400, 1e+500) still plot where they belong.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from .cells import GATE_LABELS, LABELS, gate_symbol

CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}
STATE_SCALE = "RdBu"      # -1 red, 0 white, +1 blue
GATE_SCALE = "Viridis"    # 0 dark purple, 1 yellow


def _clear_of_streamlit_placeholders(colors: list) -> list:
    """Streamlit's chart frontend replaces the colours #000001 ... #000040 (its theme's placeholders)
    in every Plotly figure, theme=None included: Magma's first stop #000004 turned violet. Nudge any
    such colour to a visually identical one."""
    def safe(c):
        if isinstance(c, str) and c.startswith("#0000") and len(c) == 7 and int(c[1:], 16) <= 0x40:
            return "#010005"
        return c
    return [[k / (len(colors) - 1), safe(c)] for k, c in enumerate(colors)]


GRAD_SCALE = _clear_of_streamlit_placeholders(plotly.colors.sequential.Magma)
BOUND_COLOR = "#444444"
F32_MAX_LOG10 = math.log10(float(np.finfo(np.float32).max))   # 38.53
F32_TINY_LOG10 = math.log10(float(np.finfo(np.float32).tiny))  # -37.93


def gate_title(cell: str, name: str) -> str:
    if name == "candidate":
        return f"Candidate {gate_symbol(cell, name)} (tanh, in [−1, 1])"
    return f"{name.capitalize()} gate {gate_symbol(cell, name)} (σ, in [0, 1])"

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_label(n: int) -> str:
    """10 to the n, as text with superscripts: 10⁻³⁰."""
    return "10" + str(int(n)).translate(_SUPERSCRIPT) if n not in (0, 1) else ("1" if n == 0 else "10")


def sci(log10_value: float, digits: int = 3) -> str:
    """A number given by its log10 as readable text: 0.0123, or 2.51 × 10⁻⁴⁷ (also beyond float64)."""
    if not math.isfinite(log10_value):
        return "0" if log10_value == -math.inf else ("∞" if log10_value == math.inf else "undefined")
    if -3 <= log10_value < 4:
        return f"{10 ** log10_value:.{digits}g}"
    e = math.floor(log10_value)
    m = 10 ** (log10_value - e)
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    return f"{m:.2f} × {power_label(e)}"


def tex_number(value: float, sign: bool = False) -> str:
    """A number for a LaTeX equation: 0.123, 4.29 \\times 10^{37} when large, \\infty beyond float
    range and "overflow" when undefined (∞ − ∞ after a state overflowed). `sign` writes "+" too."""
    v = float(value)
    plus = "+" if sign else ""
    if math.isnan(v):
        return (plus + " " if sign else "") + r"\text{overflow}"
    if math.isinf(v):
        return ("-" if v < 0 else plus) + r"\infty"
    if abs(v) < 1e4:
        return f"{v:+.3f}" if sign else f"{v:.3f}"
    e = math.floor(math.log10(abs(v)))
    m = abs(v) / 10 ** e
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    return f"{'-' if v < 0 else plus}{m:.2f}\\times 10^{{{e}}}"


def log_ticks(lo: float, hi: float, target: int = 7) -> tuple[list[float], list[str]]:
    """Tick positions (integers n) and labels (10^n) covering [lo, hi] with about `target` ticks."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = -1.0, 1.0
    if hi - lo < 1:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.5, mid + 0.5
    raw = (hi - lo) / target
    steps = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000]
    step = next((s for s in steps if s >= raw), steps[-1])
    start = math.floor(lo / step) * step
    vals = [float(v) for v in range(int(start), int(math.ceil(hi)) + step, step) if lo - 1e-9 <= v <= hi + 1e-9]
    return vals, [power_label(int(v)) for v in vals]


_GRID = "#ebf0f8"
_COLORWAY = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF",
             "#FECB52"]


def style(fig: go.Figure, *, height: int = 420, scale: float = 1.0, title: str | None = None,
          legend: bool = True, legend_below: bool = False) -> go.Figure:
    """Large, readable defaults (a classroom projector): fonts, margins, white background."""
    legend_pos = dict(orientation="h", yanchor="top", y=-0.26, xanchor="left", x=0) if legend_below else {}
    fig.update_layout(
        # The look of plotly's "plotly_white", set directly: assigning a template object costs
        # ~17 ms per figure, most of a page's figure-building time.
        template="none", paper_bgcolor="white", plot_bgcolor="white", colorway=_COLORWAY,
        font_color="#2a3f5f",
        height=int(height * (1 + 0.25 * (scale - 1))),
        font=dict(size=int(15 * scale)),
        title=dict(text=title, font=dict(size=int(19 * scale)), x=0.01, xanchor="left") if title else None,
        margin=dict(l=70, r=30, t=60 if title else 25, b=60),
        xaxis=dict(title_standoff=8),
        showlegend=legend,
        legend=dict(font=dict(size=int(14 * scale)), bgcolor="rgba(255,255,255,0.85)", **legend_pos),
        hoverlabel=dict(font=dict(size=int(14 * scale))),
    )
    axes = dict(gridcolor=_GRID, zerolinecolor=_GRID, zerolinewidth=2, automargin=True, ticks="")
    fig.update_xaxes(title_font=dict(size=int(16 * scale)), tickfont=dict(size=int(14 * scale)), showline=True,
                     linecolor="#888", mirror=False, **axes)
    fig.update_yaxes(title_font=dict(size=int(16 * scale)), tickfont=dict(size=int(14 * scale)), showline=True,
                     linecolor="#888", **axes)
    return fig


def _finite_range(arrays, pad: float = 0.5) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays if a is not None] or [np.zeros(1)])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return -1.0, 1.0
    return float(vals.min()) - pad, float(vals.max()) + pad


def _set_log_y(fig: go.Figure, lo: float, hi: float, title: str, row=None, col=None):
    ticks, labels = log_ticks(lo, hi)
    if len(ticks) >= 2:  # end the axis on a labelled power of ten when one is close
        step = ticks[1] - ticks[0]
        below, above = ticks[0] - step, ticks[-1] + step
        if lo - below < 0.6 * step:
            lo, ticks, labels = below, [below] + ticks, [power_label(int(below))] + labels
        if above - hi < 0.6 * step:
            hi, ticks, labels = above, ticks + [above], labels + [power_label(int(above))]
    kw = dict(range=[lo, hi], tickvals=ticks, ticktext=labels, title_text=title, zeroline=False)
    if row is None:
        fig.update_yaxes(**kw)
    else:
        fig.update_yaxes(**kw, row=row, col=col)


MAX_LINE_POINTS = 2000  # about two points per pixel of a wide chart


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = MAX_LINE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Thin a long line for drawing without hiding anything: per bucket keep the smallest and the
    largest value (in time order), so every spike and dip stays visible. Short lines pass through."""
    y = np.asarray(y)
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    width = -(-n // buckets)
    rows = -(-n // width)
    grid = np.full(rows * width, np.nan)
    grid[:n] = np.where(np.isfinite(y), y, np.nan)
    grid = grid.reshape(rows, width)
    seen = ~np.isnan(grid)
    start = np.arange(rows) * width
    lo = start + np.where(seen, grid, np.inf).argmin(axis=1)
    hi = start + np.where(seen, grid, -np.inf).argmax(axis=1)
    empty = ~seen.any(axis=1)  # a bucket with no finite value: keep its first point (a gap)
    lo[empty] = hi[empty] = start[empty]
    idx = np.unique(np.concatenate([lo, hi]))
    idx = idx[idx < n]
    return x[idx], y[idx]


def _xy(x, y) -> dict:
    x, y = decimate(x, y)
    return {"x": x, "y": y}


def lag_axis(T: int) -> np.ndarray:
    """Steps back from the last step for entries k = 0..T-1: T-1-k."""
    return np.arange(T - 1, -1, -1)


# --------------------------------------------------------------------------------- gradients
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
        fig.add_trace(go.Scatter(**_xy(lag, y), name=f"{label}  ‖∂L/∂h‖", mode="lines",
                                 line=dict(color=color, width=(4.5 if label in dotted else 3) * scale,
                                           dash="dot" if label in dotted else None),
                                 hovertemplate="%{x} steps back<br>log10 = %{y:.2f}<extra>" + label + "</extra>"))
        if cell_path and tr.log10_cell_grad_norm is not None:
            yc = tr.log10_cell_grad_norm
            arrays.append(yc)
            fig.add_trace(go.Scatter(**_xy(lag, yc), name=f"{label}  ‖∂L/∂c‖ (cell path)", mode="lines",
                                     line=dict(color=color, width=2.5 * scale,
                                               dash="dashdot" if label in dotted else "dash"),
                                     hovertemplate="%{x} steps back<br>log10 = %{y:.2f}<extra>" + label +
                                     " cell</extra>"))
        if horizon_fraction is not None:
            h = tr.memory_horizon(horizon_fraction)
            if h is not None:
                fig.add_trace(go.Scatter(x=[h], y=[y[tr.T - 1 - h]], mode="markers", showlegend=False,
                                         marker=dict(color=color, size=12 * scale, symbol="diamond",
                                                     line=dict(color="white", width=1)),
                                         hovertemplate=f"{label}: memory horizon {h} steps<extra></extra>"))
        notes += _overflow_notes(label, tr, y)
    lo, hi = _finite_range(arrays)
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
    _set_log_y(fig, lo, hi, "‖∂L/∂h_k‖  (log scale)")
    # A fixed range: annotations must not stretch the axis to negative "steps back".
    fig.update_xaxes(title_text="steps back in time  (T−1−k)", range=[-0.01 * (T_max - 1), 1.01 * (T_max - 1)])
    return style(fig, height=height, scale=scale, title=title)


def _overflow_notes(label: str, tr, y: np.ndarray) -> list:
    """(x, y, text, color) markers for explosion / undefined values of one trace."""
    color = CELL_COLORS.get(tr.cell_type, "#555")
    notes = []
    k = tr.backward_overflow_step
    if k is not None:
        lag = tr.T - 1 - k
        notes.append((lag, float(y[k]), f"{label}: gradient past float32 at t = {k}", color))
    if tr.forward_overflow_step is not None:
        k = tr.forward_overflow_step
        yk = y[k] if np.isfinite(y[k]) else np.nanmax(np.where(np.isfinite(y), y, np.nan))
        notes.append((tr.T - 1 - k, float(yk) if np.isfinite(yk) else 0.0,
                      f"{label}: state overflowed at t = {k}", color))
    return notes


def _add_float32_limits(fig: go.Figure, lo: float, hi: float, scale: float):
    limits = ((F32_MAX_LOG10, "float32 overflow: torch's backward gives inf above"),
              (F32_TINY_LOG10, "float32 underflow: torch's backward gives 0 below"))
    where = "top left"
    if hi - lo > 12 * (F32_MAX_LOG10 - F32_TINY_LOG10):  # the two lines would print on top of each other
        limits = ((F32_MAX_LOG10, "float32's range: torch's backward gives inf above, 0 below"),
                  (F32_TINY_LOG10, ""))
        where = "top right"  # clear of the explosion marks, which sit at few steps back
    for level, text in limits:
        if lo <= level <= hi:
            fig.add_hline(y=level, line=dict(color="#999", width=1.5, dash="dot"),
                          annotation_text=text, annotation_position=where,
                          annotation_font=dict(size=int(12 * scale), color="#666"))


def jacobian_vs_lag(traces: dict, *, values: dict | None = None, bound: bool = True, title: str | None = None,
                    scale: float = 1.0, height: int = 420, legend_below: bool = True, dotted=()) -> go.Figure:
    """||dh_{T-1}/dh_k||_2 against steps back, with the Pascanu bound (gamma sigma_max)^(T-1-k) dashed;
    the labels in `dotted` are drawn dotted.

    `values` may give each label's log10 norms (e.g. a sweep limited to recent lags, NaN beyond);
    by default the traces' full `log10_jacobian_norm` is used."""
    fig = go.Figure()
    arrays, bounds = [], []
    for label, tr in traces.items():
        color = CELL_COLORS.get(tr.cell_type, "#555")
        lag = lag_axis(tr.T)
        y = tr.log10_jacobian_norm if values is None else values[label]
        arrays.append(y)
        fig.add_trace(go.Scatter(**_xy(lag, y), name=f"{label}  ‖∂h_T/∂h_k‖₂", mode="lines",
                                 line=dict(color=color, width=3 * scale, dash="dot" if label in dotted else None),
                                 hovertemplate="%{x} steps back<br>log10 = %{y:.2f}<extra>" + label + "</extra>"))
        b = tr.log10_pascanu_bound
        if bound and b is not None:
            bounds.append(b)
            fig.add_trace(go.Scatter(x=lag[[0, -1]], y=b[[0, -1]], mode="lines",  # a straight line
                                     name=f"{label}  bound (γ·σ_max)^(T−1−k), γσ = {tr.gamma * tr.sigma_max:.3g}",
                                     line=dict(color=BOUND_COLOR, width=2 * scale, dash="dash"),
                                     hovertemplate="%{x} steps back<br>bound log10 = %{y:.2f}<extra></extra>"))
    lo, hi = _finite_range(arrays)
    hi = max(hi, _finite_range(bounds)[1]) if bounds else hi  # the bound lies above; show it, not its depths
    _set_log_y(fig, lo, hi, "‖∂h_T/∂h_k‖₂  (log scale)")
    fig.update_xaxes(title_text="steps back in time  (T−1−k)")
    return style(fig, height=height, scale=scale, title=title, legend_below=legend_below)


def jacobian_chain(tr, *, last: int = 60, step_norms: np.ndarray | None = None, product: np.ndarray | None = None,
                   title: str | None = None, scale: float = 1.0, height: int = 520) -> go.Figure:
    """The gradient is a product of T factors. Top: each step's ||ds_k/ds_{k-1}||_2 for the last
    `last` steps (above 1 stretches, below 1 shrinks). Bottom: their running product from the
    end (an upper bound) against the true norm of the product ||dh_{T-1}/dh_k||_2.
    `step_norms` / `product` (log10, [T]) may be given when only recent steps were computed."""
    from plotly.subplots import make_subplots

    T = tr.T
    k0 = max(1, T - last)
    steps = np.arange(k0, T)
    logs = tr.log10_step_jacobian_norm if step_norms is None else step_norms
    true = tr.log10_jacobian_norm if product is None else product
    factors = np.power(10.0, logs[k0:T])
    color = CELL_COLORS.get(tr.cell_type, "#555")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.42, 0.58])
    fig.add_trace(go.Bar(x=steps, y=factors, name="‖∂s_k/∂s_{k−1}‖₂: one factor per step",
                         marker=dict(color=np.where(factors >= 1, "#e6550d", "#3182bd")),
                         hovertemplate="step %{x}<br>‖J‖ = %{y:.4f}<extra></extra>"), row=1, col=1)
    fig.add_hline(y=1, line=dict(color="#222", width=1.5, dash="dot"), row=1, col=1)
    running = np.concatenate([np.cumsum(logs[::-1])[::-1][1:], [0.0]])  # entry k: sum_{j=k+1}^{T-1}
    ks = np.arange(k0 - 1, T)
    fig.add_trace(go.Scatter(x=ks, y=running[k0 - 1:T], mode="lines", name="product of the factors (a bound)",
                             line=dict(color=BOUND_COLOR, width=3 * scale, dash="dash")), row=2, col=1)
    fig.add_trace(go.Scatter(x=ks, y=true[k0 - 1:T], mode="lines",
                             name="norm of the product ‖∂h_T/∂h_k‖₂", line=dict(color=color, width=3 * scale)),
                  row=2, col=1)
    vals = np.concatenate([running[k0 - 1:T], true[k0 - 1:T]])
    lo, hi = _finite_range([vals], pad=0.2)
    _set_log_y(fig, lo, hi, "product (log)", row=2, col=1)
    fig.update_yaxes(title_text="factor", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="time step k", row=2, col=1)
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def eigenvalue_plane(tr, *, title: str | None = None, scale: float = 1.0, height: int = 420) -> go.Figure:
    """Eigenvalues of W_hh (or its candidate block) in the complex plane, with the unit circle."""
    ev = np.asarray(tr.eigenvalues)
    color = CELL_COLORS.get(tr.cell_type, "#555")
    theta = np.linspace(0, 2 * np.pi, 361)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.cos(theta), y=np.sin(theta), mode="lines", name="unit circle |λ| = 1",
                             line=dict(color="#222", width=2 * scale)))
    rho = tr.spectral_radius
    if np.isfinite(rho) and rho > 0:
        fig.add_trace(go.Scatter(x=rho * np.cos(theta), y=rho * np.sin(theta), mode="lines",
                                 name=f"spectral radius ρ = {rho:.3g}", line=dict(color=color, width=1.5, dash="dot")))
    fig.add_trace(go.Scatter(x=ev.real, y=ev.imag, mode="markers", name="eigenvalues λ",
                             marker=dict(color=color, size=8 * scale, line=dict(color="white", width=0.5)),
                             hovertemplate="λ = %{x:.3f} %{y:+.3f}i<extra></extra>"))
    r = max(1.15, 1.1 * (rho if np.isfinite(rho) else 1.0))
    fig.update_xaxes(range=[-r, r], title_text="Re λ", zeroline=True, zerolinecolor="#ccc", constrain="domain")
    fig.update_yaxes(range=[-r, r], title_text="Im λ", zeroline=True, zerolinecolor="#ccc", scaleanchor="x",
                     scaleratio=1, constrain="domain")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


# --------------------------------------------------------------------------------- states
def downsample_time(values: np.ndarray, max_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pool a [T, H] array over time into at most `max_cols` bins.

    Returns (pooled [bins, H] float32, bin centres in time steps). Non-finite values stay
    visible: a bin holding inf / NaN becomes NaN (drawn as a gap).
    """
    v = np.asarray(values, dtype=np.float32)
    T = v.shape[0]
    if T <= max_cols:
        return v, np.arange(T, dtype=np.float64)
    edges = np.linspace(0, T, max_cols + 1).astype(int)
    with np.errstate(invalid="ignore", over="ignore"):
        sums = np.add.reduceat(v.astype(np.float64), edges[:-1], axis=0)
    counts = np.diff(edges)[:, None]
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    return (sums / counts).astype(np.float32), centres


# States beyond this size (an exploding ReLU or linear RNN) are drawn on a signed log scale; a state
# that left float32's range (inf / NaN) is painted OVERFLOW_COLOR and the step where it did is marked.
STATE_LINEAR_MAX = 100.0
OVERFLOW_COLOR = "#8c8c8c"


def symlog(values) -> np.ndarray:
    """A signed log scale that is the identity on [-1, 1] and sign(v)·(1 + log10|v|) beyond it:
    10 → 2, 10³⁸ → 39. inf and NaN pass through."""
    v = np.asarray(values, dtype=np.float64)
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 1, np.sign(v) * (1 + np.log10(np.where(a > 1, a, 1.0))), v)


def symlog_ticks(top: float, target: int = 4) -> tuple[list[float], list[str]]:
    """Ticks of a symlog axis running to ±top (a symlog value ≥ 1): 0 and ± round powers of ten
    (±1 too when the axis is short enough for it not to crowd 0)."""
    n = max(0, int(math.floor(top - 1 + 1e-9)))  # the largest power of ten inside
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 1000) if s >= n / target)
    powers = list(range(0 if n <= 2 else step, n + 1, step))
    vals = [0.0] + [float(1 + p) for p in powers]
    text = ["0"] + [power_label(p) for p in powers]
    return [-v for v in vals[:0:-1]] + vals, ["−" + t for t in text[:0:-1]] + text


def _overflow_step(values: np.ndarray) -> int | None:
    """First time step of a [T, H] array holding inf or NaN, or None."""
    bad = ~np.isfinite(values).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def _large(values: np.ndarray) -> float | None:
    """The largest finite |value| when it is too large for a linear colour scale / axis, else None."""
    finite = np.abs(values[np.isfinite(values)])
    big = float(finite.max()) if finite.size else 0.0
    return big if big > STATE_LINEAR_MAX else None


def heatmap(values: np.ndarray, *, kind: str = "state", title: str | None = None, cursor: int | None = None,
            max_cols: int = 800, scale: float = 1.0, height: int = 300, zmax: float | None = None,
            colorbar_title: str | None = None) -> go.Figure:
    """Units x time heatmap of a [T, H] array. kind: "state" (diverging, centred at 0),
    "gate" (sequential, [0, 1]) or "grad" (log10 values, sequential).

    States larger than STATE_LINEAR_MAX get a signed log colour scale (the hover shows the value);
    values beyond float32 (inf / NaN) are painted grey from the step where they first appear."""
    z, centres = downsample_time(values, max_cols)
    z = np.ascontiguousarray(z.T)  # [H, bins]
    H = z.shape[0]
    bad = ~np.isfinite(z)
    shown, extra = np.where(bad, np.nan, z).astype(np.float32), {}
    colorbar = dict(title=dict(text=colorbar_title or "", side="top"), thickness=14, len=0.9)
    hover = "t = %{x:.0f}<br>unit %{y}<br>value %{z:.3f}<extra></extra>"
    big = _large(z) if kind == "state" and zmax is None else None
    if big is not None:
        m = float(symlog(big))
        shown = symlog(shown).astype(np.float32)
        extra["customdata"] = np.where(bad, np.nan, z).astype(np.float32)
        hover = "t = %{x:.0f}<br>unit %{y}<br>value %{customdata:.3g}<extra></extra>"
        ticks, labels = symlog_ticks(m, target=2)  # a short colour bar: few labels
        colorbar.update(tickvals=ticks, ticktext=labels,
                        title=dict(text=f"{colorbar_title or ''} (log)", side="top"))
        colors = dict(colorscale=STATE_SCALE, zmid=0.0, zmin=-m, zmax=m)
    elif kind == "state":
        finite = np.abs(z[~bad])
        m = zmax if zmax is not None else max(1.0, float(finite.max()) if finite.size else 1.0)
        colors = dict(colorscale=STATE_SCALE, zmid=0.0, zmin=-m, zmax=m)
    elif kind == "gate":
        colors = dict(colorscale=GATE_SCALE, zmin=0.0, zmax=1.0)
    else:
        colors = dict(colorscale=GRAD_SCALE)
    fig = go.Figure(go.Heatmap(z=shown, x=centres, y=np.arange(H), **colors, **extra, colorbar=colorbar,
                               hovertemplate=hover))
    if cursor is not None:
        fig.add_vline(x=cursor, line=dict(color="#111", width=2.5 * scale), name="cursor")
    k = _overflow_step(values) if bad.any() else None
    if k is not None:
        fig.add_trace(go.Heatmap(
            z=np.where(bad, 1.0, np.nan).astype(np.float32), x=centres, y=np.arange(H), showscale=False,
            colorscale=[[0, OVERFLOW_COLOR], [1, OVERFLOW_COLOR]], name="overflow",
            hovertemplate="t = %{x:.0f}<br>unit %{y}<br>beyond float32 (±∞ or undefined)<extra></extra>"))
        _mark_overflow(fig, k, values.shape[0], scale, shade=False)
    fig.update_xaxes(title_text="time step t", range=[-0.5, values.shape[0] - 0.5])
    fig.update_yaxes(title_text="unit")
    return style(fig, height=height, scale=scale, title=title, legend=False)


def _mark_overflow(fig: go.Figure, k: int, T: int, scale: float, shade: bool):
    """A dashed line where the state left float32's range, labelled; `shade` greys the rest."""
    text = f"overflow from step {k}" + ("" if shade else " (grey)")
    if shade:
        fig.add_vrect(x0=k - 0.5, x1=T - 0.5, fillcolor=OVERFLOW_COLOR, opacity=0.25, line_width=0)
    fig.add_vline(x=k - 0.5, line=dict(color="#444", width=2 * scale, dash="dash"), name="overflow",
                  annotation_text=text, annotation_position="top right" if k < 0.7 * T else "top left",
                  annotation_font=dict(size=int(13 * scale), color="#333"),
                  annotation_bgcolor="rgba(255,255,255,0.85)")


def unit_lines(values: np.ndarray, units, *, title: str | None = None, cursor: int | None = None,
               scale: float = 1.0, height: int = 280, ytitle: str = "value", max_points: int = 2000) -> go.Figure:
    """Chosen units' values over time, one line each. Values larger than STATE_LINEAR_MAX go on a
    signed log axis; from the step where the state left float32's range the chart is shaded."""
    v, centres = downsample_time(values, max_points)
    chosen = v[:, list(units)].astype(np.float64)
    chosen[~np.isfinite(chosen)] = np.nan
    big = _large(chosen)
    y = symlog(chosen) if big is not None else chosen
    fig = go.Figure()
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    for n, u in enumerate(units):
        extra = dict(customdata=chosen[:, n], hovertemplate="t = %{x:.0f}: %{customdata:.3g}") if big else {}
        fig.add_trace(go.Scatter(x=centres, y=y[:, n], mode="lines", name=f"unit {u}",
                                 line=dict(width=2.5 * scale, color=palette[n % len(palette)]), **extra))
    if cursor is not None:
        fig.add_vline(x=cursor, line=dict(color="#111", width=2.5 * scale), name="cursor")
    k = _overflow_step(values)
    if k is not None:
        _mark_overflow(fig, k, values.shape[0], scale, shade=True)
    fig.update_xaxes(title_text="time step t", range=[-0.5, values.shape[0] - 0.5])
    if big is not None:
        ticks, labels = symlog_ticks(float(symlog(big)))
        fig.update_yaxes(tickvals=ticks, ticktext=labels, title_text=f"{ytitle} (log beyond ±1)")
    else:
        fig.update_yaxes(title_text=ytitle)
    return style(fig, height=height, scale=scale, title=title)


def saturation_bars(saturation: dict, *, title: str | None = None, scale: float = 1.0,
                    height: int = 300) -> go.Figure:
    """Per gate: the fraction of values saturated low (< 0.1), in between, and high (> 0.9)."""
    names = list(saturation)
    low = np.array([saturation[n]["low"] for n in names])
    high = np.array([saturation[n]["high"] for n in names])
    mid = 1 - low - high
    labels = [GATE_LABELS.get(n, n) if n != "candidate" else "candidate (|·| > 0.9)" for n in names]
    fig = go.Figure()
    for vals, name, color in ((low, "below 0.1 (closed)", "#440154"), (mid, "in between", "#bbbbbb"),
                              (high, "above 0.9 (open)", "#fde725")):
        fig.add_trace(go.Bar(y=labels, x=vals, name=name, orientation="h", marker_color=color,
                             text=[f"{100 * v:.0f}%" for v in vals], textposition="inside",
                             insidetextanchor="middle"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text="fraction of (unit, step) values")
    return style(fig, height=height, scale=scale, title=title)


def chain_diagram(T: int, cursor: int, *, cell: str = "rnn", window: int = 7, scale: float = 1.0,
                  height: int = 190) -> go.Figure:
    """A small unrolled chain x_t -> [cell] -> h_t around the cursor, the current step highlighted."""
    half = window // 2
    start = max(0, min(cursor - half, T - window))
    steps = list(range(start, min(T, start + window)))
    color = CELL_COLORS.get(cell, "#555")
    fig = go.Figure()
    shapes, annotations = [], []
    for i, t in enumerate(steps):
        x0 = i * 1.4
        current = t == cursor
        shapes.append(dict(type="rect", x0=x0, x1=x0 + 1, y0=0.6, y1=1.4,
                           line=dict(color=color, width=4 if current else 1.5),
                           fillcolor=color if current else "white", opacity=1 if current else 0.9))
        annotations.append(dict(x=x0 + 0.5, y=1.0, text=f"{LABELS.get(cell, cell)}", showarrow=False,
                                font=dict(size=int(15 * scale), color="white" if current else color)))
        annotations.append(dict(x=x0 + 0.5, y=0.15, text=f"x<sub>{t}</sub>", showarrow=False,
                                font=dict(size=int(16 * scale))))
        annotations.append(dict(x=x0 + 0.5, y=1.85, text=f"h<sub>{t}</sub>", showarrow=False,
                                font=dict(size=int(16 * scale), color="#111" if current else "#555")))
        shapes.append(dict(type="line", x0=x0 + 0.5, x1=x0 + 0.5, y0=0.3, y1=0.6, line=dict(color="#777", width=2)))
        shapes.append(dict(type="line", x0=x0 + 0.5, x1=x0 + 0.5, y0=1.4, y1=1.7, line=dict(color="#777", width=2)))
        if i + 1 < len(steps):
            annotations.append(dict(x=x0 + 1.38, y=1.0, ax=x0 + 1.02, ay=1.0, xref="x", yref="y", axref="x",
                                    ayref="y", text="", showarrow=True, arrowhead=2, arrowwidth=2,
                                    arrowcolor="#777"))
    fig.update_layout(shapes=shapes, annotations=annotations)
    fig.update_xaxes(visible=False, range=[-0.3, len(steps) * 1.4])
    fig.update_yaxes(visible=False, range=[0, 2.1])
    return style(fig, height=height, scale=scale, legend=False)


# --------------------------------------------------------------------------------- one neuron
def neuron_trajectory(h: np.ndarray, *, title: str | None = None, scale: float = 1.0, height: int = 320,
                      log: bool = False):
    """h_t over time; with log=True, |h_t| on a log axis (for a state that explodes)."""
    y = np.abs(h) if log else h
    fig = go.Figure(go.Scatter(x=np.arange(len(h)), y=y, mode="lines+markers", name="h_t",
                               line=dict(color=CELL_COLORS["rnn"], width=3 * scale), marker=dict(size=5 * scale)))
    fig.update_xaxes(title_text="time step t")
    fig.update_yaxes(title_text="|h_t| (log scale)" if log else "h_t", type="log" if log else "linear",
                     exponentformat="power")
    return style(fig, height=height, scale=scale, title=title, legend=False)


def neuron_gradient(log10_factors: np.ndarray, log10_grad: np.ndarray, *, title: str | None = None,
                    scale: float = 1.0, height: int = 320):
    """dh_T/dh_k as a product of factors. Bars at step t: log10 |dh_t/dh_{t-1}| = log10 |w act'(a_t)|
    (t = 1..T). Line at k: log10 |dh_T/dh_k| (k = 0..T), the sum of the bars after k."""
    T = len(log10_factors)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=np.arange(1, T + 1), y=log10_factors, name="log10 |w·act′(a_t)|  (one factor)",
                         marker_color=np.where(log10_factors >= 0, "#e6550d", "#3182bd")))
    fig.add_trace(go.Scatter(x=np.arange(T + 1), y=log10_grad, mode="lines+markers",
                             name="log10 |∂h_T/∂h_k| (their product)", line=dict(color="#111", width=3 * scale),
                             marker=dict(size=5 * scale)))
    fig.add_hline(y=0, line=dict(color="#222", width=1))
    fig.update_xaxes(title_text="time step")
    fig.update_yaxes(title_text="log10")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def _slopes(fp: dict) -> str:
    left, right = fp.get("slopes", (fp["slope"], fp["slope"]))
    return f"{right:.3f}" if left == right else f"{left:.3g} below, {right:.3g} above"


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
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="iterates", line=dict(color="#1f77b4", width=1.5)))
    for fp in fixed_points:
        fig.add_trace(go.Scatter(x=[fp["h"]], y=[fp["h"]], mode="markers", showlegend=False,
                                 marker=dict(size=13 * scale, color="#111" if fp["stable"] else "white",
                                             line=dict(color="#111", width=2)),
                                 hovertemplate=f"{fp.get('kind', 'stable' if fp['stable'] else 'unstable')} fixed "
                                 f"point h* = {fp['h']:.4f}, slope {_slopes(fp)}<br>{fp.get('note', '')}"
                                 "<extra></extra>"))
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
                      annotation_text="bistable: two stable states", annotation_position="top left",
                      annotation_font=dict(size=int(13 * scale)))
    for mask, name, marker in ((stable, "stable fixed point", dict(color="#111")),
                               (~stable, "unstable fixed point", dict(color="white", line=dict(color="#111",
                                                                                                width=1.5)))):
        if mask.any():
            fig.add_trace(go.Scatter(x=pts[mask, 0], y=pts[mask, 1], mode="markers", name=name,
                                     marker=dict(size=5 * scale, **marker)))
    fig.add_vline(x=b_now, line=dict(color=CELL_COLORS["rnn"], width=2.5 * scale),
                  annotation_text=f"b = {b_now:g}", annotation_position="bottom right",
                  annotation_font=dict(size=int(13 * scale), color=CELL_COLORS["rnn"]))
    fig.update_xaxes(title_text="bias b")
    fig.update_yaxes(title_text="fixed point h*")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


# --------------------------------------------------------------------------------- training lab
TEST_MARKER = dict(symbol="circle", size=9, line=dict(color="white", width=1.5))
AFTER_CLIP_COLOR = "#b0b0b0"


def _run_color(result) -> str:
    return CELL_COLORS.get(result.spec.cell, "#555")


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` entries (fewer at the start), for a readable noisy curve."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or v.size == 0:
        return v.copy()
    c = np.concatenate([[0.0], np.cumsum(v)])
    n = np.arange(1, v.size + 1)
    lo = np.maximum(n - window, 0)
    return (c[n] - c[lo]) / (n - lo)


def smoothing_window(steps: int) -> int:
    """Steps averaged in the bold training-loss line: about a thirtieth of the run, 1 to 50."""
    return int(min(50, max(1, steps // 30)))


def loss_curves(results: dict, *, title: str | None = None, scale: float = 1.0, height: int = 460,
                log: bool = True) -> go.Figure:
    """Training loss of every step (thin), its moving average (bold), the test loss (dots) and the
    baselines (dashed: memoryless, it knows only the current input; dotted: the literature's, where it
    differs), one colour per cell. `results` maps a label to a FitResult."""
    fig = go.Figure()
    longest, baselines = 1, ()
    for label, r in results.items():
        color, n = _run_color(r), r.steps_done
        longest = max(longest, r.steps, n)
        baselines = r.baselines
        steps = np.arange(1, n + 1)
        window = smoothing_window(n)
        fig.add_trace(go.Scatter(x=steps, y=r.loss, mode="lines", name=f"{label} · training loss (each batch)",
                                 legendgroup=label, showlegend=False, opacity=0.3,
                                 line=dict(color=color, width=1),
                                 hovertemplate="step %{x}<br>batch loss %{y:.4g}<extra>" + label + "</extra>"))
        fig.add_trace(go.Scatter(x=steps, y=moving_average(r.loss, window), legendgroup=label,
                                 mode="lines+markers" if n < 20 else "lines", marker=dict(size=6 * scale),
                                 name=label, line=dict(color=color, width=3 * scale),
                                 hovertemplate="step %{x}<br>mean loss %{y:.4g}<extra>" + label + "</extra>"))
        fig.add_trace(go.Scatter(x=r.test_steps, y=r.test_loss, mode="markers", name=f"{label} · test loss",
                                 legendgroup=label, showlegend=False,
                                 marker=dict(color=color, **{**TEST_MARKER, "size": 9 * scale}),
                                 hovertemplate="step %{x}<br>test loss %{y:.4g}<extra>" + label + "</extra>"))
        if r.stopped_early and n:
            fig.add_trace(go.Scatter(x=[n], y=[r.loss[-1]], mode="markers", name=f"{label} · stopped",
                                     legendgroup=label, showlegend=False,
                                     marker=dict(symbol="x", size=14 * scale, color=color, line=dict(width=2)),
                                     hovertemplate=f"{label}: {r.message}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="test loss",
                             marker=dict(color="#555", **{**TEST_MARKER, "size": 9 * scale})))
    for b, dash in zip(baselines, ("dash", "dot")):  # the memoryless one first, then the literature's
        fig.add_trace(go.Scatter(x=[0, longest], y=[b.value, b.value], mode="lines",
                                 name=f"baseline, {b.label} ({b.value:.3g})",
                                 line=dict(color="#222", width=2 * scale, dash=dash),
                                 hovertemplate=f"baseline {b.value:.4g}: {b.how}<extra></extra>"))
    fig.update_xaxes(title_text="training step", range=[0, longest])
    if log:
        values = ([r.loss for r in results.values()] + [r.test_loss for r in results.values()]
                  + [[b.value for b in baselines if b.value > 0] or [1.0]])
        ticks = one_two_five_ticks(np.concatenate([np.asarray(v, dtype=np.float64) for v in values]))
        text = [f"{t:g}" if 1e-4 <= t < 1e5 else power_label(round(math.log10(t))) for t in ticks]
        fig.update_yaxes(title_text="loss (log scale)", type="log", tickvals=ticks, ticktext=text)
    else:
        fig.update_yaxes(title_text="loss")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def one_two_five_ticks(values) -> list[float]:
    """Ticks 1, 2, 5 x 10^n over the positive finite values (only the powers of ten when they span
    more than three decades)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return [1.0]
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    mantissas = (1, 2, 5) if hi - lo <= 3 else (1,)
    every = max(1, math.ceil((hi - lo) / 7))  # at most about 8 powers of ten, 1 among them
    ticks = [m * 10.0 ** e for e in range(math.floor(lo / every) * every, hi + 1, every) for m in mantissas]
    inside = [t for t in ticks if v.min() / 1.5 <= t <= v.max() * 1.5]
    return [float(f"{t:.12g}") for t in inside] or [float(10.0 ** lo)]


def _log10_or_nan(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(v)
    return np.where(np.isfinite(out), out, np.nan)


def grad_norm_steps(results: dict, *, clip: float | None = None, clip_mode: str = "norm",
                    title: str | None = None, scale: float = 1.0, row_height: int = 190) -> go.Figure:
    """‖gradient‖ of every training step, before clipping (colour) and after (grey), on a log axis;
    one row per cell, the same axis for all. Norm clipping draws its threshold; a tick at the bottom
    marks every step where clipping changed the gradient. A norm that became inf or NaN is marked."""
    from plotly.subplots import make_subplots

    labels = list(results)
    n = max(1, len(labels))
    titles = [f"<b>{label}</b>" + (f": clipping acted at {int(r.clipped.sum())} of {r.steps_done} steps"
                                   if clip is not None else "") for label, r in results.items()]
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.16 / n, subplot_titles=titles)
    logs = {label: _log10_or_nan(r.grad_norm) for label, r in results.items()}
    after = {label: _log10_or_nan(r.grad_norm_clipped) for label, r in results.items()}
    extra = [np.log10(clip)] if clip is not None and clip_mode == "norm" else []
    lo, hi = _finite_range(list(logs.values()) + [np.array(extra)], pad=0.3)
    rug = lo + 0.04 * (hi - lo)
    longest = max([r.steps for r in results.values()] + [1])
    for row, (label, r) in enumerate(results.items(), start=1):
        color, steps = _run_color(r), np.arange(1, r.steps_done + 1)
        first = row == 1
        if clip is not None:
            fig.add_trace(go.Scatter(x=steps, y=after[label], mode="lines", name=f"{label} after clipping",
                                     legendgroup="after", showlegend=False,
                                     line=dict(color=AFTER_CLIP_COLOR, width=3.5 * scale),
                                     hovertemplate="step %{x}<br>after: log10 ‖g‖ = %{y:.2f}<extra></extra>"),
                          row=row, col=1)
        fig.add_trace(go.Scatter(x=steps, y=logs[label], mode="lines+markers" if r.steps_done < 20 else "lines",
                                 name=f"{label} before clipping", marker=dict(size=7 * scale),
                                 showlegend=False, line=dict(color=color, width=1.3 * scale),
                                 hovertemplate="step %{x}<br>log10 ‖g‖ = %{y:.2f}<extra>" + label + "</extra>"),
                      row=row, col=1)
        if clip is not None:
            hits = steps[r.clipped]
            fig.add_trace(go.Scatter(x=hits, y=np.full(hits.size, rug), mode="markers",
                                     name=f"{label} clipped steps", showlegend=False,
                                     marker=dict(symbol="line-ns", size=10 * scale, color=color,
                                                 line=dict(color=color, width=1.5)),
                                     hovertemplate="step %{x}: clipped<extra>" + label + "</extra>"),
                          row=row, col=1)
        if extra:
            fig.add_trace(go.Scatter(x=[0, longest], y=[extra[0]] * 2, mode="lines",
                                     name=f"clip threshold ‖g‖ = {clip:g}", legendgroup="threshold",
                                     showlegend=first, line=dict(color="#222", width=2 * scale, dash="dash"),
                                     hovertemplate=f"clip threshold {clip:g}<extra></extra>"), row=row, col=1)
        bad = np.nonzero(~np.isfinite(r.grad_norm))[0]
        if bad.size:
            k = int(bad[0]) + 1
            fig.add_trace(go.Scatter(x=[k], y=[hi - 0.08 * (hi - lo)], mode="markers+text",
                                     name=f"{label} non-finite gradient", showlegend=False,
                                     text=[f"  ‖g‖ = {r.grad_norm[k - 1]} at step {k}: training stopped"],
                                     textposition="middle right",
                                     textfont=dict(color=color, size=int(14 * scale)),
                                     marker=dict(symbol="x", size=14 * scale, color=color, line=dict(width=2))),
                          row=row, col=1)
        _set_log_y(fig, lo, hi, "‖g‖", row=row, col=1)
    # legend entries for what every row shows (the rows' own traces stay out of the legend)
    legend = [("‖g‖" + (" before clipping" if clip is not None else "") + " (in the cell's colour)",
               dict(mode="lines", line=dict(color="#555", width=2)))]
    if clip is not None:
        tick = dict(symbol="line-ns", size=10, line=dict(color="#555", width=1.5))
        legend += [("after clipping", dict(mode="lines", line=dict(color=AFTER_CLIP_COLOR, width=5))),
                   ("a step where clipping acted", dict(mode="markers", marker=tick))]
    for name, kw in legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], name=name, hoverinfo="skip", **kw), row=1, col=1)
    fig.update_xaxes(range=[0, longest])
    fig.update_xaxes(title_text="training step", row=n, col=1)
    for a in fig.layout.annotations:  # the subplot titles
        a.update(font=dict(size=int(15 * scale)), x=0, xanchor="left")
    if clip is not None and clip_mode == "value":
        title = (title or "") + f" (clipped by value: every element to ±{clip:g})"
    fig = style(fig, height=110 + row_height * n, scale=scale, title=title, legend_below=True)
    fig.update_layout(legend=dict(y=-0.3 / n - 0.06))
    return fig


def reach_heatmaps(results: dict, *, title: str | None = None, scale: float = 1.0, height: int = 420) -> go.Figure:
    """The gradient's reach as training goes: log10 ‖∂L/∂h_k‖ over (steps back from the last step ×
    training step), one panel per cell on one colour scale. Rows are the checkpoints of `fit`."""
    from plotly.subplots import make_subplots

    labels = list(results)
    n = max(1, len(labels))
    fig = make_subplots(rows=1, cols=n, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"<b>{label}</b>" for label in labels])
    grids = {label: np.where(np.isfinite(r.reach_by_lag), r.reach_by_lag, np.nan) for label, r in results.items()}
    lo, hi = _finite_range(list(grids.values()), pad=0.0)
    ticks, ticktext = log_ticks(lo, hi, target=6)
    for col, (label, r) in enumerate(results.items(), start=1):
        z = grids[label].astype(np.float32)
        fig.add_trace(go.Heatmap(
            z=z, x=np.arange(z.shape[1]), y=r.reach_steps, zmin=lo, zmax=hi, colorscale=GRAD_SCALE,
            name=label, showscale=col == 1,
            colorbar=dict(title=dict(text="‖∂L/∂h_k‖", side="top"), tickvals=ticks, ticktext=ticktext,
                          thickness=14, len=0.9),
            hovertemplate="%{x} steps back<br>after %{y} training steps<br>log10 ‖∂L/∂h_k‖ = %{z:.2f}"
                          "<extra>" + label + "</extra>"), row=1, col=col)
        fig.update_xaxes(title_text="steps back", row=1, col=col)
    fig.update_yaxes(title_text="training step", row=1, col=1)
    for a in fig.layout.annotations:
        a.update(font=dict(size=int(15 * scale)))
    return style(fig, height=height, scale=scale, title=title, legend=False)


BIT_SCALE = [[0.0, "#ffffff"], [0.333, "#ffffff"], [0.333, "#c7c7c7"], [0.667, "#c7c7c7"], [0.667, "#f4a3a3"],
             [1.0, "#f4a3a3"]]   # 0: white, 1: grey, 2: a wrong prediction (light red)


def addition_example(ex, *, label: str = "", title: str | None = None, scale: float = 1.0,
                     height: int = 520) -> go.Figure:
    """A worked binary addition (an `rnnviz.lab.AdditionExample`): the two numbers, the true and the
    predicted sum bit by bit (wrong bits red), then the hidden units that track the carry, with the
    carry itself beneath. Time runs left to right, least-significant bit first."""
    from plotly.subplots import make_subplots

    T, k = len(ex.a), len(ex.units)
    t = np.arange(T)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.42, 0.12 * max(k, 1) + 0.05, 0.1])
    rows = ["a", "b", "a + b", f"{label} predicts".strip()]
    bits = np.stack([ex.a, ex.b, ex.total, ex.predicted])
    codes = bits.copy()
    codes[3] = np.where(ex.correct, ex.predicted, 2)
    fig.add_trace(go.Heatmap(z=codes, x=t, y=rows, zmin=0, zmax=2, colorscale=BIT_SCALE, showscale=False,
                             text=bits, texttemplate="%{text}", textfont=dict(size=int(16 * scale)),
                             xgap=2, ygap=2, name="bits",
                             hovertemplate="step %{x}<br>%{y}: bit %{text}<extra></extra>"), row=1, col=1)
    names = [f"unit {u}  (r = {r:+.2f})" for u, r in zip(ex.units, ex.correlation)]
    fig.add_trace(go.Heatmap(z=ex.hidden.T.astype(np.float32), x=t, y=names, zmin=-1, zmax=1, zmid=0,
                             colorscale=STATE_SCALE, name="hidden units", xgap=1, ygap=2,
                             colorbar=dict(title=dict(text="h", side="top"), thickness=14, len=0.3, y=0.42),
                             hovertemplate="step %{x}<br>%{y}<br>h = %{z:.3f}<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Heatmap(z=ex.carry[None, :], x=t, y=["carry"], zmin=0, zmax=2, colorscale=BIT_SCALE,
                             showscale=False, text=ex.carry[None, :], texttemplate="%{text}",
                             textfont=dict(size=int(16 * scale)), xgap=2, ygap=2, name="carry",
                             hovertemplate="step %{x}<br>carry out: %{text}<extra></extra>"), row=3, col=1)
    for row in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", showline=False, row=row, col=1)
    fig.update_xaxes(showline=False, showticklabels=False, row=1, col=1)
    fig.update_xaxes(showline=False, row=2, col=1)
    fig.update_xaxes(title_text="step t  (bit t, least-significant first)", dtick=1 if T <= 32 else None,
                     showline=False, row=3, col=1)
    return style(fig, height=height, scale=scale, title=title, legend=False)


# --------------------------------------------------------------------------------- text lab


def bpc_curves(runs: dict, baseline: float, *, smooth: int = 20, title: str | None = None, scale: float = 1.0,
               height: int = 420) -> go.Figure:
    """Bits per character against training step for one or more runs, with the memoryless floor
    (the bigram entropy: the best a model without memory can do, reading the current character).

    `runs` maps a legend label to {"cell", "steps", "train", "test_steps", "test"} (bits per
    character). Training: the mean over the last `smooth` batches (solid; with one run the single
    batches too, faint); held-out: dashed with markers. Each cell in its colour."""
    fig = go.Figure()
    top = baseline
    for label, run in runs.items():
        color = CELL_COLORS.get(run["cell"], "#555")
        steps, train = np.asarray(run["steps"]), np.asarray(run["train"], dtype=np.float64)
        if len(runs) == 1 and train.size:
            fig.add_trace(go.Scatter(x=steps, y=train, mode="lines", name=f"{label} training batches",
                                     line=dict(color=color, width=1), opacity=0.3, hoverinfo="skip"))
        if train.size:
            fig.add_trace(go.Scatter(x=steps, y=moving_average(train, smooth), mode="lines",
                                     name=f"{label} training text", line=dict(color=color, width=3 * scale),
                                     hovertemplate="step %{x}<br>%{y:.3f} bits/char<extra>" + label +
                                     " training</extra>"))
            top = max(top, float(np.nanmax(train[:5])))
        test = np.asarray(run["test"], dtype=np.float64)
        if test.size:
            fig.add_trace(go.Scatter(x=np.asarray(run["test_steps"]), y=test, mode="lines+markers",
                                     name=f"{label} held-out text",
                                     line=dict(color=color, width=2.5 * scale, dash="dash"),
                                     marker=dict(size=6 * scale, color=color),
                                     hovertemplate="step %{x}<br>%{y:.3f} bits/char<extra>" + label +
                                     " held-out</extra>"))
            finite = test[np.isfinite(test)]
            if finite.size:
                top = max(top, float(min(finite.max(), 2.5 * baseline)))
    fig.add_hline(y=baseline, line=dict(color=BOUND_COLOR, width=2, dash="dot"),
                  annotation_text=f"memoryless floor {baseline:.2f} bits: the next character from the current one",
                  annotation_position="top right", annotation_font=dict(size=int(13 * scale), color="#444"))
    fig.update_xaxes(title_text="training step", rangemode="tozero")
    fig.update_yaxes(title_text="bits per character", range=[0, top * 1.08])
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def plain(text: str) -> str:
    """User text for a Plotly title, label or hover text: Plotly reads a subset of HTML there (<b>,
    <a href=...>), so the text is escaped and shows as typed."""
    import html

    return html.escape(str(text), quote=False)


def percent(p: float) -> str:
    """A probability in percent: one decimal, or two significant digits below 0.1% (0.03%, not 0.0%)."""
    return f"{p:.1%}" if p >= 1e-3 or p == 0 else f"{100 * p:.2g}%"


def next_char_bars(labels, p_model, p_sampled, chosen: int | None = None, *, added_rank: int | None = None,
                   cell: str = "lstm", title: str | None = None, scale: float = 1.0, height: int = 330) -> go.Figure:
    """The most likely next characters (most likely on top): the model's probability and the one
    sampling used (temperature and top-k applied). `chosen` is the index of the sampled one: its bars
    are outlined and its label bold. With `added_rank`, the last row is a character added below the
    most likely ones (the sampled one, when it is not among them): it stands after a gap, labelled with
    its rank (1: the most likely). `labels` are shown as text (escaped); `title` must already be safe
    (see `plain`)."""
    n = len(labels)
    added = added_rank is not None and n > 0
    y = [-j - (0.6 if added and j == n - 1 else 0) for j in range(n)]
    shown = [f"'{plain(c)}'" for c in labels]
    if added:
        shown[-1] += f" #{added_rank}"
    ticks = [f"<b>{t}</b>" if j == chosen else t for j, t in enumerate(shown)]
    outline = dict(color="#111", width=[2.5 * scale if j == chosen else 0 for j in range(n)])
    color = CELL_COLORS.get(cell, "#555")
    fig = go.Figure()
    fig.add_trace(go.Bar(y=y, x=p_model, orientation="h", name="model (temperature 1)", marker_color=color,
                         marker_line=outline, text=[percent(p) for p in p_model], textposition="outside",
                         cliponaxis=False, textfont=dict(size=int(14 * scale)), constraintext="none",
                         hovertemplate="%{customdata}: %{x:.3f}<extra>model</extra>", customdata=shown))
    fig.add_trace(go.Bar(y=y, x=p_sampled, orientation="h", name="sampled from (temperature, top-k)",
                         marker_color="#aaaaaa", marker_line=outline, customdata=shown,
                         hovertemplate="%{customdata}: %{x:.3f}<extra>sampling</extra>"))
    if chosen is not None and 0 <= chosen < n:
        fig.add_annotation(x=max(p_model[chosen], p_sampled[chosen]), y=y[chosen], text="◀ sampled",
                           showarrow=False, xanchor="left", xshift=58 * scale,
                           font=dict(size=int(14 * scale), color="#111"))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(tickvals=y, ticktext=ticks, tickfont=dict(family="monospace", size=int(17 * scale)))
    fig.update_xaxes(range=[0, 1.18], tickformat=".0%", title_text="probability of being next")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def input_gradient_figure(curves: dict, *, title: str | None = None, scale: float = 1.0,
                          height: int = 420) -> go.Figure:
    """||d log p(next) / d x_s|| against characters back (0: the character just read), log scale.
    `curves` maps a legend label to (cell, values [position + 1]) with values[s] for input s."""
    fig = go.Figure()
    logs = []
    for label, (cell, values) in curves.items():
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore"):
            y = np.log10(v)[::-1]
        logs.append(y)
        fig.add_trace(go.Scatter(x=np.arange(v.size), y=y, mode="lines", name=label,
                                 line=dict(color=CELL_COLORS.get(cell, "#555"), width=3 * scale),
                                 hovertemplate="%{x} characters back<br>log10 = %{y:.2f}<extra>" + label +
                                 "</extra>"))
    lo, hi = _finite_range(logs)
    _set_log_y(fig, lo, hi, "‖∂ log p(next) / ∂x‖  (log scale)")
    fig.update_xaxes(title_text="characters back (0: the character just read)", rangemode="tozero")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


_HTML_SCALES = {"state": STATE_SCALE, "gate": GATE_SCALE, "grad": GRAD_SCALE}
_LEVELS = 101
NEUTRAL_STYLE = "background:#ececec;color:#555"   # a character without a value (NaN), e.g. a prompt


def _palette(kind: str) -> tuple[list[str], list[str]]:
    """_LEVELS background colours of a scale, and a readable text colour for each."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    backs = sample_colorscale(_HTML_SCALES[kind], list(np.linspace(0, 1, _LEVELS)))
    inks = []
    for c in backs:
        r, g, b = (x / 255 for x in unlabel_rgb(c))
        inks.append("#111" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#fff")
    return [c.replace(" ", "") for c in backs], inks


def colour_levels(values, kind: str, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Index into the palette (0 .. _LEVELS-1) of each value: "state" maps [-1, 1] (centred at 0),
    "gate" [0, 1], "grad" [lo, hi]; values outside are clipped, NaN / -inf go to the low end."""
    v = np.asarray(values, dtype=np.float64)
    if lo is None or hi is None:
        lo, hi = {"state": (-1.0, 1.0), "gate": (0.0, 1.0)}.get(kind, (0.0, 1.0))
    span = hi - lo if hi > lo else 1.0
    with np.errstate(invalid="ignore"):
        t = np.clip((v - lo) / span, 0.0, 1.0)
    t = np.where(np.isfinite(t), t, 0.0)
    return np.rint(t * (_LEVELS - 1)).astype(np.int64)


def text_colour_html(text: str, values, *, kind: str = "state", lo: float | None = None, hi: float | None = None,
                     tips=None, font_px: int = 18, max_height_px: int = 430) -> str:
    """Each character of `text` on a background coloured by its value (the "neuron over text" view),
    as escaped HTML for st.html. The text is shown as text: every character goes through
    html.escape, and newlines are drawn as ↵ followed by a line break. A NaN value draws its
    character in neutral grey. `tips` (one string per character, optional) become hover
    tooltips, escaped too."""
    import html

    if len(values) != len(text):
        raise ValueError(f"one value per character: {len(text)} characters, {len(values)} values")
    backs, inks = _palette(kind)
    styles = [f"background:{b};color:{i}" for b, i in zip(backs, inks)]
    levels = colour_levels(values, kind, lo, hi)
    blank = np.isnan(np.asarray(values, dtype=np.float64))
    parts = []
    for k, ch in enumerate(text):
        look = NEUTRAL_STYLE if blank[k] else styles[levels[k]]
        shown = "↵" if ch == "\n" else "⇥" if ch == "\t" else html.escape(ch)
        tip = f' title="{html.escape(tips[k], quote=True)}"' if tips is not None else ""
        parts.append(f'<span style="{look}"{tip}>{shown}</span>')
        if ch == "\n":
            parts.append("<br>")
    body = "".join(parts)
    return (f'<div style="font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:{font_px}px;'
            f'line-height:1.65;white-space:pre-wrap;word-break:break-all;max-height:{max_height_px}px;'
            f'overflow-y:auto;border:1px solid #ddd;border-radius:6px;padding:10px 12px;background:#fff">'
            f'{body}</div>')


def colour_legend_html(kind: str, lo: float, hi: float, label: str, *, ticks: list[str] | None = None,
                       scale: float = 1.0) -> str:
    """A horizontal colour bar for text_colour_html: the scale from lo to hi, with end and middle labels."""
    import html

    backs, _ = _palette(kind)
    stops = ",".join(backs[::10])
    ticks = ticks or [f"{lo:g}", f"{(lo + hi) / 2:g}", f"{hi:g}"]
    tick_html = "".join(f"<span>{html.escape(t)}</span>" for t in ticks)
    return (f'<div style="display:flex;align-items:center;gap:14px;font-size:{int(16 * scale)}px;margin:4px 0 8px 0">'
            f'<span style="white-space:nowrap">{html.escape(label)}</span>'
            f'<div style="flex:0 1 {int(420 * scale)}px"><div style="height:{int(14 * scale)}px;border-radius:3px;'
            f'background:linear-gradient(to right,{stops})"></div>'
            f'<div style="display:flex;justify-content:space-between;font-size:{int(14 * scale)}px;color:#444">'
            f'{tick_html}</div></div></div>')
# ---- translation
def _char_label(ch: str, unknown=()) -> str:
    """An input character as a tick label: a space is shown as ␣, one in `unknown` as ?."""
    return "?" if ch in unknown else "␣" if ch == " " else ch


def translation_states(encoder_states: np.ndarray, input_chars, context: np.ndarray, decoder_states: np.ndarray,
                       output_chars, *, context_cell: np.ndarray | None = None, unknown=(),
                       title: str | None = None, scale: float = 1.0, height: int = 460) -> go.Figure:
    """Encoder states (units x input characters), the context the decoder starts from (one column;
    an LSTM's cell state c beside it on its own colour scale) and the decoder states (units x
    output characters), side by side on the same rows. Rows are sorted by the context's values,
    so the last encoder column and the context read as a smooth band; hover names each unit.
    Characters in `unknown` (read as the unknown symbol) are labelled ?."""
    from plotly.subplots import make_subplots

    enc = np.asarray(encoder_states, dtype=np.float32)
    dec = np.asarray(decoder_states, dtype=np.float32)
    ctx = np.asarray(context, dtype=np.float32)
    L, H = enc.shape
    order = np.argsort(ctx, kind="stable")
    ctx_cols = 2 if context_cell is not None else 1
    widths = [0.66, 0.05 * ctx_cols, 0.29 - 0.05 * ctx_cols]  # fixed, so long inputs leave room for the rest
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, column_widths=[w / sum(widths) for w in widths],
                        horizontal_spacing=0.02,
                        subplot_titles=["<b>Encoder</b>: h after reading<br>each input character",
                                        "<b>Context</b>",
                                        "<b>Decoder</b>: h after<br>writing each character"])
    m = max(1.0, float(np.nanmax(np.abs(np.concatenate([enc.ravel(), dec.ravel(), ctx])))))
    hover = "%{customdata}<br>h = %{z:.3f}<extra>%{meta}</extra>"

    def unit_text(n_cols):
        return np.array([[f"unit {u}"] * n_cols for u in order])

    fig.add_trace(go.Heatmap(z=np.ascontiguousarray(enc[:, order].T), x=np.arange(L), y=np.arange(H),
                             coloraxis="coloraxis", name="encoder", customdata=unit_text(L),
                             meta="encoder", hovertemplate="input %{x}<br>" + hover), row=1, col=1)
    fig.add_trace(go.Heatmap(z=ctx[order][:, None], x0=0, dx=1, y=np.arange(H), coloraxis="coloraxis", name="context",
                             customdata=unit_text(1), meta="context h", hovertemplate=hover), row=1, col=2)
    if context_cell is not None:
        c = np.asarray(context_cell, dtype=np.float32)[order][:, None]
        cm = max(1e-6, float(np.nanmax(np.abs(c))))
        fig.add_trace(go.Heatmap(z=c, x0=1, dx=1, y=np.arange(H), coloraxis="coloraxis2", name="context cell",
                                 customdata=unit_text(1), meta="context c",
                                 hovertemplate="%{customdata}<br>c = %{z:.3f}<extra>cell state</extra>"),
                      row=1, col=2)
        fig.update_layout(coloraxis2=dict(colorscale=STATE_SCALE, cmid=0.0, cmin=-cm, cmax=cm,
                                          colorbar=dict(title=dict(text="c", side="top"), thickness=12, len=0.42,
                                                        y=0.0, yanchor="bottom", x=1.01)))
    fig.add_trace(go.Heatmap(z=np.ascontiguousarray(dec[:, order].T), x=np.arange(dec.shape[0]), y=np.arange(H),
                             coloraxis="coloraxis", name="decoder", customdata=unit_text(dec.shape[0]),
                             meta="decoder", hovertemplate="output %{x}<br>" + hover), row=1, col=3)
    fig.update_layout(coloraxis=dict(colorscale=STATE_SCALE, cmid=0.0, cmin=-m, cmax=m,
                                     colorbar=dict(title=dict(text="h", side="top"), thickness=12,
                                                   len=0.5 if context_cell is not None else 0.9,
                                                   y=1.0 if context_cell is not None else 0.5,
                                                   yanchor="top" if context_cell is not None else "middle",
                                                   x=1.01)))
    every = max(1, math.ceil(L / 60))
    ticks = list(range(0, L, every))
    mono = dict(family="DejaVu Sans Mono, Menlo, Consolas, monospace", size=int(15 * scale))
    fig.update_xaxes(tickvals=ticks, ticktext=[_char_label(input_chars[t], unknown) for t in ticks], tickangle=0,
                     tickfont=mono, title_text="input character", range=[-0.5, L - 0.5], row=1, col=1)
    fig.update_xaxes(tickvals=list(range(ctx_cols)), ticktext=["h", "c"][:ctx_cols], range=[-0.5, ctx_cols - 0.5],
                     tickfont=mono, showgrid=False, row=1, col=2)
    fig.update_xaxes(tickvals=list(range(len(output_chars))), ticktext=list(output_chars), tickangle=0,
                     tickfont=dict(mono, size=int(17 * scale)), title_text="character written",
                     range=[-0.5, len(output_chars) - 0.5], row=1, col=3)
    fig.update_yaxes(showticklabels=False, title_text=f"{H} units (sorted by context h)", row=1, col=1)
    style(fig, height=height, scale=scale, title=title, legend=False)
    fig.update_annotations(font=dict(size=int(15 * scale)))
    fig.update_layout(margin=dict(r=80, t=(95 if title else 70)))
    return fig


def top_candidates(top, *, target: str | None = None, scale: float = 1.0, height: int = 300,
                   title: str | None = None) -> go.Figure:
    """Per output character, the model's best candidates (rows, best first) and their
    probabilities: `top` is [[(char, p), ...] per output step]. With `target`, the correct
    character's cell is outlined (green; red where it is not among the candidates)."""
    steps, k = len(top), len(top[0])
    z = np.array([[top[t][r][1] for t in range(steps)] for r in range(k)], dtype=np.float64)
    chars = [[top[t][r][0] for t in range(steps)] for r in range(k)]
    label = [[f"<b>{chars[r][t]}</b><br>{'<1%' if z[r, t] < 0.005 else f'{z[r, t]:.0%}'}" for t in range(steps)]
             for r in range(k)]
    rank = ["best", "2nd", "3rd"] + [f"{r + 1}th" for r in range(3, k)]
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(steps), y=np.arange(k), customdata=chars, text=label, zmin=0.0, zmax=1.0,
        colorscale="Blues", texttemplate="%{text}", textfont=dict(size=int(16 * scale)), xgap=3, ygap=3,
        colorbar=dict(title=dict(text="p", side="top"), thickness=12, tickformat=".0%"),
        hovertemplate="character %{x}: “%{customdata}” with p = %{z:.4f}<extra></extra>", name="candidates"))
    shapes = []
    if target is not None:
        for t, ch in enumerate(target[:steps]):
            found = [r for r in range(k) if chars[r][t] == ch]
            if found:
                r = found[0]
                shapes.append(dict(type="rect", x0=t - 0.47, x1=t + 0.47, y0=r - 0.45, y1=r + 0.45,
                                   line=dict(color="#2ca02c" if r == 0 else "#d62728", width=3)))
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(tickvals=list(range(steps)), ticktext=[f"{t + 1}" for t in range(steps)],
                     title_text="output character (position in the ISO date)", showgrid=False)
    fig.update_yaxes(tickvals=list(range(k)), ticktext=rank[:k], autorange="reversed", showgrid=False)
    return style(fig, height=height, scale=scale, title=title, legend=False)


def accuracy_over_time(seconds, accuracy, *, char_accuracy=None, level: float = 0.9, cell: str = "lstm",
                       budget: float | None = None, scale: float = 1.0, height: int = 380,
                       title: str | None = None) -> go.Figure:
    """Held-out exact match (solid, markers at each evaluation) and per-character accuracy
    (dotted) against training seconds, with the `level` line and the moment it is first reached."""
    x = np.asarray(seconds, dtype=np.float64)
    y = np.asarray(accuracy, dtype=np.float64)
    color = CELL_COLORS.get(cell, "#555")
    fig = go.Figure()
    if char_accuracy is not None:
        fig.add_trace(go.Scatter(x=x, y=np.asarray(char_accuracy, dtype=np.float64), mode="lines",
                                 name="characters right", line=dict(color=color, width=2 * scale, dash="dot"),
                                 hovertemplate="%{x:.1f} s: %{y:.1%} of characters right<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="whole date right (exact match)",
                             line=dict(color=color, width=3.5 * scale), marker=dict(size=7 * scale),
                             hovertemplate="%{x:.1f} s: exact match %{y:.1%}<extra></extra>"))
    fig.add_hline(y=level, line=dict(color=BOUND_COLOR, width=1.5, dash="dash"),
                  annotation_text=f"{level:.0%}", annotation_position="top left",
                  annotation_font=dict(size=int(14 * scale), color=BOUND_COLOR))
    reached = np.nonzero(y >= level)[0]
    if reached.size:
        t = float(x[reached[0]])
        fig.add_trace(go.Scatter(x=[t], y=[y[reached[0]]], mode="markers", showlegend=False,
                                 marker=dict(size=15 * scale, color=color, symbol="diamond",
                                             line=dict(color="white", width=1.5)),
                                 hovertemplate=f"{level:.0%} first reached after %{{x:.1f}} s<extra></extra>"))
        fig.add_annotation(x=t, y=float(y[reached[0]]), text=f"{level:.0%} after {t:.0f} s", showarrow=True,
                           arrowhead=2, ax=40, ay=40, font=dict(size=int(15 * scale), color=color),
                           bgcolor="rgba(255,255,255,0.85)")
    right = max(float(x.max()) if x.size else 1.0, budget or 0.0)
    fig.update_xaxes(title_text="training time (seconds)", range=[0, right * 1.02])
    fig.update_yaxes(title_text="held-out dates", range=[0, 1.02], tickformat=".0%")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def accuracy_by_gap(gaps, after, before=None, *, trained_max: int | None = None, cell: str = "lstm",
                    scale: float = 1.0, height: int = 400, title: str | None = None) -> go.Figure:
    """Exact match against the number of filler characters after the date (solid; the date must be
    carried that much further) and, as a control, before it (dashed grey: as long, date read last)."""
    g = np.asarray(gaps, dtype=np.float64)
    color = CELL_COLORS.get(cell, "#555")
    fig = go.Figure()
    if trained_max is not None:
        fig.add_vrect(x0=0, x1=trained_max, fillcolor="#bbbbbb", opacity=0.25, line_width=0,
                      annotation_text="seen in<br>training", annotation_position="bottom left",
                      annotation_font=dict(size=int(13 * scale), color="#555"))
    if before is not None:
        fig.add_trace(go.Scatter(x=g, y=np.asarray(before, dtype=np.float64), mode="lines+markers",
                                 name="filler before the date (date read last)",
                                 line=dict(color="#777777", width=2.5 * scale, dash="dash"),
                                 marker=dict(size=7 * scale),
                                 hovertemplate="%{x} characters before: %{y:.1%}<extra></extra>"))
    fig.add_trace(go.Scatter(x=g, y=np.asarray(after, dtype=np.float64), mode="lines+markers",
                             name="filler after the date (carried to the end)",
                             line=dict(color=color, width=3.5 * scale), marker=dict(size=8 * scale),
                             hovertemplate="%{x} characters after: %{y:.1%}<extra></extra>"))
    fig.update_xaxes(title_text="filler characters (the same words on both sides)")
    fig.update_yaxes(title_text="exact match", range=[0, 1.02], tickformat=".0%")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def accuracy_by_length_bars(lengths, accuracy, counts, *, width: int = 10, cell: str = "lstm",
                            scale: float = 1.0, height: int = 400, title: str | None = None) -> go.Figure:
    """Exact match per bin of input lengths (bin [L, L + width)), one horizontal bar each, labelled
    with the accuracy and the number of inputs in the bin (short inputs on top)."""
    lo = np.asarray(lengths, dtype=np.int64)
    acc = np.asarray(accuracy, dtype=np.float64)
    labels = [f"{a}–{a + width - 1}" for a in lo]
    fig = go.Figure(go.Bar(y=labels, x=acc, orientation="h", marker_color=CELL_COLORS.get(cell, "#555"),
                           name="exact match", customdata=np.asarray(counts),
                           text=[f"{v:.0%}  (n = {c})" for v, c in zip(acc, counts)], textposition="inside",
                           insidetextanchor="start", textfont=dict(size=int(14 * scale), color="white"),
                           hovertemplate="%{y} characters: %{x:.1%} of %{customdata} inputs<extra></extra>"))
    fig.update_yaxes(title_text="input length (characters)", type="category", autorange="reversed")
    fig.update_xaxes(title_text="exact match", range=[0, 1.0], tickformat=".0%")
    return style(fig, height=height, scale=scale, title=title, legend=False)
