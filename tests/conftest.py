"""Shared fixtures: a real Streamlit server and Chromium for the browser tests.

Browser tests are marked `browser`. They need Chromium (`/usr/bin/chromium`, or the path in
$CHROMIUM); without it they are skipped with the reason, unless RNNVIZ_REQUIRE_BROWSER is set
(as in CI), where a missing browser is an error.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium against a running app")


def pytest_collection_modifyitems(config, items):
    if chromium_available():
        return
    if os.environ.get("RNNVIZ_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"RNNVIZ_REQUIRE_BROWSER is set but no Chromium at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (install Debian's 'chromium' or set CHROMIUM=)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(script: str = "viz_app.py", port: int | None = None, cwd: Path = ROOT):
    """Start `streamlit run` on a free local port; return (process, base url) once healthy."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false", "--global.developmentMode", "false"]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited: " + proc.stdout.read().decode(errors="replace")[-2000:])
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy in 90 s")


@pytest.fixture(scope="session")
def app_server():
    """(process, base url) of the app served by `streamlit run viz_app.py` for this test session."""
    proc, url = start_server()
    yield proc, url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[1]


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
