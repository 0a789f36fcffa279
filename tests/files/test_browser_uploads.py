"""Hostile model files uploaded in a real browser, on Your Model and on the Text Lab: each gets its
message within 10 s, no page shows an exception, and the server answers its health check all along."""
import threading
import time
import urllib.request

import pytest

from tests.browser import exceptions, wait_idle
from tests.files import hostile as h

pytestmark = pytest.mark.browser

FILES = [("deep.pt", h.deep_key_tuple, "nests containers more than 32 deep"),
         ("hash.pt", h.hash_bomb, "builds a structure out of copies of itself"),
         ("giant.pt", h.zero_stride_giant, "it is a view that repeats stored numbers"),
         ("cell.pt", h.cell_as_a_list, None)]   # Your Model: unknown cell; Text Lab: not a character model


class Health:
    """Polls the server's health check every 0.3 s in a thread; records failures and the slowest."""

    def __init__(self, url):
        self.url, self.failures, self.slowest, self.polls = url, 0, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                ok = urllib.request.urlopen(self.url + "/_stcore/health", timeout=5).read() == b"ok"
            except OSError:
                ok = False
            self.failures += not ok
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.polls += 1
            self._stop.wait(0.3)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def upload(page, uploader, name, data):
    uploader.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    page.wait_for_timeout(300)
    wait_idle(page, 10000)


@pytest.mark.parametrize("path, uploader, said", [
    ("Your_Model", "first", "could not be used"),
    ("Text_Lab", "last", "was not loaded"),
])
def test_hostile_model_files_get_a_message_and_the_server_stays_up(page, app_server, path, uploader, said):
    server, url = app_server
    page.goto(f"{url}/{path}")
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
    wait_idle(page, 120000)
    box = getattr(page.get_by_test_id("stFileUploader"), uploader)
    with Health(url) as health:
        for name, make, message in FILES:
            t0 = time.monotonic()
            upload(page, box, name, make())
            alert = page.get_by_test_id("stAlert").filter(has_text=f"{name} {said}").first
            alert.wait_for(timeout=10000)
            assert time.monotonic() - t0 < 10, name
            assert message is None or message in alert.inner_text(), alert.inner_text()
            assert exceptions(page) == 0
    assert server.alive()
    assert health.polls >= 3 and health.failures == 0 and health.slowest < 2.0, vars(health)
