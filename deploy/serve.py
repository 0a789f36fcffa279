"""Serve rnnviz to a class: n Streamlit processes behind nginx, on one port.

    python -m deploy.serve [--replicas N] [--port 8500] [--first-port 8601] [--session-ttl 120]
    make serve REPLICAS=4 SERVE_PORT=8500

Starts N replicas of the app (`streamlit run viz_app.py` on 127.0.0.1:8601, 8602, ...; default N =
1.5 per core, rounded up: 3 on 2 cores), each with one compute thread, and nginx (Debian's package,
installed with apt-get if missing) listening on every interface at --port, routing each browser to one replica
for good (see deploy/nginx.conf). Every replica shares one cookie secret. A replica that dies is
restarted; its students reconnect to a fresh session on it. Ctrl-C (or SIGTERM, e.g. `docker
stop`) stops nginx and every replica, waiting for each, killing what does not stop.

Memory: a closed tab's session is dropped --session-ttl seconds after its WebSocket closed
(Streamlit's server.disconnectedSessionTTL; a tab that only lost its connection for a moment
reconnects to its session within that time). Streamlit reaps expired sessions lazily, when another
session disconnects.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from deploy.processes import ROOT, STREAMLIT, Process, port_is_free, stop_all, streamlit_command

DEPLOY = Path(__file__).resolve().parent
COOKIE = "rnnviz_replica"
# One compute thread per replica: N replicas on N cores, without thread pools fighting over them.
REPLICA_ENV = {"RNNVIZ_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_replicas() -> int:
    """Replicas to run on this machine: one and a half per core, rounded up (3 on 2 cores). A replica's Python
    runs one thing at a time (its sessions' script threads and its event loop share one interpreter lock),
    so one per core leaves each a queue: with 30 students moving sliders on 2 cores, 2 replicas sent the
    new chart after p95 2.26 s and 3 replicas after 0.72 s, at the same 64% of the cores
    (benchmarks/bench_class_server.py)."""
    return -(-3 * cores() // 2)


def find_nginx() -> str | None:
    """The nginx binary: $NGINX if set, else nginx on PATH or in the usual sbin folders; None if absent."""
    if os.environ.get("NGINX"):
        return shutil.which(os.environ["NGINX"])
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                          if os.access(p, os.X_OK)), None)


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's package with apt-get (as root, or through sudo) if missing."""
    found = find_nginx()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise SystemExit("nginx is not installed and there is no apt-get here: install nginx, then run again.")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        raise SystemExit("nginx is not installed: run `apt-get install nginx` as root, then run again.")
    print("nginx is not installed: installing Debian's package (apt-get install nginx)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
                   check=True, env=env)
    found = find_nginx()
    if not found:
        raise SystemExit("apt-get finished but no nginx binary was found.")
    return found


def upload_limit_mb(config: Path = ROOT / ".streamlit" / "config.toml") -> int:
    """Streamlit's server.maxUploadSize (MB) as the app configures it (Streamlit's default: 200)."""
    try:
        return int(tomllib.loads(config.read_text()).get("server", {}).get("maxUploadSize", 200))
    except (OSError, tomllib.TOMLDecodeError):
        return 200


def nginx_conf(run_dir: Path, listen: str, replica_ports: Sequence[int], *, body_limit_mb: int,
               template: Path = DEPLOY / "nginx.conf") -> str:
    """deploy/nginx.conf with its @FIELDS@ filled in."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in replica_ports)
    fields = {"RUN": str(run_dir), "LISTEN": listen, "SERVERS": servers, "COOKIE": COOKIE,
              # room for the multipart envelope around a file of exactly the limit
              "BODY_LIMIT": f"{body_limit_mb + 1}m"}
    text = template.read_text()
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"nginx.conf: no value for {', '.join(left)}")
    return text


class Classroom:
    """N Streamlit replicas and nginx in front of them. `start()`, then `url`; `stop()` ends all."""

    def __init__(self, replicas: int, port: int = 8500, *, first_port: int = 8601,
                 replica_ports: Sequence[int] | None = None, host: str = "",
                 script: str = "viz_app.py", session_ttl: int = 120, launcher: Sequence[str] = STREAMLIT,
                 env: dict | None = None, run_dir: Path | None = None, nginx: str | None = None):
        self.n, self.port, self.host = replicas, port, host
        self.replica_ports = list(replica_ports or range(first_port, first_port + replicas))
        self.script, self.launcher = script, list(launcher)
        self.keep_logs = run_dir is not None  # a temporary run directory goes when the class is stopped
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="rnnviz-serve-"))
        self.nginx_bin = nginx or find_nginx()
        self.options = {"server.disconnectedSessionTTL": session_ttl}
        # Shared by every replica, so a cookie one replica signed is valid on all of them.
        secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
        self.env = {**REPLICA_ENV, "STREAMLIT_SERVER_COOKIE_SECRET": secret, **(env or {})}
        self.replicas: list[Process | None] = [None] * replicas
        self.nginx: Process | None = None
        self.url = f"http://127.0.0.1:{port}"

    # ------------------------------------------------------------------ start
    def start(self, timeout: float = 180.0) -> Classroom:
        if self.nginx_bin is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        busy = [p for p in [self.port, *self.replica_ports] if not port_is_free(p, self.host or "0.0.0.0")]
        if busy:
            raise RuntimeError(f"port(s) {', '.join(map(str, busy))} already in use: choose others "
                               "(--port, --first-port)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)  # nginx's workers (user nobody when started as root) read the down page
        shutil.copy(DEPLOY / "down.html", self.run_dir / "rnnviz-down.html")
        (self.run_dir / "rnnviz-down.html").chmod(0o644)
        try:
            # All replicas boot at once (each imports torch), then nginx.
            for i in range(self.n):
                self.replicas[i] = self._replica(i)
            for p in self.replicas:
                p.wait_ready(f"{p.url}/_stcore/health", timeout)
            self.nginx = self._nginx()
            self.nginx.wait_ready(f"{self.url}/_stcore/health", 30)
        except BaseException:
            self.stop()
            raise
        return self

    def _replica(self, i: int) -> Process:
        """Replica i, started (not yet healthy)."""
        port = self.replica_ports[i]
        return Process(streamlit_command(self.script, port, options=self.options, launcher=self.launcher),
                       cwd=ROOT, env={**os.environ, **self.env}, log=self.run_dir / f"replica-{i + 1}.log",
                       name=f"replica {i + 1}", url=f"http://127.0.0.1:{port}")

    def _nginx(self) -> Process:
        listen = f"{self.host}:{self.port}" if self.host else str(self.port)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_conf(self.run_dir, listen, self.replica_ports, body_limit_mb=upload_limit_mb()))
        # `-e`: nginx's messages before it has read the configuration go to the run directory too.
        # On its owner's death nginx gets SIGTERM, so that it stops its workers itself.
        cmd = [self.nginx_bin, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "error.log")]
        return Process(cmd, log=self.run_dir / "nginx.log", name="nginx", url=self.url, death_signal=signal.SIGTERM)

    # ------------------------------------------------------------------ run
    def restart_dead(self) -> list[int]:
        """Restart replicas that have exited (and nginx); the indices of those restarted."""
        restarted = []
        for i, p in enumerate(self.replicas):
            if p is not None and not p.alive():
                print(f"replica {i + 1} exited (code {p.popen.returncode}); restarting. Its log: {p.log}",
                      flush=True)
                p.stop()
                self.replicas[i] = self._replica(i)
                restarted.append(i)
        if self.nginx is not None and not self.nginx.alive():
            print(f"nginx exited; restarting. Its log:\n{self.nginx.log_tail(1500)}", flush=True)
            self.nginx.stop()
            self.nginx = self._nginx()
        return restarted

    def stop(self) -> None:
        """nginx first (no new requests), then every replica at once: TERM, wait, KILL, wait."""
        if self.nginx is not None:
            self.nginx.stop()
        stop_all([p for p in self.replicas if p is not None])
        if not self.keep_logs:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def sessions(replica_url: str) -> dict[str, int]:
    """A replica's session counters from Streamlit's /_stcore/metrics: active sessions now, and how many
    connections were new sessions ("connect"), resumed ones ("reconnect") and closed ("disconnect")."""
    url = replica_url + "/_stcore/metrics?families=active_sessions&families=session_events"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        m = re.fullmatch(r'session_events_total\{type="(\w+)"\} (\d+)|active_sessions (\d+)', line.strip())
        if m:
            counts[m[1] or "active"] = int(m[2] or m[3])
    return counts


def lan_addresses() -> list[str]:
    """This machine's addresses that students on the same network can reach (best effort)."""
    found = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            found.append(s.getsockname()[0])
    except OSError:
        pass
    return [a for a in found if not a.startswith("127.")]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m deploy.serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=default_replicas(),
                    help="Streamlit processes (default: 1.5 per core, rounded up)")
    ap.add_argument("--port", type=int, default=8500, help="the port students open (default 8500)")
    ap.add_argument("--host", default="", help="the address nginx listens on (default: every interface)")
    ap.add_argument("--first-port", type=int, default=8601, help="the first replica's port (default 8601)")
    ap.add_argument("--session-ttl", type=int, default=120,
                    help="seconds a closed tab's session is kept for a reconnect (default 120)")
    ap.add_argument("--script", default="viz_app.py", help=argparse.SUPPRESS)
    return ap


def main(argv: Sequence[str] | None = None) -> None:
    ap = parser()
    args = ap.parse_args(argv)
    if args.replicas < 1:
        ap.error("--replicas must be at least 1")

    def stop_on(signum, _frame):
        raise KeyboardInterrupt
    # Also SIGINT: a shell starts background jobs with it ignored, and Ctrl-C must still stop everything.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop_on)

    nginx = ensure_nginx()
    room = Classroom(args.replicas, args.port, first_port=args.first_port, host=args.host,
                     script=args.script, session_ttl=args.session_ttl, nginx=nginx,
                     run_dir=Path(tempfile.mkdtemp(prefix="rnnviz-serve-")))  # logs kept for a look afterwards
    print(f"Starting {args.replicas} replica(s) on ports {room.replica_ports[0]}-{room.replica_ports[-1]} "
          f"and nginx on port {args.port} (logs in {room.run_dir})...", flush=True)
    try:
        room.start()
        print(f"\nrnnviz is ready for the class: {args.replicas} replica(s) behind nginx.", flush=True)
        for address in ["localhost", *lan_addresses()]:
            print(f"  http://{address}:{args.port}", flush=True)
        print("Ctrl-C stops everything.\n", flush=True)
        while True:
            time.sleep(2)
            room.restart_dead()
    except KeyboardInterrupt:
        print("\nStopping nginx and the replicas...", flush=True)
    finally:
        room.stop()
    print(f"Stopped. The logs are in {room.run_dir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
