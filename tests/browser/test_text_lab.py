"""The Text Lab in a real browser: train, stop (the model is kept), sample; user text is shown as
text, never run; 5000 coloured characters render without freezing the page."""
import pytest

from tests.support.browser import exceptions, wait_idle

pytestmark = pytest.mark.browser

COLOURED = "[data-testid='stHtml'] div[style*='monospace']"


def _open(page, url):
    """Open the page (it has no chart until a model is trained)."""
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=90000)
    wait_idle(page, 90000)
    page.get_by_test_id("stBaseButton-primary").wait_for(timeout=30000)


def _train(page, timeout=120000):
    page.get_by_test_id("stBaseButton-primary").click()
    page.wait_for_timeout(500)
    wait_idle(page, timeout)


def test_train_stop_keeps_the_model_and_it_writes(page, app_url):
    _open(page, f"{app_url}/Text_Lab?cell=GRU&lm_steps=20000&lm_hidden=32")
    assert exceptions(page) == 0
    page.get_by_test_id("stBaseButton-primary").click()
    page.get_by_text("Step ", exact=False).first.wait_for(timeout=60000)      # the progress text
    page.wait_for_timeout(1500)
    page.get_by_test_id("stButton").get_by_role("button", name="Stop").click()
    wait_idle(page)
    page.get_by_text("keeps what it learned", exact=False).wait_for(timeout=30000)
    alert = page.get_by_test_id("stAlert").filter(has_text="keeps what it learned").inner_text()
    assert "Interrupted at step" in alert
    assert page.locator(COLOURED).count() >= 2                                 # the sample and the units
    sample = page.locator(COLOURED).first.inner_text()
    assert sample.startswith(page.get_by_role("textbox", name="Prompt").input_value())
    assert len(sample) > 300
    # select the first row of the ranking: the text is coloured by that unit, which tracks its feature
    table = page.get_by_test_id("stDataFrame")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)                       # the first row's checkbox
    page.get_by_text("It tracks", exact=False).wait_for(timeout=30000)
    wait_idle(page)
    page.get_by_role("slider", name="Temperature").focus()
    page.keyboard.press("Home")                                                # temperature 0: greedy
    wait_idle(page)
    page.get_by_text("Temperature 0 (greedy", exact=False).wait_for(timeout=30000)
    assert exceptions(page) == 0


def test_user_text_stays_text_and_5000_coloured_characters_render(page, app_url):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.add_init_script("window.__long = []; new PerformanceObserver(l => l.getEntries().forEach("
                         "e => window.__long.push(e.duration))).observe({type: 'longtask', buffered: true});")
    _open(page, f"{app_url}/Text_Lab?corpus=stdlib&cell=RNN&lm_steps=20&lm_hidden=16&look_len=5000")
    _train(page)
    prompt = '<img src=x onerror=alert(1)><script>alert(2)</script>" <b>B</b>'
    page.get_by_role("textbox", name="Prompt").fill(prompt)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    wait_idle(page)
    assert page.locator(COLOURED).first.inner_text().startswith(prompt)
    assert page.locator("[data-testid='stHtml'] img, [data-testid='stHtml'] script").count() == 0
    assert dialogs == []
    title = page.locator(".js-plotly-plot .gtitle").filter(has_text="the next character").first.text_content()
    assert prompt[-30:] in title                                               # Plotly shows it as typed too
    # the "neuron over text" block: 5000 characters, one span each; re-colour it by another unit
    block = page.locator(COLOURED).nth(1)
    assert block.locator("span").count() == 5000
    page.evaluate("() => { window.__long = []; }")
    page.get_by_role("spinbutton", name="Unit (0").fill("5")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    wait_idle(page)
    assert "unit 5" in page.locator("[data-testid='stHtml']").filter(has_text="hidden state h of unit").inner_text()
    longest = max(page.evaluate("() => window.__long") or [0])
    assert longest < 2000, f"the page was busy for {longest:.0f} ms at a stretch"
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # still drawing
    assert exceptions(page) == 0 and dialogs == []
