"""Every string a user sees is in both languages: the marked strings of the app are collected from the
source (an independent scan of the code, not the catalog's own list), and each must have a Chinese
translation that keeps its placeholders. The language follows `lang=` in a link and every link keeps it."""
import string

import pytest
from babel.messages.pofile import read_po

from rnnviz import i18n, plots
from rnnviz.i18n import _, language
from rnnviz.spec import Scenario, parse_query
from rnnviz.ui.page import PAGES
from tests.support.apphelp import run_page, texts


def _catalog():
    with open(i18n.catalog_path("zh"), "rb") as f:
        return read_po(f, locale="zh_CN", domain=i18n.DOMAIN)


def _fields(text: str) -> set:
    """The {name} placeholders of a format string (with their format specs); for text that is not a
    format string (LaTeX), its braces."""
    try:
        return {(name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {("{", text.count("{")), ("}", text.count("}"))}


def test_every_marked_string_is_a_whole_literal():
    found, problems = i18n.marked_strings()
    assert len(found) > 200  # the scan sees the app's strings (pages, chrome, knobs, figures)
    assert not problems, "\n".join(problems)


def test_every_marked_string_has_a_chinese_translation():
    found, _problems = i18n.marked_strings()
    catalog = _catalog()
    missing = []
    for key, where in found.items():
        msg = catalog.get(key[0] if isinstance(key, tuple) else key)
        strings = (msg.string if isinstance(msg.string, tuple) else (msg.string,)) if msg else ("",)
        if msg is None or msg.fuzzy or not all(s.strip() for s in strings):
            missing.append(f"{where[0][0]}:{where[0][1]}: {key!r}")
    assert not missing, f"{len(missing)} strings without Chinese (run `python -m rnnviz catalog`, then " \
                        "fill their msgstr):\n" + "\n".join(missing)


def test_translations_keep_every_placeholder_and_the_catalog_has_no_unused_entries():
    found, _problems = i18n.marked_strings()
    ids = {k[0] if isinstance(k, tuple) else k for k in found}
    catalog = _catalog()
    wrong, unused = [], []
    for msg in catalog:
        if not msg.id:
            continue
        msgid = msg.id[0] if isinstance(msg.id, tuple) else msg.id
        if msgid not in ids:
            unused.append(msgid)
        for s in (msg.string if isinstance(msg.string, tuple) else (msg.string,)):
            if s and _fields(s) != _fields(msgid):
                wrong.append(f"{msgid!r}: {sorted(_fields(msgid))} but the Chinese has {sorted(_fields(s))}")
    assert not wrong, "\n".join(wrong)
    assert not unused, f"catalog entries no string uses any more (run `python -m rnnviz catalog`): {unused}"


def test_strings_are_translated_in_the_chosen_language_only():
    assert _("Recurrent gain") == "Recurrent gain"  # English is the default
    with language("zh"):
        assert _("Recurrent gain") == "循环增益"
        assert _("Home") == "首页"
        assert _("not a marked string") == "not a marked string"  # unknown text shows as written
        with language("en"):
            assert _("Recurrent gain") == "Recurrent gain"
    assert i18n.current() == "en"


@pytest.mark.parametrize("text, code", [("zh", "zh"), ("zh-CN", "zh"), ("ZH_cn", "zh"), (" en ", "en"),
                                        ("fr", None), ("", None), (None, None), ("zh\n", "zh")])
def test_language_codes_from_links_are_parsed_or_refused(text, code):
    assert i18n.parse(text) == code


def test_bad_link_values_are_explained_in_chinese():
    with language("zh"):
        _values, notes = parse_query({"recurrent_gain": "lots"}, ["recurrent_gain"])
    assert len(notes) == 1 and "已被忽略" in notes[0] and "recurrent_gain='lots'" in notes[0], notes
    assert "[0, 4] 内的数" in notes[0] and "0.9" in notes[0]


def _page_links(at):
    return {n.proto.label: n.proto.query_string for n in at.get("page_link")}


def test_lang_zh_in_a_link_shows_the_page_in_chinese_and_every_link_keeps_it():
    at = run_page("viz_app.py", {"lang": "zh", "recurrent_gain": "1.2"})
    assert not at.exception
    assert at.title[0].value == "看清循环神经网络的内部"
    assert at.slider(key="recurrent_gain").label == "循环增益"
    assert at.slider(key="recurrent_gain").value == 1.2
    links = _page_links(at)
    assert {"梯度流", "逐步查看", "单个神经元"} <= set(links)  # navigation in Chinese
    assert all("lang=zh" in q for q in links.values()), links  # navigation and presets keep the language
    assert "recurrent_gain=1.2" in links["梯度流"]
    shares = [m.value for m in at.sidebar.markdown if "](" in m.value]
    assert len(shares) == 2 and all("lang=zh" in s for s in shares), shares
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"
    assert "雅可比矩阵" in texts(at)


def test_english_stays_the_default_and_unknown_languages_fall_back_to_it():
    for query in ({}, {"lang": "klingon"}):
        at = run_page("viz_app.py", query)
        assert not at.exception
        assert at.title[0].value == "See inside a recurrent network"
        assert "lang" not in at.query_params
        assert all("lang=" not in q for q in _page_links(at).values())


def test_the_sidebar_switch_changes_the_language_and_keeps_the_settings():
    at = run_page("viz_app.py", {"recurrent_gain": "1.3"})
    at.sidebar.segmented_control(key="lang").set_value("zh").run()
    assert not at.exception
    assert at.title[0].value == "看清循环神经网络的内部"
    assert at.slider(key="recurrent_gain").value == 1.3  # the switch keeps the settings
    assert at.query_params["lang"] in (["zh"], "zh")
    at.sidebar.segmented_control(key="lang").set_value("en").run()
    assert at.title[0].value == "See inside a recurrent network"
    assert at.slider(key="recurrent_gain").value == 1.3


def test_figures_speak_the_language_they_are_built_in():
    """A figure builder labels its axes, legend and marks in the current language; the numbers stay."""
    tr = Scenario.from_values({"seq_len": 30}).trace()
    en = plots.gradient_vs_lag({"RNN": tr}, horizon_fraction=1e-3)
    with language("zh"):
        zh = plots.gradient_vs_lag({"RNN": tr}, horizon_fraction=1e-3)
    assert en.layout.xaxis.title.text == "steps back in time  (T−1−k)"
    assert zh.layout.xaxis.title.text == "向前回溯的时间步数（T−1−k）"
    assert [d.name for d in zh.data if d.name] == [d.name for d in en.data if d.name]  # "RNN  ‖∂L/∂h‖": symbols
    assert list(zh.data[0].y) == list(en.data[0].y)
    with language("zh"):
        assert plots.gate_title("lstm", "forget") == "遗忘门 f（σ，取值 [0, 1]）"
        assert plots.heatmap(tr.hidden).layout.yaxis.title.text == "单元"


@pytest.mark.parametrize("path", [p for p, _label, _icon in PAGES if p != "viz_app.py"])
def test_every_page_runs_in_chinese_with_its_title_in_chinese(path):
    at = run_page(path, {"lang": "zh"}, timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    heading = (at.title or at.subheader)[0].value  # the Lessons page opens with its step's heading
    assert any("\u4e00" <= ch <= "\u9fff" for ch in heading), heading
    assert "lang=zh" in "".join(m.value for m in at.sidebar.markdown)


def test_why_training_stopped_is_said_in_the_page_language_from_the_run_s_own_numbers():
    """The reason is rebuilt from the result's numbers, wherever the run trained: English as recorded in
    `message`, Chinese with the same step, value and kept model."""
    from rnnviz import ModelSpec, fit, stop_message

    result = fit(ModelSpec(cell="gru", hidden_size=8), "adding", seq_len=10, steps=20, lr=1e30, seed=0, test_size=0)
    assert result.stop_reason == "nonfinite"
    assert stop_message(result, "en") == result.message and "step 2" in result.message
    zh = stop_message(result, "zh")
    assert f"第 {result.stop_step} 步" in zh and str(result.stop_value) in zh and "训练损失" in zh


def test_every_training_lab_task_reads_in_chinese():
    """Each Training Lab task's title and description, and its name in the task box, has its Chinese
    text: a task added without them showed English on a Chinese page."""
    from rnnviz.spec import KNOBS, TASK_NAMES
    from rnnviz.tasks import TASKS

    for name in TASK_NAMES:
        task = TASKS[name]
        with language("en"):
            english = [_(task.title), _(task.description)]
        with language("zh"):
            chinese = [_(task.title), _(task.description)]
        for en, zh in zip(english, chinese):
            assert zh != en, f"task {name}: {en[:40]!r} has no Chinese"
    with language("zh"):
        for name in TASK_NAMES:   # the task box shows tokens ("adding", "look_ahead") in the reader's language
            assert _(KNOBS["task"].token(name)) != name, f"the task box shows {name!r} untranslated"
