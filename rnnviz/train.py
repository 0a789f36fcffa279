"""Train a recurrent model on a task and record what the Training lab shows.

    result = rnnviz.fit(ModelSpec(cell="lstm", hidden_size=64, init="torch"), "adding", seq_len=50,
                        steps=4000, clip=1.0)
    result.loss, result.grad_norm, result.test_loss, result.reach, result.model

The model is the spec's `RecurrentModel` (torch's fused kernels, torch's weight layout) followed
by a linear readout; Adam; optional gradient clipping by norm (Pascanu et al. 2013,
`clip_grad_norm_`) or by value (`clip_grad_value_`). Each training step s = 1, 2, ... draws a
batch, computes the loss with the current parameters, backpropagates, clips and updates.

Besides the per-step numbers it records, on a fixed test set (the same for every seed and cell),
the test loss every `test_every` steps and, at `checkpoints` evenly spaced steps, the gradient's
reach: `rnnviz.trace(model, x_probe, loss=task.loss_on).log10_grad_norm`, i.e. log10 ||dL/dh_k||
for every time step k of the first test sequence, with trace's probe loss L = v.h (a fixed
direction v), so the picture shows how far back the recurrence carries a gradient, however
small the error already is.

Randomness: the model and readout come from `spec.seed`, the training batches from `seed`, the
test set from a fixed seed. The same call gives the same numbers.
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .i18n import N_, _, language, ngettext
from .model import RecurrentModel, build_model
from .modern import ModernCell
from .spec import KNOBS, ModelSpec
from .tasks import Task, get_task
from .trace import trace

TEST_SEED = 2**31           # just outside the seed knob's range: never equal to a training stream
READOUT_SEED_OFFSET = 2**32  # the readout's generator: spec.seed + this
CLIP_MODES = ("norm", "value")
TEST_CHUNK = 250            # test sequences per forward pass


class StopTraining(Exception):
    """Raise it from `on_step` to stop training; what was learned so far is kept."""


@dataclass
class StepInfo:
    """What `on_step` receives after every training step."""

    step: int                 # training steps done (1 .. steps)
    steps: int                # steps asked for
    loss: float               # training loss of this step's batch
    grad_norm: float          # ||gradient|| before clipping
    grad_norm_clipped: float  # ... and after
    test_loss: float | None   # the latest test loss (None if no test set)
    elapsed: float            # seconds since training started
    result: FitResult         # the record so far (arrays grow as training goes)


@dataclass(eq=False)
class FitResult:
    """Everything a training run produced. Arrays are numpy; per-step arrays have one entry per
    training step done (entry s-1 is step s)."""

    spec: ModelSpec           # with input_size set to the task's
    task: Task
    seq_len: int
    steps: int                # steps asked for
    batch_size: int
    lr: float
    clip: float | None
    clip_mode: str
    seed: int
    model: RecurrentModel     # trained; usable by rnnviz.trace
    readout: nn.Linear        # output = readout(h)
    baseline: float           # task.baseline(seq_len): the memoryless one
    probe: np.ndarray         # [T, input_size]: the test sequence the reach is measured on
    baselines: tuple = ()     # task.baselines(seq_len): each tasks.Baseline, named by what it knows
    model_step: int = 0       # training steps that went into `model`
    stopped_early: bool = False
    stop_reason: str | None = None   # None, "on_step", "nonfinite" or "interrupted"
    message: str = ""         # why it stopped, in English; stop_message(result) says it in the page's language
    stop_step: int = 0        # the step it stopped at, and for "nonfinite" what was not finite and its value
    stop_what: str = ""
    stop_value: float = math.nan
    stop_said: str = ""       # a reason given by whoever stopped it (StopTraining("...")), shown as given
    seconds: float = 0.0
    _per_step: np.ndarray = field(default=None, repr=False)   # [steps, 3]: loss, norm, clipped norm
    _n: int = field(default=0, repr=False)
    _test: list = field(default_factory=list, repr=False)     # (step, loss, accuracy)
    _reach: list = field(default_factory=list, repr=False)    # (step, log10 grad, log10 cell grad)

    # ----- per training step --------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        return self._n

    @property
    def loss(self) -> np.ndarray:
        """Training loss of every step's batch."""
        return self._per_step[:self._n, 0]

    @property
    def grad_norm(self) -> np.ndarray:
        """||gradient||_2 over all parameters, before clipping."""
        return self._per_step[:self._n, 1]

    @property
    def grad_norm_clipped(self) -> np.ndarray:
        """||gradient||_2 after clipping (equal to grad_norm when clip is None)."""
        return self._per_step[:self._n, 2]

    @property
    def clipped(self) -> np.ndarray:
        """True at the steps where clipping changed the gradient."""
        return self.grad_norm_clipped < self.grad_norm

    # ----- on the fixed test set ------------------------------------------------------------
    @property
    def test_steps(self) -> np.ndarray:
        return np.array([t[0] for t in self._test], dtype=np.int64)

    @property
    def test_loss(self) -> np.ndarray:
        return np.array([t[1] for t in self._test], dtype=np.float64)

    @property
    def test_accuracy(self) -> np.ndarray:
        """Task accuracy on the test set (see the task's `accuracy`)."""
        return np.array([t[2] for t in self._test], dtype=np.float64)

    @property
    def final_test_loss(self) -> float | None:
        return self._test[-1][1] if self._test else None

    # ----- the gradient's reach at checkpoints -------------------------------------------------
    @property
    def reach_steps(self) -> np.ndarray:
        return np.array([r[0] for r in self._reach], dtype=np.int64)

    @property
    def reach(self) -> np.ndarray:
        """[checkpoints, T] float64: log10 ||dL/dh_k|| on the probe sequence for k = 0..T-1
        (steps back = T-1-k), from rnnviz.trace at each of `reach_steps`."""
        return _stack([r[1] for r in self._reach], len(self.probe))

    @property
    def reach_by_lag(self) -> np.ndarray:
        """`reach` with its columns reversed: column j is j steps back from the last step."""
        return self.reach[:, ::-1]

    @property
    def reach_cell(self) -> np.ndarray | None:
        """LSTM only: the same for the cell state, log10 ||dL/dc_k||."""
        if self.model.cell != "lstm":
            return None
        return _stack([r[2] for r in self._reach], len(self.probe))

    # ----- using the model -------------------------------------------------------------------
    def predict(self, x) -> np.ndarray:
        """The readout's output [T, output_size] at every step of one sequence x [T, input_size]
        (logits for classification tasks)."""
        with torch.no_grad():
            h, _ = self.model(torch.as_tensor(np.asarray(x, dtype=np.float32)))
            return self.readout(h).numpy()


def _stack(rows: list, T: int) -> np.ndarray:
    return np.stack(rows) if rows else np.empty((0, T))


def make_readout(spec: ModelSpec, output_size: int) -> nn.Linear:
    """Linear readout H -> output_size, torch's default U(-1/sqrt(H), 1/sqrt(H)) init, seeded."""
    H = spec.hidden_size * (2 if spec.bidirectional else 1)  # a bidirectional model passes both directions on
    readout = nn.utils.skip_init(nn.Linear, H, output_size)   # no draw from the global RNG
    gen = torch.Generator().manual_seed(spec.seed + READOUT_SEED_OFFSET)
    k = 1.0 / math.sqrt(H)
    with torch.no_grad():
        readout.weight.copy_(torch.rand(output_size, H, generator=gen) * 2 * k - k)
        readout.bias.copy_(torch.rand(output_size, generator=gen) * 2 * k - k)
    return readout


def _outputs(model: RecurrentModel, readout: nn.Linear, task: Task, x: torch.Tensor) -> torch.Tensor:
    h, _ = model(x)
    if task.loss_on != "last":
        return readout(h)
    if getattr(model, "bidirectional", False):  # each direction's final state (torch's h_n)
        H = model.hidden_size
        return readout(torch.cat([h[:, -1, :H], h[:, 0, H:]], -1))
    return readout(h[:, -1])


def _positive_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _check(spec, task, seq_len, steps, batch_size, lr, clip, clip_mode, seed, test_size, test_every, checkpoints):
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"fit needs a ModelSpec; got {type(spec).__name__}")
    task = get_task(task)
    seq_len = task.check(seq_len)
    for name, value in (("steps", steps), ("test_size", test_size), ("test_every", test_every),
                        ("checkpoints", checkpoints), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0; got {value!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    if not _positive_number(lr):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    if clip is not None and not _positive_number(clip):
        raise ValueError(f"clip must be None or a positive number; got {clip!r}")
    if clip_mode not in CLIP_MODES:
        raise ValueError(f"clip_mode must be 'norm' or 'value'; got {clip_mode!r}")
    return task, seq_len, KNOBS["seed"].validate(seed)


def fit(spec: ModelSpec, task, seq_len: int, steps: int, batch_size: int = 50, lr: float = 1e-3,
        clip: float | None = None, clip_mode: str = "norm", seed: int = 0,
        on_step: Callable[[StepInfo], bool | None] | None = None,
        test_size: int = 1000, test_every: int = 100, checkpoints: int = 20,
        model: nn.Module | None = None) -> FitResult:
    """Train `spec`'s model plus a linear readout on `task` (a Task or its name) with Adam.

    seq_len      the task's sequence length (for "copy", the gap T; see task.length)
    steps        training steps; each draws a fresh batch of `batch_size` sequences
    clip         None, or the threshold: clip_mode "norm" rescales the whole gradient to norm
                 <= clip (clip_grad_norm_), "value" clamps every element to [-clip, clip]
    seed         seed of the training batches (the model's is spec.seed; spec.input_size is
                 replaced by the task's)
    on_step      called after every step with a StepInfo; returning False, or raising
                 StopTraining, stops training and keeps the model as it is
    test_size    sequences in the fixed test set (0: no test set); evaluated before training,
                 every `test_every` steps (0: only at the start and the end) and at the end
    checkpoints  how many evenly spaced steps (start and end included) record the gradient's reach
    model        train this module instead of build_model(spec), e.g. a rnnviz.modern cell or ModernNet:
                 forward(x [B, T, I]) -> (h [B, T, spec.hidden_size], state), input_size the task's.
                 The reach is recorded for the models rnnviz.trace accepts (build_model builds a modern
                 cell from a spec with a modern cell, too).

    A loss or gradient that is not finite stops training with a message; the model is then the
    last one whose training loss was finite (see FitResult.model_step). Any other exception raised
    by on_step (a bug, KeyboardInterrupt, Streamlit's rerun when a Stop button is clicked)
    propagates, after the result that on_step saw as `info.result` has been finished like a
    stopped run (stop_reason "interrupted"): keep that object to keep what was learned.
    """
    task, seq_len, seed = _check(spec, task, seq_len, steps, batch_size, lr, clip, clip_mode, seed, test_size,
                                 test_every, checkpoints)
    steps, batch_size = int(steps), int(batch_size)
    spec = spec.replace(input_size=task.input_size)
    if model is None:
        model = build_model(spec)
    elif model.input_size != task.input_size or model.hidden_size != spec.hidden_size:
        raise ValueError(f"the model reads {model.input_size} inputs into {model.hidden_size} outputs; the task "
                         f"has {task.input_size} inputs and spec.hidden_size is {spec.hidden_size}")
    readout = make_readout(spec, task.output_size)
    params = list(model.parameters()) + list(readout.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    x_test, y_test = task.test_batch(max(test_size, 1), seq_len, torch.Generator().manual_seed(TEST_SEED))
    result = FitResult(spec=spec, task=task, seq_len=seq_len, steps=steps, batch_size=batch_size, lr=float(lr),
                       clip=None if clip is None else float(clip), clip_mode=clip_mode, seed=seed, model=model,
                       readout=readout, baseline=task.baseline(seq_len), probe=x_test[0].numpy(),
                       baselines=task.baselines(seq_len),
                       _per_step=np.full((steps, 3), np.nan))
    reach_at = set(np.linspace(0, steps, checkpoints).round().astype(int).tolist()) if checkpoints else set()
    if not isinstance(model, (RecurrentModel, ModernCell)) and not getattr(model, "stacked", False):
        reach_at = set()   # a stack of modern blocks has no single recurrence to trace (a StackedModel has)

    def record_test(step: int):
        loss = accuracy = 0.0
        with torch.no_grad():  # in chunks: long sequences would need a lot of memory at once
            for k in range(0, test_size, TEST_CHUNK):
                x, y = x_test[k:k + TEST_CHUNK], y_test[k:k + TEST_CHUNK]
                out = _outputs(model, readout, task, x)
                loss += task.loss(out, y).item() * len(x) / test_size
                accuracy += task.accuracy(out, y) * len(x) / test_size
        result._test.append((step, loss, accuracy))

    def record_reach(step: int):
        tr = trace(model, result.probe, loss=task.loss_on)
        result._reach.append((step, tr.log10_grad_norm, tr.log10_cell_grad_norm))

    def evaluate(step: int):
        if test_size and (step in (0, steps) or (test_every and step % test_every == 0)):
            record_test(step)
        if step in reach_at:
            record_reach(step)

    def finish():
        if result.stopped_early:  # the records end with the model that is kept
            keep = result.model_step
            result._test = [t for t in result._test if t[0] <= keep]
            result._reach = [r for r in result._reach if r[0] <= keep]
            if test_size and (not result._test or result._test[-1][0] != keep):
                record_test(keep)
            if reach_at and (not result._reach or result._reach[-1][0] != keep):
                record_reach(keep)
        result.seconds = time.perf_counter() - start

    # The parameters whose training loss was last finite, restored if the next loss is not.
    last_good = [p.detach().clone() for p in params]
    start = time.perf_counter()
    evaluate(0)
    for step in range(1, steps + 1):
        x, y = task.batch(batch_size, seq_len, generator)
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(_outputs(model, readout, task, x), y)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            with torch.no_grad():
                torch._foreach_copy_(params, last_good)
            result.model_step = max(step - 2, 0)
            _stop(result, "nonfinite", step, steps, N_("training loss"), loss_value)
            break
        loss.backward()
        grads = [p.grad for p in params]
        norm = nn.utils.get_total_norm(grads, foreach=True)
        norm_value = norm.item()
        if not math.isfinite(norm_value):
            result._per_step[step - 1] = (loss_value, norm_value, np.nan)
            result._n = step
            result.model_step = step - 1
            _stop(result, "nonfinite", step, steps, N_("gradient norm"), norm_value)
            break
        clipped_value = norm_value
        if clip is not None:
            if clip_mode == "norm":
                nn.utils.clip_grads_with_norm_(params, clip, norm, foreach=True)
            else:
                nn.utils.clip_grad_value_(params, clip, foreach=True)
            clipped_value = nn.utils.get_total_norm(grads, foreach=True).item()
        with torch.no_grad():
            torch._foreach_copy_(last_good, params)
        optimizer.step()
        result._per_step[step - 1] = (loss_value, norm_value, clipped_value)
        result._n = result.model_step = step
        evaluate(step)
        if on_step is not None:
            info = StepInfo(step, steps, loss_value, norm_value, clipped_value, result.final_test_loss,
                            time.perf_counter() - start, result)
            try:
                go_on = on_step(info)
            except StopTraining as exc:  # without a reason of its own: a user's Stop, an interruption
                _stop(result, "on_step" if str(exc) else "interrupted", step, steps, custom=str(exc))
                break
            except BaseException:
                # e.g. Streamlit's rerun when the user clicks Stop: leave a finished record behind
                _stop(result, "interrupted", step, steps)
                finish()
                raise
            if go_on is False:
                _stop(result, "on_step", step, steps)
                break
    finish()
    return result


def _stop(result: FitResult, reason: str, step: int, steps: int, what: str = "", value: float = math.nan,
          custom: str = "") -> None:
    result.stopped_early, result.stop_reason = True, reason
    result.stop_step, result.stop_what, result.stop_value, result.stop_said = step, what, value, custom
    result.message = stop_message(result, "en")


def stop_message(result: FitResult, lang: str | None = None) -> str:
    """Why training stopped early, in the current language (or `lang`): the text `result.message`
    holds in English, built from the result's own numbers wherever the training ran."""
    if lang is not None:
        with language(lang):
            return stop_message(result)
    step, steps = result.stop_step, result.steps
    if not result.stopped_early:
        return ""
    if result.stop_reason == "interrupted":
        return _("Interrupted at step {step} of {steps}.").format(step=step, steps=steps)
    if result.stop_reason != "nonfinite":
        return result.stop_said or _("Stopped at step {step} of {steps}.").format(step=step, steps=steps)
    what, value, kept = _(result.stop_what), result.stop_value, result.model_step
    if step == 1:
        return _("Training stopped at step 1: the initial model's {what} is already {value}, so it cannot be trained. "
                 "Its forward or backward pass overflows: try a smaller recurrent gain or a shorter sequence.").format(
                   what=what, value=value)
    if kept == 0:
        return _("Training stopped at step {step}: the {what} became {value} (the gradients exploded or the learning "
                 "rate is too high). The model kept is the initial one. Try a smaller learning rate or gradient "
                 "clipping.").format(step=step, what=what, value=value)
    return ngettext("Training stopped at step {step}: the {what} became {value} (the gradients exploded or the "
                    "learning rate is too high). The model kept is the one after {kept} step, whose training loss "
                    "was {loss:.4g}. Try a smaller learning rate or gradient clipping.",
                    "Training stopped at step {step}: the {what} became {value} (the gradients exploded or the "
                    "learning rate is too high). The model kept is the one after {kept} steps, whose training loss "
                    "was {loss:.4g}. Try a smaller learning rate or gradient clipping.", kept).format(
                      step=step, what=what, value=value, kept=kept, loss=result._per_step[kept, 0])
