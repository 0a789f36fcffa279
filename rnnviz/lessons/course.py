"""What a lesson is: a short sequence of steps, each a state of the app, a prediction question, an
answer computed from the live numbers and an explanation that quotes them.

A step's state is a `Preset`: a page and its knob values, so that "Open this in <page>" is the
preset's link and the step's numbers are those the page would show. `compute(values)` runs the
engine for those knob values and returns the step's live facts (numbers, words) and arrays;
`answer(live)` is the index of the correct choice, read from them; the question, the choices and
the explanation are text templates whose named fields ("{ratio:.2g}") are filled from the facts, so
no number is ever typed into the text and a translation can move them. A step may also have a diagram,
drawn from data alone, that goes with the question before the chart is revealed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..files.lessons import Preset
from ..i18n import Message, _
from ..spec import KNOBS

Template = str | Callable[[dict], str]   # a text template, or a function of the live facts that picks one


def template(text: Template, live: dict) -> str:
    """The template of a step's text for these live facts: one chosen by them when the step's knobs are
    changed to a case its own state does not show (a temperature of 0, greedy decoding)."""
    return text(live) if callable(text) else text


@dataclass(frozen=True)
class Step:
    title: str
    state: Preset                         # the page and knob values this step shows
    question: Template                    # a template: named fields from the live facts
    choices: tuple[str, ...]              # templates too
    explanation: Template                 # a template, shown after the reveal
    compute: Callable[[dict], dict]       # knob values -> live facts and arrays
    answer: Callable[[dict], int]         # live -> index of the correct choice
    figure: Callable[..., Any]            # (live, scale) -> the step's figure
    diagram: Callable[..., Any] | None = None   # (scale) -> a figure shown with the question: it gives nothing away

    def values(self) -> dict[str, Any]:
        """Every knob's value in this step's state."""
        return self.state.values()

    def live(self, **changes) -> dict:
        """The step's live facts and arrays, for its own state with `changes` applied to its knobs."""
        values = {**self.values(), **{name: KNOBS[name].validate(v) for name, v in changes.items()}}
        return self.compute(values)

    def correct(self, live: dict) -> int:
        index = int(self.answer(live))
        if not 0 <= index < len(self.choices):
            raise ValueError(f"{self.title}: answer {index} is not a choice")
        return index

    def text(self, live: dict) -> dict[str, Any]:
        """The question, the choices and the explanation with the live facts filled in, in the current
        language (the texts are marked with N_; a fact in words, the method, is translated too)."""
        facts = {**live, "method": _(live["method"])} if isinstance(live.get("method"), str) else dict(live)
        facts.update({k: _(v) for k, v in facts.items() if isinstance(v, Message)})   # a fact in sentences
        return {"question": _(template(self.question, live)).format_map(facts),
                "choices": [_(c).format_map(facts) for c in self.choices],
                "explanation": _(template(self.explanation, live)).format_map(facts)}

    @property
    def page(self) -> str:
        return self.state.page

    def query(self) -> dict[str, str]:
        """The query parameters of the step's state on its page (every knob set, see Preset.query)."""
        return self.state.query()


@dataclass(frozen=True)
class Lesson:
    number: int
    title: str
    summary: str
    steps: tuple[Step, ...]


def state(name: str, page: str, **knobs) -> Preset:
    """A step's state: `page` with these knob values (the others at their defaults)."""
    return Preset(name, name, page, knobs, "")


def legend_below(fig):
    """A figure's legend moved under the plot, so that a half-width column keeps the plot wide."""
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0))
    return fig


def pick(value: float, low: float, high: float) -> int:
    """0 when value < low, 2 when value > high, 1 in between (three-way answers)."""
    return 0 if value < low else 2 if value > high else 1
