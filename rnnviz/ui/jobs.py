"""Training runs: the one runner the Training Lab, the Text Lab and Translation use.

    job = jobs.start("lab", settings)                        # this session's run of "lab" (replaces the last)
    jobs.run(job, work, bar=st.empty(), live=st.empty(), figure=loss_figure)
    job = jobs.latest("lab")                                 # on any later run: the last job, once it has let go

`work(report)` trains and calls `report(record, fraction, text)` after every step. The record (what
was learned so far: a FitResult, a dict of them, a (model, history) pair) goes into `job.record` at
once, so a run that is stopped keeps it; at most every `bar_every` seconds the progress bar shows
`fraction` and `text`, and every `chart_every` seconds (or when `report(..., chart=True)`) the live
chart shows `figure(record)`; `final=True` (a last step) updates the bar at once.

Stopping. A click (Stop, or any other widget) ends the running script run at its next Streamlit
call, inside `report`: the engine's training loops (`rnnviz.fit`, the translator's `train`) finish
their record on any exception before it goes on, `finish(record)` runs and `job.done` is set; the
next script run waits for that (`latest`) before it reads the job. Stop's `on_click` sets
`job.stop_requested`, so the page can tell a Stop from another click.

Where the work runs. Each run is trained in a worker process (`rnnviz.ui.workers`), a fixed number
at once (`workers.slots()`, one per core up to 4), the others queued in order with their place shown
in the progress bar ("2 runs ahead of yours"). The script run that started it shows its progress and
is what a click or a closed tab ends; then the worker is told to stop (`report` raises
`rnnviz.StopTraining` there), sends back its finished record and ends, or is killed within
`workers.GRACE_SECONDS`. RNNVIZ_TRAINING_SLOTS=0 trains in the script's own thread instead.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ..i18n import N_, _
from . import workers
from .page import CHART_CONFIG

_KEY = "_job_{}"
_UIDS = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One training run of this session."""

    name: str
    settings: Any                       # what the run was started with
    record: Any = None                  # what was learned so far, kept when the run is stopped
    fraction: float = 0.0               # progress, 0 to 1
    text: str = ""                      # progress, in words
    stop_requested: bool = False        # Stop was pressed
    done: threading.Event = field(default_factory=threading.Event)
    uid: int = field(default_factory=lambda: next(_UIDS))  # unique in this process: a key for what it produced

    @property
    def running(self) -> bool:
        return not self.done.is_set()


def start(name: str, settings: Any) -> Job:
    """A new job `name` of this session, replacing the last one."""
    job = st.session_state[_KEY.format(name)] = Job(name, settings)
    return job


def latest(name: str, timeout: float = 60.0, waiting: str | None = None) -> Job | None:
    """This session's last job `name`, or None. A job that a click has just interrupted is given
    `timeout` seconds to finish its record (with a spinner saying `waiting`, if given)."""
    job = st.session_state.get(_KEY.format(name))
    if job is not None and job.running:
        if waiting:
            with st.spinner(waiting):
                job.done.wait(timeout)
        else:
            job.done.wait(timeout)
    return job


def forget(name: str) -> None:
    """Drop this session's job `name` (one that was stopped before it learned anything)."""
    st.session_state.pop(_KEY.format(name), None)


def request_stop(name: str) -> None:
    """on_click of a Stop button: ask the running job `name` to stop (it keeps what it learned)."""
    job = st.session_state.get(_KEY.format(name))
    if job is not None:
        job.stop_requested = True


def run(job: Job, work: Callable[[Callable[..., None]], Any], *, bar=None, live=None,
        figure: Callable[[Any], Any] | None = None, finish: Callable[[Any], None] | None = None,
        bar_every: float = 0.25, chart_every: float | None = 1.5) -> Any:
    """Run `work(report)` in this script run (see the module's docstring) and return what it returns.
    `bar` and `live` are placeholders (st.empty()) for the progress bar and the live chart;
    `finish(record)` runs at the end however the work ended (also when a click interrupted it:
    then it may only touch plain data, since every Streamlit call raises)."""
    shown = {"bar": 0.0, "chart": time.perf_counter()}

    def show(chart: bool = False, final: bool = False) -> None:
        now = time.perf_counter()
        if bar is not None and (now - shown["bar"] >= bar_every or final):
            shown["bar"] = now
            bar.progress(min(1.0, job.fraction), text=job.text)
        due = chart_every is not None and now - shown["chart"] >= chart_every
        if live is not None and figure is not None and job.record is not None and (chart or due):
            shown["chart"] = now
            live.plotly_chart(figure(job.record), theme=None, config=CHART_CONFIG)

    def report(record, fraction: float, text: str, *, chart: bool = False, final: bool = False) -> None:
        job.record, job.fraction, job.text = record, float(fraction), text
        show(chart, final)

    def waiting(ahead: int) -> None:
        if bar is not None:
            bar.progress(0.0, text=_(_AHEAD_ONE if ahead == 1 else _AHEAD_MANY).format(n=ahead, slots=workers.slots()))

    def alive() -> None:
        if bar is not None:
            bar.progress(min(1.0, job.fraction), text=job.text or _(_STARTING))

    try:
        if os.environ.get("RNNVIZ_TRAINING_SLOTS") == "0":
            return work(report)
        return workers.run(job, work, show=show, waiting=waiting, alive=alive)
    finally:
        try:
            if finish is not None:
                finish(job.record)
        finally:
            job.done.set()


_AHEAD_ONE = N_("Waiting for a free trainer: 1 run is ahead of yours ({slots} train at once).")
_AHEAD_MANY = N_("Waiting for a free trainer: {n} runs are ahead of yours ({slots} train at once).")
_STARTING = N_("Starting…")
