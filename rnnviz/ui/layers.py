"""One layer of a stacked or bidirectional model, for the views that show one layer at a time.

    tr = ui.layer_view(tr, "user", scale=ctx.scale)   # a StackedTrace: its grid, a layer / direction
                                                        # selector, and the chosen layer's Trace
"""
from __future__ import annotations

import streamlit as st

from .. import plots
from ..deep import DIRECTIONS, StackedTrace
from ..i18n import _
from .page import chart


def layer_view(tr, key: str, *, scale: float = 1.0, grid: bool = True, container=None):
    """A Trace passes through unchanged. For a StackedTrace: (with `grid`) the heatmap of
    ‖∂L/∂h_t^(l)‖ over layers × steps, then a selector of layer (and direction), and the Trace of the
    layer picked: its gradient is the stacked model's total derivative at that layer."""
    if not isinstance(tr, StackedTrace):
        return tr
    c = container if container is not None else st
    directions = list(range(tr.directions))
    if grid:
        rows = [DIRECTIONS[d] for d in directions] if tr.bidirectional else None
        name = plots.plain(_("{n} layers").format(n=tr.num_layers))
        chart(plots.depth_time_grids({name: [tr.grad_grid(d) for d in directions]},
                                     rows=rows, scale=scale, height=300 + 120 * (len(directions) - 1),
                                     title=_("‖∂L/∂h_t^(l)‖ of every layer")), key=f"{key}_layers_grid", container=c)
    left, right = c.columns(2)
    layer = left.segmented_control(_("Layer shown below"), list(range(1, tr.num_layers + 1)), default=tr.num_layers,
                                   key=f"{key}_layer") or tr.num_layers
    d = 0
    if tr.bidirectional:
        pick = right.segmented_control(_("Direction"), list(DIRECTIONS), default=DIRECTIONS[0], format_func=_,
                                       key=f"{key}_direction")
        d = DIRECTIONS.index(pick or DIRECTIONS[0])
    c.caption(_("The views below show layer {layer} ({direction}), whose gradient is the whole model's: what "
                "reaches it through time and from the layers above.").format(layer=layer, direction=_(DIRECTIONS[d]))
              + (_(" The backward direction reads the sequence from its last step: its step 0 is the sequence's "
                   "last step.") if d else ""))
    return tr.trace(layer - 1, d)
