"""The task that needs the future: its baselines in closed form, a bidirectional network beats the best
forward one, and depth for every task (the gradient's reach is the first layer's)."""
import math

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.deep import StackedModel
from rnnviz.tasks import get_task
from rnnviz.train import fit


def test_look_ahead_targets_and_baselines():
    """y_t = x_(t+5), 0 on the last 5 steps. The memoryless baseline is the entropy of the label's
    marginal, H((T-5)/(2T)); knowing the past and t, the label is a fair coin on T-5 steps: (T-5)/T ln 2.
    Both checked against the predictors they describe on a large batch."""
    task, T = get_task("look_ahead"), 30
    x, y = task.batch(4000, T, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(y[:, :-5].numpy(), x[:, 5:, 0].numpy())
    assert (y[:, -5:] == 0).all()
    memoryless, no_future = task.baselines(T)
    p = (T - 5) / (2 * T)
    assert memoryless.value == pytest.approx(-p * math.log(p) - (1 - p) * math.log(1 - p), rel=1e-12)
    assert no_future.value == pytest.approx((T - 5) / T * math.log(2), rel=1e-12)
    const = torch.log(torch.tensor([1 - p, p])).expand(4000, T, 2)
    assert abs(task.loss(const, y).item() - memoryless.value) < 0.01
    coin = torch.zeros(4000, T, 2)
    coin[:, -5:, 0] = 40.0  # sure of 0 on the last 5 steps
    assert abs(task.loss(coin, y).item() - no_future.value) < 1e-6


def test_a_bidirectional_network_wins_where_a_forward_one_cannot():
    T = 12
    kw = dict(steps=250, batch_size=32, lr=2e-2, test_size=300, test_every=0, checkpoints=2, seed=1)
    bi = fit(rnnviz.ModelSpec(cell="gru", hidden_size=8, bidirectional=True), "look_ahead", T, **kw)
    uni = fit(rnnviz.ModelSpec(cell="gru", hidden_size=8), "look_ahead", T, **kw)
    no_future = get_task("look_ahead").baselines(T)[1].value
    assert bi.final_test_loss < 0.7 * no_future  # it reads the answer with its backward direction
    assert uni.final_test_loss > 0.95 * no_future  # nothing a forward network can do beats the baseline


def test_depth_for_existing_tasks_and_the_gradient_reach_of_the_first_layer():
    r = fit(rnnviz.ModelSpec(cell="lstm", hidden_size=6, num_layers=2), "parity", 8, steps=20, batch_size=8,
            test_size=16, test_every=0, checkpoints=2)
    assert isinstance(r.model, StackedModel) and r.model.num_layers == 2
    tr = rnnviz.trace(r.model, r.probe, loss="last")
    np.testing.assert_array_equal(r.reach[-1], tr.grad_grid(0)[0])  # what reaches layer 1
    np.testing.assert_array_equal(r.reach_cell[-1], tr.cell_grad_grid(0)[0])
    assert r.predict(r.probe).shape == (8, 2)
