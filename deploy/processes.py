"""Start servers and stop them for certain: Streamlit replicas, nginx, any long-running command.

Used by `make serve` (deploy/serve.py), the browser tests' server fixture and every benchmark, so
that no server outlives the command that started it. Imports nothing but the standard library.

    server = start_streamlit("viz_app.py")          # healthy when it returns
    ... server.url ...
    server.stop()                                     # gone when it returns, even if it ignored SIGTERM

Each process runs in its own process group (a new session), so a Ctrl-C in the terminal reaches
only the command that owns it, and `stop()` reaches the process and everything it started:
SIGTERM to the group, wait, SIGKILL to the group, wait. A busy Streamlit server can take longer
than ten seconds to act on SIGTERM; the kill does not wait for it. On Linux the process itself
(not what it starts) also receives a signal when the thread that started it dies (`setpriv
--pdeathsig`), so even an owner killed with SIGKILL leaves no server behind; start servers from the
thread that outlives them.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL

_running: list[Process] = []  # stopped at interpreter exit if the owner forgot


def _with_death_signal(cmd: list[str], sig: int) -> list[str]:
    """`cmd` prefixed so that it receives `sig` when the thread that started it dies (Linux, util-linux's
    setpriv; elsewhere `cmd` unchanged)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or not sys.platform.startswith("linux"):
        return cmd
    return [setpriv, "--pdeathsig", signal.Signals(sig).name.removeprefix("SIG"), "--", *cmd]


class Process:
    """A command running in its own process group, with its output in a log file."""

    def __init__(self, cmd: Sequence[str], *, cwd: Path | str = ROOT, env: dict | None = None,
                 log: Path | str | None = None, name: str | None = None, death_signal: int = signal.SIGKILL,
                 url: str | None = None):
        self.cmd = list(cmd)
        self.name = name or Path(self.cmd[0]).name
        self.url = url
        self._own_log = log is None  # a temporary log, removed when the process is stopped
        if log is None:
            fd, log = tempfile.mkstemp(prefix=f"rnnviz-{self.name}-", suffix=".log")
            os.close(fd)
        self.log = Path(log)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(_with_death_signal(self.cmd, death_signal), cwd=cwd, env=env,
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        _running.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, url: str, timeout: float = 90.0, body: bytes | None = b"ok") -> None:
        """Poll `url` until it answers 200 (with `body`, if given); raise with the log if the process
        exits or the time runs out (the process is then stopped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                self.stop()
                raise RuntimeError(f"{self.name} exited with code {self.popen.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if body is None or response.read() == body:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s:\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole process group (a no-op once the group is gone)."""
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM to the group, wait up to `timeout`, SIGKILL to the group, wait. Returns the exit code."""
        stop_all([self], timeout)
        if self._own_log:
            self.log.unlink(missing_ok=True)
        return self.popen.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<{self.name} pid={self.pid} {'running' if self.alive() else 'stopped'}>"


def stop_all(processes: Iterable[Process], timeout: float = STOP_TIMEOUT) -> None:
    """Stop several processes at once: every group gets SIGTERM, then a shared wait, then SIGKILL for
    the groups still there. Returns when every process has exited and been reaped."""
    processes = list(processes)
    for p in processes:
        if p.alive():
            p.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in processes:
        try:
            p.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in processes:
        # The group may outlive its leader (a child it started): kill what is left either way.
        p.signal(signal.SIGKILL)
        p.popen.wait()
        if p in _running:
            _running.remove(p)
    deadline = time.monotonic() + timeout
    while any(group_members(p.pid) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL is delivered asynchronously: return once the group is really gone


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) in process group `pgid` (Linux /proc; elsewhere an empty list)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


atexit.register(lambda: stop_all(list(_running), 2.0))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


STREAMLIT = (sys.executable, "-m", "streamlit")


def streamlit_command(script: str, port: int, *, address: str = "127.0.0.1", options: dict | None = None,
                      launcher: Sequence[str] = STREAMLIT) -> list[str]:
    """`streamlit run script` headless on address:port; `options` are extra `--section.name value` pairs."""
    base = {"server.headless": "true", "server.address": address, "server.port": port,
            "server.fileWatcherType": "none", "server.runOnSave": "false", "browser.gatherUsageStats": "false",
            "global.developmentMode": "false"}
    args = []
    for name, value in {**base, **(options or {})}.items():
        args += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return [*launcher, "run", script, *args]


def start_streamlit(script: str = "viz_app.py", port: int | None = None, *, cwd: Path | str = ROOT,
                    env: dict | None = None, options: dict | None = None, launcher: Sequence[str] = STREAMLIT,
                    log: Path | str | None = None, name: str = "streamlit", timeout: float = 90.0) -> Process:
    """Start one Streamlit server and return it once `/_stcore/health` answers "ok"."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Process(streamlit_command(script, port, options=options, launcher=launcher), cwd=cwd,
                   env={**os.environ, **(env or {})}, log=log, name=name, url=url)
    proc.wait_ready(url + "/_stcore/health", timeout)
    return proc


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
