"""Every knob of the visualiser, defined once: name, label, range, default, group, how it is shown.

`KNOBS` is the single table that widgets, URL query parameters and presets all derive from
(compare TensorFlow Playground's `state.ts`), and this module holds the one URL codec:
`parse_query` reads untrusted link values (invalid ones become defaults, with a note) and
`to_query` / `Knob.format` write them, spelled one way. `ModelSpec` holds the knobs that define a
model; the view knobs (sequence length, input, loss) live in the same table because they are
shared and shareable in the same way.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np

from .cells import CELLS, LABELS, MODERN_CELLS, NEGATIVE_CELLS
from .deep_knobs import DEEP, DEPTH_LOSS
from .i18n import N_, _
from .modern_knobs import MODERN

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
INITS = ("orthogonal", "gaussian", "identity", "torch")
INPUT_KINDS = ("impulse", "noise", "sine", "binary", "text")
LOSSES = ("last", "all")
# The Training Lab's tasks (rnnviz.tasks.TASKS; listed here because tasks.py imports this module).
TASK_NAMES = ("adding", "copy", "binary_addition", "temporal_order", "parity", "look_ahead", "sentiment")
TASK_LABELS = {"adding": N_("Adding problem"), "copy": N_("Copy"), "binary_addition": N_("Binary addition"),
               "temporal_order": N_("Temporal order"), "parity": N_("Parity"),
               "sentiment": N_("Sentiment with negation"),
               "look_ahead": N_("Look ahead")}
CLIP_CHOICES = ("off", "norm", "value")
LEARNING_RATES = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0)
CLIP_THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0)
CORPORA = ("zen", "stdlib", "upload")
LM_STATES = ("hidden", "cell", "input", "forget", "candidate", "output", "reset", "update")


@dataclass(frozen=True)
class Knob:
    """One setting: its URL/widget key, its label and the values it may take."""

    name: str
    label: str
    default: Any
    kind: str  # "int", "float", "bool", "choice", "multi" (a non-empty subset of the choices) or "text"
    min: float | None = None  # for "text": the fewest and most characters
    max: float | None = None
    step: float | None = None
    choices: tuple = ()
    labels: Mapping[str, str] | None = None
    help: str = ""
    values: tuple = ()  # numbers only: the allowed values (a select slider), e.g. a log-spaced grid
    group: str = ""     # the part of the app it belongs to: one of GROUPS
    page_range: tuple | None = None  # numbers: the narrower (min, max) every page offers (the engine takes more)
    display: str = ""   # choices: "upper" shows and writes them in capitals ("LSTM")
    page_only: bool = False  # its value belongs to one page (a cursor, a typed text): never carried to another

    def grid(self, n: int = 41) -> tuple:
        """`n` evenly spaced values across a number knob's page range (min to max), each a value the
        knob accepts: the values a slider precomputed in the browser switches between."""
        lo, hi = self.page_range or (self.min, self.max)
        return tuple(self.validate(lo + (hi - lo) * k / (n - 1)) for k in range(n))

    def allowed(self) -> str:
        """What the knob takes, in words of the current language."""
        if self.kind == "bool":
            return _("true or false")
        if self.kind in ("choice", "multi"):
            text = (_("one of {choices}") if self.kind == "choice" else
                    _("one or more of {choices}, separated by commas"))
            return text.format(choices=", ".join(repr(c) for c in self.choices))
        if self.values:
            return _("one of {choices}").format(choices=", ".join(_fmt(v) for v in self.values))
        if self.kind == "text":
            return _("text of {min} to {max} characters on one line, not only spaces").format(
                min=_fmt(self.min), max=_fmt(self.max))
        text = _("an integer in [{min}, {max}]") if self.kind == "int" else _("a number in [{min}, {max}]")
        return text.format(min=_fmt(self.min), max=_fmt(self.max))

    def validate(self, value: Any) -> Any:
        """Return `value` converted to this knob's type, or raise ValueError naming the knob.

        A "multi" knob takes a comma-separated string or a sequence of choices and returns a tuple
        in the order of `choices`, without repeats."""
        if self.kind == "bool":  # True / False, or a word for them ("true", "1", "on", "yes", ...)
            word = value.strip().lower() if isinstance(value, str) else value
            if isinstance(word, (bool, np.bool_, str)) and word in _BOOL_WORDS:
                return _BOOL_WORDS[word]
            raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
        if self.kind == "choice":
            if isinstance(value, str) and value.strip().lower() in self.choices:
                return value.strip().lower()
            raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
        if self.kind == "multi":
            items = value.split(",") if isinstance(value, str) else value
            try:
                picked = {str(v).strip().lower() for v in items}
            except TypeError:
                picked = set()
            if not picked or not picked <= set(self.choices) or not all(isinstance(v, str) for v in items):
                raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
            return tuple(c for c in self.choices if c in picked)
        if self.kind == "text":  # no control characters (line breaks, tabs, escapes) and no lone surrogates
            if (isinstance(value, str) and self.min <= len(value) <= self.max and value.strip()
                    and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)):
                return value
            raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
        try:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError
            if self.kind == "int":
                if isinstance(value, str):
                    value = value.strip()
                    number = int(value) if value.lstrip("+-").isdigit() else None
                    if number is None:
                        raise TypeError
                elif isinstance(value, float):
                    if not value.is_integer():
                        raise TypeError
                    number = int(value)
                else:
                    number = int(value)
                    if number != value:
                        raise TypeError
            else:
                number = float(value)
                # a bound as a link writes it (%g: 2π is "6.28319") is that bound
                number = next((b for b in (self.min, self.max) if number == float(format_value(float(b)))), number)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}") from None
        if not math.isfinite(number) or number < self.min or number > self.max:
            raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
        if self.values:
            match = [v for v in self.values if math.isclose(number, v, rel_tol=1e-9)]
            if not match:
                raise ValueError(f"{self.name} must be {self.allowed()}; got {value!r}")
            return match[0]
        return number

    def label_of(self, choice: str) -> str:  # in the current language
        return _((self.labels or {}).get(choice, choice))

    def token(self, choice: str) -> str:
        """A choice as its widget shows it and a link writes it: "LSTM" for a cell, "noise" otherwise."""
        if self.display == "upper":
            return LABELS.get(choice) or str(choice).upper()
        return str(choice)

    def format(self, value: Any) -> str:
        """A value as URL text, the one spelling: tokens for choices ("RNN,GRU" for a multi knob),
        numbers in %g."""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind in ("choice", "multi"):
            items = value if isinstance(value, (tuple, list)) else (value,)
            return ",".join(self.token(v) for v in items)
        return format_value(value)

    def limits(self, page: bool = True) -> tuple:
        """(min, max) of a number: on a page (the page range, when it has one) or for the engine."""
        return self.page_range if page and self.page_range else (self.min, self.max)


_BOOL_WORDS = {True: True, "true": True, "1": True, "on": True, "yes": True,
               False: False, "false": False, "0": False, "off": False, "no": False}


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# The groups of knobs: which part of the app a knob belongs to. URL keys are never renamed (a link
# must keep working), so some carry the prefix of their group: train_ (the Training Lab), lm_ (the
# Text Lab's language model), tr_ (Translation). `steps` is One Neuron's sequence length T;
# `train_steps`, `lm_steps` and `tr_steps` count training steps.
GROUPS = {"model": "the model the explorer pages build", "view": "what the explorer pages feed it and show",
          "modern": "the cells after the LSTM (LRU, minGRU, minLSTM, S6)",
          "neuron": "One Neuron", "training": "the Training Lab", "text": "the Text Lab",
          "translation": "Translation", "lessons": "the Lessons page"}


def _group(name: str, *knobs: Knob) -> list[Knob]:
    assert name in GROUPS, name
    return [dataclasses.replace(k, group=name) for k in knobs]


_KNOB_LIST = [*_group(
    "model",
    Knob("cell", N_("Cell"), "rnn", "choice", choices=CELLS + MODERN_CELLS, display="upper",
         help=N_("Vanilla RNN, LSTM (input, forget, candidate, output gates) or GRU (reset, update, candidate).")),
    Knob("input_size", N_("Input size"), 1, "int", 1, 1024, 1, page_range=(1, 16),
         help=N_("Number of input features per time step.")),
    Knob("hidden_size", N_("Hidden size H"), 32, "int", 1, 1024, 1, page_range=(1, 512),
         help=N_("Number of hidden units.")),
    Knob("activation", N_("Activation (RNN)"), "tanh", "choice", choices=ACTIVATIONS,
         help=N_("Nonlinearity of the vanilla RNN. LSTM and GRU always use tanh and sigmoid.")),
    Knob("init", N_("Initialisation"), "orthogonal", "choice", choices=INITS,
         labels={"orthogonal": N_("orthogonal"), "gaussian": N_("gaussian (spectral radius = gain)"),
                 "identity": N_("identity"), "torch": N_("PyTorch default")},
         help=N_("How the recurrent weights start: gain x orthogonal, gaussian rescaled to spectral radius = gain, "
              "gain x identity, or PyTorch's uniform default times gain.")),
    Knob("recurrent_gain", N_("Recurrent gain"), 0.9, "float", 0.0, 4.0, 0.01,
         help=N_("Scale of the recurrent weights W_hh. Below 1 gradients fade, above 1 they can explode.")),
    Knob("input_gain", N_("Input gain"), 1.0, "float", 0.0, 4.0, 0.01,
         help=N_("Scale of the input weights W_ih.")),
    Knob("forget_bias", N_("Forget / update bias"), 3.0, "float", -10.0, 10.0, 0.1,
         help=N_("LSTM: bias of the forget gate. GRU: bias of the update gate. Large values keep the memory "
              "path open: sigmoid(3) = 0.95 passes 95% of the cell state on at every step; "
              "sigmoid(0) = 0.5 halves it (PyTorch's own initialisation is near 0).")),
    Knob("seed", N_("Seed"), 0, "int", 0, 2**31 - 1, 1,
         help=N_("Random seed of weights and inputs: the same seed gives the same numbers everywhere.")),
    *(Knob(**k) for k in DEEP),
), *_group(
    "view",
    Knob("seq_len", N_("Sequence length T"), 200, "int", 1, 10000, 1, page_range=(2, 5000),
         help=N_("Number of time steps.")),
    Knob("input_kind", N_("Input sequence"), "impulse", "choice", choices=INPUT_KINDS,
         labels={"impulse": N_("impulse at t=0"), "noise": N_("Gaussian noise"), "sine": N_("sine wave"),
                 "binary": N_("binary addition (two numbers, LSB first)"), "text": N_("text (one-hot characters)")},
         help=N_("What the network reads.")),
    Knob("text", N_("Text"), "the quick brown fox jumps over the lazy dog", "text", 1, 400, page_only=True,
         help=N_("Read one character per step, one-hot over the text's characters.")),
    Knob("t", N_("Time step t"), 0, "int", 0, 9999, 1, page_only=True, help=N_("The time cursor.")),
    Knob("unit", N_("Unit"), 0, "int", 0, 1023, 1, page_only=True,
         help=N_("The hidden unit whose numbers the equations show.")),
    Knob("loss", N_("Loss on"), "last", "choice", choices=LOSSES,
         labels={"last": N_("the last step only (many-to-one)"), "all": N_("every step (many-to-many)")},
         help=N_("Where the probe loss L = v·h sits")),
    Knob("flow_cells", N_("Cells"), CELLS, "multi", choices=CELLS + MODERN_CELLS, display="upper",
         help=N_("The cells compared on the same input, from the same settings and seed.")),
    Knob(**DEPTH_LOSS),
), *_group("modern", *(Knob(**k) for k in MODERN)), *_group(
    "neuron",  # h_t = act(w h_{t-1} + u x_t + b)
    Knob("w", N_("Recurrent weight w"), 0.9, "float", -8.0, 8.0, 0.01,
         help=N_("|w| < 1 fades, |w| > 1 explodes (linear); saturation changes the story.")),
    Knob("u", N_("Input weight u"), 1.0, "float", -4.0, 4.0, 0.01),
    Knob("b", N_("Bias b"), 0.0, "float", -8.0, 8.0, 0.01),
    Knob("h0", N_("Initial state h₀"), 0.0, "float", -2.0, 2.0, 0.01),
    Knob("steps", N_("Steps T"), 40, "int", 1, 300, 1),
    Knob("neuron_input", N_("Input"), "impulse", "choice", choices=("impulse", "constant", "none"),
         labels={"impulse": N_("impulse x₁ = 1"), "constant": N_("constant x_t = 1"), "none": N_("no input")}),
), *_group(
    "training",
    Knob("task", N_("Task"), "adding", "choice", choices=TASK_NAMES, labels=TASK_LABELS,
         help=N_("What the networks learn. Each task needs memory; its baseline is the best loss without any.")),
    Knob("cells", N_("Cells to train"), CELLS, "multi", choices=CELLS + MODERN_CELLS + NEGATIVE_CELLS, display="upper",
         help=N_("Trained one after another, each from the same seed on the same batches.")),
    Knob("rnn_activation", N_("RNN activation"), "tanh", "choice", choices=("tanh", "relu"),
         help=N_("The plain RNN's nonlinearity. ReLU does not saturate: its state and gradient can explode.")),
    Knob("train_seq_len", N_("Sequence length T"), 50, "int", 1, 1000, 1,
         help=N_("Time steps per sequence (for Copy: the gap between reading and recalling).")),
    Knob("train_steps", N_("Training steps"), 1500, "int", 10, 5000, 10,
         help=N_("Each step draws a fresh batch of sequences and makes one Adam update.")),
    Knob("batch_size", N_("Batch size"), 50, "int", 1, 256, 1, help=N_("Sequences per training step.")),
    Knob("lr", N_("Learning rate"), 3e-3, "float", 1e-4, 1.0, values=LEARNING_RATES,
         help=N_("Adam's step size.")),
    Knob("clip", N_("Gradient clipping"), "norm", "choice", choices=CLIP_CHOICES,
         labels={"off": N_("off"), "norm": N_("by norm: rescale the whole gradient to norm ≤ threshold"),
                 "value": N_("by value: clamp every element to [−threshold, threshold]")},
         help=N_("Clipping stops one exploding gradient from throwing the weights far away (Pascanu et al. 2013).")),
    Knob("clip_threshold", N_("Clipping threshold"), 1.0, "float", 0.01, 100.0, values=CLIP_THRESHOLDS),
    Knob("train_hidden", N_("Hidden size H"), 64, "int", 1, 128, 1, help=N_("Hidden units of every cell.")),
    Knob("train_seed", N_("Seed"), 0, "int", 0, 2**31 - 1, 1,
         help=N_("Seed of the initial weights and of the training batches: the same for every cell.")),
), *_group(
    "text",  # the Text Lab also reads the model group's `cell` and `seed`
    Knob("corpus", N_("Text to learn from"), "zen", "choice", choices=CORPORA,
         labels={"zen": N_("the Zen of Python (19 short lines)"),
                 "stdlib": N_("Python source code (200 kB of the standard library)"),
                 "upload": N_("your own .txt file")},
         help=N_("The text the character model learns to continue.")),
    Knob("lm_hidden", N_("Hidden size H"), 128, "int", 4, 512, 1,
         help=N_("Hidden units of the character model.")),
    Knob("lm_steps", N_("Training steps"), 600, "int", 10, 20000, 10,
         help=N_("Each step trains on one batch of windows of the text. Stop ends training early and keeps "
              "the model.")),
    Knob("lm_seq_len", N_("Characters per window"), 64, "int", 2, 400, 1,
         help=N_("Backpropagation through time runs over windows of this many characters, from a zero state.")),
    Knob("lm_batch", N_("Batch size"), 32, "int", 1, 256, 1, help=N_("Windows per training step.")),
    Knob("lm_lr", N_("Learning rate (Adam)"), 0.005, "float", 0.0005, 0.05, 0.0005),
    Knob("temperature", N_("Temperature"), 0.8, "float", 0.0, 2.0, 0.05,
         help=N_("Divides the logits before the softmax: near 0 the most likely character always wins (0 is greedy "
              "decoding), 1 samples the model's own distribution, above 1 flattens it.")),
    Knob("top_k", N_("Top-k (0: no limit)"), 0, "int", 0, 256, 1,
         help=N_("Sample only among the k most likely characters.")),
    Knob("sample_len", N_("Characters to generate"), 300, "int", 1, 2000, 1),
    Knob("sample_seed", N_("Sampling seed"), 0, "int", 0, 2**31 - 1, 1,
         help=N_("The same seed, prompt and model give the same text.")),
    Knob("lm_state", N_("Colour the text by"), "hidden", "choice", choices=LM_STATES,
         labels={"hidden": N_("hidden state h"), "cell": N_("cell state c (LSTM)"), "input": N_("input gate i"),
                 "forget": N_("forget gate f"), "candidate": N_("candidate (tanh)"), "output": N_("output gate o"),
                 "reset": N_("reset gate r"), "update": N_("update gate z")}),
    Knob("lm_unit", N_("Unit"), 0, "int", 0, 1023, 1, help=N_("Which unit's activation colours the text.")),
    Knob("look_len", N_("Characters to look at"), 1000, "int", 100, 5000, 100,
         help=N_("How much of the text the model reads for the views below.")),
    Knob("grad_pos", N_("Predicting the character after position"), 200, "int", 0, 4999, 1,
         help=N_("The output whose gradient is traced back to every earlier input character.")),
), *_group(
    "translation",  # the date translator and its training
    Knob("tr_cell", N_("Cell"), "lstm", "choice", choices=("lstm", "gru"), display="upper",
         help=N_("The encoder and the decoder are both this cell.")),
    Knob("tr_hidden", N_("Hidden size H"), 128, "int", 8, 256, 1,
         help=N_("Units of the encoder and of the decoder: the context vector has H numbers (an LSTM passes its "
              "cell state c on too).")),
    Knob("tr_seconds", N_("Time budget (seconds)"), 90, "int", 5, 300, 1,
         help=N_("Training stops after this much wall-clock time (held-out evaluations included). Most runs stop "
              "earlier, at the exact-match level below; the margin is for a busy machine.")),
    Knob("tr_target", N_("Stop early at exact match (%)"), 95, "int", 50, 100, 1,
         help=N_("Training stops as soon as this share of held-out dates is translated exactly right.")),
    Knob("tr_steps", N_("Step limit (0: none)"), 0, "int", 0, 20000, 1,
         help=N_("Training stops after this many steps (64 dates each). A step limit reached within the time "
              "budget gives the same model on every machine.")),
    Knob("tr_seed", N_("Seed"), 0, "int", 0, 2**31 - 1, 1,
         help=N_("Initial weights and the order of training dates: the same seed and step limit give the same "
              "model everywhere.")),
    # The default is the second example of the translator's showcase(), a held-out date.
    Knob("tr_text", N_("…or type a date"), "Wednesday, June 20, 2001", "text", 1, 120, page_only=True,
         help=N_("At most 120 characters. Dates from 1969 to 2068 in the formats of the examples; two-digit years "
              "69–99 are 19xx, 00–68 are 20xx.")),
), *_group(
    "lessons",  # where a lesson link opens: ?lesson=4&step=2
    Knob("lesson", N_("Lesson"), 1, "int", 1, 9, 1, page_only=True, help=N_("The lesson, in the lecture's order.")),
    Knob("step", N_("Step"), 1, "int", 1, 9, 1, page_only=True, help=N_("The step of the lesson.")),
)]
KNOBS: dict[str, Knob] = {k.name: k for k in _KNOB_LIST}


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a model. Validated on construction.

    Recurrent-weight initialisation (each H x H gate block of `weight_hh`):
      orthogonal: gain * Q, Q a Haar-random orthogonal matrix;
      gaussian:   N(0, 1/H) rescaled so its spectral radius equals the gain;
      identity:   gain * I;
      torch:      PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) times gain.
    `forget_bias` is the effective forget-gate bias of an LSTM (bias_ih + bias_hh of
    the forget rows) and the effective update-gate bias of a GRU.
    """

    cell: str = "rnn"
    input_size: int = 1
    hidden_size: int = 32
    activation: str = "tanh"
    init: str = "orthogonal"
    recurrent_gain: float = 0.9
    input_gain: float = 1.0
    forget_bias: float = 3.0
    seed: int = 0
    r_min: float = KNOBS["r_min"].default   # the modern cells' knobs (rnnviz.modern_knobs)
    r_max: float = KNOBS["r_max"].default
    max_phase: float = KNOBS["max_phase"].default
    normalize: str = KNOBS["normalize"].default
    negative: str = KNOBS["negative"].default
    d_state: int = KNOBS["d_state"].default
    discretization: str = KNOBS["discretization"].default
    num_layers: int = KNOBS["num_layers"].default   # stacked / bidirectional models (rnnviz.deep_knobs)
    bidirectional: bool = KNOBS["bidirectional"].default
    residual: bool = KNOBS["residual"].default

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, KNOBS[f.name].validate(getattr(self, f.name)))

    def replace(self, **changes) -> ModelSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_query(self) -> dict[str, str]:
        """Query parameters for this spec; defaults are left out so links stay short."""
        return to_query(self.to_dict())

    @classmethod
    def from_query(cls, params: Mapping[str, Any], **overrides) -> tuple[ModelSpec, list[str]]:
        """Build a spec from untrusted query parameters.

        Returns the spec and a list of human-readable notes, one for every value that
        was invalid and replaced by its default. Never raises on bad input.
        """
        values, notes = parse_query(params, [f.name for f in dataclasses.fields(cls)])
        values.update(overrides)
        return cls(**values), notes


def spec_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(ModelSpec)]


def format_value(value: Any) -> str:
    """A number as URL text (%g for floats); see `Knob.format` for any knob's value."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def to_query(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for these knob values, leaving out unknown names and values equal to their
    default (links stay short), each spelled by `Knob.format`."""
    return {name: KNOBS[name].format(value) for name, value in values.items()
            if name in KNOBS and value != KNOBS[name].default}


# Knobs whose value belongs to one page only (a time cursor, a unit index, a typed text or date):
# never carried to another page, and a link need not reset them.
PAGE_ONLY = frozenset(k.name for k in _KNOB_LIST if k.page_only)


def query_string(params: Mapping[str, str]) -> str:
    """URL query text "a=1&b=x%20y" of these parameters: typed text is percent-encoded (a link in
    markdown or HTML stays whole); the commas of multi-choice values stay readable."""
    return "&".join(f"{k}={quote(str(v), safe=',')}" for k, v in params.items())


def default_within(name: str, limits: tuple | None = None):
    """A knob's default, moved inside `limits` (min, max) when a page offers a narrower range."""
    d = KNOBS[name].default
    lo, hi = limits or (None, None)
    if hi is not None and isinstance(d, (int, float)):
        d = min(d, hi)
    if lo is not None and isinstance(d, (int, float)):
        d = max(d, lo)
    return d


def parse_query(params: Mapping[str, Any], names, limits: Mapping[str, tuple] | None = None, *,
                quote_value: Callable[[str], str] = repr) -> tuple[dict[str, Any], list[str]]:
    """Validate the knobs `names` found in untrusted query parameters `params`: the one URL reader.

    `params` values may be strings or lists of strings (repeated parameters: the last one counts).
    `limits` narrows a number's range ({name: (min, max)}, e.g. a page's). Returns
    ({name: value}, notes): every name's value (its default, moved inside its limits, when absent
    or invalid) and one note per invalid value, quoting it (at most 40 characters) with
    `quote_value`. Never raises on bad input.
    """
    limits = limits or {}
    values, notes = {}, []
    for name in names:
        knob = KNOBS[name]
        values[name] = default_within(name, limits.get(name))
        if name not in params:
            continue
        raw = params[name]
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        raw = str(raw)
        lo, hi = limits.get(name, (None, None))
        try:
            value = knob.validate(raw)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ValueError(f"{name} must be in [{lo}, {hi}]")
            values[name] = value
        except ValueError:
            allowed = (_("in [{lo}, {hi}] on this page").format(lo=lo, hi=hi) if name in limits
                       else knob.allowed())
            shown = quote_value(raw if len(raw) <= 40 else raw[:40] + "…")
            notes.append(_("The link's value {name}={value} was ignored: {name} must be {allowed}. "
                           "Using {default} instead.").format(name=name, value=shown, allowed=allowed,
                                                              default=format_value(values[name])))
    return values, notes


from .scenario import Scenario as Scenario  # noqa: E402  (built on this module; importable from here too)
