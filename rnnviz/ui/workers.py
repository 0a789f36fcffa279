"""Training runs in worker processes, a fixed number at once, the rest queued in order.

    value = workers.run(job, work, show=..., waiting=..., alive=...)   # called by jobs.run

A run is forked from the app's process when one of the `slots()` trainers is free (the fork
inherits the page's `work` closure, so nothing of it has to be pickled), trains at the lowest priority
(`lower_priority`: only on cores the app leaves idle) so that the sliders of the other sessions keep
their speed, and sends what it has learned
back through a pipe: its progress at most every `PROGRESS_EVERY` seconds, its record (pickled by
value: models, histories) at most every `RECORD_EVERY` seconds, when asked for a chart, and at the
end. The script run that started it shows them (`show`) and touches Streamlit at least every
`ALIVE_EVERY` seconds (`alive`): a click or a closed tab ends that script run there, and then the
worker is asked to stop (it finishes its record, which comes back) and is killed after
`GRACE_SECONDS` if it has not ended. A run waiting for a trainer shows its place in the queue
(`waiting(ahead)`) and leaves the queue the same way.

The worker stops its work by raising `rnnviz.StopTraining` from `report`, which every training loop
of the engine ends on with its record finished.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

from ..train import StopTraining

NICE = 10                 # a worker's priority below the app's where the idle class is not available
PROGRESS_EVERY = 0.1      # seconds between progress messages
RECORD_EVERY = 0.5        # seconds between records (each one pickled whole)
ALIVE_EVERY = 0.5         # the script run touches Streamlit at least this often
GRACE_SECONDS = 5.0       # a stopped worker's time to send its last record before it is killed

_QUEUE = threading.Condition()
_WAITING: list = []       # tickets of the runs waiting for a trainer, in order
_RUNNING: set = set()     # tickets of the runs training now
_STOP = b"stop"


def slots() -> int:
    """Trainers at once: RNNVIZ_TRAINING_SLOTS, else one per core up to 4."""
    try:
        return max(1, int(os.environ["RNNVIZ_TRAINING_SLOTS"]))
    except (KeyError, ValueError):
        return max(1, min(os.cpu_count() or 1, 4))


def status() -> tuple[int, int]:
    """(runs training now, runs waiting) in this process."""
    with _QUEUE:
        return len(_RUNNING), len(_WAITING)


def run(job, work: Callable, *, show: Callable, waiting: Callable[[int], None], alive: Callable[[], None]) -> Any:
    """`work(report)` in a worker process once a trainer is free; what it returns. `job.record`,
    `job.fraction` and `job.text` follow the worker's reports; `show(chart, final)` is called after
    each; `waiting(ahead)` while it waits, with the number of runs ahead of it (training or queued)."""
    ticket = _wait_for_a_trainer(waiting)
    try:
        return _supervise(job, work, show, alive)
    finally:
        with _QUEUE:
            _RUNNING.discard(ticket)
            _QUEUE.notify_all()


def _wait_for_a_trainer(waiting: Callable[[int], None]) -> object:
    ticket = object()
    with _QUEUE:
        _WAITING.append(ticket)
    try:
        while True:
            with _QUEUE:
                if _WAITING[0] is ticket and len(_RUNNING) < slots():
                    _WAITING.pop(0)
                    _RUNNING.add(ticket)
                    return ticket
                ahead = _WAITING.index(ticket) + len(_RUNNING)
            waiting(ahead)   # touches Streamlit: raises when a click or a closed tab ended this script run
            with _QUEUE:
                _QUEUE.wait(ALIVE_EVERY)
    except BaseException:
        with _QUEUE:
            if ticket in _WAITING:
                _WAITING.remove(ticket)
            _QUEUE.notify_all()
        raise


def _supervise(job, work: Callable, show: Callable, alive: Callable[[], None]) -> Any:
    context = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe()
    proc = context.Process(target=_worker, args=(job, work, theirs, mine.fileno()), daemon=True)
    proc.start()
    theirs.close()
    ended = None
    try:
        touched = time.monotonic()
        while ended is None:
            if mine.poll(ALIVE_EVERY / 2):
                try:
                    message = pickle.loads(mine.recv_bytes())
                except (EOFError, OSError):
                    break
                ended = _take(job, message, show)
            elif not proc.is_alive():
                break
            if time.monotonic() - touched >= ALIVE_EVERY:
                alive()   # raises when a click or a closed tab ended this script run
                touched = time.monotonic()
    finally:
        if ended is None:   # interrupted here, or the worker died: its last record, if it sends one
            ended = _last_words(job, mine)
        if proc.is_alive():
            proc.kill()
        proc.join(2)
        mine.close()
    if ended is None:
        raise RuntimeError(f"The training process ended without an answer (exit code {proc.exitcode}).")
    _, record, value, error = ended
    if error is not None:
        raise error
    return value


def _take(job, message, show):
    """Apply one message of the worker to the job; the final message, or None."""
    kind, record, *rest = message
    if record is not None:
        job.record = record
    if kind == "end":
        return message
    fraction, text, chart, final = rest
    job.fraction, job.text = float(fraction), text
    if show is not None:
        show(chart, final)
    return None


def _last_words(job, mine) -> tuple | None:
    try:
        mine.send_bytes(_STOP)
    except OSError:
        return None
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        if not mine.poll(max(0.0, deadline - time.monotonic())):
            break
        try:
            message = pickle.loads(mine.recv_bytes())
        except (EOFError, OSError):
            break
        if _take(job, message, None) is not None:
            return message
    return None


# ------------------------------------------------------------------------------------ in the worker
def _worker(job, work: Callable, conn, parent_end: int):
    """The forked process: `work(report)`, its reports sent, its end sent, then exit (never returns)."""
    try:
        _let_go_of_the_app(conn.fileno(), parent_end)
        lower_priority()
        import torch

        torch.set_num_threads(1)
        sent = {"progress": 0.0, "record": 0.0}

        def report(record, fraction: float, text: str = "", *, chart: bool = False, final: bool = False):
            job.record = record
            if conn.poll():   # "stop", or the app's end of the pipe closed
                raise StopTraining()   # a user's Stop or a closed tab: "Interrupted at step n of N."
            now = time.monotonic()
            with_record = chart or final or now - sent["record"] >= RECORD_EVERY
            if with_record or now - sent["progress"] >= PROGRESS_EVERY:
                conn.send_bytes(pickle.dumps(("report", record if with_record else None, fraction, text, chart,
                                              final)))
                sent["progress"] = now
                if with_record:
                    sent["record"] = now

        try:
            value, error = work(report), None
        except BaseException as exc:  # noqa: BLE001 - the app's side raises it again
            value, error = None, exc
        try:
            answer = pickle.dumps(("end", job.record, value, error))
        except Exception:  # noqa: BLE001 - an exception or value that does not pickle
            answer = pickle.dumps(("end", job.record, None, RuntimeError(repr(error) if error else "unpicklable")))
        conn.send_bytes(answer)
        conn.close()
    finally:
        os._exit(0)


def lower_priority() -> str:
    """Make this process train only on CPU time the app leaves over: Linux's idle scheduling class
    (a weight of about 3 against the app's 1024; nice 10 would still take a tenth of a core that a
    slider is waiting for), else nice NICE. Which one it got."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    except (AttributeError, OSError):
        os.nice(NICE)
        return f"nice {NICE}"


def _let_go_of_the_app(keep: int, parent_end: int):
    """Close the app's sockets in the worker (the browsers' connections, the listening port), so
    that a closed tab's connection closes and nothing of the app is answered from here."""
    try:
        os.close(parent_end)
    except OSError:
        pass
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd == keep:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass
