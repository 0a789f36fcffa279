"""The sessions of one app process (one browser tab each): how many are served at once, and the
release of what idle ones keep.

    if not sessions.admit():          # in page_setup, after the navigation is drawn
        st.warning(sessions.FULL); st.stop()

A session is admitted while fewer than MAX_SESSIONS others are connected and the process's memory
(RSS) is below MAX_RSS; an admitted session stays admitted while it is connected. Other tabs are
told the class is full and to try again in a minute, rather than the replica running out of memory
for everyone. What a session keeps that can be computed again (its memos: `cache.session_memo`,
its models' traces) is dropped once it has been idle for IDLE_SECONDS; Streamlit itself drops a
closed tab's session.
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ..i18n import N_

MAX_SESSIONS = int(os.environ.get("RNNVIZ_MAX_SESSIONS", "60"))
MAX_RSS = int(os.environ.get("RNNVIZ_MAX_RSS_MB", "1536")) << 20   # the replica's stated bound
IDLE_SECONDS = float(os.environ.get("RNNVIZ_IDLE_SECONDS", "900"))
FULL = N_("The class is full on this server right now: it serves as many students as its memory allows. "
          "Try again in a minute.")  # translated where it is shown



def give_back_freed_memory() -> bool:
    """Make the C allocator return large freed blocks (a trace's arrays) to the system at once, so that
    the server's RSS follows what it holds. By default glibc raises its mmap threshold to the size of
    the first large block freed, after which blocks of that size come from heap arenas it seldom
    returns, and a replica that has shown a few large settings keeps their memory for good. Whether
    the setting took (False off glibc)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20))   # M_MMAP_THRESHOLD = 1 MiB, fixed
    except (OSError, AttributeError):
        return False


give_back_freed_memory()   # on import: the server process, before it computes anything large
_LOCK = threading.Lock()
_SEEN: dict = {}          # session id -> when it last ran a page
_ADMITTED: set = set()
_RELEASABLE: set = {"_trained_traces"}   # session_state keys that are only kept to save time
_SWEPT = [0.0]


def releasable(name: str) -> None:
    """Say that session_state[name] can be computed again (dropped when its session is idle)."""
    _RELEASABLE.add(name)


def rss() -> int:
    """This process's resident memory in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _active() -> dict | None:
    """{session id: its AppSession} of the connected sessions, or None outside a server."""
    try:
        manager = Runtime.instance()._session_mgr
        return {info.session.id: info.session for info in manager.list_active_sessions()}
    except Exception:  # noqa: BLE001 - no server (a test run), or a Streamlit without this table
        return None


def admit() -> bool:
    """Whether this session is served; records that it ran now, and releases idle sessions' data."""
    ctx = get_script_run_ctx()
    active = _active()
    if ctx is None or active is None:
        return True
    now = time.monotonic()
    with _LOCK:
        for gone in [s for s in _SEEN if s not in active]:
            _SEEN.pop(gone, None)
            _ADMITTED.discard(gone)
        _SEEN[ctx.session_id] = now
        if ctx.session_id not in _ADMITTED:
            if len(_ADMITTED) >= MAX_SESSIONS or rss() > MAX_RSS:
                return False
            _ADMITTED.add(ctx.session_id)
        due = now - _SWEPT[0] > min(60.0, IDLE_SECONDS / 4)
        if due:
            _SWEPT[0] = now
            idle = [s for s, seen in _SEEN.items() if now - seen > IDLE_SECONDS and s != ctx.session_id]
    if due:
        for sid in idle:
            _release(active.get(sid))
    return True


def _release(session) -> None:
    """Drop what an idle session keeps only to save time (it is computed again if the tab comes back)."""
    if session is None:
        return
    try:
        state = session.session_state
        for name in list(_RELEASABLE):
            if name in state:
                del state[name]
    except Exception:  # noqa: BLE001 - a session that is ending meanwhile
        pass
