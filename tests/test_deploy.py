"""Servers stop for certain: a busy server that ignores SIGTERM, its children, and servers whose owner
was killed."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.processes import ROOT, Process


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
                  f"p = Process({stubborn(tmp_path, child=False)!r}, name='stubborn')\n"
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
