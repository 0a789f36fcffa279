"""Training figures: loss curves against the memoryless baseline, gradient norms with clipping, the
gradient's reach as training goes, and a worked binary addition.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from .numbers import power_label
from .style import CELL_COLORS, GRAD_SCALE, STATE_SCALE, finite_range, log_ticks, moving_average, set_log_y, style

TEST_MARKER = dict(symbol="circle", size=9, line=dict(color="white", width=1.5))
AFTER_CLIP_COLOR = "#b0b0b0"


def _run_color(result) -> str:
    cell = result.spec.cell
    negative = f"{cell}_neg" if getattr(result.spec, "negative", "") == "negative" else cell
    return CELL_COLORS.get(negative, CELL_COLORS.get(cell, "#555"))


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
        fig.add_trace(go.Scatter(x=steps, y=r.loss, mode="lines",
                                 name=_("{label} · training loss (each batch)").format(label=label),
                                 legendgroup=label, showlegend=False, opacity=0.3,
                                 line=dict(color=color, width=1),
                                 hovertemplate=_("step %{x}<br>batch loss %{y:.4g}") + f"<extra>{label}</extra>"))
        fig.add_trace(go.Scatter(x=steps, y=moving_average(r.loss, window), legendgroup=label,
                                 mode="lines+markers" if n < 20 else "lines", marker=dict(size=6 * scale),
                                 name=label, line=dict(color=color, width=3 * scale),
                                 hovertemplate=_("step %{x}<br>mean loss %{y:.4g}") + f"<extra>{label}</extra>"))
        fig.add_trace(go.Scatter(x=r.test_steps, y=r.test_loss, mode="markers",
                                 name=_("{label} · test loss").format(label=label),
                                 legendgroup=label, showlegend=False,
                                 marker=dict(color=color, **{**TEST_MARKER, "size": 9 * scale}),
                                 hovertemplate=_("step %{x}<br>test loss %{y:.4g}") + f"<extra>{label}</extra>"))
        if r.stopped_early and n:
            fig.add_trace(go.Scatter(x=[n], y=[r.loss[-1]], mode="markers",
                                     name=_("{label} · stopped").format(label=label),
                                     legendgroup=label, showlegend=False,
                                     marker=dict(symbol="x", size=14 * scale, color=color, line=dict(width=2)),
                                     hovertemplate=_("{label}: stopped at step {step} of {steps}").format(
                                         label=label, step=r.stop_step, steps=r.steps) + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=_("test loss"),
                             marker=dict(color="#555", **{**TEST_MARKER, "size": 9 * scale})))
    for b, dash in zip(baselines, ("dash", "dot")):  # the memoryless one first, then the literature's
        fig.add_trace(go.Scatter(x=[0, longest], y=[b.value, b.value], mode="lines",
                                 name=(_("baseline, memoryless: knows only the current input ({value:.3g})")
                                       if b.memoryless else _("baseline, knows {knows} ({value:.3g})")).format(
                                           knows=_(b.knows), value=b.value),
                                 line=dict(color="#222", width=2 * scale, dash=dash),
                                 hovertemplate=_("baseline {value:.4g}: {how}").format(value=b.value, how=_(b.how))
                                 + "<extra></extra>"))
    fig.update_xaxes(title_text=_("training step"), range=[0, longest])
    if log:
        values = ([r.loss for r in results.values()] + [r.test_loss for r in results.values()]
                  + [[b.value for b in baselines if b.value > 0] or [1.0]])
        ticks = one_two_five_ticks(np.concatenate([np.asarray(v, dtype=np.float64) for v in values]))
        text = [f"{t:g}" if 1e-4 <= t < 1e5 else power_label(round(math.log10(t))) for t in ticks]
        fig.update_yaxes(title_text=_("loss (log scale)"), type="log", tickvals=ticks, ticktext=text)
    else:
        fig.update_yaxes(title_text=_("loss"))
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
    titles = [f"<b>{label}</b>" + (_(": clipping acted at {n} of {steps} steps").format(
                                       n=int(r.clipped.sum()), steps=r.steps_done)
                                   if clip is not None else "") for label, r in results.items()]
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.16 / n, subplot_titles=titles)
    logs = {label: _log10_or_nan(r.grad_norm) for label, r in results.items()}
    after = {label: _log10_or_nan(r.grad_norm_clipped) for label, r in results.items()}
    extra = [np.log10(clip)] if clip is not None and clip_mode == "norm" else []
    lo, hi = finite_range(list(logs.values()) + [np.array(extra)], pad=0.3)
    rug = lo + 0.04 * (hi - lo)
    longest = max([r.steps for r in results.values()] + [1])
    for row, (label, r) in enumerate(results.items(), start=1):
        color, steps = _run_color(r), np.arange(1, r.steps_done + 1)
        first = row == 1
        if clip is not None:
            fig.add_trace(go.Scatter(x=steps, y=after[label], mode="lines",
                                     name=_("{label} after clipping").format(label=label),
                                     legendgroup="after", showlegend=False,
                                     line=dict(color=AFTER_CLIP_COLOR, width=3.5 * scale),
                                     hovertemplate=_("step %{x}<br>after: log10 ‖g‖ = %{y:.2f}") + "<extra></extra>"),
                          row=row, col=1)
        fig.add_trace(go.Scatter(x=steps, y=logs[label], mode="lines+markers" if r.steps_done < 20 else "lines",
                                 name=_("{label} before clipping").format(label=label), marker=dict(size=7 * scale),
                                 showlegend=False, line=dict(color=color, width=1.3 * scale),
                                 hovertemplate=_("step %{x}<br>log10 ‖g‖ = %{y:.2f}") + f"<extra>{label}</extra>"),
                      row=row, col=1)
        if clip is not None:
            hits = steps[r.clipped]
            fig.add_trace(go.Scatter(x=hits, y=np.full(hits.size, rug), mode="markers",
                                     name=_("{label} clipped steps").format(label=label), showlegend=False,
                                     marker=dict(symbol="line-ns", size=10 * scale, color=color,
                                                 line=dict(color=color, width=1.5)),
                                     hovertemplate=_("step %{x}: clipped") + f"<extra>{label}</extra>"),
                          row=row, col=1)
        if extra:
            fig.add_trace(go.Scatter(x=[0, longest], y=[extra[0]] * 2, mode="lines",
                                     name=_("clip threshold ‖g‖ = {clip:g}").format(clip=clip), legendgroup="threshold",
                                     showlegend=first, line=dict(color="#222", width=2 * scale, dash="dash"),
                                     hovertemplate=_("clip threshold {clip:g}").format(clip=clip) + "<extra></extra>"),
                          row=row, col=1)
        bad = np.nonzero(~np.isfinite(r.grad_norm))[0]
        if bad.size:
            k = int(bad[0]) + 1
            fig.add_trace(go.Scatter(x=[k], y=[hi - 0.08 * (hi - lo)], mode="markers+text",
                                     name=_("{label} non-finite gradient").format(label=label), showlegend=False,
                                     text=[_("  ‖g‖ = {norm} at step {k}: training stopped").format(
                                         norm=r.grad_norm[k - 1], k=k)],
                                     textposition="middle right",
                                     textfont=dict(color=color, size=int(14 * scale)),
                                     marker=dict(symbol="x", size=14 * scale, color=color, line=dict(width=2))),
                          row=row, col=1)
        set_log_y(fig, lo, hi, "‖g‖", row=row, col=1)
    # legend entries for what every row shows (the rows' own traces stay out of the legend)
    legend = [(_("‖g‖ before clipping (in the cell's colour)") if clip is not None else _("‖g‖ (in the cell's colour)"),
               dict(mode="lines", line=dict(color="#555", width=2)))]
    if clip is not None:
        tick = dict(symbol="line-ns", size=10, line=dict(color="#555", width=1.5))
        legend += [(_("after clipping"), dict(mode="lines", line=dict(color=AFTER_CLIP_COLOR, width=5))),
                   (_("a step where clipping acted"), dict(mode="markers", marker=tick))]
    for name, kw in legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], name=name, hoverinfo="skip", **kw), row=1, col=1)
    fig.update_xaxes(range=[0, longest])
    fig.update_xaxes(title_text=_("training step"), row=n, col=1)
    for a in fig.layout.annotations:  # the subplot titles
        a.update(font=dict(size=int(15 * scale)), x=0, xanchor="left")
    if clip is not None and clip_mode == "value":
        title = (title or "") + _(" (clipped by value: every element to ±{clip:g})").format(clip=clip)
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
    lo, hi = finite_range(list(grids.values()), pad=0.0)
    ticks, ticktext = log_ticks(lo, hi, target=6)
    for col, (label, r) in enumerate(results.items(), start=1):
        z = grids[label].astype(np.float32)
        fig.add_trace(go.Heatmap(
            z=z, x=np.arange(z.shape[1]), y=r.reach_steps, zmin=lo, zmax=hi, colorscale=GRAD_SCALE,
            name=label, showscale=col == 1,
            colorbar=dict(title=dict(text="‖∂L/∂h_k‖", side="top"), tickvals=ticks, ticktext=ticktext,
                          thickness=14, len=0.9),
            hovertemplate=_("%{x} steps back<br>after %{y} training steps<br>log10 ‖∂L/∂h_k‖ = %{z:.2f}")
                          + f"<extra>{label}</extra>"), row=1, col=col)
        fig.update_xaxes(title_text=_("steps back"), row=1, col=col)
    fig.update_yaxes(title_text=_("training step"), row=1, col=1)
    for a in fig.layout.annotations:
        a.update(font=dict(size=int(15 * scale)))
    return style(fig, height=height, scale=scale, title=title, legend=False)


BIT_SCALE = [[0.0, "#ffffff"], [0.333, "#ffffff"], [0.333, "#c7c7c7"], [0.667, "#c7c7c7"], [0.667, "#f4a3a3"],
             [1.0, "#f4a3a3"]]   # 0: white, 1: grey, 2: a wrong prediction (light red)


def addition_example(ex, *, label: str = "", title: str | None = None, scale: float = 1.0,
                     height: int = 520) -> go.Figure:
    """A worked binary addition (an `rnnviz.labs.training.AdditionExample`): the two numbers, the true and the
    predicted sum bit by bit (wrong bits red), then the hidden units that track the carry, with the
    carry itself beneath. Time runs left to right, least-significant bit first."""
    from plotly.subplots import make_subplots

    T, k = len(ex.a), len(ex.units)
    t = np.arange(T)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.42, 0.12 * max(k, 1) + 0.05, 0.1])
    rows = ["a", "b", "a + b", _("{label} predicts").format(label=label).strip()]
    bits = np.stack([ex.a, ex.b, ex.total, ex.predicted])
    codes = bits.copy()
    codes[3] = np.where(ex.correct, ex.predicted, 2)
    fig.add_trace(go.Heatmap(z=codes, x=t, y=rows, zmin=0, zmax=2, colorscale=BIT_SCALE, showscale=False,
                             text=bits, texttemplate="%{text}", textfont=dict(size=int(16 * scale)),
                             xgap=2, ygap=2, name="bits",
                             hovertemplate=_("step %{x}<br>%{y}: bit %{text}") + "<extra></extra>"), row=1, col=1)
    names = [_("unit {u}  (r = {r:+.2f})").format(u=u, r=r) for u, r in zip(ex.units, ex.correlation)]
    fig.add_trace(go.Heatmap(z=ex.hidden.T.astype(np.float32), x=t, y=names, zmin=-1, zmax=1, zmid=0,
                             colorscale=STATE_SCALE, name="hidden units", xgap=1, ygap=2,
                             colorbar=dict(title=dict(text="h", side="top"), thickness=14, len=0.3, y=0.42),
                             hovertemplate=_("step %{x}<br>%{y}<br>h = %{z:.3f}") + "<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Heatmap(z=ex.carry[None, :], x=t, y=[_("carry")], zmin=0, zmax=2, colorscale=BIT_SCALE,
                             showscale=False, text=ex.carry[None, :], texttemplate="%{text}",
                             textfont=dict(size=int(16 * scale)), xgap=2, ygap=2, name="carry",
                             hovertemplate=_("step %{x}<br>carry out: %{text}") + "<extra></extra>"), row=3, col=1)
    for row in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", showline=False, row=row, col=1)
    fig.update_xaxes(showline=False, showticklabels=False, row=1, col=1)
    fig.update_xaxes(showline=False, row=2, col=1)
    fig.update_xaxes(title_text=_("step t  (bit t, least-significant first)"), dtick=1 if T <= 32 else None,
                     showline=False, row=3, col=1)
    return style(fig, height=height, scale=scale, title=title, legend=False)
