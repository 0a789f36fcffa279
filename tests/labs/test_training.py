"""The Training Lab's engine side (rnnviz.labs.training), its knobs and its figures, without Streamlit."""
import re

import numpy as np
import pytest

import rnnviz
from rnnviz import plots
from rnnviz.labs import training
from rnnviz.spec import KNOBS, TASK_LABELS, TASK_NAMES
from rnnviz.tasks import TASKS


def test_task_knob_lists_every_task():
    assert TASK_NAMES == tuple(TASKS) and all(TASK_LABELS[n] == TASKS[n].title for n in TASK_NAMES)


@pytest.mark.parametrize("raw, want", [("gru,RNN", ("rnn", "gru")), ("LSTM", ("lstm",)), (["gru", "gru"], ("gru",)),
                                       (" rnn , lstm ", ("rnn", "lstm"))])
def test_cells_knob_takes_a_subset_in_a_fixed_order(raw, want):
    assert KNOBS["cells"].validate(raw) == want


@pytest.mark.parametrize("raw", ["", "rnn,tpu", [], [1, 2], 3, "rnn,,gru"])
def test_cells_knob_refuses_anything_else(raw):
    with pytest.raises(ValueError, match="cells must be one or more of 'rnn', 'lstm', 'gru'"):
        KNOBS["cells"].validate(raw)


def test_learning_rate_knob_is_a_fixed_grid():
    k = KNOBS["lr"]
    assert k.validate("0.003") == 3e-3 and k.validate(1e-2) == 1e-2 and k.default in k.values
    for bad in ("0.0042", "2", "nan", "-1e-3"):
        with pytest.raises(ValueError, match="lr must be one of 0.0001, 0.0002"):
            k.validate(bad)


def test_fit_arguments_follow_the_settings():
    s = training.Settings(task="copy", cells=("lstm",), rnn_activation="relu", seq_len=7, steps=300, clip="off")
    kw = s.fit_kwargs()
    assert kw["clip"] is None and kw["seq_len"] == 7 and kw["test_every"] == 20 and kw["task"] == "copy"
    assert s.spec("lstm").activation == "tanh" and s.spec("rnn").activation == "relu"
    assert s.spec("gru").init == "torch" and s.spec("gru").seed == s.seed
    value = s.replace(clip="value", clip_threshold=0.5).fit_kwargs()
    assert (value["clip"], value["clip_mode"]) == (0.5, "value")
    assert s.cell_label("rnn") == "ReLU RNN" and s.replace(rnn_activation="tanh").cell_label("rnn") == "RNN"
    assert s.model_label("lstm") == s.replace(cells=("rnn", "lstm")).model_label("lstm")  # cells: not the model's
    assert s.model_label("lstm") != s.replace(lr=1e-2).model_label("lstm")
    assert s.replace(steps=400, seed=2).changes_from(s) == ["steps 300 → 400", "seed 0 → 2"]
    assert training.test_every(1200) == 60 and training.test_every(20) == 10 and training.test_every(5000) == 250


def test_time_estimate_scales_and_bounds_one_click():
    default = training.Settings()
    assert 20 < training.estimate_seconds(default) < 75
    twice = default.replace(steps=2 * default.steps)
    assert training.estimate_seconds(twice) == pytest.approx(2 * training.estimate_seconds(default))
    assert training.estimate_seconds(default.replace(cells=("gru",))) < training.estimate_seconds(default)
    assert training.over_budget(default) is None
    worst = default.replace(steps=5000, hidden_size=128, seq_len=200, batch_size=256)
    assert "one click may start" in training.over_budget(worst)
    copy = default.replace(task="copy", seq_len=10)  # 10 + 2*10 time steps
    assert training.estimate_seconds(copy) == pytest.approx(training.estimate_seconds(default.replace(seq_len=30)))


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_has_valid_suggested_settings_within_a_minute(task):
    s = training.suggested(task)
    values = {name: KNOBS[name].validate(v) for name, v in s.values.items()}
    settings = training.Settings(task=task, seq_len=values["train_seq_len"], hidden_size=values["train_hidden"],
                            lr=values["lr"], batch_size=values["batch_size"], steps=values["train_steps"],
                            clip=values["clip"], clip_threshold=values["clip_threshold"])
    assert training.estimate_seconds(settings) < 60
    assert values["train_seq_len"] >= TASKS[task].min_seq_len and s.expect


def test_against_baseline_wording():
    assert training.against_baseline(0.166, 1 / 6) == ("at baseline", False)
    assert training.against_baseline(0.5, 1 / 6) == ("3.0 × baseline", False)
    assert training.against_baseline(1.17e25, 1 / 6) == ("7e+25 × baseline", False)
    assert training.against_baseline(0.0017, 1 / 6) == ("99% below baseline", True)


def test_worked_addition_example_of_a_trained_gru():
    """The engine's fast setting (GRU, H=16, T=8, lr 1e-2, 300 steps) learns binary addition: the example
    is right bit for bit and some unit follows the carry closely."""
    spec = rnnviz.ModelSpec(cell="gru", hidden_size=16, seed=0)
    result = rnnviz.fit(spec, "binary_addition", seq_len=8, steps=300, batch_size=32, lr=1e-2, test_size=200,
                        checkpoints=2)
    ex = training.addition_example(result, seed=3, top=3)
    x, total = TASKS["binary_addition"].sample(8, 3)
    np.testing.assert_array_equal(ex.a, x[:, 0]) and np.testing.assert_array_equal(ex.total, total)
    assert ex.correct.all()
    assert ex.value(ex.a) + ex.value(ex.b) == ex.value(ex.total) + (ex.carry[-1] << 8)
    assert abs(ex.correlation[0]) > 0.8 and np.all(np.diff(np.abs(ex.correlation)) <= 0)
    hidden = rnnviz.trace(result.model, x, loss="all").hidden
    np.testing.assert_array_equal(ex.hidden, hidden[:, ex.units])
    with pytest.raises(ValueError, match="binary addition"):
        training.addition_example(rnnviz.fit(spec, "parity", seq_len=4, steps=1, test_size=4, checkpoints=1))


# ---------------------------------------------------------------- figures

@pytest.fixture(scope="module")
def runs():
    spec = rnnviz.ModelSpec(cell="lstm", hidden_size=4, init="torch")
    a = rnnviz.fit(spec, "adding", seq_len=12, steps=40, batch_size=8, clip=0.05, test_size=50, test_every=10,
                   checkpoints=5)
    b = rnnviz.fit(spec.replace(cell="rnn"), "adding", seq_len=12, steps=25, batch_size=8, clip=0.05, test_size=50,
                   test_every=10, checkpoints=5)
    return {"LSTM": a, "RNN": b}


def test_moving_average_is_a_trailing_mean():
    v = np.array([1.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(plots.moving_average(v, 2), [1, 2, 4, 6])
    np.testing.assert_allclose(plots.moving_average(v, 1), v)
    assert plots.smoothing_window(30) == 1 and plots.smoothing_window(1200) == 40 and plots.smoothing_window(9000) == 50


def test_loss_figure_holds_the_runs_and_the_baseline(runs):
    fig = plots.loss_curves(runs)
    names = [d.name for d in fig.data]
    for label, r in runs.items():
        raw = next(d for d in fig.data if d.name == f"{label} · training loss (each batch)")
        np.testing.assert_array_equal(np.asarray(raw.y), r.loss)
        np.testing.assert_array_equal(np.asarray(raw.x), np.arange(1, r.steps_done + 1))
        mean = next(d for d in fig.data if d.name == label)
        window = plots.smoothing_window(r.steps_done)
        np.testing.assert_allclose(np.asarray(mean.y), plots.moving_average(r.loss, window))
        assert mean.line.color == plots.CELL_COLORS[r.spec.cell]
    # adding at T = 12: knowing only the last input 1/6 - 1/(12 * 6) (dashed), knowing nothing 1/6 (dotted)
    memoryless, literature = (d for d in fig.data if d.name.startswith("baseline"))
    assert list(memoryless.y) == [pytest.approx(1 / 6 - 1 / 72)] * 2 and list(memoryless.x) == [0, 40]
    assert memoryless.line.dash == "dash" and "only the current input" in memoryless.name
    assert list(literature.y) == [1 / 6, 1 / 6] and literature.line.dash == "dot" and "nothing" in literature.name
    assert fig.layout.yaxis.type == "log" and "test loss" in names
    assert set(fig.layout.yaxis.tickvals) <= {m * 10.0 ** e for e in range(-3, 2) for m in (1, 2, 5)}


def test_one_two_five_ticks():
    assert plots.one_two_five_ticks([0.15, 0.9]) == [0.1, 0.2, 0.5, 1.0]
    assert plots.one_two_five_ticks([1e-4, 2.0]) == [1e-4, 1e-3, 0.01, 0.1, 1.0]
    assert plots.one_two_five_ticks([np.nan, 0.0]) == [1.0]
    assert plots.one_two_five_ticks([1e-3, 1.2e25]) == [1.0, 1e5, 1e10, 1e15, 1e20, 1e25]


def test_gradient_norm_figure(runs):
    fig = plots.grad_norm_steps(runs, clip=0.05)
    for label, r in runs.items():
        before = next(d for d in fig.data if d.name == f"{label} before clipping")
        np.testing.assert_array_equal(np.asarray(before.y), np.log10(r.grad_norm))
        ticks = next(d for d in fig.data if d.name == f"{label} clipped steps")
        np.testing.assert_array_equal(np.asarray(ticks.x), np.nonzero(r.clipped)[0] + 1)
        assert r.clipped.any()
    thresholds = [d for d in fig.data if d.name.startswith("clip threshold")]
    assert len(thresholds) == 2 and all(np.allclose(d.y, np.log10(0.05)) for d in thresholds)
    assert "clipping acted at" in fig.layout.annotations[0].text
    off = plots.grad_norm_steps(runs, clip=None)
    assert not any(w in d.name for d in off.data for w in ("after clipping", "threshold", "clipped", "acted"))
    np.testing.assert_array_equal(np.asarray(off.data[0].y), np.log10(runs["LSTM"].grad_norm))


def test_gradient_norm_figure_marks_a_non_finite_norm(runs):
    r = runs["RNN"]

    class Exploded:  # the record of a run whose last gradient norm was inf
        def __getattr__(self, name):
            return getattr(r, name)

        grad_norm = np.append(r.grad_norm[:-1], np.inf)
        grad_norm_clipped = np.append(r.grad_norm_clipped[:-1], np.nan)
        clipped = grad_norm_clipped < grad_norm

    fig = plots.grad_norm_steps({"RNN": Exploded()}, clip=0.05)
    mark = next(d for d in fig.data if d.name == "RNN non-finite gradient")
    assert list(mark.x) == [r.steps_done] and "inf" in mark.text[0]
    before = next(d for d in fig.data if d.name == "RNN before clipping")
    assert np.isnan(before.y[-1]) and np.isfinite(before.y[:-1]).all()


def test_reach_heatmaps_share_one_colour_scale(runs):
    fig = plots.reach_heatmaps(runs)
    heat = {d.name: d for d in fig.data}
    for label, r in runs.items():
        np.testing.assert_array_equal(np.asarray(heat[label].z), r.reach_by_lag.astype(np.float32))
        np.testing.assert_array_equal(np.asarray(heat[label].y), r.reach_steps)
    both = np.concatenate([r.reach_by_lag.ravel() for r in runs.values()])
    assert heat["LSTM"].zmin == heat["RNN"].zmin == pytest.approx(both.min())
    assert heat["LSTM"].zmax == heat["RNN"].zmax == pytest.approx(both.max())
    assert [d.showscale for d in fig.data] == [True, False]


def test_no_figure_uses_streamlits_placeholder_colours(runs):
    """Streamlit's frontend swaps #000001 ... #000040 for its theme colours in every chart."""
    spec = rnnviz.ModelSpec(cell="gru", hidden_size=4)
    added = rnnviz.fit(spec, "binary_addition", seq_len=6, steps=2, test_size=4, checkpoints=2)
    figs = [plots.loss_curves(runs), plots.grad_norm_steps(runs, clip=1.0), plots.reach_heatmaps(runs),
            plots.addition_example(training.addition_example(added)), plots.heatmap(np.zeros((5, 3)), kind="grad")]
    for fig in figs:
        colours = re.findall(r"#0000([0-9a-fA-F]{2})\b", fig.to_json())
        assert not [c for c in colours if int(c, 16) <= 0x40], colours
