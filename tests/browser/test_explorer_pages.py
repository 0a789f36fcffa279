"""The app in a real browser: pages load, sliders update charts, URLs reproduce state, presets and
classroom links work, no exception box appears."""
import numpy as np
import pytest

from rnnviz.ui.page import ROOT
from tests.support.browser import chart_names, chart_y, exceptions, open_page, wait_idle
from tests.support.engine import engine_trace

pytestmark = pytest.mark.browser

# Every page, the home page and each file in pages/ (also pages added later): each must show a chart at
# first paint with no button pressed (the labs open with a run trained in advance, Your Model with its example).
# The Lessons page asks its prediction question first: its chart comes with one click on Reveal.
PAGES = [""] + [p.stem.split("_", 1)[1] for p in sorted((ROOT / "pages").glob("*.py"))]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_shows_a_chart_at_first_paint(browser, app_url, path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # a new visitor: no session state
    page = context.new_page()
    if path == "Lessons":
        page.goto(f"{app_url}/{path}")
        page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=180000)
        wait_idle(page, 180000)
        assert page.locator(".js-plotly-plot .main-svg").count() == 0   # predict first: the chart is not shown yet
        page.locator("[data-testid='stRadio'] label").first.click()
        wait_idle(page, 180000)
        page.get_by_role("button", name="Reveal").click()
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=180000)
    else:
        open_page(page, f"{app_url}/{path}", timeout=180000)
    wait_idle(page, 180000)
    assert exceptions(page) == 0
    assert page.locator(".js-plotly-plot .main-svg").count() >= 1
    assert page.locator("[data-testid='stPlotlyChart']").first.is_visible()
    assert page.get_by_test_id("stSidebar").is_visible()
    context.close()


# Each page's main figure, by the keys of its charts (charts side by side in one row are one figure). In
# presentation mode it comes right under the page's title, so that it and its title are whole on a projector.
MAIN_FIGURES = {"": ["hero"], "Lessons": ["lesson_figure"], "Step_Through": ["hm_h"], "Gradient_Flow": ["grad"],
                "One_Neuron": ["traj", "grad"], "Training_Lab": ["loss"], "Translation": ["tr_curve"],
                "Text_Lab": ["bpc"], "Your_Model": ["user_grad"], "Depth_and_Time": ["grid"],
                "Beyond_LSTM": ["circle", "grad"]}
# Views that add controls above the main figure: a stacked, bidirectional model in Step Through (its layer
# selector goes under the views on a projector).
STACKED = ["Step_Through?num_layers=2&bidirectional=true"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
@pytest.mark.parametrize("view", PAGES + STACKED)
def test_the_main_figure_and_its_title_fit_a_projector(browser, app_url, view, size, lang):
    """Presentation mode: every page's main figure and its title are whole on the screen without scrolling
    (a lesson's figure once it is revealed)."""
    path, _sep, query = view.partition("?")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    url = f"{app_url}/{path}?" + "&".join(filter(None, [query, "present=true", "lang=zh" if lang == "zh" else ""]))
    if path == "Lessons":
        page.goto(url)
        page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=180000)
        wait_idle(page, 180000)
        page.locator("[data-testid='stRadio'] label").first.click()
        wait_idle(page, 180000)
        page.locator(".st-key-reveal button").click()
        page.wait_for_selector(".st-key-lesson_figure .js-plotly-plot .main-svg", timeout=180000)
    else:
        open_page(page, url, timeout=180000)
    wait_idle(page, 180000)
    page.evaluate("() => { for (const el of [document.querySelector('[data-testid=stMain]'), "
                  "document.scrollingElement]) if (el) el.scrollTop = 0; }")  # as the page opens: at its top
    for key in MAIN_FIGURES[path]:  # a page added later names its main figure here
        box = page.evaluate("""(key) => { const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
            const t = el.querySelector('.gtitle');
            const r = el.getBoundingClientRect(), tb = t ? t.getBoundingClientRect() : null;
            const header = document.querySelector('header');
            const h = header ? header.getBoundingClientRect() : {bottom: 0};
            return {key, top: r.top, bottom: r.bottom, left: r.left, right: r.right, header: h.bottom,
                    title: t && t.textContent, tTop: tb && tb.top, tLeft: tb && tb.left, tRight: tb && tb.right,
                    vw: window.innerWidth, vh: window.innerHeight}; }""", key)
        assert box["title"], box                                              # the figure says what it shows
        assert box["header"] <= box["tTop"] and box["top"] >= 0, box         # not under the app's header
        assert box["bottom"] <= box["vh"] and box["right"] <= box["vw"], box  # the whole figure on screen
        assert box["left"] <= box["tLeft"] and box["tRight"] <= box["right"], box  # the title is not cut
    if view in STACKED:  # the layer the views show is named on the screen (its selector is further down)
        named = page.evaluate("""() => { const t = document.querySelector('.st-key-chain .gtitle');
            return t && t.getBoundingClientRect().bottom <= window.innerHeight ? t.textContent : null; }""")
        assert named and "2" in named, named
    cut = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid=stMain] button p'))
        .filter(p => p.offsetParent && p.scrollWidth > p.clientWidth + 1).map(p => p.textContent)""")
    assert cut == [], cut  # every button's label whole (larger letters, narrower buttons)
    assert exceptions(page) == 0
    context.close()


# The step whose question and choices stand tallest on a 1024 px screen, and the two lessons with a model's
# own numbers and a diagram beside the question.
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
@pytest.mark.parametrize("lesson", ["3.1", "2.1", "8.1"])
def test_a_lessons_question_choices_and_reveal_fit_a_projector_and_then_its_chart_and_explanation(
        browser, app_url, lesson, size, lang):
    """Presentation mode: the question, every choice and the one Reveal button are on the screen without
    scrolling; after Reveal the chart is whole and the explanation's first lines are on the screen too."""
    number, index = lesson.split(".")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(f"{app_url}/Lessons?lesson={number}&step={index}&present=true&controls=hidden"
              + ("&lang=zh" if lang == "zh" else ""))
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=180000)
    wait_idle(page, 180000)
    boxes = """(selector) => Array.from(document.querySelectorAll(selector)).map(el => {
        const r = el.getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, shown: !!el.offsetParent, vh: window.innerHeight,
                line: parseFloat(getComputedStyle(el).lineHeight)}; })"""
    reveal = page.evaluate(boxes, ".st-key-reveal button")
    assert len(reveal) == 1, reveal                                   # one Reveal button on the page
    question = page.evaluate(boxes, ".st-key-lesson_question p")
    choices = page.evaluate(boxes, "[data-testid=stRadio] label")
    assert question and len(choices) >= 2
    for box in question + choices + reveal:
        assert box["shown"] and 0 <= box["top"] and box["bottom"] <= box["vh"], box
    page.locator(".st-key-reveal button").click()
    page.wait_for_selector(".st-key-lesson_figure .js-plotly-plot .main-svg", timeout=180000)
    wait_idle(page, 180000)
    figure = page.evaluate(boxes, ".st-key-lesson_figure .js-plotly-plot")[0]
    assert 0 <= figure["top"] and figure["bottom"] <= figure["vh"], figure
    explanation = page.evaluate(boxes, ".st-key-lesson_explanation p")[0]
    assert explanation["top"] + 2 * explanation["line"] <= explanation["vh"], explanation   # its first two lines
    assert page.evaluate(boxes, ".st-key-reveal button") == []
    assert exceptions(page) == 0
    context.close()


def _wait_chart_change(page, before, index=0, trace=0, timeout=30000):
    page.wait_for_function(
        """([i, t, y]) => { const el = document.querySelectorAll('.js-plotly-plot')[i];
                            if (!el || !el._fullData || !el._fullData[t]) return false;
                            const now = Array.from(el._fullData[t].y, Number);
                            return now.length !== y.length || now.some((v, k) => v !== y[k]); }""",
        arg=[index, trace, before], timeout=timeout)


def test_gradient_flow_slider_updates_chart_and_url(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow")
    before = chart_y(page)
    slider = page.get_by_role("slider", name="Recurrent gain")
    slider.focus()
    for _ in range(40):  # arrow keys step by 0.01; a press during a rerun can be dropped, so check the value
        if slider.get_attribute("aria-valuetext") == "1.00":
            break
        slider.press("ArrowRight")
        page.wait_for_timeout(50)
    assert slider.get_attribute("aria-valuetext") == "1.00"
    _wait_chart_change(page, before)
    page.wait_for_url("**recurrent_gain=1", timeout=30000)  # the address bar follows
    want = engine_trace("rnn", recurrent_gain=1.0).log10_grad_norm
    page.wait_for_function(
        """(w) => { const el = document.querySelectorAll('.js-plotly-plot')[0];
                    const y = Array.from(el._fullData[0].y, Number);
                    return Math.abs(y[0] - w) < 1e-9 * Math.max(1, Math.abs(w)); }""", arg=float(want[0]),
        timeout=30000)
    np.testing.assert_allclose(np.array(chart_y(page)), want, rtol=1e-9)
    assert exceptions(page) == 0


def test_url_reproduces_state(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow?recurrent_gain=1.3&activation=relu&init=gaussian&seq_len=120")
    assert chart_names(page)[0].startswith("RNN")
    y = np.array(chart_y(page))
    want = engine_trace("rnn", recurrent_gain=1.3, activation="relu", init="gaussian", seq_len=120)
    ok = np.isfinite(want.log10_grad_norm)
    np.testing.assert_allclose(y[ok], want.log10_grad_norm[ok], rtol=1e-9)
    assert page.get_by_role("slider", name="Recurrent gain").get_attribute("aria-valuetext") in ("1.30", "1.3")
    assert exceptions(page) == 0


def test_bad_url_values_show_a_note_not_a_traceback(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow?recurrent_gain=abc&seq_len=-4&cell=%3Cscript%3E")
    assert exceptions(page) == 0
    alerts = page.get_by_test_id("stAlert").all_inner_texts()
    assert any("recurrent_gain=abc was ignored" in a for a in alerts)
    assert any("seq_len=-4 was ignored" in a for a in alerts)


def test_link_values_in_notes_are_plain_text(page, app_url):
    """A crafted link cannot put a live link, a mail link, an icon or a formula into the page's notes."""
    from urllib.parse import quote

    bad = {"seed": "www.evil.example", "seq_len": "mail@evil.example", "hidden_size": ":material/warning:",
           "input_gain": "$x^2$", "recurrent_gain": "http://evil.example/a_b"}
    open_page(page, f"{app_url}/Gradient_Flow?" + "&".join(f"{k}={quote(v)}" for k, v in bad.items()))
    alerts = page.get_by_test_id("stAlert")
    text = " ".join(alerts.all_inner_texts())
    for name, value in bad.items():
        if name != "hidden_size":  # (the frontend rewrites an icon code to ':material_warning:', as text)
            assert f"{name}={value} was ignored" in text  # shown exactly as written, no stray backslashes
    assert "hidden_size=:material" in text
    assert alerts.locator("a").count() == 0
    assert alerts.locator(".katex").count() == 0
    assert alerts.locator("[data-testid='stIconMaterial']").count() == 0  # the notes' own icon is stAlertDynamicIcon
    assert exceptions(page) == 0


def test_settings_follow_the_user_to_another_page(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow?recurrent_gain=1.2")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Step Through").click()
    page.wait_for_url("**/Step_Through**")
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert page.get_by_role("slider", name="Recurrent gain").get_attribute("aria-valuetext") in ("1.20", "1.2")


def test_preset_link_opens_page_with_its_settings(page, app_url):
    from rnnviz.files.lessons import PRESETS

    preset = next(iter(PRESETS.values()))  # the first card on the home page
    assert preset.page.endswith("Gradient_Flow.py")
    values = preset.values()
    open_page(page, f"{app_url}/Gradient_Flow?recurrent_gain=1.7&hidden_size=8")  # a visitor's own settings
    page.get_by_test_id("stSidebar").get_by_role("link", name="Home").click()  # same session
    page.wait_for_selector("text=Lessons in one click")
    wait_idle(page)
    page.get_by_role("link", name="Open").first.click()
    page.wait_for_url(f"**/Gradient_Flow**recurrent_gain={values['recurrent_gain']:g}**")
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot .main-svg")
    settings = {k: values[k] for k in ("recurrent_gain", "forget_bias", "seq_len", "hidden_size", "input_kind",
                                       "activation", "init", "input_gain", "seed", "loss")}
    want = engine_trace("rnn", **settings).log10_grad_norm  # nothing of the visitor's settings leaks in
    page.wait_for_function("(n) => document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].y.length === n",
                           arg=len(want), timeout=30000)
    np.testing.assert_allclose(np.array(chart_y(page)), want, rtol=1e-9)


def test_classroom_link_hides_controls_and_enlarges_text(page, app_url):
    open_page(page, f"{app_url}/Gradient_Flow?recurrent_gain=0.7&controls=hidden&present=true")
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert page.get_by_role("slider", name="Recurrent gain").count() == 0 or \
        not page.get_by_role("slider", name="Recurrent gain").is_visible()
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.stMarkdown p')).fontSize)")
    assert size >= 19  # presentation mode: 1.25 rem
    assert exceptions(page) == 0


def test_step_through_play_advances_the_cursor(page, app_url):
    open_page(page, f"{app_url}/Step_Through?seq_len=30")
    cursor = page.get_by_role("slider", name="Time step t")
    assert cursor.get_attribute("aria-valuetext") == "0"
    page.get_by_role("button", name="Play").click()
    for _ in range(240):  # one step every 0.6 s; a busy machine may take far longer, and that is no failure
        page.wait_for_timeout(250)
        if int(cursor.get_attribute("aria-valuetext")) >= 3:
            break
    assert int(cursor.get_attribute("aria-valuetext")) >= 3
    page.get_by_role("button", name="Pause").click()
    wait_idle(page)
    stopped = int(cursor.get_attribute("aria-valuetext"))
    page.wait_for_timeout(1500)
    assert int(cursor.get_attribute("aria-valuetext")) == stopped  # paused
    assert f"t={stopped}" in page.url  # the address bar follows the cursor
    assert exceptions(page) == 0


def test_eight_sessions_at_once_each_see_their_own_numbers(browser, app_server):
    """Eight visitors with different settings at the same time: each chart holds its own settings'
    numbers, before and after every visitor moves a slider at once; no errors; memory bounded."""
    from deploy.processes import peak_rss_mb

    proc, url = app_server
    settings = [dict(recurrent_gain=round(0.5 + 0.15 * i, 2), hidden_size=8 + 4 * i, seq_len=60 + 20 * i)
                for i in range(8)]
    pages = []
    for s in settings:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        pg = ctx.new_page()
        pg.goto(f"{url}/Gradient_Flow?" + "&".join(f"{k}={v}" for k, v in s.items()), wait_until="commit")
        pages.append(pg)
    for pg in pages:
        pg.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120000)
        pg.wait_for_selector(".js-plotly-plot .main-svg", timeout=120000)

    def check(pg, s):
        want = engine_trace("rnn", **s).log10_grad_norm
        pg.wait_for_function("(n) => document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].y.length === n",
                             arg=len(want), timeout=60000)
        pg.wait_for_function(
            """(w) => { const y = document.querySelectorAll('.js-plotly-plot')[0]._fullData[0].y;
                        return Math.abs(y[0] - w) <= 1e-9 * Math.max(1, Math.abs(w)); }""",
            arg=float(want[0]), timeout=60000)
        np.testing.assert_allclose(np.array(chart_y(pg)), want, rtol=1e-9)
        assert exceptions(pg) == 0

    for pg, s in zip(pages, settings):
        check(pg, s)
    for pg in pages:  # everyone moves the gain slider at (nearly) the same moment
        slider = pg.get_by_role("slider", name="Recurrent gain")
        slider.focus()
        slider.press("ArrowRight")
    for pg, s in zip(pages, settings):
        slider = pg.get_by_role("slider", name="Recurrent gain")
        for _ in range(5):  # a key press that lands during a rerun can be dropped by the browser widget
            if float(slider.get_attribute("aria-valuetext")) > s["recurrent_gain"]:
                break
            slider.press("ArrowRight")
            pg.wait_for_timeout(200)
        value = float(slider.get_attribute("aria-valuetext"))
        assert value == pytest.approx(s["recurrent_gain"] + 0.01)
        check(pg, {**s, "recurrent_gain": value})
    for pg in pages:
        pg.context.close()
    assert peak_rss_mb(proc.pid) < 3000


def test_trace_csv_download_holds_the_numbers(page, app_url):
    from rnnviz.files.export import read_csv_metadata

    open_page(page, f"{app_url}/Step_Through?cell=GRU&seq_len=40&hidden_size=6")
    page.get_by_text("Export these numbers").click()
    with page.expect_download(timeout=60000) as info:
        page.get_by_role("button", name="Trace as CSV").click()
    data = open(info.value.path(), "rb").read()
    meta = read_csv_metadata(data)
    assert meta["cell"] == "gru" and meta["seq_len"] == 40 and meta["hidden_size"] == 6
    lines = [ln for ln in data.decode().splitlines() if not ln.startswith("#")]
    header = lines[0].split(",")
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    want = engine_trace("gru", seq_len=40, hidden_size=6)
    np.testing.assert_array_equal(rows[:, header.index("h_0")].astype(np.float32), want.hidden[:, 0])  # exact float32
    np.testing.assert_allclose(rows[:, header.index("log10_grad_norm")], want.log10_grad_norm, rtol=1e-12)


def test_pages_need_no_network_beyond_the_app(page, app_url):
    """A classroom may be offline: nothing (fonts, icons, the tab's icon) is fetched from elsewhere."""
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(app_url) else None)
    for path in ("", "Gradient_Flow", "Step_Through"):
        open_page(page, f"{app_url}/{path}")
    icons = page.evaluate("Array.from(document.querySelectorAll('link[rel*=icon]')).map(l => l.href)")
    assert icons and all(h.startswith(app_url) for h in icons)
    assert outside == []


def _cursors(page) -> dict:
    """{chart title: x of its time cursor} for every chart on a time axis."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.js-plotly-plot'))
              .filter(el => el.layout && el.layout.xaxis && el.layout.xaxis.title &&
                            el.layout.xaxis.title.text === 'time step t')
              .map((el, i) => { const shapes = el.layout.shapes || [];
                                const s = shapes.find(s => s.name === 'cursor') || shapes[0];
                                return [(el.layout.title && el.layout.title.text) || String(i),
                                        s ? s.x0 : null]; }))""")


def _wait_cursors(page, t, timeout=30000):
    """Wait until the t slider and every chart's cursor show step t."""
    slider = page.get_by_role("slider", name="Time step t")
    try:
        slider.and_(page.locator(f"[aria-valuetext='{t}']")).wait_for(timeout=timeout)
        _wait_chart_cursors(page, t, timeout)
    except Exception:  # noqa: BLE001 - say what the page shows instead
        raise AssertionError(f"want t={t}; slider at {slider.get_attribute('aria-valuetext')}, "
                             f"chart cursors at {_cursors(page)}") from None


def _wait_chart_cursors(page, t, timeout):
    page.wait_for_function(
        """(t) => { const charts = Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el =>
                        el.layout && el.layout.xaxis && el.layout.xaxis.title &&
                        el.layout.xaxis.title.text === 'time step t');
                    return charts.length > 0 && charts.every(el => { const sh = el.layout.shapes || [];
                        const c = sh.find(x => x.name === 'cursor') || sh[0]; return c && c.x0 === t; }); }""",
        arg=t, timeout=timeout)


def test_step_through_every_cursor_shows_the_same_step(page, app_url):
    open_page(page, f"{app_url}/Step_Through?cell=LSTM&seq_len=30&hidden_size=8")
    titles = set(_cursors(page))
    assert {"Hidden state h_t", "Cell state c_t", "Hidden state h (units × time)"} <= titles
    for button, t in (("Step", 1), ("Step", 2), ("Step", 3), ("Back", 2)):
        page.get_by_role("button", name=button, exact=True).click()
        wait_idle(page)
        _wait_cursors(page, t, timeout=15000)
    page.get_by_role("button", name="Play").click()
    cursor = page.get_by_role("slider", name="Time step t")
    for _ in range(40):
        page.wait_for_timeout(250)
        if int(cursor.get_attribute("aria-valuetext")) >= 5:
            break
    page.get_by_role("button", name="Pause").click()
    wait_idle(page)
    page.wait_for_timeout(800)  # a tick already on its way when Pause was pressed
    wait_idle(page)
    stopped = int(cursor.get_attribute("aria-valuetext"))
    _wait_cursors(page, stopped)
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_idle(page)
    _wait_cursors(page, 0)
    assert set(_cursors(page).values()) == {0}
    assert exceptions(page) == 0


def test_step_through_classroom_link_keeps_the_time_controls(page, app_url):
    open_page(page, f"{app_url}/Step_Through?controls=hidden&present=true&seq_len=30")
    for name in ("Reset", "Back", "Play", "Step"):
        assert page.get_by_role("button", name=name, exact=True).is_visible(), name
    assert page.get_by_role("slider", name="Time step t").is_visible()
    assert page.get_by_role("spinbutton", name="Unit (0 … 31) shown in the equations").is_visible()
    gain = page.get_by_role("slider", name="Recurrent gain")
    assert gain.count() == 0 or not gain.is_visible()  # the model's settings stay hidden
    page.get_by_role("button", name="Step", exact=True).click()
    wait_idle(page)
    page.get_by_role("slider", name="Time step t").and_(page.locator("[aria-valuetext='1']")).wait_for(timeout=15000)
    assert exceptions(page) == 0
