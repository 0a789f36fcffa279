"""ModelSpec validation and URL round trips; build_model and from_torch layout and determinism."""
import math
import threading

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ModelSpec, build_model, from_torch
from rnnviz.spec import KNOBS, parse_query
from tests.support import ROOT

# ---------------------------------------------------------------------------- spec


@pytest.mark.parametrize("field, bad, allowed", [
    ("cell", "transformer", "'rnn', 'lstm', 'gru'"),
    ("activation", "softplus", "'tanh', 'relu', 'sigmoid', 'linear'"),
    ("init", "xavier", "'orthogonal', 'gaussian', 'identity', 'torch'"),
    ("hidden_size", 0, "[1, 1024]"),
    ("hidden_size", 2.5, "[1, 1024]"),
    ("input_size", 5000, "[1, 1024]"),
    ("recurrent_gain", -0.1, "[0, 4]"),
    ("recurrent_gain", float("nan"), "[0, 4]"),
    ("input_gain", 9.0, "[0, 4]"),
    ("forget_bias", 11.0, "[-10, 10]"),
    ("seed", -1, "[0, 2147483647]"),
    ("seed", "abc", "[0, 2147483647]"),
    ("hidden_size", True, "[1, 1024]"),
    ("hidden_size", np.True_, "[1, 1024]"),
    ("recurrent_gain", np.True_, "[0, 4]"),
])
def test_invalid_spec_names_field_and_range(field, bad, allowed):
    with pytest.raises(ValueError) as err:
        ModelSpec(**{field: bad})
    assert field in str(err.value)
    assert allowed in str(err.value)


def test_spec_query_round_trip_and_defaults_left_out():
    spec = ModelSpec(cell="lstm", hidden_size=48, recurrent_gain=1.25, forget_bias=-2.5, seed=7)
    q = spec.to_query()
    assert q == {"cell": "LSTM", "hidden_size": "48", "recurrent_gain": "1.25", "forget_bias": "-2.5", "seed": "7"}
    back, notes = ModelSpec.from_query(q)
    assert back == spec and notes == []
    assert ModelSpec().to_query() == {}


def test_invalid_query_values_fall_back_to_defaults_with_notes():
    spec, notes = ModelSpec.from_query({"cell": "banana", "recurrent_gain": "1e999", "hidden_size": ["8", "16"],
                                        "seed": "<script>", "unknown": "x"})
    assert spec.cell == KNOBS["cell"].default
    assert spec.recurrent_gain == KNOBS["recurrent_gain"].default
    assert spec.hidden_size == 16  # a repeated parameter: the last one wins
    assert spec.seed == KNOBS["seed"].default
    assert len(notes) == 3
    assert any("cell" in n and "banana" in n for n in notes)
    assert any("recurrent_gain" in n for n in notes)


def test_parse_query_view_knobs():
    values, notes = parse_query({"seq_len": "20000", "loss": "ALL"}, ["seq_len", "loss"])
    assert values == {"seq_len": KNOBS["seq_len"].default, "loss": "all"}
    assert len(notes) == 1 and "seq_len" in notes[0] and "[1, 10000]" in notes[0]


# ---------------------------------------------------------------------------- build_model

@pytest.mark.parametrize("cell, G", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_parameter_names_and_shapes_follow_torch(cell, G):
    model = build_model(ModelSpec(cell=cell, input_size=3, hidden_size=5))
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes == {"weight_ih": (G * 5, 3), "weight_hh": (G * 5, 5), "bias_ih": (G * 5,), "bias_hh": (G * 5,)}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("gain", [0.5, 1.3])
def test_orthogonal_blocks_are_gain_times_orthogonal(cell, gain):
    H = 16
    model = build_model(ModelSpec(cell=cell, hidden_size=H, init="orthogonal", recurrent_gain=gain, seed=3))
    W = model.weight_hh.detach().double().numpy()
    for k in range(W.shape[0] // H):
        block = W[k * H:(k + 1) * H]
        np.testing.assert_allclose(block.T @ block, gain ** 2 * np.eye(H), atol=2e-6)
    if W.shape[0] > H:
        assert not np.allclose(W[:H], W[H:2 * H])  # each block its own Q


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_gaussian_blocks_have_spectral_radius_equal_to_gain(cell):
    H, gain = 32, 0.8
    model = build_model(ModelSpec(cell=cell, hidden_size=H, init="gaussian", recurrent_gain=gain, seed=1))
    W = model.weight_hh.detach().double().numpy()
    for k in range(W.shape[0] // H):
        rho = np.abs(np.linalg.eigvals(W[k * H:(k + 1) * H])).max()
        assert rho == pytest.approx(gain, rel=1e-5)


def test_identity_and_torch_inits():
    H = 8
    W = build_model(ModelSpec(cell="gru", hidden_size=H, init="identity", recurrent_gain=0.7)).weight_hh.detach()
    np.testing.assert_allclose(W.numpy(), np.vstack([0.7 * np.eye(H)] * 3), atol=1e-7)
    m = build_model(ModelSpec(cell="lstm", hidden_size=H, init="torch", recurrent_gain=2.0, input_gain=0.5))
    k = 1 / math.sqrt(H)
    assert m.weight_hh.abs().max() <= 2.0 * k + 1e-6 and m.weight_hh.abs().max() > 1.5 * k
    assert m.weight_ih.abs().max() <= 0.5 * k + 1e-6


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("init", ["orthogonal", "torch"])
def test_forget_bias_is_the_effective_bias_of_rows_H_to_2H(cell, init):
    H = 6
    m = build_model(ModelSpec(cell=cell, hidden_size=H, init=init, forget_bias=2.5))
    eff = (m.bias_ih + m.bias_hh).detach().numpy()
    np.testing.assert_allclose(eff[H:2 * H], 2.5, atol=1e-6)
    if init == "torch":  # the other gates keep torch's random biases
        assert np.abs(eff[:H]).max() > 0


def test_same_spec_same_numbers_in_any_thread():
    spec = ModelSpec(cell="lstm", hidden_size=12, init="gaussian", seed=42)
    first = build_model(spec).state_dict()
    results = []

    def worker():
        torch.manual_seed(12345)  # a global seed in another thread must not matter
        results.append(build_model(spec).state_dict())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sd in results:
        for name in first:
            assert torch.equal(first[name], sd[name])
    other = build_model(spec.replace(seed=43)).state_dict()
    assert not torch.equal(first["weight_hh"], other["weight_hh"])


# ---------------------------------------------------------------------------- from_torch

@pytest.mark.parametrize("make", [
    lambda: torch.nn.RNN(3, 7, nonlinearity="tanh"),
    lambda: torch.nn.RNN(3, 7, nonlinearity="relu", batch_first=True),
    lambda: torch.nn.LSTM(3, 7),
    lambda: torch.nn.GRU(3, 7, batch_first=True),
    lambda: torch.nn.LSTM(3, 7, bias=False),
])
def test_from_torch_forward_matches_module(make):
    torch.manual_seed(0)
    module = make()
    model = from_torch(module)
    x = torch.randn(2, 11, 3)
    xin = x if module.batch_first else x.transpose(0, 1)
    out_ref, state_ref = module(xin)
    out_ref = out_ref if module.batch_first else out_ref.transpose(0, 1)
    out, state = model(x)
    assert torch.allclose(out, out_ref, atol=1e-6)
    if isinstance(module, torch.nn.LSTM):
        assert torch.allclose(state[1], state_ref[1][0], atol=1e-6)
        assert model.cell == "lstm"
    assert model.hidden_size == 7 and model.input_size == 3


def test_from_torch_rejects_other_modules_clearly():
    with pytest.raises(ValueError, match="Linear"):
        from_torch(torch.nn.Linear(3, 4))


def test_sigmoid_and_linear_rnn_forward_matches_equations():
    for act, fn in (("sigmoid", torch.sigmoid), ("linear", lambda a: a)):
        model = build_model(ModelSpec(activation=act, hidden_size=4, input_size=2, recurrent_gain=0.9))
        x = torch.randn(6, 2)
        out, h_n = model(x)
        h = torch.zeros(4)
        for t in range(6):
            h = fn(model.weight_ih @ x[t] + model.bias_ih + model.weight_hh @ h + model.bias_hh)
            assert torch.allclose(out[t], h, atol=1e-6)
        assert torch.allclose(h_n, h, atol=1e-6)


def test_to_torch_round_trip():
    model = build_model(ModelSpec(cell="gru", hidden_size=5, input_size=2, seed=4))
    back = from_torch(model.to_torch())
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        assert torch.equal(getattr(model, name), getattr(back, name))
    with pytest.raises(ValueError, match="sigmoid"):
        build_model(ModelSpec(activation="sigmoid")).to_torch()


def test_public_api_names():
    for name in ("ModelSpec", "build_model", "from_torch", "trace", "Trace", "inputs", "dynamics"):
        assert hasattr(rnnviz, name)


def test_text_knob_takes_one_line_of_bounded_text():
    knob = KNOBS["text"]
    assert knob.validate("hello, world & more") == "hello, world & more"
    assert knob.validate("x" * 400) == "x" * 400
    for bad in ("", "x" * 401, "a\nb", "tab\there", "\x1b[31m", 42, None):
        with pytest.raises(ValueError, match="text must be text of 1 to 400 characters"):
            knob.validate(bad)


def test_import_leaves_torch_threads_alone_and_configure_sets_them():
    """Importing rnnviz changes no process-wide state; rnnviz.configure(threads=...) does, when asked."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); import rnnviz; assert torch.get_num_threads() == 2;"
            "rnnviz.configure(threads=1); assert torch.get_num_threads() == 1; rnnviz.configure();"
            "assert torch.get_num_threads() == 1; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr
    with pytest.raises(ValueError, match="at least 1"):
        rnnviz.configure(threads=0)


# ---------------------------------------------------------------------------- the URL codec


def test_one_spelling_for_every_knob_value_and_both_spellings_read():
    """A link writes a value one way (the way its widget shows it); what older links wrote still reads."""
    assert KNOBS["cell"].format("lstm") == "LSTM" and KNOBS["tr_cell"].format("gru") == "GRU"
    assert KNOBS["cells"].format(("rnn", "gru")) == "RNN,GRU" and KNOBS["init"].format("torch") == "torch"
    assert KNOBS["lr"].format(0.003) == "0.003" and KNOBS["seq_len"].format(200) == "200"
    for raw in ("lstm", "LSTM", " Lstm "):
        assert KNOBS["cell"].validate(raw) == "lstm"
    assert KNOBS["cells"].validate("GRU,rnn") == ("rnn", "gru")
    from rnnviz.spec import to_query

    values = {"cell": "gru", "cells": ("lstm",), "recurrent_gain": 1.5, "seq_len": 200}
    assert to_query(values) == {"cell": "GRU", "cells": "LSTM", "recurrent_gain": "1.5"}
    back, notes = parse_query(to_query(values), list(values))
    assert back == values and notes == []


def test_parse_query_keeps_a_page_range_and_quotes_the_bad_value_as_asked():
    values, notes = parse_query({"seq_len": "9000", "hidden_size": "[x](y)", "loss": "all"},
                                ["seq_len", "hidden_size", "loss"], {"seq_len": (2, 5000)},
                                quote_value=lambda s: f"<{s}>")
    assert values == {"seq_len": 200, "hidden_size": 32, "loss": "all"}
    assert notes == ["The link's value seq_len=<9000> was ignored: seq_len must be in [2, 5000] on this page. "
                     "Using 200 instead.",
                     "The link's value hidden_size=<[x](y)> was ignored: hidden_size must be an integer in "
                     "[1, 1024]. Using 32 instead."]
    # a default outside a page's range is moved inside it; a long value is cut in the note
    values, notes = parse_query({"t": "x" * 100}, ["t"], {"t": (5, 9)})
    assert values == {"t": 5} and "'" + "x" * 40 + "…'" in notes[0] and "Using 5 instead" in notes[0]


def test_every_knob_has_a_group_and_the_page_only_knobs_are_marked():
    from rnnviz.spec import GROUPS, PAGE_ONLY

    assert all(k.group in GROUPS for k in KNOBS.values())
    assert {k.name for k in KNOBS.values() if k.group == "translation"} == {n for n in KNOBS if n.startswith("tr_")}
    assert PAGE_ONLY == {"t", "unit", "text", "tr_text", "lesson", "step"}
    assert KNOBS["seq_len"].limits() == (2, 5000) and KNOBS["seq_len"].limits(page=False) == (1, 10000)


# ---------------------------------------------------------------------------- Scenario


def test_scenario_traces_what_its_knobs_describe():
    """The scenario's trace equals the engine called with the same settings written out by hand."""
    from rnnviz.spec import Scenario

    sc = Scenario.from_values({"cell": "gru", "hidden_size": 6, "recurrent_gain": 1.3, "seed": 4, "seq_len": 30,
                               "input_kind": "noise", "loss": "all", "w": 5.0})  # w: another page's knob
    spec = ModelSpec(cell="gru", hidden_size=6, recurrent_gain=1.3, seed=4)
    x = rnnviz.inputs.make("noise", 30, 1, seed=4)
    want = rnnviz.trace(build_model(spec), x, loss="all")
    got = sc.trace()
    np.testing.assert_array_equal(got.hidden, want.hidden)
    np.testing.assert_array_equal(got.log10_grad_norm, want.log10_grad_norm)
    np.testing.assert_array_equal(sc.inputs(), x)
    both = sc.traces(("rnn", "gru"))
    np.testing.assert_array_equal(both["gru"].log10_grad_norm, want.log10_grad_norm)
    rnn = rnnviz.trace(build_model(spec.replace(cell="rnn")), x, loss="all")
    np.testing.assert_array_equal(both["rnn"].log10_grad_norm, rnn.log10_grad_norm)


def test_scenario_input_size_follows_the_input_and_the_text_counts_only_for_text():
    from rnnviz.spec import Scenario

    assert Scenario.from_values({"input_kind": "binary"}).spec.input_size == 2
    text = Scenario.from_values({"input_kind": "text", "text": "abcab"})
    assert text.spec.input_size == 3 and text.inputs().shape == (200, 3)
    assert Scenario.from_values({"text": "abcab"}) == Scenario()  # an impulse reads no text
    assert hash(Scenario.from_values({"seq_len": 50})) == hash(Scenario().replace(seq_len=50))
    assert Scenario().replace(cell="lstm", loss="all").values()["cell"] == "lstm"
    with pytest.raises(ValueError, match="seq_len"):
        Scenario(seq_len=0)


def test_every_float_knobs_bounds_and_default_survive_a_link():
    """A link writes floats with %g (2π is "6.28319", a hair above 2π): each float knob's default and
    bounds, as a link writes them, read back as themselves, never as out of range."""
    for knob in KNOBS.values():
        if knob.kind == "float":
            for value in (knob.default, knob.min, knob.max):
                if value is not None:
                    assert knob.validate(knob.format(value)) == pytest.approx(value, rel=1e-5), knob.name
