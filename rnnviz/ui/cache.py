"""Caches: traces shared between sessions (keyed on the Scenario, small frozen scalars), and one memo
for what belongs to this session only.

    traces = ui.cached_traces(scenario, ("rnn", "lstm", "gru"))   # {cell: Trace}, shared read-only
    sample = ui.session_memo("lm_sample", key, lambda: lm.sample(...))  # this user's, recomputed on a new key
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st

from ..spec import KNOBS, Scenario
from ..sweeps import jacobian_cost
from ..trace import Trace

# Traces shared between sessions are bounded in memory: up to SHARED_TRACE_BYTES each (estimated),
# a few dozen of them; a larger trace is kept for its own session only (the latest one).
SHARED_TRACE_BYTES = 64 << 20
_BYTES_PER_STATE = {"rnn": 40, "lstm": 100, "gru": 80}  # arrays and factors per (time step, unit), measured
# Budget of multiply-adds for Jacobian products on one page view (about a quarter second).
JACOBIAN_BUDGET = 3e9


def session_memo(name: str, key: Any, compute: Callable[[], Any], spinner: str | None = None) -> Any:
    """`compute()`, kept in this session as `st.session_state[name] = (key, value)` and computed again
    only when `key` changes: for what is this user's own (a trained model's outputs), never shared.
    `spinner` says what is being computed, while it is."""
    kept = st.session_state.get(name)
    if kept is None or kept[0] != key:
        if spinner:
            with st.spinner(spinner):
                kept = st.session_state[name] = (key, compute())
        else:
            kept = st.session_state[name] = (key, compute())
    return kept[1]


def cached_trace(scenario: Scenario) -> Trace:
    """The trace of the scenario's own cell (see `cached_traces` for the caching)."""
    return cached_traces(scenario, (scenario.cell,))[scenario.cell]


def cached_traces(scenario: Scenario, cells: tuple) -> dict:
    """{cell: Trace} of the scenario built with each of these cells, on the same input and seed,
    computed in parallel. Small traces are shared read-only between sessions; a trace too large to
    share is kept for this session alone."""
    cells = tuple(cells)
    size = sum(_BYTES_PER_STATE[c] for c in cells) * scenario.spec.hidden_size * scenario.seq_len
    if size <= SHARED_TRACE_BYTES:
        return _shared_traces(scenario, cells)
    return session_memo("_own_traces", (scenario, cells), lambda: scenario.traces(cells))


@st.cache_resource(max_entries=24, ttl=1800, show_spinner=False)
def _shared_traces(scenario: Scenario, cells: tuple) -> dict:
    return scenario.traces(cells)


def jacobian_lag_limit(cell: str, H: int, T: int) -> int:
    """How many lags of Jacobian products fit the page's budget."""
    return int(min(T - 1, max(1, JACOBIAN_BUDGET // jacobian_cost(cell, H, 1))))


# A slider precomputed in the browser (plots.with_slider): every value of a knob's grid traced and drawn
# once per process, shared by every session with the same other settings. Only while one trace is cheap:
# T·max(H, 32)² up to FLUID_COST (the defaults: 2·10⁵; a small H still costs its time per step); above
# it the server's slider alone moves the chart. The grids are computed by one background thread, newest
# request first, so that no page run waits for one and no more than one core works on them.
FLUID_COST = 1_000_000
_SLIDER_ENTRIES = 16                      # grids kept (each a few hundred kB of figures), least recently used out
_SLIDER_PENDING = 4                       # requests waiting; older ones are dropped (asked again on a later run)
_slider_figures: OrderedDict = OrderedDict()
_slider_pending: OrderedDict = OrderedDict()
_slider_lock = threading.Lock()
_slider_worker: list = []                 # the worker thread while it runs (emptied, under the lock, as it ends)


def fluid_cost_ok(scenario: Scenario) -> bool:
    """Whether the traces of `scenario` are cheap enough to precompute a slider's grid of them."""
    return scenario.seq_len * max(scenario.spec.hidden_size, 32) ** 2 <= FLUID_COST


def slider_figures(scenario: Scenario, cells: tuple, knob: str, build: Callable[[dict, Any], Any],
                   key: tuple, *, wait: bool = False) -> dict | None:
    """{value: build({cell: Trace}, value)} for every value of `knob`'s grid, the other settings those
    of `scenario`, shared read-only between sessions; `key` names what `build` draws (its title, scale,
    height). None when a trace costs more than FLUID_COST, or while the grid is being computed in the
    background (a later call finds it; `wait=True` computes it here instead)."""
    if not fluid_cost_ok(scenario):
        return None
    entry = (scenario.replace(**{knob: KNOBS[knob].default}), tuple(cells), knob, key)
    with _slider_lock:
        if entry in _slider_figures:
            _slider_figures.move_to_end(entry)
            return _slider_figures[entry]
        if not wait:
            _slider_pending[entry] = build
            _slider_pending.move_to_end(entry)
            while len(_slider_pending) > _SLIDER_PENDING:
                _slider_pending.popitem(last=False)
            if not _slider_worker:  # no worker, or the last one has said it is done
                _slider_worker[:] = [threading.Thread(target=_compute_pending, name="rnnviz-slider-grids",
                                                      daemon=True)]
                _slider_worker[0].start()
            return None
    return _compute(entry, build)


def _compute(entry: tuple, build) -> dict:
    base, cells, knob, _ = entry
    figures = {v: build(base.replace(**{knob: v}).traces(cells), v) for v in KNOBS[knob].grid()}
    with _slider_lock:
        _slider_figures[entry] = figures
        while len(_slider_figures) > _SLIDER_ENTRIES:
            _slider_figures.popitem(last=False)
    return figures


def _compute_pending() -> None:
    try:  # Linux: this thread alone runs at a lower priority, so page runs come first
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
    while True:
        with _slider_lock:
            if not _slider_pending:
                _slider_worker.clear()  # under the lock: a request from now on starts a new worker
                return
            entry, build = _slider_pending.popitem(last=True)  # the newest request first
            if entry in _slider_figures:
                continue
        try:
            _compute(entry, build)
        except Exception:  # noqa: BLE001  a grid that cannot be computed is not offered: the page keeps its plain chart
            continue


@st.cache_resource(max_entries=2, show_spinner=False)
def pretrained_training_lab(settings):
    """The Training Lab's stored run for these settings ({cell: FitResult}, shared read-only), or None."""
    from ..labs import pretrained

    return pretrained.training_lab(settings)


def pretrained_text_lab(values: dict):
    """A new FitResult of the Text Lab's stored run if `values` (its knobs) are the defaults, else None
    (its own copy: a session may go on to train it)."""
    from ..labs import pretrained

    return pretrained.text_lab(values)
