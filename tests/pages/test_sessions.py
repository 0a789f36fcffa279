"""How many sessions one server admits: a class beyond the session cap, or a server beyond its memory
bound, is told that the class is full (with the navigation still there), an admitted tab stays admitted,
a closed tab frees its place, and what an idle session keeps only to save time is released."""
from types import SimpleNamespace

import pytest

from rnnviz.i18n import _
from rnnviz.ui import sessions
from tests.support.apphelp import figures, run_page


@pytest.fixture
def server(monkeypatch):
    """A fake server: `open(sid, connected, rss)` makes `sid` the running session, with these sessions
    connected (each with its own session_state) and this RSS; returns what `admit()` says."""
    clock, states = [1000.0], {}
    monkeypatch.setattr(sessions, "_SEEN", {})
    monkeypatch.setattr(sessions, "_ADMITTED", set())
    monkeypatch.setattr(sessions, "_SWEPT", [0.0])
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    monkeypatch.setattr(sessions, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def open_(sid, connected, rss=0):
        monkeypatch.setattr(sessions, "get_script_run_ctx", lambda: SimpleNamespace(session_id=sid))
        monkeypatch.setattr(sessions, "_active", lambda: {
            s: SimpleNamespace(session_state=states.setdefault(s, {})) for s in connected})
        monkeypatch.setattr(sessions, "rss", lambda: rss)
        return sessions.admit()

    return SimpleNamespace(open=open_, clock=clock, states=states)


def test_a_fourth_student_is_turned_away_until_a_tab_closes(server):
    tabs = ["a", "b", "c", "d"]
    assert all(server.open(s, tabs) for s in "abc")
    assert not server.open("d", tabs)              # the cap is 3
    assert server.open("a", tabs)                  # an admitted tab keeps its place
    assert server.open("d", ["b", "c", "d"])       # "a" closed: "d" gets its place


def test_a_server_beyond_its_memory_bound_admits_no_new_session(server, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 60)
    assert server.open("a", ["a", "b"], rss=100 << 20)
    assert not server.open("b", ["a", "b"], rss=sessions.MAX_RSS + 1)
    assert server.open("a", ["a", "b"], rss=sessions.MAX_RSS + 1)   # the admitted one is still served
    assert server.open("b", ["a", "b"], rss=sessions.MAX_RSS - 1)


def test_an_idle_session_releases_what_it_keeps_only_to_save_time(server, monkeypatch):
    monkeypatch.setattr(sessions, "IDLE_SECONDS", 900)
    sessions.releasable("test_memo")
    assert server.open("a", ["a", "b"]) and server.open("b", ["a", "b"])
    server.states["b"].update(test_memo=(1, "kept"), own_choice=3)
    server.clock[0] += 600
    assert server.open("a", ["a", "b"])
    assert "test_memo" in server.states["b"]        # 10 minutes idle: kept
    server.clock[0] += 400
    assert server.open("a", ["a", "b"])
    assert "test_memo" not in server.states["b"]    # over 15 minutes idle: released
    assert server.states["b"]["own_choice"] == 3    # what the user chose is never released


def test_a_page_turned_away_says_the_class_is_full_and_keeps_its_navigation(monkeypatch):
    monkeypatch.setattr(sessions, "admit", lambda: False)
    at = run_page("pages/2_Gradient_Flow.py")
    assert not at.exception
    assert [w.value for w in at.warning] == [_(sessions.FULL)]
    assert not figures(at)                                             # nothing computed for it
    assert any("Gradient" in str(link.proto) for link in at.get("page_link"))  # the navigation is drawn
