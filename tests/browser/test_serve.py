"""A class served through nginx to two replicas (what `make serve` runs): each browser stays on its
replica through slider reruns, page switches, an upload and a dropped connection, and sees its own
numbers; the two replicas serve different browsers."""
import io
import os
import signal
import urllib.request
from pathlib import Path

import pytest
import torch

from deploy.processes import free_port
from deploy.serve import COOKIE, Classroom, sessions
from tests.support.browser import exceptions, open_page, set_slider, wait_chart_y, wait_idle
from tests.support.engine import engine_trace

pytestmark = [pytest.mark.browser, pytest.mark.nginx]
VIEW = {"width": 1280, "height": 800}
SLOW = 180000  # ms: the first page of each replica imports torch and loads the compiled engine


@pytest.fixture(scope="module")
def room():
    with Classroom(2, free_port(), replica_ports=[free_port(), free_port()]) as r:
        yield r


def replica_of(room, cookie: str) -> str:
    """The replica nginx routes a browser with this cookie to (http://host:port)."""
    request = urllib.request.Request(room.url + "/_stcore/health", headers={"Cookie": f"{COOKIE}={cookie}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return "http://" + response.headers["X-Rnnviz-Replica"]


def nav(page, name):
    page.get_by_test_id("stSidebar").get_by_role("link", name=name).click()
    page.wait_for_url(f"**/{name.replace(' ', '_')}**")
    wait_idle(page, SLOW)


def shows_own_gain(page, gain: str):
    assert page.get_by_role("slider", name="Recurrent gain").get_attribute("aria-valuetext") == gain
    wait_chart_y(page, engine_trace("rnn", recurrent_gain=float(gain)).log10_grad_norm, timeout=SLOW)
    assert exceptions(page) == 0


def test_each_browser_keeps_its_session_on_its_own_replica(browser, room):
    # A new browser: nginx hands it a cookie, which pins it to one replica.
    a = browser.new_context(viewport=VIEW)
    pa = a.new_page()
    open_page(pa, f"{room.url}/Gradient_Flow", SLOW)
    cookie_a = next(c["value"] for c in a.cookies() if c["name"] == COOKIE)
    home_a = replica_of(room, cookie_a)
    # A second browser whose cookie nginx routes to the other replica.
    cookie_b = next(f"b{i}" for i in range(200) if replica_of(room, f"b{i}") != home_a)
    home_b = replica_of(room, cookie_b)
    b = browser.new_context(viewport=VIEW)
    b.add_cookies([{"name": COOKIE, "value": cookie_b, "url": room.url}])
    pb = b.new_page()
    open_page(pb, f"{room.url}/Gradient_Flow", SLOW)
    assert {home_a, home_b} == {r.url for r in room.replicas}
    assert sessions(home_a)["active"] == 1 and sessions(home_b)["active"] == 1

    # Each moves the gain slider to its own value (reruns) and sees that value's numbers.
    browsers = ((pa, "0.95", home_a), (pb, "0.84", home_b))
    for page, gain, _ in browsers:
        set_slider(page, "Recurrent gain", gain)
    for page, gain, _ in browsers:
        shows_own_gain(page, gain)

    # Another page and back: the setting follows the session.
    for page, gain, _ in browsers:
        nav(page, "Step Through")
        assert page.get_by_role("slider", name="Recurrent gain").get_attribute("aria-valuetext") == gain
        nav(page, "Gradient Flow")
        shows_own_gain(page, gain)

    # The connection drops (nginx's worker dies and is replaced): each browser reconnects to the same
    # replica, which resumes its session rather than starting a new one.
    before = {home: sessions(home) for home in (home_a, home_b)}
    master = room.nginx.pid
    for worker in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        os.kill(int(worker), signal.SIGKILL)
    for home in (home_a, home_b):
        for _ in range(120):
            if sessions(home)["reconnect"] > before[home]["reconnect"]:
                break
            pa.wait_for_timeout(500)
        after = sessions(home)
        assert after["reconnect"] == before[home]["reconnect"] + 1
        assert after["connect"] == before[home]["connect"] and after["active"] == 1
    for page, gain, _ in browsers:
        page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=SLOW)
        shows_own_gain(page, gain)

    # An upload travels over plain HTTP, apart from the WebSocket: it must reach the session's replica.
    nav(pb, "Your Model")
    buf = io.BytesIO()
    torch.save(torch.nn.GRU(2, 5).state_dict(), buf)
    pb.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(
        files=[{"name": "mine.pt", "mimeType": "application/octet-stream", "buffer": buf.getvalue()}])
    pb.get_by_test_id("stAlertContentSuccess").filter(has_text="GRU").wait_for(timeout=SLOW)
    wait_idle(pb, SLOW)
    assert exceptions(pb) == 0
    assert sessions(home_b)["active"] == 1 and sessions(home_a)["active"] == 1
    a.close()
    b.close()
