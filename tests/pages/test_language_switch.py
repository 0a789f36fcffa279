"""A language switch in the sidebar relabels every choice already made, at once.

The browser holds a selectbox's or a radio's value as its label, and shows the label the page last sent with
the value. Before this was fixed, a box whose value was set (Gradient Flow's input "sine", an initialisation
"orthogonal") went on showing the English label among Chinese options until the user picked again, and a
lesson's radio lost the prediction made. The tests model what the browser shows from the messages the page
sends: after the switch each box must show its value's label in the new language, the values and the URL
staying as they were.
"""
import pytest

from rnnviz.i18n import _, language
from rnnviz.ui import BUILT
from tests.support.apphelp import run_page, switch_language

PAGES = [  # each page with choices of its own in the link, and at their defaults
    ("pages/1_Step_Through.py", {"init": "gaussian", "num_layers": "2", "bidirectional": "true"}),
    ("pages/2_Gradient_Flow.py", {"input_kind": "sine", "loss": "all"}),
    ("pages/3_One_Neuron.py", {"neuron_input": "constant"}),
    ("pages/4_Training_Lab.py", {"clip": "value"}),
    ("pages/6_Text_Lab.py", {}),
    ("pages/7_Your_Model.py", {}),
    ("pages/8_Depth_and_Time.py", {"depth_loss": "all"}),
    ("pages/9_Beyond_LSTM.py", {"negative": "negative"}),
]


def _choices(at) -> list:
    return [*at.selectbox, *at.radio]


def _key(widget) -> str:
    return widget.proto.id.split("-", 2)[-1]


def shown_now(at, lang: str) -> dict:
    """{widget key: (options, the label the browser shows)} of every selectbox and radio on a page in `lang`:
    the label of the value the user or the link picked."""
    with language(lang):
        return {_key(w): (list(w.proto.options), None if w.index is None else w.proto.options[w.index])
                for w in _choices(at)}


def shown_after(at, before: dict) -> dict:
    """The same after a run: the label the page sent with the value, or else the one the browser showed."""
    return {_key(w): (list(w.proto.options), w.proto.raw_value if w.proto.set_value else before[_key(w)][1])
            for w in _choices(at)}


def values(at, lang: str) -> dict:
    with language(lang):
        return {_key(w): w.value for w in _choices(at)}


def check_switch(at, lang: str, back: str) -> dict:
    """Switch to `lang`: every choice shows its own option in `lang`; the values and the URL are kept.
    Returns what the browser shows then (`shown_after`)."""
    before, kept, url = shown_now(at, back), values(at, back), dict(at.query_params)
    after = shown_after(switch_language(at, lang), before)
    assert set(after) == set(before)
    relabelled = 0
    for key, (options, label) in after.items():
        old_options, old_label = before[key]
        if old_label is None:
            assert label in (None, ""), key
            continue
        want = options[old_options.index(old_label)]   # the same option, in the new language
        assert label == want, f"{key} shows {label!r} among {options}, not {want!r}"
        relabelled += want != old_label
    assert relabelled, "nothing on this page changes language: the test would show nothing"
    assert values(at, lang) == kept
    assert {k: v for k, v in at.query_params.items() if k != "lang"} == {k: v for k, v in url.items() if k != "lang"}
    with language(lang):
        at.run()   # the next run leaves the labels as they are
    assert not at.exception
    assert shown_after(at, after) == after
    return after


@pytest.mark.parametrize("path,query", PAGES, ids=[p.split("/")[-1][:-3] for p, _q in PAGES])
def test_choices_made_follow_a_language_switch_and_back(path, query):
    at = run_page(path, query)
    assert not at.exception
    check_switch(at, "zh", "en")
    assert at.query_params["lang"] == "zh"
    check_switch(at, "en", "zh")
    assert "lang" not in at.query_params


def test_a_prediction_made_in_a_lesson_survives_a_language_switch():
    at = run_page("pages/10_Lessons.py", {"lesson": "4", "step": "1"})
    at.radio(key="choice_4_1").set_value(1).run()
    check_switch(at, "zh", "en")
    assert values(at, "zh")["choice_4_1"] == 1
    assert at.selectbox(key="lesson_pick").proto.options[0].startswith("1. ")


def test_the_model_picker_follows_a_language_switch():
    """The explorer pages' Model box (offered once a model is trained or loaded), set back to the built one."""
    at = run_page("pages/7_Your_Model.py")
    at.button(key="open_pages/2_Gradient_Flow.py").click().run()
    at.switch_page("pages/2_Gradient_Flow.py").run()   # AppTest's next runs stay on the page it was given
    assert not at.exception and at.selectbox(key="model_source").value != BUILT
    at.selectbox(key="model_source").set_value(BUILT).run()
    after = check_switch(at, "zh", "en")
    with language("zh"):
        assert after["model_source"][1] == _(BUILT) != BUILT
