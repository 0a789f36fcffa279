"""Short-term memory, word by word: each word's share of a network's final hidden state, one row per
network, coloured by the share (the lecture's "what time is it?" picture), and gradient curves of
several variants of one cell told apart by colour.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from .numbers import plain
from .style import GATE_SCALE, finite_range, set_log_y, style, thinned


def word_share_grid(words, shares: dict, *, method: str, title: str | None = None, scale: float = 1.0,
                    height: int = 300) -> go.Figure:
    """Rows: networks ({label: shares [W]}, fractions summing to 1); columns: the words in reading
    order. Each cell is coloured by the word's share (0 dark, 1 bright) and labelled with it in
    percent. `method` (how the shares were measured) is written under the figure."""
    labels = list(shares)
    z = np.array([np.asarray(shares[k], dtype=np.float64) for k in labels])
    shown = [f"“{plain(w)}”" for w in words]
    text = [[f"{100 * v:.0f}%" if v >= 0.005 else "<1%" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z, x=shown, y=labels, zmin=0.0, zmax=1.0, colorscale=GATE_SCALE, text=text, texttemplate="%{text}",
        textfont=dict(size=int(20 * scale)), xgap=4, ygap=4,
        colorbar=dict(title=dict(text=_("share")), tickvals=[0, 0.5, 1], ticktext=["0", "50%", "100%"]),
        hovertemplate="%{y}: %{x} holds %{text} of the final state<extra></extra>"))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=int(18 * scale)))
    fig.update_xaxes(side="top", tickfont=dict(size=int(18 * scale)))
    note = wrap(_("Method: {method}").format(method=_(method)), int(60 / scale))
    fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=-0.04,
                       xanchor="left", yanchor="top", align="left", showarrow=False,
                       font=dict(size=int(13 * scale), color="#555"))
    fig = style(fig, height=height, scale=scale, title=title, legend=False)
    fig.update_layout(margin=dict(t=110 if title else 60, b=int((24 + 20 * (note.count("<br>") + 1)) * scale)))
    return fig


def wrap(text: str, width: int) -> str:
    """Plain text broken into lines of at most about `width` characters (Plotly's <br>), at spaces."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line])


def labelled_gradients(log10_norms: dict, colors: dict, *, title: str | None = None, scale: float = 1.0,
                       height: int = 440) -> go.Figure:
    """log10 ‖∂L/∂h_k‖ against steps back for several variants ({label: log10 values [T]}), each in
    its own colour ({label: colour}): e.g. one RNN with three activations."""
    fig = go.Figure()
    for label, y in log10_norms.items():
        y = np.asarray(y, dtype=np.float64)
        lag = np.arange(len(y) - 1, -1, -1)
        fig.add_trace(go.Scatter(**thinned(lag, y), name=label, mode="lines",
                                 line=dict(color=colors.get(label, "#555"), width=3 * scale),
                                 hovertemplate="%{x} steps back<br>log10 = %{y:.2f}<extra>" + label + "</extra>"))
    lo, hi = finite_range(list(log10_norms.values()))
    set_log_y(fig, lo, hi, "‖∂L/∂h_k‖  (log scale)")
    fig.update_xaxes(title_text=_("steps back in time  (T−1−k)"))
    return style(fig, height=height, scale=scale, title=title)
