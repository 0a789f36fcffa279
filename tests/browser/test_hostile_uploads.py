"""Hostile files in a real browser, on a live server.

Each hostile model file uploaded on Your Model and on the Text Lab gets its message within 10 s, no
page shows an exception, the server answers its health check all along, a second student's session
keeps moving a slider and sees its chart change, and the server's memory stays under its bound.
A model whose key names and file name hold markdown links, coloured text and remote images shows
none of them on any page, and the browser asks nothing of any other host."""
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch

from rnnviz.ui import sessions
from tests.files import hostile as h
from tests.support.browser import exceptions, open_page, set_slider, slider, wait_idle

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
FILES = [("deep.pt", h.deep_key_tuple, "nests containers more than 32 deep"),
         ("hash.pt", h.hash_bomb, "builds a structure out of copies of itself"),
         ("repr.pt", h.repr_bomb, "builds a structure out of copies of itself"),
         ("giant.pt", h.zero_stride_giant, "it is a view that repeats stored numbers"),
         ("cell.pt", h.cell_as_a_list, None)]   # Your Model: unknown cell; Text Lab: not a character model
NAME = "[click](http://evil.example/x) :red[alarm] ![i](http://evil.example/p.png).pt"
EVIL = {"head.[x](http://evil.example/a)": torch.zeros(1), "head.:red[alarm] :blue-background[bg]": torch.zeros(1),
        "head.![pixel](http://evil.example/p.png)": torch.zeros(1), "head.<img src=http://evil.example/i.png>":
        torch.zeros(1), "head.www.evil.example a@evil.example": torch.zeros(1)}


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


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def upload(page, uploader, name, data, timeout=10000):
    uploader.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    page.wait_for_timeout(300)
    wait_idle(page, timeout)


@pytest.mark.parametrize("path, uploader, said", [
    ("Your_Model", "first", "could not be used"),
    ("Text_Lab", "last", "was not loaded"),
])
def test_hostile_model_files_get_a_message_while_another_student_works(browser, app_server, path, uploader, said):
    server, url = app_server
    student, other = browser.new_page(), browser.new_page()   # two contexts: two sessions
    try:
        open_page(other, f"{url}/Gradient_Flow")
        student.goto(f"{url}/{path}")
        student.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
        wait_idle(student, 120000)
        box = getattr(student.get_by_test_id("stFileUploader"), uploader)
        gain = slider(other, "Recurrent gain")
        with Health(url) as health:
            for n, (name, make, message) in enumerate(FILES):
                t0 = time.monotonic()
                upload(student, box, name, make())
                alert = student.get_by_test_id("stAlert").filter(has_text=f"{name} {said}").first
                alert.wait_for(timeout=10000)
                assert time.monotonic() - t0 < 10, name
                assert message is None or message in alert.inner_text(), alert.inner_text()
                assert exceptions(student) == 0
                before = other.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')[0]"
                                        "._fullData[0].y, Number)")
                set_slider(other, "Recurrent gain", f"{float(gain.get_attribute('aria-valuetext')) + 0.01:.2f}")
                other.wait_for_function("(b) => { const el = document.querySelectorAll('.js-plotly-plot')[0];"
                                        " return el && el._fullData && JSON.stringify(Array.from(el._fullData[0].y,"
                                        " Number)) !== JSON.stringify(b); }", arg=before, timeout=30000)
                assert exceptions(other) == 0, n
                assert rss_mb(server.pid) < sessions.MAX_RSS / 2 ** 20
        SHOTS.mkdir(exist_ok=True)
        alert.scroll_into_view_if_needed()
        student.screenshot(path=str(SHOTS / f"hostile_{path.lower()}.png"))
    finally:
        student.close()
        other.close()
    assert server.alive()
    assert health.polls >= 3 and health.failures == 0 and health.slowest < 5.0, vars(health)   # each within its timeout


def test_no_markup_from_a_file_on_any_page(browser, app_server):
    server, url = app_server
    host = urllib.parse.urlsplit(url).netloc
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(f"{url}/Your_Model")
        page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
        wait_idle(page, 120000)
        upload(page, page.get_by_test_id("stFileUploader").first, NAME, h.saved({**h.lstm_state(), **EVIL}), 60000)
        page.get_by_text("Ignored 5 tensors").wait_for(timeout=60000)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "markup_your_model.png"), full_page=True)
        check_no_markup(page, host)
        page.get_by_role("button", name="Open in Step Through").click()
        for link, where in ((None, "Step_Through"), ("Gradient Flow", "Gradient_Flow")):   # the model still picked
            if link:
                page.get_by_test_id("stSidebar").get_by_role("link", name=link).click()
            page.wait_for_url(f"**/{where}**", timeout=60000)
            page.wait_for_selector(".js-plotly-plot", timeout=180000)
            # the new page has run once its picker shows the model's name, as written (word joiners aside)
            page.wait_for_function("(name) => document.body.innerText.replaceAll('\\u2060', '').includes(name)",
                                   arg="[click](http://evil.example/x)", timeout=180000)
            wait_idle(page, 180000)
            assert exceptions(page) == 0
            check_no_markup(page, host)
        page.goto(f"{url}/Text_Lab")
        wait_idle(page, 120000)
        upload(page, page.get_by_test_id("stFileUploader").last, NAME, h.saved({**EVIL, "cell": ["lstm"]}), 60000)
        page.get_by_text("was not loaded").first.wait_for(timeout=60000)
        check_no_markup(page, host)
    finally:
        page.close()
    outside = [u for u in requests if urllib.parse.urlsplit(u).netloc not in (host, "") and not u.startswith("data:")]
    assert outside == []


def check_no_markup(page, host):
    """No link, image or colour that came from the file: every link and image is the app's own, and the
    file's markup is on the page as the characters it was written with."""
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert all(urllib.parse.urlsplit(h).netloc in (host, "") for h in links), links
    images = page.eval_on_selector_all("img", "els => els.map(e => e.src)")
    assert all(s.startswith("data:") or urllib.parse.urlsplit(s).netloc in (host, "") for s in images), images
    coloured = page.eval_on_selector_all("[data-testid='stMarkdownContainer'] span[style*='color']",
                                         "els => els.map(e => e.textContent)")
    assert not any("alarm" in c or "bg" in c for c in coloured), coloured
    body = page.inner_text("body")
    assert "evil.example" not in body or ":red[alarm]" in body or "alarm" not in body


def test_with_lang_zh_hostile_uploads_are_explained_in_chinese(browser, app_server):
    """Your Model in Chinese: a hostile model file and a bad CSV each get their message in Chinese,
    with the file's own values quoted as they are and no English prose around them."""
    from tests.browser.test_chinese_pages import english_words
    from tests.files.test_messages_in_chinese import CODE, NAMES

    page = browser.new_page()
    try:
        open_page(page, f"{app_server[1]}/Your_Model?lang=zh")
        upload(page, page.get_by_test_id("stFileUploader").first, "giant.pt", h.zero_stride_giant())
        model = page.get_by_test_id("stAlert").filter(has_text="giant.pt 无法使用").first
        model.wait_for(timeout=10000)
        assert "张量 'weight_ih_l0'的形状为 [400000, 3]，共 1,200,000 个数" in model.inner_text()
        page.get_by_text("CSV 文件", exact=True).click()
        page.get_by_test_id("stFileUploader").nth(1).wait_for(timeout=30000)   # the sequence's uploader
        upload(page, page.get_by_test_id("stFileUploader").nth(1), "bad.csv", b"speed,angle\n1,2\n3,x7\n")
        csv = page.get_by_test_id("stAlert").filter(has_text="bad.csv 无法使用").first
        csv.wait_for(timeout=10000)
        assert "第 3 行第 2 列（angle）不是数字：'x7'。" in csv.inner_text()
        for alert in (model, csv):
            said = alert.get_by_test_id("stMarkdownContainer").inner_text()   # (not the icon's ligature)
            words = CODE.sub(" ", re.sub(r"'[^']*'|（angle）|\S+\.(pt|csv)", " ", said))
            assert not [w for w in english_words(words) if w not in NAMES], said
        assert exceptions(page) == 0
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "hostile_your_model_zh.png"), full_page=True)
    finally:
        page.close()


def test_a_message_already_shown_follows_the_language_switch(browser, app_server):
    """Your Model in English: a refused model file is explained in English; the sidebar's switch to 中文
    rewrites the same message in Chinese (no new upload), and English brings the English back."""
    page = browser.new_page()
    try:
        open_page(page, f"{app_server[1]}/Your_Model")
        upload(page, page.get_by_test_id("stFileUploader").first, "giant.pt", h.zero_stride_giant())
        alerts = page.get_by_test_id("stAlert").filter(has_text="giant.pt")
        alerts.filter(has_text="could not be used").first.wait_for(timeout=10000)
        english = alerts.first.get_by_test_id("stMarkdownContainer").inner_text()
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("中文", exact=True).click()
        alerts.filter(has_text="无法使用").first.wait_for(timeout=30000)
        wait_idle(page)
        chinese = alerts.first.get_by_test_id("stMarkdownContainer").inner_text()
        assert "张量 'weight_ih_l0'的形状为 [400000, 3]，共 1,200,000 个数" in chinese
        assert "could not be used" not in chinese and "lang=zh" in page.url
        assert exceptions(page) == 0
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "your_model_switched_to_zh.png"), full_page=True)
        sidebar.get_by_text("English", exact=True).click()
        alerts.filter(has_text="could not be used").first.wait_for(timeout=30000)
        wait_idle(page)
        assert alerts.first.get_by_test_id("stMarkdownContainer").inner_text() == english
    finally:
        page.close()
