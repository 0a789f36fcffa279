"""Caches: traces shared between sessions (keyed on the Scenario, small frozen scalars), and one memo
for what belongs to this session only.

    traces = ui.cached_traces(scenario, ("rnn", "lstm", "gru"))   # {cell: Trace}, shared read-only
    sample = ui.session_memo("lm_sample", key, lambda: lm.sample(...))  # this user's, recomputed on a new key
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.io as pio
import streamlit as st
import torch

from .. import plots
from ..spec import KNOBS, Scenario
from ..sweeps import jacobian_cost
from ..trace import Trace
from . import sessions

# Traces shared between sessions: one cache per process, bounded by entries, bytes and age, so that
# a day of class use with many distinct settings keeps the replica's memory bounded (SECURITY.md:
# about 1.5 GB per replica: ~0.6 GB for the app and its libraries, SHARED_BYTES here, SHARED_FIGURE_BYTES
# of shared figures (about 1.3 times that as Python objects), the rest for the views being computed and
# the sessions' own models). A trace larger than SHARED_BYTES is not kept: it is computed for the run
# that shows it.
SHARED_BYTES = 576 << 20
SHARED_ENTRIES = 64
SHARED_SECONDS = 1800
SHARED_TRACE_BYTES = SHARED_BYTES
_BYTES_PER_STATE = {"rnn": 40, "lstm": 100, "gru": 80}  # arrays and factors per (time step, unit), measured
_BYTES_PER_STATE.update(lru=100, mingru=60, minlstm=80, s6=400)  # estimated; the S6 has N = 4 states per unit
# Budget of multiply-adds for Jacobian products on one page view (about a quarter second).
JACOBIAN_BUDGET = 3e9


class Bounded:
    """A process-wide cache: at most `entries` values, `max_bytes` of them (as `size` says) and
    `seconds` old, the least recently used dropped first. A key being computed is computed once:
    other sessions asking for it wait for that result (the class opens the teacher's link together)."""

    def __init__(self, entries: int, max_bytes: int, seconds: float):
        self.entries, self.max_bytes, self.seconds = entries, max_bytes, seconds
        self._items: OrderedDict = OrderedDict()   # key -> (value, bytes, time stored)
        self._busy: dict = {}                      # key -> Event, while one session computes it
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(b for _, b, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key, compute: Callable[[], Any], size: Callable[[Any], int], expected: int = 0) -> Any:
        """The value of `key`, computed by `compute()` unless kept. `expected`: about how many bytes the
        value will take; the least recently used values are dropped to make that room before it is
        computed, so that what is kept and what is being computed stay within the process's bound together."""
        while True:
            with self._lock:
                self._expire()
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
                busy = self._busy.get(key)
                if busy is None:
                    busy = self._busy[key] = threading.Event()
                    self._make_room(expected)
                    break
            busy.wait(600)
        try:
            value = compute()
        finally:
            with self._lock:
                self._busy.pop(key, None)
            busy.set()
        nbytes = size(value)
        if nbytes <= self.max_bytes:
            with self._lock:
                self._items[key] = (value, nbytes, time.monotonic())
                total = sum(b for _, b, _ in self._items.values())
                while len(self._items) > self.entries or total > self.max_bytes:
                    total -= self._items.popitem(last=False)[1][1]
        return value

    def clear(self):
        with self._lock:
            self._items.clear()

    def _make_room(self, expected: int):
        total = sum(b for _, b, _ in self._items.values())
        while self._items and total + expected > self.max_bytes:
            total -= self._items.popitem(last=False)[1][1]

    def _expire(self):
        now = time.monotonic()
        while self._items and now - next(iter(self._items.values()))[2] > self.seconds:
            self._items.popitem(last=False)


_SHARED = Bounded(SHARED_ENTRIES, SHARED_BYTES, SHARED_SECONDS)


def shared_cache() -> Bounded:
    """The process's cache of shared traces (for the benchmarks and the memory checks)."""
    return _SHARED


def session_memo(name: str, key: Any, compute: Callable[[], Any], spinner: str | None = None) -> Any:
    """`compute()`, kept in this session as `st.session_state[name] = (key, value)` and computed again
    only when `key` changes: for what is this user's own (a trained model's outputs), never shared.
    `spinner` says what is being computed, while it is."""
    sessions.releasable(name)
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
    computed in parallel and shared read-only between sessions (see `Bounded`)."""
    cells = tuple(cells)
    per_state = sum(_BYTES_PER_STATE[c] for c in cells) * _layers(scenario)
    estimate = per_state * scenario.spec.hidden_size * scenario.seq_len
    return _SHARED.get((scenario, cells), lambda: scenario.traces(cells), lambda traces: max(estimate, nbytes(traces)),
                       expected=estimate)


def nbytes(value, depth: int = 0) -> int:
    """The bytes of the arrays and tensors inside `value` (a trace, a dict of them), a few levels deep."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if depth > 4:
        return 0
    if isinstance(value, dict):
        return sum(nbytes(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v, depth + 1) for v in value)
    if hasattr(value, "__dict__"):
        return sum(nbytes(v, depth + 1) for v in vars(value).values())
    return 0


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
_slider_stop = threading.Event()          # set when the process exits: the worker stops between two traces
# Figures as pages show them, shared between sessions as Plotly's plain dicts: a chart with its slider (a few
# hundred kB to a few MB as JSON: one per value, language and scale, so that a class moving sliders to the same
# values shares them) and the charts drawn from shared traces alone.
SHARED_FIGURE_BYTES = 48 << 20   # counted as their JSON
_shared_figures = Bounded(entries=96, max_bytes=SHARED_FIGURE_BYTES, seconds=SHARED_SECONDS)


def fluid_cost_ok(scenario: Scenario) -> bool:
    """Whether the traces of `scenario` are cheap enough to precompute a slider's grid of them (a stacked
    model costs one trace per layer and direction)."""
    return scenario.seq_len * max(scenario.spec.hidden_size, 32) ** 2 * _layers(scenario) <= FLUID_COST


def _layers(scenario: Scenario) -> int:
    """How many one-layer traces a trace of the scenario's model holds (layers × directions)."""
    return scenario.spec.num_layers * (2 if scenario.spec.bidirectional else 1)


def slider_figures(scenario: Scenario, cells: tuple, knob: str, build: Callable[[dict, Any], Any],
                   key: tuple, *, wait: bool = False) -> dict | None:
    """{value: build({cell: Trace}, value)} for every value of `knob`'s grid, the other settings those
    of `scenario`, shared read-only between sessions; `key` names what `build` draws (its title, scale,
    height). None when a trace costs more than FLUID_COST, or while the grid is being computed in the
    background (a later call finds it; `wait=True` computes it here instead)."""
    if not fluid_cost_ok(scenario) or os.environ.get("RNNVIZ_FLUID") == "off":  # off: the server's slider only
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


def slider_spec(scenario: Scenario, cells: tuple, knob: str, build: Callable[[dict, Any], Any], key: tuple,
                figure: Callable[[], Any], *, label: str, scale: float) -> dict | None:
    """The figure a page shows with its slider (`plots.slider_spec`: `figure()`, drawn at the scenario's own
    value of `knob`, and the grid of `slider_figures`), put together once per process and shared read-only
    by every session showing the same settings in the same language, or None while there is no grid."""
    figures = slider_figures(scenario, cells, knob, build, key)
    if figures is None:
        return None
    value = scenario.values()[knob]
    entry = ("slider", scenario, tuple(cells), knob, key, label, scale)   # figure() is build(traces, value)
    return _shared_figures.get(entry, lambda: plots.slider_spec({**figures, value: figure()}, value, label=label,
                                                                 scale=scale), size=_json_bytes)


def shared_figure(key: tuple, build: Callable[[], Any]) -> dict:
    """`build()` as Plotly's plain dict, built once per process for `key` and shared read-only."""
    return _shared_figures.get(key, lambda: build().to_dict(), size=_json_bytes)


def _json_bytes(spec: dict) -> int:
    return len(pio.to_json(spec, validate=False))


def _compute(entry: tuple, build) -> dict | None:
    base, cells, knob, _ = entry
    figures = {}
    for v in KNOBS[knob].grid():
        if _slider_stop.is_set():
            return None
        figures[v] = build(base.replace(**{knob: v}).traces(cells), v)
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


@atexit.register
def _stop_slider_worker() -> None:
    """At exit, let the worker finish the trace it is computing and stop: a thread still inside the
    engine's compiled code while the process tears down its libraries aborts the process."""
    _slider_stop.set()
    with _slider_lock:
        _slider_pending.clear()
        worker = _slider_worker[0] if _slider_worker else None
    if worker is not None:
        worker.join(timeout=30)


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


@st.cache_resource(max_entries=2, show_spinner=False)
def pretrained_translation(config):
    """Translation's stored run for this TrainConfig, (model, history, assessment), shared read-only
    (the page only runs the model; Train trains a new one), or None."""
    from ..labs import pretrained

    return pretrained.translation(config)


@st.cache_resource(max_entries=24, ttl=1800, show_spinner=False)
def cached_depth_traces(scenario: Scenario, loss: str, cells: tuple) -> dict:
    """{cell: StackedTrace} of the scenario's stacked model built with each cell, with a loss of
    rnnviz.deep.STACKED_LOSSES (the tagging loss too); shared read-only like `cached_traces`."""
    from ..deep import scenario_traces

    return scenario_traces(scenario, loss, tuple(cells))
