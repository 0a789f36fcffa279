"""Character-model figures: bits per character while training, the next-character distribution, how
uncertain each character written was, the gradient reaching earlier characters, and text coloured by a
value (escaped HTML).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from ..inputs import display_char
from .numbers import percent, plain
from .style import (
    BOUND_COLOR,
    CELL_COLORS,
    GATE_SCALE,
    GRAD_SCALE,
    STATE_SCALE,
    finite_range,
    moving_average,
    set_log_y,
    style,
)


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
            fig.add_trace(go.Scatter(x=steps, y=train, mode="lines",
                                     name=_("{label} training batches").format(label=label),
                                     line=dict(color=color, width=1), opacity=0.3, hoverinfo="skip"))
        if train.size:
            fig.add_trace(go.Scatter(x=steps, y=moving_average(train, smooth), mode="lines",
                                     name=_("{label} training text").format(label=label),
                                     line=dict(color=color, width=3 * scale),
                                     hovertemplate=_("step %{x}<br>%{y:.3f} bits/char") + "<extra>"
                                     + _("{label} training").format(label=label) + "</extra>"))
            top = max(top, float(np.nanmax(train[:5])))
        test = np.asarray(run["test"], dtype=np.float64)
        if test.size:
            fig.add_trace(go.Scatter(x=np.asarray(run["test_steps"]), y=test, mode="lines+markers",
                                     name=_("{label} held-out text").format(label=label),
                                     line=dict(color=color, width=2.5 * scale, dash="dash"),
                                     marker=dict(size=6 * scale, color=color),
                                     hovertemplate=_("step %{x}<br>%{y:.3f} bits/char") + "<extra>"
                                     + _("{label} held-out").format(label=label) + "</extra>"))
            finite = test[np.isfinite(test)]
            if finite.size:
                top = max(top, float(min(finite.max(), 2.5 * baseline)))
    fig.add_hline(y=baseline, line=dict(color=BOUND_COLOR, width=2, dash="dot"),
                  annotation_text=_("memoryless floor {bits:.2f} bits: the next character from the current one").format(
                      bits=baseline),
                  annotation_position="top right", annotation_font=dict(size=int(13 * scale), color="#444"))
    fig.update_xaxes(title_text=_("training step"), rangemode="tozero")
    fig.update_yaxes(title_text=_("bits per character"), range=[0, top * 1.08])
    return style(fig, height=height, scale=scale, title=title, legend_below=True)

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
    fig.add_trace(go.Bar(y=y, x=p_model, orientation="h", name=_("model (temperature 1)"), marker_color=color,
                         marker_line=outline, text=[percent(p) for p in p_model], textposition="outside",
                         cliponaxis=False, textfont=dict(size=int(14 * scale)), constraintext="none",
                         hovertemplate="%{customdata}: %{x:.3f}<extra>" + _("model") + "</extra>", customdata=shown))
    fig.add_trace(go.Bar(y=y, x=p_sampled, orientation="h", name=_("sampled from (temperature, top-k)"),
                         marker_color="#aaaaaa", marker_line=outline, customdata=shown,
                         hovertemplate="%{customdata}: %{x:.3f}<extra>" + _("sampling") + "</extra>"))
    if chosen is not None and 0 <= chosen < n:
        fig.add_annotation(x=max(p_model[chosen], p_sampled[chosen]), y=y[chosen], text=_("◀ sampled"),
                           showarrow=False, xanchor="left", xshift=58 * scale,
                           font=dict(size=int(14 * scale), color="#111"))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(tickvals=y, ticktext=ticks, tickfont=dict(family="monospace", size=int(17 * scale)))
    fig.update_xaxes(range=[0, 1.18], tickformat=".0%", title_text=_("probability of being next"))
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def sampling_entropy(sampled_bits, model_bits, uniform_bits: float, *, cell: str = "rnn", title: str | None = None,
                     scale: float = 1.0, height: int = 420) -> go.Figure:
    """How uncertain each character written was: the entropy in bits of the distribution it was drawn
    from (temperature applied) and of the model's own (temperature 1), at each character written, under
    the entropy of a uniform choice among all characters (`uniform_bits`)."""
    x = np.arange(1, len(sampled_bits) + 1)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=model_bits, mode="lines", name=_("model (temperature 1)"),
                             line=dict(color=CELL_COLORS.get(cell, "#555"), width=2 * scale, dash="dot")))
    fig.add_trace(go.Scatter(x=x, y=sampled_bits, mode="lines", name=_("sampled from"),
                             line=dict(color="#444", width=2.5 * scale)))
    fig.add_hline(y=uniform_bits, line=dict(color=BOUND_COLOR, width=2, dash="dash"),
                  annotation_text=_("every character equally likely: {bits:.2f} bits").format(bits=uniform_bits),
                  annotation_position="bottom right", annotation_font=dict(size=int(14 * scale), color="#444"))
    fig.update_xaxes(title_text=_("character written"), range=[0, len(x) + 1])
    fig.update_yaxes(title_text=_("entropy (bits)"), range=[-0.1, uniform_bits * 1.08])
    return style(fig, height=height, scale=scale, title=title, legend_below=True)


def decades(values: dict, n: int = 6) -> tuple[dict, float, float]:
    """log10 of each array of positive values (zeros floored at 10⁻³⁰⁰), and the range (lo, hi) of the
    last `n` whole powers of ten up to the largest value: a colour scale that shows n decades."""
    logs = {k: np.log10(np.maximum(np.asarray(v, dtype=np.float64), 1e-300)) for k, v in values.items()}
    hi = float(np.ceil(max(float(np.max(v)) for v in logs.values())))
    return logs, hi - n, hi


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
                                 hovertemplate=_("%{x} characters back<br>log10 = %{y:.2f}")
                                 + f"<extra>{label}</extra>"))
    lo, hi = finite_range(logs)
    set_log_y(fig, lo, hi, _("‖∂ log p(next) / ∂x‖  (log scale)"))
    fig.update_xaxes(title_text=_("characters back (0: the character just read)"), rangemode="tozero")
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


def signal_colour_html(text: str, values, kind: str, *, squash: bool = False, font_px: int = 18) -> str:
    """`text` coloured by one unit's signal (one value per character, on the fixed scale of its `kind`:
    "state" in [-1, 1], "gate" in [0, 1]), each character's exact value in its tooltip. With `squash`
    (a cell state) the colour is tanh of the value, so that it fits the same scale."""
    values = np.asarray(values, dtype=np.float64)
    tips = [f"#{t} '{display_char(ch)}': {v:+.3f}" for t, (ch, v) in enumerate(zip(text, values))]
    return text_colour_html(text, np.tanh(values) if squash else values, kind=kind, tips=tips, font_px=font_px)


def reach_colour_html(text: str, log10_values, position: int, lo: float, hi: float, *, back: int = 160,
                      font_px: int = 16) -> str:
    """The `back` characters up to `position` coloured by the log10 gradient reaching each of them."""
    start = max(0, position + 1 - back)
    v = np.asarray(log10_values, dtype=np.float64)
    tips = [_("{n} characters back: 10^{power:.1f}").format(n=position - s, power=v[s])
            for s in range(start, position + 1)]
    return text_colour_html(text[start:position + 1], v[start:position + 1], kind="grad", lo=lo, hi=hi, tips=tips,
                            font_px=font_px, max_height_px=300)
