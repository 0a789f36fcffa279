"""Plotly figure builders, by kind of figure: arrays (or a Trace whose numbers are computed) in,
go.Figure out. Nothing here runs a model or starts a computation of the engine.

    style        the colours (each with one meaning), fonts, log axes, thinning of long lines
    numbers      numbers as text: 2.51 × 10⁻⁴⁷, LaTeX, percentages, user text safe for labels
    gradients    ‖∂L/∂h_k‖, Jacobian products and the Pascanu bound, eigenvalues of W_hh
    states       heatmaps of states and gates, units over time, saturation, the chain, equations
    depth        a stacked model's gradient over layers x steps, and its factors through time and depth
    neuron       One Neuron: trajectory, factors, cobweb, bifurcation
    training     loss curves, gradient norms and clipping, the gradient's reach, binary addition
    text         the character model: bits per character, next characters, the uncertainty of each
                 character written, text coloured by a value
    translation  the encoder-decoder's states, its candidates, accuracy
    frames       a figure with a slider that switches precomputed frames in the browser
    memory       each word's share of the final state; gradient curves of a cell's variants
    spectra      eigenvalues on the unit circle; the Beyond LSTM figures (horizon, γ, parity)
    structures   one-to-many, many-to-one, many-to-many, encoder-decoder: where inputs enter and the loss sits

Every builder is also a name of this package (`plots.gradient_vs_lag`).
"""
from .depth import depth_time_grids, factor_grids
from .frames import slider_spec, with_slider
from .gradients import F32_MAX_LOG10, F32_TINY_LOG10, eigenvalue_plane, gradient_vs_lag, jacobian_chain, jacobian_vs_lag
from .memory import labelled_gradients, word_share_grid
from .neuron import bias_grid, bifurcation_diagram, cobweb, cobweb_axis, neuron_gradient, neuron_trajectory
from .numbers import percent, plain, power_label, sci, tex_number
from .spectra import parity_counter, radius_horizon, state_size, unit_circle
from .states import (
    OVERFLOW_COLOR,
    STATE_LINEAR_MAX,
    cell_equations_tex,
    chain_diagram,
    downsample_time,
    gate_title,
    heatmap,
    saturation_bars,
    symlog,
    symlog_ticks,
    unit_lines,
)
from .structures import STRUCTURES, structures_diagram
from .style import (
    BOUND_COLOR,
    CELL_COLORS,
    GATE_SCALE,
    GRAD_SCALE,
    MAX_LINE_POINTS,
    STATE_SCALE,
    decimate,
    lag_axis,
    log_ticks,
    moving_average,
    style,
)
from .text import (
    NEUTRAL_STYLE,
    bpc_curves,
    colour_legend_html,
    colour_levels,
    decades,
    input_gradient_figure,
    next_char_bars,
    reach_colour_html,
    sampling_entropy,
    signal_colour_html,
    text_colour_html,
)
from .training import (
    addition_example,
    grad_norm_steps,
    loss_curves,
    one_two_five_ticks,
    reach_heatmaps,
    smoothing_window,
)
from .translation import (
    accuracy_by_gap,
    accuracy_by_length_bars,
    accuracy_over_time,
    top_candidates,
    translation_states,
)

__all__ = [
    "BOUND_COLOR", "CELL_COLORS", "F32_MAX_LOG10", "F32_TINY_LOG10", "GATE_SCALE", "GRAD_SCALE", "MAX_LINE_POINTS",
    "NEUTRAL_STYLE", "OVERFLOW_COLOR", "STATE_LINEAR_MAX", "STATE_SCALE", "accuracy_by_gap",
    "accuracy_by_length_bars", "accuracy_over_time", "addition_example", "bias_grid", "bifurcation_diagram",
    "bpc_curves", "cell_equations_tex", "chain_diagram", "cobweb", "cobweb_axis", "colour_legend_html",
    "colour_levels", "decades", "decimate", "depth_time_grids", "downsample_time", "eigenvalue_plane", "factor_grids",
    "gate_title", "grad_norm_steps", "gradient_vs_lag", "heatmap", "input_gradient_figure", "jacobian_chain",
    "jacobian_vs_lag", "lag_axis", "log_ticks", "loss_curves", "moving_average", "neuron_gradient",
    "neuron_trajectory", "next_char_bars", "one_two_five_ticks", "percent", "plain", "power_label",
    "reach_colour_html", "reach_heatmaps", "sampling_entropy", "saturation_bars", "sci", "signal_colour_html",
    "smoothing_window",
    "style", "symlog", "symlog_ticks", "tex_number", "text_colour_html", "top_candidates", "translation_states",
    "unit_lines",
    "labelled_gradients", "slider_spec", "with_slider", "word_share_grid", "parity_counter", "radius_horizon",
    "state_size",
    "unit_circle", "STRUCTURES", "structures_diagram",
]
