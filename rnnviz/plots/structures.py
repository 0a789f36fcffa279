"""The four structures of a recurrent network, each a small unrolled chain: inputs below, the cell in the
middle, outputs above, and where the loss sits. Drawn from data (`STRUCTURES`), no model is run.
"""
from __future__ import annotations

import plotly.graph_objects as go

from ..i18n import N_, _
from .style import CELL_COLORS, style

LOSS_COLOR = "#ff7f0e"
DECODER_COLOR = "#f28e8c"      # a lighter red than the (encoder) RNN cell


def _structure(key: str, title: str, example: str, steps: int, inputs: tuple, outputs: tuple, encoder: int = 0):
    """A structure as data: its `steps` cells, the steps that read an input, the steps that write an output
    (each with its loss) and, for an encoder-decoder, how many of the first steps are the encoder. `title`
    and `example` are marked with N_ and translated when drawn."""
    return dict(key=key, title=title, example=example, steps=steps, inputs=inputs, outputs=outputs,
                encoder=encoder)


STRUCTURES = (
    _structure("one_to_many", N_("One-to-many"), N_("an image → a caption"), 4, (0,), (0, 1, 2, 3)),
    _structure("many_to_one", N_("Many-to-one"), N_("a review → its sentiment"), 4, (0, 1, 2, 3), (3,)),
    _structure("many_to_many", N_("Many-to-many (aligned)"), N_("a tag for every word"), 4, (0, 1, 2, 3),
               (0, 1, 2, 3)),
    _structure("encoder_decoder", N_("Encoder-decoder"), N_("a sentence → its translation"), 6, (0, 1, 2),
               (3, 4, 5), encoder=3),
)
WIDTH, GAP, ROW = 6.0, 1.0, 6.4      # a panel's width, the space between panels, a row's height (data units)
Y_IN, Y_CELL, Y_OUT, Y_LOSS, Y_TITLE = 0.0, 1.1, 2.2, 3.25, 3.8


def structures_diagram(highlight: str | None = None, *, title: str | None = None, scale: float = 1.0,
                       height: int = 520) -> go.Figure:
    """The four structures in a 2 × 2 grid, each an unrolled chain x → cell → y with a loss mark L on every
    output that has one; `highlight` (a key of STRUCTURES) is framed. Each structure's inputs, cells,
    outputs and losses are one trace each (meta: {"structure": key, "role": ...})."""
    fig = go.Figure()
    size = 24 * scale
    font = dict(size=int(15 * scale), color="white")
    shapes, notes = [], []
    for k, s in enumerate(STRUCTURES):
        x0, y0 = (k % 2) * (WIDTH + GAP), (1 - k // 2) * ROW
        step = WIDTH / s["steps"]
        xs = [x0 + (i + 0.5) * step for i in range(s["steps"])]
        first = k == 0

        def points(role, where, y, symbol, color, label, text, x=xs, s=s, first=first, y0=y0):
            fig.add_trace(go.Scatter(
                x=[x[i] for i in where], y=[y0 + y] * len(where), mode="markers+text", text=[text] * len(where),
                textfont=font, marker=dict(symbol=symbol, size=size, color=color, line=dict(width=0)),
                name=label, legendgroup=role, showlegend=first, hoverinfo="skip",
                meta={"structure": s["key"], "role": role}))

        # segments (x0, y0, x1, y1): input -> cell, cell -> output, cell -> next cell (the state passed on)
        links = ([(xs[i], Y_IN, xs[i], Y_CELL) for i in s["inputs"]] + [(xs[i], Y_CELL, xs[i], Y_OUT) for i in
                 s["outputs"]] + [(xs[i], Y_CELL, xs[i + 1], Y_CELL) for i in range(s["steps"] - 1)])
        losses = [(xs[i], Y_OUT, xs[i], Y_LOSS) for i in s["outputs"]]
        for role, segments, line in (("links", links, dict(color="#888", width=2.5 * scale)),
                                     ("loss links", losses, dict(color=LOSS_COLOR, width=2 * scale, dash="dot"))):
            fig.add_trace(go.Scatter(x=[v for a, _y, b, _z in segments for v in (a, b, None)],
                                     y=[v for _x, a, _w, b in segments for v in (y0 + a, y0 + b, None)],
                                     mode="lines", line=line, showlegend=False, hoverinfo="skip",
                                     meta={"structure": s["key"], "role": role}))
        cells = list(range(s["steps"]))
        colors = [DECODER_COLOR if s["encoder"] and i >= s["encoder"] else CELL_COLORS["rnn"] for i in cells]
        points("input", s["inputs"], Y_IN, "circle", "#7f7f7f", _("input x"), "x")
        fig.add_trace(go.Scatter(
            x=xs, y=[y0 + Y_CELL] * s["steps"], mode="markers+text", text=["h"] * s["steps"],
            textfont=dict(size=font["size"], color=["#5a0000" if c == DECODER_COLOR else "white" for c in colors]),
            marker=dict(symbol="square", size=size * 1.15, color=colors), name=_("cell (the same weights)"),
            legendgroup="cell", showlegend=first, hoverinfo="skip", meta={"structure": s["key"], "role": "cell"}))
        points("output", s["outputs"], Y_OUT, "circle", "#555", _("output y"), "y")
        points("loss", s["outputs"], Y_LOSS, "diamond", LOSS_COLOR, _("loss L"), "L")
        notes.append(dict(x=x0, y=y0 + Y_TITLE, xanchor="left", yanchor="bottom", showarrow=False,
                          text="<b>{}</b><br><span style='color:#555'>{}</span>".format(_(s["title"]), _(s["example"])),
                          align="left", font=dict(size=int(15 * scale))))
        if s["encoder"]:
            mid = (xs[s["encoder"] - 1] + xs[s["encoder"]]) / 2
            shapes.append(dict(type="line", x0=mid, x1=mid, y0=y0 - 0.45, y1=y0 + Y_OUT + 0.4,
                               line=dict(color="#bbb", width=1.5, dash="dash")))
            notes.append(dict(x=mid, y=y0 - 0.5, yanchor="top", showarrow=False, text=_("context"),
                              font=dict(size=int(13 * scale), color="#555")))
        if s["key"] == highlight:
            shapes.append(dict(type="rect", x0=x0 - 0.35, x1=x0 + WIDTH + 0.35, y0=y0 - 0.7, y1=y0 + Y_TITLE + 1.7,
                               line=dict(color="#111", width=2.5 * scale), fillcolor="rgba(0,0,0,0)"))
    fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_xaxes(visible=False, range=[-0.45, 2 * WIDTH + GAP + 0.45])
    fig.update_yaxes(visible=False, range=[-0.8, ROW + Y_TITLE + 1.8])
    fig = style(fig, height=height, scale=scale, title=title, legend_below=True)
    fig.update_layout(legend=dict(y=-0.02), margin=dict(l=10, r=10, b=10))
    return fig
