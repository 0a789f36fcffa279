"""rnnviz.fit: it learns, it records the right numbers, clipping does what it says, it survives
NaN / inf, stopping keeps what was learned, and the same call gives the same numbers.
Every comparison is against an independent computation: a fresh model, a separate shorter run,
autograd by hand, or rnnviz.trace."""
import math

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ModelSpec, StopTraining, build_model, fit, trace
from rnnviz.tasks import TASKS, AddingProblem
from rnnviz.train import TEST_SEED, make_readout

SMALL = ModelSpec(cell="lstm", hidden_size=8, init="torch", seed=3)
RUN = dict(task="adding", seq_len=10, batch_size=16, test_size=64, test_every=5, checkpoints=4)


def params(result):
    return [p.detach().clone() for p in list(result.model.parameters()) + list(result.readout.parameters())]


def assert_same_params(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert torch.equal(p, q)


def initial_params(spec, task):
    spec = spec.replace(input_size=task.input_size)
    model, readout = build_model(spec), make_readout(spec, task.output_size)
    return model, readout


def grads_of(result):
    return [p.grad for p in list(result.model.parameters()) + list(result.readout.parameters())]


def total_norm(tensors):
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in tensors))


# ---------------------------------------------------------------- it learns

def test_fit_learns_binary_addition_far_below_the_baseline():
    rnnviz.warm_up()  # trace's compiled loops load once per process; not training time
    spec = ModelSpec(cell="gru", hidden_size=16, seed=0)
    result = fit(spec, "binary_addition", seq_len=8, steps=300, batch_size=32, lr=1e-2, test_size=200,
                 test_every=50)
    assert not result.stopped_early and result.steps_done == result.model_step == 300
    assert result.baseline == pytest.approx(TASKS["binary_addition"].baseline(8))
    assert result.test_loss[0] > 0.9 * result.baseline          # untrained: no better than no memory
    assert result.final_test_loss < 0.1 * result.baseline
    assert result.loss[-20:].mean() < 0.1 * result.baseline
    assert result.test_accuracy[-1] > 0.99
    assert result.seconds > 0  # wall-clock is recorded; how fast is measured in benchmarks/bench_train.py
    # the kept model predicts the sum's bits on a fresh sequence, through trace's states too
    x, bits = TASKS["binary_addition"].sample(8, seed=123)
    np.testing.assert_array_equal(result.predict(x).argmax(-1), bits)
    with torch.no_grad():
        via_trace = result.readout(torch.from_numpy(trace(result.model, x).hidden)).numpy()
    np.testing.assert_allclose(result.predict(x), via_trace, atol=1e-5)


def test_recorded_test_loss_and_first_gradient_match_a_hand_computation():
    """Step 0's test loss: the untrained model on the fixed test set. Step 1's gradient norm: autograd by hand
    on the first batch drawn with the data seed."""
    task, seed = TASKS["adding"], 11
    result = fit(SMALL, seed=seed, steps=1, **RUN)
    model, readout = initial_params(SMALL, task)
    x_test, y_test = task.batch(64, 10, torch.Generator().manual_seed(TEST_SEED))
    with torch.no_grad():
        test_loss = float(((readout(model(x_test)[0][:, -1]) - y_test) ** 2).mean())
    assert result.test_loss[0] == pytest.approx(test_loss, rel=1e-6)
    np.testing.assert_array_equal(result.probe, x_test[0].numpy())
    x, y = task.batch(16, 10, torch.Generator().manual_seed(seed))
    loss = ((readout(model(x)[0][:, -1]) - y) ** 2).mean()
    loss.backward()
    assert result.loss[0] == pytest.approx(loss.item(), rel=1e-6)
    grads = [p.grad for p in list(model.parameters()) + list(readout.parameters())]
    assert result.grad_norm[0] == pytest.approx(total_norm(grads), rel=1e-5)
    assert result.grad_norm_clipped[0] == result.grad_norm[0]  # clip=None leaves it alone


def test_input_size_comes_from_the_task():
    result = fit(SMALL.replace(input_size=5), "copy", seq_len=3, steps=0, test_size=4, checkpoints=1)
    assert result.spec.input_size == result.model.input_size == 10
    assert result.readout.out_features == 9


# ---------------------------------------------------------------- determinism and seeds

def test_same_call_same_numbers_and_seeds_do_what_they_say():
    state = torch.get_rng_state()
    a = fit(SMALL, steps=20, seed=1, **RUN)
    b = fit(SMALL, steps=20, seed=1, **RUN)
    assert torch.equal(torch.get_rng_state(), state), "fit must not touch the global RNG"
    for name in ("loss", "grad_norm", "grad_norm_clipped", "test_loss", "reach", "reach_cell"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert_same_params(params(a), params(b))
    other_data = fit(SMALL, steps=20, seed=2, **RUN)
    assert other_data.test_loss[0] == a.test_loss[0]  # same initial model, same test set
    assert not np.array_equal(other_data.loss[1:], a.loss[1:])
    other_model = fit(SMALL.replace(seed=4), steps=20, seed=1, **RUN)
    assert other_model.test_loss[0] != a.test_loss[0]


# ---------------------------------------------------------------- clipping

def test_norm_clipping_bounds_the_norm_of_the_gradient_used():
    clip = 0.05
    seen = []

    def check(info):
        g = grads_of(info.result)
        seen.append((total_norm(g), info.grad_norm, info.grad_norm_clipped))

    result = fit(SMALL, steps=25, clip=clip, clip_mode="norm", on_step=check, **RUN)
    used, before, after = np.array(seen).T
    np.testing.assert_allclose(after, used, rtol=1e-5)             # what was recorded is what Adam got
    np.testing.assert_allclose(used, np.minimum(before, clip), rtol=1e-5)
    assert np.all(used <= clip * (1 + 1e-5))
    assert result.clipped.sum() >= 5 and np.array_equal(result.clipped, before > clip)


def test_value_clipping_bounds_every_element():
    clip = 1e-3
    seen = []

    def check(info):
        g = grads_of(info.result)
        seen.append((max(float(t.abs().max()) for t in g), total_norm(g), info.grad_norm_clipped))

    result = fit(SMALL, steps=10, clip=clip, clip_mode="value", on_step=check, **RUN)
    largest, used, recorded = np.array(seen).T
    assert np.all(largest <= np.float32(clip))
    np.testing.assert_allclose(recorded, used, rtol=1e-5)
    assert np.all(result.clipped)
    # step 1 by hand: the clipped gradient is the raw one clamped elementwise
    task = TASKS["adding"]
    model, readout = initial_params(SMALL, task)
    x, y = task.batch(16, 10, torch.Generator().manual_seed(0))
    ((readout(model(x)[0][:, -1]) - y) ** 2).mean().backward()
    raw = [p.grad for p in list(model.parameters()) + list(readout.parameters())]
    assert result.grad_norm[0] == pytest.approx(total_norm(raw), rel=1e-5)
    assert result.grad_norm_clipped[0] == pytest.approx(total_norm([g.clamp(-clip, clip) for g in raw]), rel=1e-5)


# ---------------------------------------------------------------- NaN and inf

def assert_all_finite(result):
    assert all(torch.isfinite(p).all() for p in params(result))


def test_huge_learning_rate_stops_with_a_message_and_keeps_the_last_finite_model():
    """lr = 1e30: Adam's first step moves every weight by about 1e30, the next loss overflows float32."""
    result = fit(SMALL, steps=50, lr=1e30, **RUN)
    assert result.stopped_early and result.stop_reason == "nonfinite"
    assert "step 2" in result.message and "inf" in result.message
    assert result.model_step == 0 and result.steps_done == 1
    model, readout = initial_params(SMALL, TASKS["adding"])
    assert_same_params(params(result), [p.detach() for p in list(model.parameters()) + list(readout.parameters())])
    assert result.test_steps[-1] == 0 and np.isfinite(result.final_test_loss)
    assert np.all(np.isfinite(trace(result.model, result.probe).hidden))


class BadBatchAt(AddingProblem):
    """The adding problem, but the batch of training step `at` holds a NaN. (An inf would not do: the
    LSTM's gates saturate and the loss stays finite; only the gradient becomes NaN.)"""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def batch(self, batch_size, seq_len, generator):
        x, y = super().batch(batch_size, seq_len, generator)
        if batch_size == 16:  # training batches (the test set has 64)
            self.calls += 1
            if self.calls == self.at:
                x[0, 0, 0] = float("nan")
        return x, y


def test_injected_nan_rolls_back_to_the_model_whose_loss_was_last_finite():
    """NaN loss at step 4: the parameters used at step 3 (after 2 updates) are kept."""
    run = dict(RUN, task=BadBatchAt(4))
    result = fit(SMALL, steps=10, **run)
    assert result.stop_reason == "nonfinite" and "step 4" in result.message and "nan" in result.message
    assert result.model_step == 2 and result.steps_done == 3
    clean = fit(SMALL, steps=2, **RUN)
    assert_same_params(params(result), params(clean))
    np.testing.assert_array_equal(result.loss, fit(SMALL, steps=3, **RUN).loss)
    assert result.test_steps[-1] == 2 and result.final_test_loss == clean.final_test_loss
    assert result.reach_steps[-1] == 2
    np.testing.assert_array_equal(result.reach[-1], clean.reach[-1])
    assert_all_finite(result)


class InfGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


class InfGradientAt(AddingProblem):
    """A finite loss whose gradient is inf at training step `at`."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def loss(self, output, target):
        if output.requires_grad:
            self.calls += 1
            if self.calls == self.at:
                output = InfGradient.apply(output)
        return super().loss(output, target)


def test_infinite_gradient_stops_before_the_update():
    result = fit(SMALL, steps=10, **dict(RUN, task=InfGradientAt(3)))
    assert result.stop_reason == "nonfinite" and "gradient norm" in result.message
    assert result.model_step == 2 and result.steps_done == 3
    assert np.isfinite(result.loss).all() and not np.isfinite(result.grad_norm[-1])
    assert_same_params(params(result), params(fit(SMALL, steps=2, **RUN)))


def test_unstable_initial_model_is_reported_at_step_one():
    spec = ModelSpec(cell="rnn", activation="relu", init="identity", recurrent_gain=1.5, hidden_size=8)
    result = fit(spec, "adding", seq_len=300, steps=5, test_size=8, checkpoints=2)
    assert result.stop_reason == "nonfinite" and "initial model" in result.message
    assert result.steps_done == 0 and result.model_step == 0


# ---------------------------------------------------------------- stopping from on_step

@pytest.mark.parametrize("how", ["return False", "raise"])
def test_stopping_from_on_step_keeps_what_was_learned(how):
    steps_seen = []

    def on_step(info):
        steps_seen.append(info.step)
        assert info.loss == info.result.loss[-1] and info.steps == 40
        if info.step == 7:
            if how == "raise":
                raise StopTraining("Stop button")
            return False

    result = fit(SMALL, steps=40, on_step=on_step, **RUN)
    assert steps_seen == list(range(1, 8))
    assert result.stopped_early and result.stop_reason == "on_step" and result.model_step == 7
    assert result.message == ("Stop button" if how == "raise" else "Stopped at step 7 of 40.")
    same = fit(SMALL, steps=7, **RUN)
    assert_same_params(params(result), params(same))
    assert result.test_steps[-1] == 7 and result.final_test_loss == same.final_test_loss
    assert result.reach_steps[-1] == 7
    np.testing.assert_array_equal(result.reach[-1], same.reach[-1])


# ---------------------------------------------------------------- the gradient's reach

def test_reach_is_traces_gradient_at_evenly_spaced_checkpoints():
    result = fit(SMALL, steps=12, **RUN)
    np.testing.assert_array_equal(result.reach_steps, [0, 4, 8, 12])
    assert result.reach.shape == result.reach_cell.shape == (4, 10)
    model, _ = initial_params(SMALL, TASKS["adding"])
    first, last = trace(model, result.probe), trace(result.model, result.probe)
    np.testing.assert_array_equal(result.reach[0], first.log10_grad_norm)
    np.testing.assert_array_equal(result.reach[-1], last.log10_grad_norm)
    np.testing.assert_array_equal(result.reach_cell[-1], last.log10_cell_grad_norm)
    assert not np.array_equal(result.reach[0], result.reach[-1])  # training changed it
    np.testing.assert_array_equal(result.reach_by_lag[:, 0], result.reach[:, -1])  # lag 0 = the last step
    per_step = fit(SMALL.replace(cell="gru"), **dict(RUN, task="binary_addition"), steps=0)
    np.testing.assert_array_equal(per_step.reach[0], trace(per_step.model, per_step.probe, loss="all").log10_grad_norm)
    assert per_step.reach_cell is None


# ---------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("change, match", [
    (dict(clip_mode="elementwise"), "clip_mode"), (dict(lr=-1.0), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(clip=0.0), "clip"), (dict(clip=True), "clip"), (dict(steps=-1), "steps"), (dict(batch_size=0), "batch_size"),
    (dict(seq_len=1), "seq_len >= 2"), (dict(task="chess"), "task must be one of"), (dict(seed=-3), "seed"),
])
def test_bad_arguments_are_refused_clearly(change, match):
    args = dict(RUN, steps=1)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        fit(SMALL, **args)


def test_fit_is_exported():
    assert rnnviz.fit is fit and rnnviz.StopTraining is StopTraining


def test_an_exception_from_on_step_propagates_after_finishing_the_record():
    """What a Stop button does in Streamlit: the next st.* call inside on_step raises. The result the
    callback saw is left finished, with the model of the step it was interrupted at."""
    seen = {}

    def on_step(info):
        seen["result"] = info.result
        if info.step == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(SMALL, steps=40, on_step=on_step, **RUN)
    result = seen["result"]
    assert result.stopped_early and result.stop_reason == "interrupted" and result.model_step == 6
    same = fit(SMALL, steps=6, **RUN)
    assert_same_params(params(result), params(same))
    assert result.test_steps[-1] == 6 and result.final_test_loss == same.final_test_loss
