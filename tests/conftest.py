"""Shared fixtures: a real Streamlit server and Chromium for the browser tests.

Browser tests are marked `browser`. They need Chromium (`/usr/bin/chromium`, or the path in
$CHROMIUM); without it they are skipped with the reason, unless RNNVIZ_REQUIRE_BROWSER is set
(as in CI), where a missing browser is an error. Tests marked `nginx` serve the app through nginx
(Debian's package); the same holds with RNNVIZ_REQUIRE_NGINX.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import rnnviz
from deploy.processes import start_streamlit
from deploy.serve import find_nginx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def pytest_configure(config):
    rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process
    config.addinivalue_line("markers", "browser: drives a real Chromium against a running app")
    config.addinivalue_line("markers", "nginx: serves the app through nginx (deploy/)")


def pytest_collection_modifyitems(config, items):
    missing = {
        "browser": (not chromium_available(), "RNNVIZ_REQUIRE_BROWSER",
                    f"no Chromium at {CHROMIUM} (install Debian's 'chromium' or set CHROMIUM=)"),
        "nginx": (find_nginx() is None, "RNNVIZ_REQUIRE_NGINX", "no nginx (install Debian's 'nginx' or set NGINX=)"),
    }
    for marker, (absent, required, reason) in missing.items():
        if not absent or not any(marker in item.keywords for item in items):
            continue
        if os.environ.get(required):
            raise pytest.UsageError(f"{required} is set but there is {reason}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def app_server():
    """(process, base url) of the app served by `streamlit run viz_app.py` for this test session."""
    server = start_streamlit("viz_app.py")
    yield server, server.url
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[1]
