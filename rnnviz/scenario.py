"""A Scenario: what an explorer view shows, a ModelSpec plus the view settings, and the one recipe
from knob values to a trace (importable as rnnviz.spec.Scenario too)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .spec import KNOBS, ModelSpec, spec_fields


@dataclass(frozen=True)
class Scenario:
    """What an explorer view shows: a model (its ModelSpec) and what it reads (sequence length,
    input, where the loss sits, a typed text). Validated on construction, frozen and hashable (a
    cache key); the one recipe from knob values to a trace:

        sc = Scenario.from_values({"cell": "lstm", "recurrent_gain": 1.2, "seq_len": 300})
        sc.inputs(), sc.model(), sc.trace()      # x [T, I], the RecurrentModel, its Trace
        sc.traces(("rnn", "lstm", "gru"))        # the same settings for each cell, on the same input

    The spec's input size follows the input (2 for binary addition, one per character of a text);
    the text counts only for the "text" input, so scenarios that show the same numbers are equal.
    """

    spec: ModelSpec = ModelSpec()
    seq_len: int = KNOBS["seq_len"].default
    input_kind: str = KNOBS["input_kind"].default
    loss: str = KNOBS["loss"].default
    text: str = KNOBS["text"].default

    VIEW = ("seq_len", "input_kind", "loss", "text")

    def __post_init__(self):
        for name in self.VIEW:
            object.__setattr__(self, name, KNOBS[name].validate(getattr(self, name)))
        if self.input_kind != "text":
            object.__setattr__(self, "text", KNOBS["text"].default)
        from .inputs import input_size_for

        size = input_size_for(self.input_kind, self.spec.input_size, self.text)
        if size != self.spec.input_size:
            object.__setattr__(self, "spec", self.spec.replace(input_size=size))

    @classmethod
    def from_values(cls, values: Mapping[str, Any], **changes) -> Scenario:
        """The scenario these knob values describe ({name: value}; other knobs are ignored, missing
        ones take their defaults), with `changes` applied."""
        values = {**values, **changes}
        spec = ModelSpec(**{name: values[name] for name in spec_fields() if name in values})
        return cls(spec, **{name: values[name] for name in cls.VIEW if name in values})

    def replace(self, **changes) -> Scenario:
        """This scenario with some knobs changed (ModelSpec fields or view settings)."""
        return Scenario.from_values(self.values(), **changes)

    def values(self) -> dict[str, Any]:
        """Every knob value of the scenario: the spec's fields and the view settings."""
        return {**self.spec.to_dict(), **{name: getattr(self, name) for name in self.VIEW}}

    @property
    def cell(self) -> str:
        return self.spec.cell

    def inputs(self):
        """The input sequence x [seq_len, input_size] float32 (seeded by the spec's seed)."""
        from .inputs import make

        return make(self.input_kind, self.seq_len, self.spec.input_size, seed=self.spec.seed, text=self.text)

    def model(self):
        """The spec's RecurrentModel."""
        from .model import build_model

        return build_model(self.spec)

    def trace(self):
        """rnnviz.trace of the model on the inputs, with the scenario's loss."""
        from .trace import trace

        return trace(self.model(), self.inputs(), loss=self.loss)

    def traces(self, cells) -> dict:
        """{cell: Trace} of these cells built from the same settings and seed, on the same input
        (computed in parallel when large)."""
        from .model import build_model
        from .trace import trace_all

        return trace_all({c: build_model(self.spec.replace(cell=c)) for c in cells}, self.inputs(), loss=self.loss)
