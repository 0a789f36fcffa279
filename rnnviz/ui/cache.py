"""Caches: traces shared between sessions (keyed on the Scenario, small frozen scalars), and one memo
for what belongs to this session only.

    traces = ui.cached_traces(scenario, ("rnn", "lstm", "gru"))   # {cell: Trace}, shared read-only
    sample = ui.session_memo("lm_sample", key, lambda: lm.sample(...))  # this user's, recomputed on a new key
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ..spec import Scenario
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


@st.cache_resource(max_entries=24, ttl=1800, show_spinner=False)
def cached_depth_traces(scenario: Scenario, loss: str, cells: tuple) -> dict:
    """{cell: StackedTrace} of the scenario's stacked model built with each cell, with a loss of
    rnnviz.deep.STACKED_LOSSES (the tagging loss too); shared read-only like `cached_traces`."""
    from ..deep import scenario_traces

    return scenario_traces(scenario, loss, tuple(cells))
