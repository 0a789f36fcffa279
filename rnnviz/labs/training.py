"""What the Training Lab page runs, apart from `rnnviz.fit` itself: the settings of a run, the model
each cell gets, per-task suggested settings, a time estimate that bounds what one click may start,
and the binary-addition worked example. No Streamlit here.

    settings = lab.Settings(task="adding", cells=("rnn", "lstm", "gru"), seq_len=50, steps=1500, ...)
    for cell in settings.cells:
        result = rnnviz.fit(settings.spec(cell), **settings.fit_kwargs())
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..cells import LABELS, MODERN_CELLS, NEGATIVE_CELLS
from ..i18n import N_, Message, _
from ..spec import KNOBS, ModelSpec
from ..tasks import BinaryAddition, get_task
from ..trace import trace
from ..train import fit

TEST_SIZE = 1000          # fixed test sequences, evaluated about TEST_POINTS times per run
TEST_POINTS = 20
CHECKPOINTS = 20          # rows of the gradient-reach heatmap
BUDGET_SECONDS = 600.0    # one click of Train may start at most this much estimated work
INIT = "torch"            # PyTorch's default initialisation, as in benchmarks/adding_repro.py
# Seconds per training step: length * (A + K * batch * G * H * (H + 8)) / 1000 (see estimate_seconds).
_G = {"rnn": 1, "lstm": 4, "gru": 3}
_A = {"rnn": 0.053, "lstm": 0.02, "gru": 0.19}
_K = {"rnn": 3.2e-7, "lstm": 2.2e-7, "gru": 2.2e-7}
_EVAL_OVERHEAD = 1.15     # test-set evaluations and gradient-reach traces
# The cells after the LSTM (parallel scan; G = 1), measured the same way at H = 32 and 128, T = 50 and 200.
_G.update(dict.fromkeys(MODERN_CELLS + NEGATIVE_CELLS, 1))
_A.update(dict.fromkeys(MODERN_CELLS + NEGATIVE_CELLS, 0.05))
_K.update(lru=7.4e-7, mingru=1.1e-6, minlstm=1.4e-6, s6=5.5e-6, mingru_neg=1.1e-6, minlstm_neg=1.4e-6, s6_neg=5.5e-6)


# Each setting's knob (its URL key): the knobs of the Training Lab's group, some with the prefix train_.
KNOB_OF = {"task": "task", "cells": "cells", "rnn_activation": "rnn_activation", "seq_len": "train_seq_len",
           "steps": "train_steps", "batch_size": "batch_size", "lr": "lr", "clip": "clip",
           "clip_threshold": "clip_threshold", "hidden_size": "train_hidden", "seed": "train_seed",
           "num_layers": "num_layers", "bidirectional": "bidirectional"}


@dataclass(frozen=True)
class Settings:
    """Everything that defines one Training Lab run (every cell gets the same)."""

    task: str = KNOBS["task"].default
    cells: tuple = KNOBS["cells"].default
    rnn_activation: str = KNOBS["rnn_activation"].default
    seq_len: int = KNOBS["train_seq_len"].default
    steps: int = KNOBS["train_steps"].default
    batch_size: int = KNOBS["batch_size"].default
    lr: float = KNOBS["lr"].default
    clip: str = KNOBS["clip"].default              # "off", "norm" or "value"
    clip_threshold: float = KNOBS["clip_threshold"].default
    hidden_size: int = KNOBS["train_hidden"].default
    seed: int = KNOBS["train_seed"].default
    num_layers: int = KNOBS["num_layers"].default       # stacked layers of every cell
    bidirectional: bool = KNOBS["bidirectional"].default

    @classmethod
    def from_values(cls, values) -> Settings:
        """The settings these Training Lab knob values describe ({knob name: value}; missing ones default)."""
        return cls(**{field: values[name] for field, name in KNOB_OF.items() if name in values})

    def spec(self, cell: str) -> ModelSpec:
        """The model `cell` starts from: PyTorch's default initialisation, seeded with `seed`. A cell
        named with _neg ("mingru_neg") is that cell with transitions in [-1, 1]."""
        activation = self.rnn_activation if cell == "rnn" else "tanh"
        negative = "negative" if cell in NEGATIVE_CELLS else "positive"
        return ModelSpec(cell=cell.removesuffix("_neg"), hidden_size=self.hidden_size, activation=activation,
                         init=INIT, seed=self.seed, negative=negative, num_layers=self.num_layers,
                         bidirectional=self.bidirectional)

    def fit_kwargs(self) -> dict:
        """The arguments of rnnviz.fit besides the spec (and on_step)."""
        return dict(task=self.task, seq_len=self.seq_len, steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                    clip=None if self.clip == "off" else self.clip_threshold,
                    clip_mode="norm" if self.clip == "off" else self.clip, seed=self.seed, test_size=TEST_SIZE,
                    test_every=test_every(self.steps), checkpoints=CHECKPOINTS)

    def cell_label(self, cell: str) -> str:
        """"RNN", "LSTM", "GRU"; "ReLU RNN" for an RNN with the ReLU activation; "minGRU [−1, 1]"."""
        if cell in NEGATIVE_CELLS:
            return f"{LABELS[cell.removesuffix('_neg')]} [−1, 1]"
        return "ReLU RNN" if cell == "rnn" and self.rnn_activation == "relu" else LABELS[cell]

    def by_label(self, results: dict) -> dict:
        """{cell: X} as {"ReLU RNN" / "LSTM" / ...: X}, for legends."""
        return {self.cell_label(c): r for c, r in results.items()}

    def model_label(self, cell: str) -> str:
        """A name for the model this run trains for `cell`; the same settings give the same name (a
        Message: the English, shown translated where a page shows it)."""
        clip = (Message("no clipping") if self.clip == "off" else
                Message("clip {mode} {threshold:g}", mode=Message(self.clip), threshold=self.clip_threshold))
        depth = ((Message("{n} layers, bidirectional, ", n=self.num_layers) if self.bidirectional else
                  Message("{n} layers, ", n=self.num_layers)) if self.num_layers > 1 or self.bidirectional else "")
        return Message("{cell} · {task}, T={T} · {depth}H={H}, {steps} steps, batch {batch}, lr {lr:g}, {clip}, "
                       "seed {seed}", cell=self.cell_label(cell), task=Message(get_task(self.task).title),
                       T=self.seq_len, depth=depth, H=self.hidden_size, steps=self.steps, batch=self.batch_size,
                       lr=self.lr, clip=clip, seed=self.seed)

    def changes_from(self, other: Settings) -> list[str]:
        """Human-readable differences: "steps 1200 → 2000"."""
        out = []
        for f in dataclasses.fields(self):
            a, b = getattr(other, f.name), getattr(self, f.name)
            if a != b:
                fmt = (lambda v: ", ".join(self.cell_label(c) for c in v)) if f.name == "cells" else \
                    (lambda v: f"{v:g}" if isinstance(v, float) else _(str(v)))
                out.append(f"{_(SETTING_WORDS[f.name])} {fmt(a)} → {fmt(b)}")
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def suggested(cls, task: str, **knobs) -> Settings:
        """The settings the page's "Use the suggested settings" button gives `task` (every cell, the
        default seed), with Training Lab knob values in `knobs` (e.g. train_steps=600) on top."""
        return cls.from_values({**suggested(task).values, **knobs, "task": get_task(task).name})

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


def fit_cells(settings: Settings, on_step: Callable | None = None) -> dict:
    """Train every cell of `settings` one after another, each from the same seed on the same batches:
    {cell: FitResult}. The dict is filled as training goes (the cell in training has its record so
    far), so a run that is interrupted keeps what each cell learned. `on_step(results, n, info)`
    follows every step of the n-th cell (info: rnnviz.StepInfo)."""
    results: dict = {}
    for n, cell in enumerate(settings.cells):
        def step(info, n=n, cell=cell):
            results[cell] = info.result
            if on_step is not None:
                on_step(results, n, info)

        results[cell] = fit(settings.spec(cell), on_step=step, **settings.fit_kwargs())
    return results


def test_every(steps: int) -> int:
    """Steps between test-set evaluations: about TEST_POINTS of them, on round step numbers."""
    every = max(10, steps // TEST_POINTS)
    return int(10 * round(every / 10))


# ------------------------------------------------------------------------------------------ cost
def seconds_per_step(cell: str, hidden_size: int, length: int, batch_size: int) -> float:
    """Rough seconds per training step (forward, backward, Adam) on the 2-core machine this was
    calibrated on (torch 2.13 CPU, one thread), evaluations included. `length` is the number of
    time steps of a sequence (task.length(seq_len))."""
    H = hidden_size
    per_time_step = _A[cell] + _K[cell] * batch_size * _G[cell] * H * (H + 8)
    return _EVAL_OVERHEAD * length * per_time_step / 1000.0


def estimate_seconds(settings: Settings) -> float:
    """Rough seconds to train every cell of `settings`, one after another."""
    length = get_task(settings.task).length(settings.seq_len)
    copies = settings.num_layers * (2 if settings.bidirectional else 1)  # every layer and direction, one after another
    return copies * sum(settings.steps * seconds_per_step(c, settings.hidden_size, length, settings.batch_size)
                        for c in settings.cells)


def over_budget(settings: Settings) -> str | None:
    """None, or why this run is refused: its estimated time exceeds BUDGET_SECONDS."""
    return refusal(estimate_seconds(settings))


def refusal(seconds: float) -> str | None:
    """None, or why a training run of this estimated length is refused (more than BUDGET_SECONDS):
    one click must not be able to keep a shared server busy for long."""
    if seconds <= BUDGET_SECONDS:
        return None
    return _("This run would take about {time}, more than the {budget} one click may start here. Use fewer steps, a "
             "smaller batch, a shorter sequence, fewer hidden units or fewer cells.").format(
               time=format_seconds(seconds), budget=format_seconds(BUDGET_SECONDS))


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))}\u00a0s"
    return f"{seconds / 60:.0f}\u00a0min" if seconds >= 600 else f"{seconds / 60:.1f}\u00a0min"


# ------------------------------------------------------------------------------------------ suggestions
@dataclass(frozen=True)
class Suggestion:
    """Settings that show what a task teaches within about a minute here, and what to expect."""

    values: dict            # Training Lab knob name -> value
    expect: str             # English, marked with N_: translate where shown


def _suggest(seq_len: int, hidden: int, lr: float, batch_size: int, steps: int, expect: str,
             **knobs) -> Suggestion:
    """Every suggestion clips the gradient's norm at 1, as the adding-problem reproduction does;
    `knobs`: further Training Lab knob values."""
    return Suggestion(dict(train_seq_len=seq_len, train_hidden=hidden, lr=lr, batch_size=batch_size,
                           train_steps=steps, clip="norm", clip_threshold=1.0, **knobs), expect)


SUGGESTED: dict[str, Suggestion] = {
    "adding": _suggest(
        seq_len=50, hidden=64, lr=3e-3, batch_size=50, steps=1500,
        expect=N_("The RNN's loss stays at the baseline (0.163, or the literature's 1/6): it never finds the two "
               "marked numbers 25 steps apart. The GRU breaks through after about 500 steps, the LSTM after 900 to "
               "1400 (depending on the seed).")),
    "temporal_order": _suggest(
        seq_len=40, hidden=32, lr=3e-3, batch_size=50, steps=600,
        expect=N_("The RNN stays at ln 4 (a guess among XX, XY, YX, YY); LSTM and GRU find the two relevant symbols "
               "within about 200 steps and then answer every test sequence right.")),
    # Every cell adds every pair of 8-bit numbers right after 300 to 500 steps (seeds 0 to 19); 1000 steps
    # leave a margin for the occasional wobble of Adam at lr 1e-2 (benchmarks/binary_addition.py).
    "binary_addition": _suggest(
        seq_len=16, hidden=16, lr=1e-2, batch_size=32, steps=1000,
        expect=N_("All three learn it: the carry only has to be remembered for one step, which even a plain RNN can "
               "do (often fastest). After training every cell adds all 65,536 pairs of 8-bit numbers right. Look "
               "at the worked example: some units switch with the carry.")),
    "sentiment": _suggest(
        seq_len=20, hidden=32, lr=1e-2, batch_size=50, steps=800,
        expect=N_("The opinion word and its 'not' can be anywhere among 20 words. The RNN stays at the coin-flip "
               "baseline ln 2; the LSTM (after about 400 steps) and the GRU (about 600) learn to hold the opinion "
               "to the end.")),
    "copy": _suggest(
        seq_len=5, hidden=64, lr=1e-2, batch_size=50, steps=1000,
        expect=N_("Hard: every cell first learns to output blanks (the baseline). The RNN stays there; LSTM and GRU "
               "slowly start to recall the ten symbols (about half of them right after 1000 steps).")),
    "look_ahead": _suggest(
        seq_len=20, hidden=16, lr=1e-2, batch_size=32, steps=400, bidirectional=True,
        expect=N_("With Bidirectional on, every cell reads the answer with its backward direction: "
               "the loss falls far below the 'no future' baseline within a few hundred steps. "
               "Switch Bidirectional off and train again: no cell gets below that baseline.")),
    "parity": _suggest(
        seq_len=6, hidden=32, lr=1e-2, batch_size=50, steps=800,
        expect=N_("Every bit matters equally and no single bit says anything about the answer, so gradient descent "
               "gets no hint where to start: expect the loss to sit at ln 2 for a long time, for every cell.")),
}


# Runs with the cells after the LSTM, offered as one click each: {title: (Training Lab knob values, what to expect)}.
AFTER_LSTM = {
    N_("Adding at T = 1000: RNN, minGRU, LRU"): (dict(
        task="adding", cells=("rnn", "mingru", "lru"), train_seq_len=1000, train_hidden=64, lr=3e-3, batch_size=50,
        train_steps=500, clip="norm", clip_threshold=1.0),
        N_("The two marked numbers can be 500 steps apart. A tanh RNN's gradient is gone long before that. minGRU's "
        "gradient reaches back, since its transition 1 − z stays close to 1. One LRU layer is a linear filter of "
        "its input: it cannot multiply a value by its marker, so alone it stays near the baseline (the LRU paper "
        "stacks it with nonlinear layers in between).")),
    N_("Parity: minGRU with eigenvalues in [0, 1] and in [−1, 1]"): (dict(
        task="parity", cells=("mingru", "mingru_neg"), train_seq_len=10, train_hidden=32, lr=3e-3, batch_size=50,
        train_steps=1500, clip="norm", clip_threshold=1.0),
        N_("With transitions in [0, 1] a linear recurrence cannot flip its state on a 1-bit, so it cannot count modulo "
        "2 (Grazzi et al. 2024); with [−1, 1] it can. Whether gradient descent finds the solution in 1500 steps "
        "depends on the seed.")),
}


def suggested(task: str) -> Suggestion:
    return SUGGESTED[get_task(task).name]


# The settings as `Settings.changes_from` names them, and the words of their values that are not names
SETTING_WORDS = {"task": N_("task"), "cells": N_("cells"), "rnn_activation": N_("rnn activation"),
                 "seq_len": N_("seq len"), "steps": N_("steps"), "batch_size": N_("batch size"), "lr": N_("lr"),
                 "clip": N_("clip"), "clip_threshold": N_("clip threshold"), "hidden_size": N_("hidden size"),
                 "seed": N_("seed"), "num_layers": N_("num layers"), "bidirectional": N_("bidirectional")}
VALUE_WORDS = (N_("True"), N_("False"))

# What a task's `accuracy` counts (see each Task.accuracy).
ACCURACY_LABELS = {"adding": N_("answers within 0.04 of the sum"), "copy": N_("recalled symbols right"),
                   "binary_addition": N_("sum bits right")}


def accuracy_label(task: str) -> str:
    """What the task's accuracy counts, in the current language."""
    return _(ACCURACY_LABELS.get(get_task(task).name, N_("answers right")))


def against_baseline(loss: float, baseline: float) -> tuple[str, bool]:
    """("83% below baseline", True), or ("at baseline", False) when the loss is within 10% of it,
    ("3.0 × baseline", False) above: nothing that needs memory was learned."""
    ratio = loss / baseline
    if ratio >= 0.9:
        if ratio <= 1.1:
            return _("at baseline"), False
        return (_("{ratio:.1f} × baseline") if ratio < 10 else _("{ratio:.2g} × baseline")).format(ratio=ratio), False
    return _("{share:.0%} below baseline").format(share=1 - ratio), True


def baselines_sentence(baselines) -> str:
    """The baselines of a run in words, for a caption: what each knows and its loss."""
    if not baselines:
        return ""
    first, *rest = baselines
    text = _("The memoryless baseline, {value:.3g}, is the best loss of a network that sees only the current input "
             "({how}).").format(value=first.value, how=_(first.how))
    for b in rest:
        text += _(" The literature's, {value:.3g}, knows {knows}: {how}.").format(value=b.value, knows=_(b.knows),
                                                                                   how=_(b.how))
    return text


# ------------------------------------------------------------------------------------------ binary addition
@dataclass
class AdditionExample:
    """One binary addition worked by a trained model, bits least-significant first ([T] int arrays)."""

    a: np.ndarray
    b: np.ndarray
    total: np.ndarray         # the true bits of a + b (mod 2^T)
    predicted: np.ndarray     # the model's most likely bit at every step
    carry: np.ndarray         # the carry out of every step (what must be remembered)
    units: np.ndarray         # [k] the hidden units most correlated with the carry, strongest first
    correlation: np.ndarray   # [k] their Pearson correlation with the carry
    hidden: np.ndarray        # [T, k] those units' states

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.total

    @staticmethod
    def value(bits) -> int:
        """The number a bit array stands for (least-significant bit first)."""
        return sum(int(b) << t for t, b in enumerate(bits))


def addition_example(result, seed: int = 0, top: int = 4) -> AdditionExample:
    """Run a model trained on binary addition (a FitResult) on the task's sample `seed`: its
    predicted bits, and the `top` hidden units whose state tracks the carry best."""
    task = result.task
    if not isinstance(task, BinaryAddition):
        raise ValueError(f"the worked example needs a model trained on binary addition; got {task.name!r}")
    x, total = task.sample(result.seq_len, seed)
    predicted = result.predict(x).argmax(-1)
    hidden = trace(result.model, x, loss="all").hidden
    r = task.carry_correlation(x, hidden)
    units = np.argsort(-np.abs(r), kind="stable")[:top]
    bits = x.astype(np.int64)
    return AdditionExample(a=bits[:, 0], b=bits[:, 1], total=np.asarray(total, dtype=np.int64),
                           predicted=predicted.astype(np.int64), carry=task.carries(x), units=units,
                           correlation=r[units], hidden=hidden[:, units])

