"""Lessons that follow the lecture: nine lessons of a few steps each, predict-then-see.

    from rnnviz import lessons
    step = lessons.step(4, 1)            # lesson 4, step 1 (both counted from 1, as in ?lesson=4&step=1)
    live = step.live()                   # the engine's numbers for the step's state
    step.text(live)["question"], step.correct(live), step.figure(live, scale=1.0)
    step.live(w=0.95)                    # the same step with a knob changed: its answer follows

Each step's state is a page and its knob values (`step.page`, `step.query()`, the link that opens it
there). Nothing here imports Streamlit; the page `pages/10_Lessons.py` only shows what this
package computes.
"""
from __future__ import annotations

from ..spec import KNOBS
from .basics import LESSON_1, LESSON_2, LESSON_3, LESSON_4, LESSON_5
from .course import Lesson, Step
from .gated import LESSON_6, LESSON_7, LESSON_8, LESSON_9

LESSONS: tuple[Lesson, ...] = (LESSON_1, LESSON_2, LESSON_3, LESSON_4, LESSON_5, LESSON_6, LESSON_7, LESSON_8,
                               LESSON_9)
assert [lesson.number for lesson in LESSONS] == list(range(1, len(LESSONS) + 1))
assert KNOBS["lesson"].max == len(LESSONS) and KNOBS["step"].max >= max(len(x.steps) for x in LESSONS)


def lesson(number: int) -> Lesson:
    """Lesson `number` (1 to 9)."""
    if not 1 <= number <= len(LESSONS):
        raise ValueError(f"lesson must be 1 to {len(LESSONS)}; got {number}")
    return LESSONS[number - 1]


def step(number: int, index: int) -> Step:
    """Step `index` (from 1) of lesson `number`."""
    steps = lesson(number).steps
    if not 1 <= index <= len(steps):
        raise ValueError(f"lesson {number} has steps 1 to {len(steps)}; got {index}")
    return steps[index - 1]


def neighbour(number: int, index: int, delta: int) -> tuple[int, int] | None:
    """The (lesson, step) one step after (delta=+1) or before (-1) this one, across lessons; None at
    either end of the course."""
    flat = [(lesson.number, i) for lesson in LESSONS for i in range(1, len(lesson.steps) + 1)]
    k = flat.index((number, index)) + delta
    return flat[k] if 0 <= k < len(flat) else None


__all__ = ["LESSONS", "Lesson", "Step", "lesson", "neighbour", "step"]
