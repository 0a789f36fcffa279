"""Serving a class: servers stop for certain, nginx routes each browser to one replica for good,
and `python -m deploy.serve` (make serve) leaves nothing running after Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy import serve
from deploy.processes import ROOT, Process, free_port, port_is_free
from deploy.serve import COOKIE, Classroom


def stubborn(tmp_path: Path, child: bool = True) -> list[str]:
    """A command busy in a loop, deaf to SIGTERM, with (if `child`) a child of its own just as deaf."""
    script = tmp_path / "stubborn.py"
    script.write_text("import signal, subprocess, sys\n"
                      "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      f"if {child} and sys.argv[1:] != ['child']:\n"
                      "    child = subprocess.Popen([sys.executable, __file__, 'child'])\n"
                      "    print('child', child.pid, flush=True)\n"
                      "while True:\n"
                      "    sum(range(100000))\n")
    return [sys.executable, str(script)]


def alive(pid: int) -> bool:
    """True while `pid` is a live process (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_log(proc: Process, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.log_tail():
            return proc.log_tail()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {proc.log_tail()!r}")


def test_stop_ends_a_busy_server_that_ignores_sigterm_and_its_children(tmp_path):
    proc = Process(stubborn(tmp_path), name="stubborn")
    child = int(wait_for_log(proc, "child ").split("child ")[1].split()[0])
    time.sleep(0.3)
    assert alive(proc.pid) and alive(child)
    t0 = time.monotonic()
    code = proc.stop(timeout=1.0)
    took = time.monotonic() - t0
    assert code == -signal.SIGKILL  # SIGTERM was ignored; the kill ended it
    assert 0.9 < took < 5
    assert not alive(proc.pid) and not alive(child)


def test_a_killed_owner_takes_its_servers_along(tmp_path):
    """Even when the benchmark or test that started a server is killed outright, the server dies."""
    owner_code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
                  "from deploy.processes import Process\n"
                  f"p = Process({stubborn(tmp_path, child=False)!r}, log={str(tmp_path / 'log')!r})\n"
                  "print(p.pid, flush=True)\n"
                  "import time; time.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    server = None
    try:
        server = int(owner.stdout.readline())
        time.sleep(0.5)
        assert alive(server)
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server)
    finally:
        owner.kill()
        owner.wait()
        if server is not None:  # whatever the outcome, leave nothing running
            try:
                os.killpg(server, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ------------------------------------------------------------------------------------- nginx
@pytest.fixture(scope="module")
def room():
    """Two replicas of a small one-slider app behind nginx, on free ports."""
    with Classroom(2, free_port(), replica_ports=[free_port(), free_port()],
                   script="benchmarks/minimal_app.py") as r:
        yield r


def get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def replica_of(room, cookie: str | None) -> str:
    return get(room.url + "/_stcore/health", cookie)[1]["X-Rnnviz-Replica"]


@pytest.mark.nginx
def test_nginx_gives_each_new_browser_a_cookie_that_pins_it_to_one_replica(room):
    status, headers, body = get(room.url + "/")
    assert status == 200 and b"<html" in body.lower()
    cookie = headers["Set-Cookie"].split(";")[0].split("=", 1)
    assert cookie[0] == COOKIE and len(cookie[1]) == 32
    replica = replica_of(room, cookie[1])
    assert {replica_of(room, cookie[1]) for _ in range(10)} == {replica}
    # a browser that already has its cookie is not given another one
    assert get(room.url + "/", cookie[1])[1]["Set-Cookie"] is None


@pytest.mark.nginx
def test_browsers_behind_one_address_spread_over_the_replicas(room):
    """A school's NAT shows one address for every student: the cookies still spread them."""
    seen = {}
    for i in range(40):
        seen.setdefault(replica_of(room, f"student-{i}"), []).append(i)
    assert set(seen) == {f"127.0.0.1:{p}" for p in room.replica_ports}
    assert min(len(v) for v in seen.values()) >= 5  # both take a real share (consistent hashing, 40 keys)


@pytest.mark.nginx
def test_a_dead_replica_is_replaced_and_its_students_are_served_meanwhile(room):
    victim = 0
    port = room.replica_ports[victim]
    cookie = next(f"s{i}" for i in range(200) if replica_of(room, f"s{i}") == f"127.0.0.1:{port}")
    room.replicas[victim].signal(signal.SIGKILL)
    room.replicas[victim].popen.wait()
    status, headers, _ = get(room.url + "/_stcore/health", cookie)
    assert status == 200 and headers["X-Rnnviz-Replica"].endswith(str(room.replica_ports[1]))
    assert room.restart_dead() == [victim]
    room.replicas[victim].wait_ready(room.replicas[victim].url + "/_stcore/health")
    deadline = time.monotonic() + 30  # nginx retries a failed replica after fail_timeout (5 s)
    while replica_of(room, cookie) != f"127.0.0.1:{port}" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert replica_of(room, cookie) == f"127.0.0.1:{port}"


@pytest.mark.nginx
def test_with_every_replica_down_students_see_a_page_that_says_so(tmp_path):
    with Classroom(1, free_port(), replica_ports=[free_port()], script="benchmarks/minimal_app.py") as r:
        r.replicas[0].stop()
        status, headers, body = get(r.url + "/Gradient_Flow")
        assert status == 502
        assert headers["Retry-After"] == "10"
        text = body.decode()
        assert "not ready yet" in text and 'http-equiv="refresh"' in text


@pytest.mark.nginx
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_serve_command_stops_every_process(tmp_path, how):
    """`python -m deploy.serve` (what `make serve` runs): ready, then Ctrl-C in its terminal (SIGINT to
    its process group) or SIGTERM (`docker stop`) leaves no process and no port behind."""
    port, first = free_port(), free_port()
    while not all(port_is_free(first + i) for i in range(2)):
        first = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        launcher = subprocess.Popen([sys.executable, "-m", "deploy.serve", "--replicas", "2", "--port", str(port),
                                     "--first-port", str(first), "--script", "benchmarks/minimal_app.py"],
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "TMPDIR": str(tmp_path)})  # its logs stay in tmp_path
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text() and time.monotonic() < deadline:
            assert launcher.poll() is None, log.read_text()
            time.sleep(0.2)
        assert get(f"http://127.0.0.1:{port}/_stcore/health")[2] == b"ok"
        children = [int(p) for p in Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()]
        assert len(children) == 3  # two replicas and nginx
        nginx_workers = [int(p) for c in children
                         for p in Path(f"/proc/{c}/task/{c}/children").read_text().split()]
        if how == "ctrl-c":
            os.killpg(launcher.pid, signal.SIGINT)
        else:
            launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(30) == 0
        assert "Stopped." in log.read_text()
        assert not any(alive(pid) for pid in [launcher.pid, *children, *nginx_workers])
        assert all(port_is_free(p) for p in (first, first + 1)) and port_is_free(port, "0.0.0.0")
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()



@pytest.mark.parametrize("n_cores, replicas", [(1, 2), (2, 3), (3, 5), (4, 6), (8, 12)])
def test_a_class_gets_one_and_a_half_replicas_per_core_by_default(monkeypatch, n_cores, replicas):
    """A replica's Python runs one thing at a time, so one per core leaves each a queue (the default and the
    measurement behind it are in deploy/serve.py): `make serve` without REPLICAS starts 1.5 per core, rounded up."""
    monkeypatch.setattr(serve, "cores", lambda: n_cores)
    assert serve.parser().parse_args([]).replicas == replicas
    assert serve.parser().parse_args(["--replicas", "1"]).replicas == 1
