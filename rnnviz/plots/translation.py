"""Translation figures: the encoder's, the context's and the decoder's states side by side, the
decoder's best candidates per character, and accuracy over training time, input length and filler.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from .style import BOUND_COLOR, CELL_COLORS, STATE_SCALE, style


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
                        subplot_titles=[_("<b>Encoder</b>: h after reading<br>each input character"),
                                        _("<b>Context</b>"),
                                        _("<b>Decoder</b>: h after<br>writing each character")])
    m = max(1.0, float(np.nanmax(np.abs(np.concatenate([enc.ravel(), dec.ravel(), ctx])))))
    hover = "%{customdata}<br>h = %{z:.3f}<extra>%{meta}</extra>"

    def unit_text(n_cols):
        return np.array([[_("unit {u}").format(u=u)] * n_cols for u in order])

    fig.add_trace(go.Heatmap(z=np.ascontiguousarray(enc[:, order].T), x=np.arange(L), y=np.arange(H),
                             coloraxis="coloraxis", name="encoder", customdata=unit_text(L),
                             meta=_("encoder"), hovertemplate=_("input %{x}") + "<br>" + hover), row=1, col=1)
    fig.add_trace(go.Heatmap(z=ctx[order][:, None], x0=0, dx=1, y=np.arange(H), coloraxis="coloraxis", name="context",
                             customdata=unit_text(1), meta=_("context h"), hovertemplate=hover), row=1, col=2)
    if context_cell is not None:
        c = np.asarray(context_cell, dtype=np.float32)[order][:, None]
        cm = max(1e-6, float(np.nanmax(np.abs(c))))
        fig.add_trace(go.Heatmap(z=c, x0=1, dx=1, y=np.arange(H), coloraxis="coloraxis2", name="context cell",
                                 customdata=unit_text(1), meta=_("context c"),
                                 hovertemplate="%{customdata}<br>c = %{z:.3f}<extra>" + _("cell state") + "</extra>"),
                      row=1, col=2)
        fig.update_layout(coloraxis2=dict(colorscale=STATE_SCALE, cmid=0.0, cmin=-cm, cmax=cm,
                                          colorbar=dict(title=dict(text="c", side="top"), thickness=12, len=0.42,
                                                        y=0.0, yanchor="bottom", x=1.01)))
    fig.add_trace(go.Heatmap(z=np.ascontiguousarray(dec[:, order].T), x=np.arange(dec.shape[0]), y=np.arange(H),
                             coloraxis="coloraxis", name="decoder", customdata=unit_text(dec.shape[0]),
                             meta=_("decoder"), hovertemplate=_("output %{x}") + "<br>" + hover), row=1, col=3)
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
                     tickfont=mono, title_text=_("input character"), range=[-0.5, L - 0.5], row=1, col=1)
    fig.update_xaxes(tickvals=list(range(ctx_cols)), ticktext=["h", "c"][:ctx_cols], range=[-0.5, ctx_cols - 0.5],
                     tickfont=mono, showgrid=False, row=1, col=2)
    fig.update_xaxes(tickvals=list(range(len(output_chars))), ticktext=list(output_chars), tickangle=0,
                     tickfont=dict(mono, size=int(17 * scale)), title_text=_("character written"),
                     range=[-0.5, len(output_chars) - 0.5], row=1, col=3)
    fig.update_yaxes(showticklabels=False, title_text=_("{H} units (sorted by context h)").format(H=H), row=1, col=1)
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
    rank = [_("best"), _("2nd"), _("3rd")] + [_("{n}th").format(n=r + 1) for r in range(3, k)]
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(steps), y=np.arange(k), customdata=chars, text=label, zmin=0.0, zmax=1.0,
        colorscale="Blues", texttemplate="%{text}", textfont=dict(size=int(16 * scale)), xgap=3, ygap=3,
        colorbar=dict(title=dict(text="p", side="top"), thickness=12, tickformat=".0%"),
        hovertemplate=_("character %{x}: “%{customdata}” with p = %{z:.4f}") + "<extra></extra>", name="candidates"))
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
                     title_text=_("output character (position in the ISO date)"), showgrid=False)
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
                                 name=_("characters right"), line=dict(color=color, width=2 * scale, dash="dot"),
                                 hovertemplate=_("%{x:.1f} s: %{y:.1%} of characters right") + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=_("whole date right (exact match)"),
                             line=dict(color=color, width=3.5 * scale), marker=dict(size=7 * scale),
                             hovertemplate=_("%{x:.1f} s: exact match %{y:.1%}") + "<extra></extra>"))
    fig.add_hline(y=level, line=dict(color=BOUND_COLOR, width=1.5, dash="dash"),
                  annotation_text=f"{level:.0%}", annotation_position="top left",
                  annotation_font=dict(size=int(14 * scale), color=BOUND_COLOR))
    reached = np.nonzero(y >= level)[0]
    if reached.size:
        t = float(x[reached[0]])
        fig.add_trace(go.Scatter(x=[t], y=[y[reached[0]]], mode="markers", showlegend=False,
                                 marker=dict(size=15 * scale, color=color, symbol="diamond",
                                             line=dict(color="white", width=1.5)),
                                 hovertemplate=_("{level:.0%} first reached after %{{x:.1f}} s").format(level=level)
                                 + "<extra></extra>"))
        fig.add_annotation(x=t, y=float(y[reached[0]]), text=_("{level:.0%} after {t:.0f} s").format(level=level, t=t),
                           showarrow=True,
                           arrowhead=2, ax=40, ay=40, font=dict(size=int(15 * scale), color=color),
                           bgcolor="rgba(255,255,255,0.85)")
    right = max(float(x.max()) if x.size else 1.0, budget or 0.0)
    fig.update_xaxes(title_text=_("training time (seconds)"), range=[0, right * 1.02])
    fig.update_yaxes(title_text=_("held-out dates"), range=[0, 1.02], tickformat=".0%")
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
                      annotation_text=_("seen in<br>training"), annotation_position="bottom left",
                      annotation_font=dict(size=int(13 * scale), color="#555"))
    if before is not None:
        fig.add_trace(go.Scatter(x=g, y=np.asarray(before, dtype=np.float64), mode="lines+markers",
                                 name=_("filler before the date (date read last)"),
                                 line=dict(color="#777777", width=2.5 * scale, dash="dash"),
                                 marker=dict(size=7 * scale),
                                 hovertemplate=_("%{x} characters before: %{y:.1%}") + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=g, y=np.asarray(after, dtype=np.float64), mode="lines+markers",
                             name=_("filler after the date (carried to the end)"),
                             line=dict(color=color, width=3.5 * scale), marker=dict(size=8 * scale),
                             hovertemplate=_("%{x} characters after: %{y:.1%}") + "<extra></extra>"))
    fig.update_xaxes(title_text=_("filler characters (the same words on both sides)"))
    fig.update_yaxes(title_text=_("exact match"), range=[0, 1.02], tickformat=".0%")
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def accuracy_by_length_bars(lengths, accuracy, counts, *, width: int = 10, cell: str = "lstm",
                            scale: float = 1.0, height: int = 400, title: str | None = None) -> go.Figure:
    """Exact match per bin of input lengths (bin [L, L + width)), one horizontal bar each, labelled
    with the accuracy and the number of inputs in the bin (short inputs on top)."""
    lo = np.asarray(lengths, dtype=np.int64)
    acc = np.asarray(accuracy, dtype=np.float64)
    labels = [f"{a}–{a + width - 1}" for a in lo]
    fig = go.Figure(go.Bar(y=labels, x=acc, orientation="h", marker_color=CELL_COLORS.get(cell, "#555"),
                           name=_("exact match"), customdata=np.asarray(counts),
                           text=[f"{v:.0%}  (n = {c})" for v, c in zip(acc, counts)], textposition="inside",
                           insidetextanchor="start", textfont=dict(size=int(14 * scale), color="white"),
                           hovertemplate=_("%{y} characters: %{x:.1%} of %{customdata} inputs") + "<extra></extra>"))
    fig.update_yaxes(title_text=_("input length (characters)"), type="category", autorange="reversed")
    fig.update_xaxes(title_text=_("exact match"), range=[0, 1.0], tickformat=".0%")
    return style(fig, height=height, scale=scale, title=title, legend=False)
