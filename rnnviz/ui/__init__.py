"""The app's Streamlit layer, the only package of rnnviz that imports Streamlit:

    page     page chrome: page_setup / finish on every page, navigation, share links, charts, CSS
    knobs    knob widgets built from KNOBS, and the address bar (through the spec's one URL codec)
    cache    traces shared between sessions, keyed on the Scenario; a memo for this session's own
    exports  download buttons for a page's numbers, weights and a PyTorch script
    models   the models of this session (trained or uploaded), offered on the explorer pages
    jobs     the one training runner: progress, live chart, Stop that keeps what was learned
    labs     the labs' shared parts: a row of metrics, Train and Stop, the Text Lab's text, model and files
    untrusted  the one inert path for untrusted text: file names, keys of a file, messages that quote them
    workers  training in worker processes, a fixed number at once, the rest queued (used by jobs)
    sessions how many sessions a server admits, and the release of idle sessions' memos

The names pages use are names of this package: `ui.knob`, `ui.chart`, `ui.cached_traces`, ...
"""
from . import jobs, labs
from .cache import (
    FLUID_COST,
    JACOBIAN_BUDGET,
    SHARED_TRACE_BYTES,
    cached_depth_traces,
    cached_trace,
    cached_traces,
    jacobian_lag_limit,
    pretrained_text_lab,
    pretrained_training_lab,
    pretrained_translation,
    session_memo,
)
from .exports import export_box, model_export_box, scenario_export_box
from .knobs import (
                    carried_params,
                    check_url,
                    knob,
                    language_params,
                    link_params,
                    query_value,
                    relabel,
                    show_notes,
                    shown,
                    sync_url,
                    token,
                    url_value,
                    widget_value,
)
from .layers import (
                    DEPTH_KNOBS,
                    depth_knobs,
                    layer_grid,
                    layer_input_words,
                    layer_name,
                    layer_selector,
                    layer_view,
                    one_layer,
                    picked_layer,
                    stack_words,
)
from .models import (
                    BUILT,
                    MODEL_SOURCE_KEY,
                    TRAINED_KEY,
                    TrainedModel,
                    model_source,
                    open_trained,
                    remember_trained,
                    trace_trained,
)
from .page import (
                    CHART_CONFIG,
                    PAGES,
                    ROOT,
                    PageContext,
                    chart,
                    controls,
                    finish,
                    gate_heatmaps,
                    overflow_alerts,
                    page_setup,
                    share_box,
                    shared_chart,
                    slider_chart,
)
from .untrusted import Kept, failure, inert, plain, read_upload, reason, say

__all__ = [
    "BUILT", "CHART_CONFIG", "DEPTH_KNOBS", "FLUID_COST", "JACOBIAN_BUDGET", "Kept", "MODEL_SOURCE_KEY", "PAGES",
    "PageContext", "ROOT", "SHARED_TRACE_BYTES", "TRAINED_KEY", "TrainedModel", "cached_depth_traces", "cached_trace",
    "cached_traces", "carried_params", "chart", "check_url", "controls", "depth_knobs", "export_box", "failure",
    "finish", "gate_heatmaps", "inert", "jacobian_lag_limit", "jobs", "knob", "labs", "language_params", "layer_grid",
    "layer_input_words", "layer_name", "layer_selector", "layer_view", "link_params", "model_export_box",
    "model_source", "one_layer", "open_trained", "overflow_alerts", "page_setup", "picked_layer", "plain",
    "pretrained_text_lab", "pretrained_training_lab", "pretrained_translation", "query_value", "read_upload", "reason",
    "relabel", "remember_trained", "say", "scenario_export_box", "session_memo", "share_box", "shared_chart",
    "show_notes", "shown", "slider_chart", "stack_words", "sync_url", "token", "trace_trained", "url_value",
    "widget_value",
]
