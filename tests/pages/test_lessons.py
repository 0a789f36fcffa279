"""The Lessons page under AppTest: every step opens from its link, hides its chart until Reveal, shows
the engine's numbers, moves with Next and Back, and answers bad links with a note."""
import json
import math
from urllib.parse import parse_qsl

import numpy as np
import pytest

from rnnviz import lessons
from tests.support.apphelp import decode, figures, run_page, texts, url_notes

LP = "pages/10_Lessons.py"
STEPS = [(lesson.number, i) for lesson in lessons.LESSONS for i in range(1, len(lesson.steps) + 1)]


def _open(number, index, **flags):
    return run_page(LP, {"lesson": str(number), "step": str(index), **flags})


def _reveal(at):
    at.button(key="reveal").click().run()
    return at


@pytest.mark.parametrize("number,index", STEPS)
def test_every_step_asks_first_then_shows_its_chart_and_explanation(number, index):
    step = lessons.step(number, index)
    at = _open(number, index)
    assert not at.exception
    assert dict(at.query_params) == {"lesson": str(number), "step": str(index)}
    text = step.text(step.live())
    assert text["question"] in texts(at)
    assert "lesson_figure" not in figures(at) and text["explanation"] not in texts(at)
    assert list(at.radio(key=f"choice_{number}_{index}").options) == text["choices"]
    _reveal(at)
    assert not at.exception
    assert "lesson_figure" in figures(at) and text["explanation"] in texts(at)
    assert any(text["choices"][step.correct(step.live())] in i.value for i in at.info)
    assert not [r for r in at.radio if r.key == f"choice_{number}_{index}"]   # the answer takes the choices' place
    assert not [b for b in at.button if b.key == "reveal"]


def test_the_neuron_lesson_figure_is_w_to_the_power():
    at = _reveal(_open(4, 1))
    line = figures(at)["lesson_figure"]["data"][1]
    np.testing.assert_allclose(decode(line["y"]), [(50 - k) * math.log10(0.9) for k in range(51)], atol=1e-12)


def test_the_word_by_word_figure_names_the_method_and_holds_the_shares():
    at = _reveal(_open(6, 3))
    fig = figures(at)["lesson_figure"]
    live = lessons.step(6, 3).live()
    heat = fig["data"][0]
    np.testing.assert_allclose(decode(heat["z"]),
                               [live["shares"]["rnn"].share, live["shares"]["lstm"].share], atol=1e-6)
    assert heat["y"] == ["RNN", "LSTM"] and heat["x"] == ["“what”", "“time”", "“is”", "“it?”"]
    assert any("ablation" in a["text"] for a in fig["layout"]["annotations"])


def test_a_prediction_is_marked_right_or_wrong():
    step = lessons.step(4, 1)
    answer = step.correct(step.live())
    at = _open(4, 1)
    at.radio(key="choice_4_1").set_value(answer).run()
    _reveal(at)
    assert at.success and not at.warning
    at = _open(4, 1)
    at.radio(key="choice_4_1").set_value(1 - answer).run()
    _reveal(at)
    text = step.text(step.live())
    assert at.warning[0].value == (f"You predicted “{text['choices'][1 - answer]}”. "
                                   f"The answer: **{text['choices'][answer]}**")


@pytest.mark.parametrize("index,framed", [(1, "many_to_one"), (2, "many_to_many")])
def test_lesson_2_shows_the_four_structures_with_its_question_and_frames_its_own(index, framed):
    """The diagram gives nothing away: it is there before Reveal, beside the question, and stays under the
    chart after it; the step's structure is the framed one."""
    at = _open(2, index)
    fig = figures(at)["lesson_diagram"]
    assert "lesson_figure" not in figures(at)
    structures = {d["meta"]["structure"] for d in fig["data"]}
    assert structures == {"one_to_many", "many_to_one", "many_to_many", "encoder_decoder"}
    frame = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"][0]
    cells = [d for d in fig["data"] if d["meta"] == {"structure": framed, "role": "cell"}][0]
    assert frame["x0"] < min(decode(cells["x"])) and max(decode(cells["x"])) < frame["x1"]
    _reveal(at)
    assert {"lesson_figure", "lesson_diagram"} <= set(figures(at))


def test_next_and_back_walk_through_the_course_and_the_url_follows():
    at = _open(1, 2)
    at.button(key="lesson_next").click().run()
    assert dict(at.query_params) == {"lesson": "2", "step": "1"} and at.subheader[0].value == lessons.step(2, 1).title
    at.button(key="lesson_back").click().run()
    assert dict(at.query_params) == {"lesson": "1", "step": "2"}
    assert "lesson_figure" not in figures(at)          # a new step starts unrevealed
    at = _open(1, 1)
    assert at.button(key="lesson_back").disabled and not at.button(key="lesson_next").disabled
    at = _open(9, 2)
    assert at.button(key="lesson_next").disabled


def test_the_lesson_picker_opens_a_lesson_at_its_first_step():
    at = _open(4, 3)
    at.selectbox(key="lesson_pick").set_value(7).run()
    assert dict(at.query_params) == {"lesson": "7", "step": "1"}


@pytest.mark.parametrize("query,note", [
    ({"lesson": "12"}, "lesson=`12` was ignored: lesson must be an integer in [1, 9]. Using 1 instead."),
    ({"lesson": "4", "step": "9"}, "step=`9` was ignored: step must be in [1, 3] on this page. Using 1 instead."),
    ({"lesson": "[x](https://evil.example)"}, "lesson=`[x](https://evil.example)` was ignored"),
    ({"lesson": "2.5", "step": "nan"}, "lesson=`2.5` was ignored"),
])
def test_bad_lesson_or_step_values_give_a_note_and_a_sane_default(query, note):
    at = run_page(LP, query)
    assert not at.exception
    assert note.replace("`", "'") in url_notes(at)
    lesson = query["lesson"] if query["lesson"].isdigit() and 1 <= int(query["lesson"]) <= 9 else "1"
    assert dict(at.query_params) == {"lesson": lesson, "step": "1"}


def test_open_in_the_page_reproduces_the_steps_numbers_there():
    """The step's link opens One Neuron with the step's knobs; its gradient chart equals the lesson's."""
    step = lessons.step(4, 2)
    at = _reveal(_open(4, 2))
    link = [p for p in at.get("page_link") if p.proto.label == "Open this in One Neuron"][0]
    query = dict(parse_qsl(link.proto.query_string))
    assert query == step.query()
    page = run_page("pages/3_One_Neuron.py", query)
    assert page.slider(key="w").value == 1.1 and page.selectbox(key="activation").value == "linear"
    lesson_line = figures(at)["lesson_figure"]["data"][1]
    page_line = figures(page)["grad"]["data"][1]
    np.testing.assert_array_equal(decode(lesson_line["y"]), decode(page_line["y"]))


def test_the_gradient_flow_link_shows_the_lessons_curves():
    at = _reveal(_open(6, 2))
    link = [p for p in at.get("page_link") if p.proto.label == "Open this in Gradient Flow"][0]
    page = run_page("pages/2_Gradient_Flow.py", dict(parse_qsl(link.proto.query_string)))
    mine = {d["name"]: decode(d["y"]) for d in figures(at)["lesson_figure"]["data"] if d.get("name")}
    theirs = {d["name"]: decode(d["y"]) for d in figures(page)["grad"]["data"] if d.get("name")}
    assert {"RNN  ‖∂L/∂h‖", "LSTM  ‖∂L/∂c‖ (cell path)"} <= set(mine)
    for name, y in mine.items():
        np.testing.assert_array_equal(y, theirs[name])


def test_presentation_mode_keeps_the_flags_and_enlarges_the_figure():
    at = _reveal(_open(2, 1, present="true", controls="hidden"))
    assert dict(at.query_params) == {"lesson": "2", "step": "1", "present": "true", "controls": "hidden"}
    fig = figures(at)["lesson_figure"]
    assert fig["layout"]["font"]["size"] == int(15 * 1.35)
    link = [p for p in at.get("page_link") if p.proto.label.startswith("Open this in")][0]
    assert "present=true" in link.proto.query_string
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["height"] > 440


@pytest.mark.parametrize("index", [1, 2])
def test_lesson_8s_link_opens_the_text_lab_writing_what_the_lesson_quotes(index):
    """The Text Lab opened from the step's link shows its stored model writing after the same prompt at the
    step's temperature: the candidates of the first character written are the lesson's numbers."""
    step = lessons.step(8, index)
    at = _reveal(_open(8, index))
    link = [p for p in at.get("page_link") if p.proto.label == "Open this in Text Lab"][0]
    page = run_page("pages/6_Text_Lab.py", dict(parse_qsl(link.proto.query_string)))
    assert not page.exception and page.slider(key="temperature").value == step.values()["temperature"]
    smp = step.live()["sample"]
    bars = figures(page)["next_char"]["data"]
    order = np.argsort(-smp.probs[0], kind="stable")[:8]
    np.testing.assert_allclose(decode(bars[0]["x"])[:8], smp.probs[0][order], atol=1e-6)            # the model's
    np.testing.assert_allclose(decode(bars[1]["x"])[:8], smp.sampling_probs[0][order], atol=1e-6)   # at T
