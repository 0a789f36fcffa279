"""State and gate figures: units × time heatmaps (with a cursor and overflow marked), chosen units
over time, gate saturation, the unrolled chain, and a cell's equations with one unit's numbers.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..cells import GATE_LABELS, LABELS, gate_symbol
from ..i18n import N_, _
from .numbers import power_label, tex_number
from .style import CELL_COLORS, GATE_SCALE, GRAD_SCALE, STATE_SCALE, style

_GATE_TITLES = {"input": N_("Input gate {symbol} (σ, in [0, 1])"), "forget": N_("Forget gate {symbol} (σ, in [0, 1])"),
                "output": N_("Output gate {symbol} (σ, in [0, 1])"), "reset": N_("Reset gate {symbol} (σ, in [0, 1])"),
                "update": N_("Update gate {symbol} (σ, in [0, 1])"),
                "candidate": N_("Candidate {symbol} (tanh, in [−1, 1])")}


def gate_title(cell: str, name: str) -> str:
    """A gate heatmap's title: the gate's name, its letter in the equations and its range."""
    title = _GATE_TITLES.get(name)
    if title is None:
        return f"{name.capitalize()} gate {gate_symbol(cell, name)} (σ, in [0, 1])"
    return _(title).format(symbol=gate_symbol(cell, name))

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
    hover = _("t = %{x:.0f}<br>unit %{y}<br>value %{z:.3f}") + "<extra></extra>"
    big = _large(z) if kind == "state" and zmax is None else None
    if big is not None:
        m = float(symlog(big))
        shown = symlog(shown).astype(np.float32)
        extra["customdata"] = np.where(bad, np.nan, z).astype(np.float32)
        hover = _("t = %{x:.0f}<br>unit %{y}<br>value %{customdata:.3g}") + "<extra></extra>"
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
            hovertemplate=_("t = %{x:.0f}<br>unit %{y}<br>beyond float32 (±∞ or undefined)") + "<extra></extra>"))
        _mark_overflow(fig, k, values.shape[0], scale, shade=False)
    fig.update_xaxes(title_text=_("time step t"), range=[-0.5, values.shape[0] - 0.5])
    fig.update_yaxes(title_text=_("unit"))
    return style(fig, height=height, scale=scale, title=title, legend=False)


def _mark_overflow(fig: go.Figure, k: int, T: int, scale: float, shade: bool):
    """A dashed line where the state left float32's range, labelled; `shade` greys the rest."""
    text = (_("overflow from step {k}") if shade else _("overflow from step {k} (grey)")).format(k=k)
    if shade:
        fig.add_vrect(x0=k - 0.5, x1=T - 0.5, fillcolor=OVERFLOW_COLOR, opacity=0.25, line_width=0)
    fig.add_vline(x=k - 0.5, line=dict(color="#444", width=2 * scale, dash="dash"), name="overflow",
                  annotation_text=text, annotation_position="top right" if k < 0.7 * T else "top left",
                  annotation_font=dict(size=int(13 * scale), color="#333"),
                  annotation_bgcolor="rgba(255,255,255,0.85)")


def unit_lines(values: np.ndarray, units, *, title: str | None = None, cursor: int | None = None,
               scale: float = 1.0, height: int = 280, ytitle: str | None = None, max_points: int = 2000) -> go.Figure:
    """Chosen units' values over time, one line each. Values larger than STATE_LINEAR_MAX go on a
    signed log axis; from the step where the state left float32's range the chart is shaded.
    `ytitle` defaults to "value" in the current language."""
    ytitle = ytitle if ytitle is not None else _("value")
    v, centres = downsample_time(values, max_points)
    chosen = v[:, list(units)].astype(np.float64)
    chosen[~np.isfinite(chosen)] = np.nan
    big = _large(chosen)
    y = symlog(chosen) if big is not None else chosen
    fig = go.Figure()
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    for n, u in enumerate(units):
        extra = dict(customdata=chosen[:, n], hovertemplate="t = %{x:.0f}: %{customdata:.3g}") if big else {}
        fig.add_trace(go.Scatter(x=centres, y=y[:, n], mode="lines", name=_("unit {u}").format(u=u),
                                 line=dict(width=2.5 * scale, color=palette[n % len(palette)]), **extra))
    if cursor is not None:
        fig.add_vline(x=cursor, line=dict(color="#111", width=2.5 * scale), name="cursor")
    k = _overflow_step(values)
    if k is not None:
        _mark_overflow(fig, k, values.shape[0], scale, shade=True)
    fig.update_xaxes(title_text=_("time step t"), range=[-0.5, values.shape[0] - 0.5])
    if big is not None:
        ticks, labels = symlog_ticks(float(symlog(big)))
        fig.update_yaxes(tickvals=ticks, ticktext=labels, title_text=_("{title} (log beyond ±1)").format(title=ytitle))
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
    labels = [_(GATE_LABELS.get(n, n)) if n != "candidate" else _("candidate (|·| > 0.9)") for n in names]
    fig = go.Figure()
    for vals, name, color in ((low, _("below 0.1 (closed)"), "#440154"), (mid, _("in between"), "#bbbbbb"),
                              (high, _("above 0.9 (open)"), "#fde725")):
        fig.add_trace(go.Bar(y=labels, x=vals, name=name, orientation="h", marker_color=color,
                             text=[f"{100 * v:.0f}%" for v in vals], textposition="inside",
                             insidetextanchor="middle"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title_text=_("fraction of (unit, step) values"))
    return style(fig, height=height, scale=scale, title=title)


def chain_diagram(T: int, cursor: int, *, cell: str = "rnn", window: int = 7, scale: float = 1.0,
                  height: int = 190, title: str | None = None) -> go.Figure:
    """A small unrolled chain x_t -> [cell] -> h_t around the cursor, the current step highlighted (`title`:
    which layer of a stack it is)."""
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
    return style(fig, height=height, scale=scale, legend=False, title=title)


TEX_ACTIVATION = {"tanh": r"\tanh", "relu": r"\mathrm{relu}", "sigmoid": r"\sigma", "linear": r"\mathrm{id}"}


def cell_equations_tex(cell: str, activation: str, terms: dict) -> str:
    """LaTeX of a cell's equations filled in with one unit's numbers at one step, from
    `Trace.step_terms(t, unit)`: each gate's input and recurrent contributions and its value, then
    the state update (∞ / "overflow" past an overflow, large numbers in powers of ten)."""
    x, h, val = terms["x_term"], terms["h_term"], terms["value"]
    n = tex_number

    def gate(sym, name, fn):
        return rf"{sym}_t &= {fn}({n(x[name])} {n(h[name], sign=True)}) = {n(val[name])}"

    if cell == "rnn":
        lines = [gate("h", "a", TEX_ACTIVATION[activation])]
    elif cell == "lstm":
        lines = [gate("i", "input", r"\sigma"), gate("f", "forget", r"\sigma"), gate("g", "candidate", r"\tanh"),
                 gate("o", "output", r"\sigma"),
                 r"c_t &= f_t\,c_{t-1} + i_t\,g_t",
                 rf"&= {n(val['forget'])}\cdot({n(terms['c_prev'])}) + {n(val['input'])}\cdot({n(val['candidate'])})",
                 rf"&= {n(terms['c'])}",
                 rf"h_t &= o_t \tanh(c_t) = {n(val['output'])}\cdot\tanh({n(terms['c'])})",
                 rf"&= {n(terms['h'])}"]
    else:
        lines = [gate("r", "reset", r"\sigma"), gate("z", "update", r"\sigma"),
                 rf"n_t &= \tanh({n(x['candidate'])} + r_t\cdot({n(h['candidate'])})) = {n(val['candidate'])}",
                 r"h_t &= (1 - z_t)\,n_t + z_t\,h_{t-1}",
                 rf"&= {n(terms['one_minus']['update'])}\cdot({n(val['candidate'])}) + {n(val['update'])}\cdot"
                 rf"({n(terms['h_prev'])})",
                 rf"&= {n(terms['h'])}"]
    return r"\begin{aligned}" + r"\\[4pt]".join(lines) + r"\end{aligned}"
