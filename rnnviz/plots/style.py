"""The look every figure shares: the colours (each with one meaning), large classroom fonts, log axes
whose ticks read 10⁻³⁰, and thinning of long lines for drawing.

Colour has one meaning everywhere:
  - cells: RNN red, LSTM blue, GRU green (the LSTM's cell path dashed blue); LRU purple, minGRU orange,
    minLSTM brown, S6 pink (with negative eigenvalues: olive, grey, cyan);
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

from .numbers import power_label

CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c", "lru": "#9467bd", "mingru": "#ff7f0e",
               "minlstm": "#8c564b", "s6": "#e377c2", "mingru_neg": "#bcbd22", "minlstm_neg": "#7f7f7f",
               "s6_neg": "#17becf"}
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


def finite_range(arrays, pad: float = 0.5) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays if a is not None] or [np.zeros(1)])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return -1.0, 1.0
    return float(vals.min()) - pad, float(vals.max()) + pad


def set_log_y(fig: go.Figure, lo: float, hi: float, title: str, row=None, col=None):
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


def thinned(x, y) -> dict:
    x, y = decimate(x, y)
    return {"x": x, "y": y}


def lag_axis(T: int) -> np.ndarray:
    """Steps back from the last step for entries k = 0..T-1: T-1-k."""
    return np.arange(T - 1, -1, -1)

def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` entries (fewer at the start), for a readable noisy curve."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or v.size == 0:
        return v.copy()
    c = np.concatenate([[0.0], np.cumsum(v)])
    n = np.arange(1, v.size + 1)
    lo = np.maximum(n - window, 0)
    return (c[n] - c[lo]) / (n - lo)
