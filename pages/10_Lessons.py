"""Lessons: the lecture in nine lessons, one step at a time: predict, reveal, then see and read why."""
import streamlit as st

from rnnviz import lessons, ui
from rnnviz.i18n import _

ctx = ui.page_setup("Lessons")
ss = st.session_state
# Full screen for a class: the toolbar goes when the controls do; otherwise the lesson bar clears it. On a
# projector the page uses the screen's width, so that the question, its choices and Reveal fit its height.
st.html(("<style>[data-testid='stHeader'] {display: none;} .block-container {padding-top: 1rem;}</style>"
         if ctx.controls_hidden else "<style>.st-key-lesson_bar {margin-top: 1.2rem;}</style>")
        + ("<style>.block-container {padding-left: 1.5rem; padding-right: 1.5rem;} [data-testid=stMain] p "
           "{line-height: 1.5;}</style>" if ctx.present else ""))
COUNT = len(lessons.LESSONS)

# ?lesson=4&step=2 (read by the one URL codec; a bad value gets a note and lesson 1 / step 1)
notes = ui.check_url(["lesson"])
number = ss.setdefault("lesson", 1)
lesson = lessons.lesson(number)
notes += ui.check_url(["step"], {"step": (1, len(lesson.steps))})
index = ss["step"] = min(max(ss.get("step", 1), 1), len(lesson.steps))
ui.url_value("lesson", number)
ui.url_value("step", index)
step = lesson.steps[index - 1]


def _go(target):
    ss["lesson"], ss["step"] = target


def _pick():
    ss["lesson"], ss["step"] = ss["lesson_pick"], 1


def _reveal(key):
    """Reveal a step, keeping the prediction made (its choices give way to the answer)."""
    ss.setdefault("lesson_revealed", set()).add(key)
    ss.setdefault("lesson_predictions", {})[key] = ss.get("choice_{}_{}".format(*key))


@st.cache_resource(max_entries=32, show_spinner=False)
def live_numbers(number: int, index: int) -> dict:
    """A step's live numbers: the same for every visitor (a step's state is fixed), shared read-only."""
    return lessons.step(number, index).live()


with ui.controls():
    st.subheader(_("Course"))
    ss["lesson_pick"] = number
    st.selectbox(_("Lesson"), list(range(1, COUNT + 1)), key="lesson_pick", on_change=_pick,
                 format_func=lambda n: f"{n}. {_(lessons.lesson(n).title)}")
    st.caption(_("The teacher's view: the classroom link in *Share this view* opens this step full screen, without "
                 "controls; Next and Back move through the course. Students can open the same link."))

ui.show_notes(notes)
before, after = lessons.neighbour(number, index, -1), lessons.neighbour(number, index, +1)
bar = st.container(key="lesson_bar")
b1, b2, b3 = bar.columns([1.4, 6, 1.4], vertical_alignment="center")
b1.button(_("Back"), icon=":material/chevron_left:", key="lesson_back", disabled=before is None, on_click=_go,
          args=(before,), use_container_width=True)
b2.markdown(_("Lesson {number} of {count}, step {index} of {steps}: **{title}**").format(
    number=number, count=COUNT, index=index, steps=len(lesson.steps), title=_(lesson.title)))
b3.button(_("Next"), icon=":material/chevron_right:", key="lesson_next", disabled=after is None, on_click=_go,
          args=(after,), use_container_width=True)

with st.spinner(_("Computing this step's numbers…")):
    live = live_numbers(number, index)
text = step.text(live)
answer = step.correct(live)
revealed = (number, index) in ss.get("lesson_revealed", set())

# The question, its choices and Reveal on the left, the chart's place on the right (a diagram that gives
# nothing away, or a placeholder); after Reveal the answer and the explanation take the choices' place,
# beside the chart. (A button with a help text is drawn twice by Streamlit, hence none here.)
left, right = st.columns([1, 1.4] if ctx.present else [1, 1.25], gap="medium" if ctx.present else "large")
with left:
    st.subheader(_(step.title))
    st.container(key="lesson_question").markdown(text["question"])
    if not revealed:
        ui.relabel(f"choice_{number}_{index}")
        st.radio(_("Your prediction"), list(range(len(text["choices"]))), index=None,
                 format_func=lambda i: text["choices"][i], key=f"choice_{number}_{index}")
        st.button(_("Reveal"), type="primary", icon=":material/visibility:", key="reveal", on_click=_reveal,
                  args=((number, index),))
    else:
        choice = ss.get("lesson_predictions", {}).get((number, index))
        right_answer = text["choices"][answer]
        if choice is None:
            st.info(_("The answer: **{answer}**").format(answer=right_answer), icon=":material/lightbulb:")
        elif choice == answer:
            st.success(_("Right: **{answer}**").format(answer=right_answer), icon=":material/check_circle:")
        else:
            st.warning(_("You predicted “{choice}”. The answer: **{answer}**").format(
                choice=text["choices"][choice], answer=right_answer), icon=":material/lightbulb:")
        st.container(key="lesson_explanation").markdown(text["explanation"])
    page_title = _({path: label for path, label, _icon in ui.PAGES}[step.page])
    flags = {**({"present": "true"} if ss.get("present") else {}), **ui.language_params()}
    st.page_link(step.page, label=_("Open this in {page}").format(page=page_title), icon=":material/open_in_new:",
                 query_params={**step.query(), **flags}, help=_("The same settings on the page, with every control"))
with right:
    if revealed:
        ui.chart(step.figure(live, scale=ctx.scale), key="lesson_figure")
    elif step.diagram is None:
        with st.container(border=True, height=int(360 * ctx.scale), key="lesson_hidden"):
            st.markdown("### " + _("Predict first"))
            st.markdown(_("The chart appears when you press **Reveal**: pick an answer, or ask the class, first."))
            st.caption(_(lesson.summary))
    if step.diagram is not None:   # with the question, and under the chart once it is revealed
        ui.chart(step.diagram(scale=ctx.scale), key="lesson_diagram")

ui.finish("pages/10_Lessons.py", keep=("lesson", "step"))
