"""Uploaded model files: every format the app reads gives the right model; each bad file gets the
message promised for it, and nothing in a file is ever run."""
import io
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ModelSpec, build_model, from_torch, trace
from rnnviz.files import uploads as rio
from rnnviz.files.export import model_to_bytes


def saved(obj, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def lstm_state(**changes):
    torch.manual_seed(0)
    state = torch.nn.LSTM(3, 5).state_dict()
    state.update(changes)
    return state


# ------------------------------------------------------------------------------ good model files

@pytest.mark.parametrize("make, activation, cell", [
    (lambda: torch.nn.RNN(2, 6), None, "rnn"),
    (lambda: torch.nn.RNN(2, 6, nonlinearity="relu"), "relu", "rnn"),
    (lambda: torch.nn.LSTM(2, 6), None, "lstm"),
    (lambda: torch.nn.GRU(2, 6, batch_first=True), None, "gru"),
    (lambda: torch.nn.LSTM(2, 6, bias=False), None, "lstm"),
])
def test_torch_state_dicts_load_and_trace_like_the_module(make, activation, cell):
    torch.manual_seed(1)
    module = make()
    loaded = rio.load_model(saved(module.state_dict()), activation=activation)
    model = loaded.model
    assert (model.cell, model.input_size, model.hidden_size) == (cell, 2, 6)
    x = rnnviz.inputs.noise(40, 2, seed=3)
    want, got = trace(from_torch(module), x, loss="all"), trace(model, x, loss="all")
    np.testing.assert_array_equal(got.hidden, want.hidden)
    np.testing.assert_array_equal(got.log10_grad_norm, want.log10_grad_norm)
    if cell == "rnn" and activation is None:
        assert any("assuming tanh" in n for n in loaded.notes)
    if not getattr(module, "bias", True):
        assert any("bias=False" in n for n in loaded.notes)
        assert not model.bias_ih.detach().any()


def test_recurrent_model_state_dict_and_a_layer_inside_a_larger_model():
    model = build_model(ModelSpec(cell="gru", hidden_size=4, input_size=2, init="torch", seed=2))
    back = rio.load_state_dict(saved(model.state_dict()))
    for name in rnnviz.model.PARAM_NAMES:
        assert torch.equal(getattr(back, name), getattr(model, name))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(3, 4)
            self.head = torch.nn.Linear(4, 2)

    net = Net()
    loaded = rio.load_model(saved(net.state_dict()))
    assert torch.equal(loaded.model.weight_hh, net.rnn.weight_hh_l0)
    assert loaded.source == "a torch.nn.RNN / LSTM / GRU state_dict, layer 'rnn'"
    assert loaded.notes == ["Ignored 2 tensors that are not part of the recurrent layer: head.weight, head.bias."]


def test_a_training_checkpoint_with_the_state_dict_inside():
    module = torch.nn.GRU(2, 3)
    optimizer = torch.optim.Adam(module.parameters())
    module(torch.randn(4, 2))[0].sum().backward()
    optimizer.step()
    data = saved({"epoch": 7, "model_state_dict": module.state_dict(), "optimizer_state_dict": optimizer.state_dict()})
    loaded = rio.load_model(data)
    assert torch.equal(loaded.model.weight_ih, module.weight_ih_l0)
    assert loaded.notes == ["Read the weights from the file's entry 'model_state_dict'."]


def test_checkpoint_settings_that_do_not_match_the_weights_are_dropped():
    model = build_model(ModelSpec(cell="lstm", hidden_size=3))
    ckpt = torch.load(io.BytesIO(model_to_bytes(model)), weights_only=True)
    loaded = rio.load_model(saved({**ckpt, "spec": {**ckpt["spec"], "hidden_size": 8}}))
    assert loaded.model.spec is None and loaded.model.hidden_size == 3
    assert loaded.notes == ["The checkpoint's settings (cell lstm, input size 1, hidden size 8) do not match its "
                            "weights; the weights are used as they are."]


def test_two_recurrent_layers_need_a_choice():
    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.GRU(3, 4)
            self.dec = torch.nn.GRU(5, 4)

    data = saved(Seq().state_dict())
    with pytest.raises(rio.UploadError, match=re.escape("The state_dict holds 2 recurrent layers ('enc', 'dec'); "
                                                        "choose one.")):
        rio.load_model(data)
    assert rio.load_model(data, prefix="dec").model.input_size == 5
    with pytest.raises(rio.UploadError, match="no recurrent layer named 'decoder'; it has 'enc', 'dec'"):
        rio.load_model(data, prefix="decoder")


@pytest.mark.parametrize("cell, activation", [("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
def test_checkpoint_round_trip_gives_the_identical_trace(cell, activation):
    """What the app saves, uploaded again: same weights, settings, metadata, extras, trace."""
    spec = ModelSpec(cell=cell, activation=activation, hidden_size=5, input_size=2, init="torch", seed=4)
    model = build_model(spec)
    with torch.no_grad():  # as if trained: no longer what the spec builds
        model.weight_hh.mul_(1.1)
    readout = torch.randn(3, 5)
    meta = {"task": "adding", "steps": 400, "vocab": ["a", "b"]}
    data = model_to_bytes(model, meta, extra={"readout.weight": readout})
    loaded = rio.load_model(data)
    assert loaded.source == "an rnnviz checkpoint" and loaded.notes == []
    assert loaded.model.activation == activation and loaded.model.spec == spec
    assert loaded.meta == {"task": "adding", "steps": 400, "vocab": ["a", "b"]}
    assert torch.equal(loaded.extra["readout.weight"], readout)
    x = rnnviz.inputs.noise(60, 2, seed=5)
    a, b = trace(model, x), trace(loaded.model, x)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    np.testing.assert_array_equal(a.log10_grad_norm, b.log10_grad_norm)
    np.testing.assert_array_equal(a.log10_jacobian_norm, b.log10_jacobian_norm)
    # plain torch can read it too, with weights_only=True
    ckpt = torch.load(io.BytesIO(data), weights_only=True)
    if cell == "lstm":
        torch.nn.LSTM(2, 5).load_state_dict(ckpt["state_dict"])


def test_activation_override_for_a_plain_rnn_state_dict():
    module = torch.nn.RNN(1, 3, nonlinearity="relu")
    model = rio.load_state_dict(saved(module.state_dict()), activation="relu")
    assert model.activation == "relu"
    with pytest.raises(rio.UploadError, match="activation must be one of tanh, relu, sigmoid, linear; got 'gelu'"):
        rio.load_state_dict(saved(module.state_dict()), activation="gelu")


# ------------------------------------------------------------------------------ bad model files

class Evil:
    """Unpickling this would create a file (if anything ever ran it)."""

    path = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def evil_payloads(path):
    Evil.path = str(path)
    return {
        **{f"pickle protocol {p}": pickle.dumps(Evil(), protocol=p) for p in range(6)},
        "torch.save zip": saved({"weight_ih_l0": Evil()}),
        "torch.save legacy": saved(Evil(), _use_new_zipfile_serialization=False),
    }


def test_malicious_pickles_are_refused_without_running_anything(tmp_path):
    marker = tmp_path / "pwned"
    for name, data in evil_payloads(marker).items():
        with pytest.raises(rio.UploadError) as err:
            rio.load_model(data)
        message = str(err.value)
        assert message.startswith("Refused: the file is a pickle"), name
        assert "Nothing in it was run." in message, name
        assert not marker.exists(), f"{name} ran code"
    assert "posix.system" in str(pytest.raises(rio.UploadError, rio.load_model,
                                               evil_payloads(marker)["pickle protocol 2"]).value)


def test_torch_load_is_only_ever_called_weights_only_and_never_in_the_apps_process(monkeypatch):
    calls = []
    real = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = rio.load_model(saved(lstm_state()))
    assert torch.equal(loaded.model.weight_hh, lstm_state()["weight_hh_l0"])
    with pytest.raises(rio.UploadError):
        rio.load_model(saved(torch.nn.LSTM(2, 3)))
    assert calls == []   # the file was unpickled in the reading worker's process, not here


def npz_bytes():
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(3))
    return buf.getvalue()


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


def char_model(module: torch.nn.Module) -> bytes:
    """A Text Lab character model file (its format, vocabulary and readout) around `module`'s weights."""
    torch.manual_seed(0)
    H = module.hidden_size
    return saved({"format": rio.CHARLM_FORMAT, "version": 1, "cell": "lstm", "activation": "tanh", "hidden_size": H,
                  "vocab": ["a", "b", "c"], "corpus": "", **{f"rnn.{k}": v for k, v in module.state_dict().items()},
                  "readout.weight": torch.zeros(3, module.proj_size or H), "readout.bias": torch.zeros(3)})


BAD_MODELS = [
    ("empty", lambda: b"", "The model file is empty (0 bytes)."),
    ("text", lambda: b"1,2,3\n4,5,6\n", "This is not a PyTorch file (it looks like text starting '1,2,3'). Save the "
                                         "module's weights with torch.save(module.state_dict(), 'model.pt')."),
    ("random bytes", lambda: bytes(range(7, 200)),
     "This is not a PyTorch file (its first bytes are not a PyTorch header)."),
    ("whole module", lambda: saved(torch.nn.LSTM(2, 3)),
     "The file holds a whole pickled Python object (torch.nn.modules.rnn.LSTM), not just weights. For safety this app "
     "only loads weights (nothing in the file was run). Save the weights with torch.save(module.state_dict(), "
     "'model.pt')."),
    ("numpy inside", lambda: saved({"weight_ih_l0": np.zeros(3)}), "The file holds NumPy arrays"),
    ("npz", npz_bytes, "This is a NumPy .npz archive, not a PyTorch file."),
    ("other zip", zip_bytes, "This is a zip archive but not a PyTorch checkpoint (it has no data.pkl)."),
    ("truncated", lambda: saved(lstm_state())[:600], "The PyTorch checkpoint is damaged or incomplete"),
    ("truncated legacy", lambda: saved(lstm_state(), _use_new_zipfile_serialization=False)[:-100],
     "The file looks like a PyTorch file in the old format (torch before 1.6) but it is damaged or incomplete."),
    ("single tensor", lambda: saved(torch.zeros(3)), "The file holds a single tensor of shape [3], not a state_dict"),
    ("no rnn keys", lambda: saved(torch.nn.Linear(2, 3).state_dict()),
     "Missing weights: the state_dict has no weight_ih_l0 / weight_hh_l0 (the names torch.nn.RNN, LSTM and GRU use); "
     "its keys are weight, bias."),
    ("two layers, one missing", lambda: saved({k: v for k, v in torch.nn.LSTM(3, 4, num_layers=2).state_dict().items()
                                               if k != "weight_ih_l1"}),
     "Missing key weight_ih_l1: a 2-layer RNN / LSTM / GRU has weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, "
     "bias_hh_l{k} for every layer k = 0 to 1."),
    ("bidirectional, reverse of the wrong shape",
     lambda: saved({**torch.nn.GRU(3, 4, bidirectional=True).state_dict(), "weight_ih_l0_reverse": torch.zeros(12, 2)}),
     "Shape mismatch: weight_ih_l0_reverse has shape [12, 2]; it must be [12, 3] (a GRU with hidden size H = 4 and "
     "input size 3, as layer 0 forwards says)."),
    ("missing key", lambda: saved({k: v for k, v in lstm_state().items() if k != "bias_hh_l0"}),
     "Missing key bias_hh_l0: a single-layer RNN / LSTM / GRU has weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0."),
    ("missing weight", lambda: saved({k: v for k, v in lstm_state().items() if k != "weight_hh_l0"}),
     "Missing key weight_hh_l0"),
    ("extra key", lambda: saved(lstm_state(foo=torch.zeros(1))),
     "Unexpected key foo: a single-layer RNN / LSTM / GRU has only weight_ih_l0, weight_hh_l0, bias_ih_l0, "
     "bias_hh_l0."),
    ("weight_ih rows", lambda: saved(lstm_state(weight_ih_l0=torch.zeros(15, 3))),
     "Shape mismatch: weight_ih has shape [15, 3] but weight_hh has [20, 5]; both must have 20 rows (4H for an LSTM "
     "with H = 5)."),
    ("bias length", lambda: saved(lstm_state(bias_hh_l0=torch.zeros(7))),
     "Shape mismatch: bias_hh has shape [7] but weight_hh has [20, 5]; it must be [20]."),
    ("weight_hh rows", lambda: saved(lstm_state(weight_hh_l0=torch.zeros(20, 4))),
     "weight_hh has shape [20, 4]: 20 rows for hidden size 4 (its column count). An RNN has H = 4 rows, a GRU 3H = 12, "
     "an LSTM 4H = 16."),
    ("vector weight", lambda: saved(lstm_state(weight_ih_l0=torch.zeros(20))),
     "weight_ih has shape [20]; it must be a matrix [G*H, input size]."),
    ("nan", lambda: saved(lstm_state(weight_hh_l0=torch.full((20, 5), float("nan")))),
     "weight_hh contains 100 NaN and 0 infinite values: the weights are broken (often a training run that diverged)."),
    ("inf", lambda: saved(lstm_state(bias_ih_l0=torch.tensor([float("inf")] * 20))),
     "bias_ih contains 0 NaN and 20 infinite values"),
    ("integers", lambda: saved(lstm_state(weight_ih_l0=torch.zeros(20, 3, dtype=torch.int64))),
     "weight_ih holds int64 values; weights must be floating point (float32 or float64)"),
    ("not a tensor", lambda: saved(lstm_state(bias_ih_l0=[0.0] * 20)),
     "bias_ih is a list of 20 items (0.0, 0.0, 0.0, …), not a tensor."),
    ("mixed names", lambda: saved({**lstm_state(), "weight_ih": torch.zeros(20, 3)}),
     "The state_dict mixes torch's names (weight_ih_l0) with plain ones (weight_ih)."),
    ("empty dict", lambda: saved({}), "The state_dict is empty: it holds no tensors."),
    ("character model with two layers", lambda: char_model(torch.nn.LSTM(3, 4, num_layers=2)),
     "A Text Lab character model has one layer, and this one has 2 (weights for layers l0 to l1). To see "
     "a stacked network, upload the recurrent module's own state_dict: torch.save(module.state_dict(), 'model.pt')."),
    ("bidirectional character model", lambda: char_model(torch.nn.LSTM(3, 4, bidirectional=True)),
     "A Text Lab character model reads one way, and this one also has backward weights (*_reverse)."),
    ("projected character model", lambda: char_model(torch.nn.LSTM(3, 4, proj_size=2)),
     "A Text Lab character model has no projection, and this LSTM has one (weight_hr_l0, proj_size > 0). "
     "To see a projected LSTM, upload the recurrent module's own state_dict"),
]


@pytest.mark.parametrize("module", [torch.nn.LSTM(3, 4, num_layers=2), torch.nn.LSTM(3, 4, bidirectional=True),
                                    torch.nn.LSTM(3, 4, proj_size=2)], ids=["stacked", "bidirectional", "projected"])
def test_what_a_character_model_cannot_hold_loads_as_the_modules_own_state_dict(module):
    """The refusals of a character model point to its module's own state_dict: those weights, saved so, load as
    the stacked / bidirectional / projected model they are, and trace as the module does."""
    loaded = rio.load_model(saved(module.state_dict()))
    x = rnnviz.inputs.make("impulse", 30, 3)
    want = trace(from_torch(module), x)
    got = trace(loaded.model, x)
    np.testing.assert_array_equal(got.grad_grid(0), want.grad_grid(0))


@pytest.mark.parametrize("name, make, message", BAD_MODELS, ids=[b[0] for b in BAD_MODELS])
def test_bad_model_files_get_a_clear_message(name, make, message):
    with pytest.raises(rio.UploadError) as err:
        rio.load_model(make())
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_size_limits_for_model_files():
    data = saved(torch.nn.LSTM(3, 16).state_dict())
    with pytest.raises(rio.UploadError, match=rf"^The model file is {len(data) / 1024:.1f} KB; the largest this app "
                                              r"reads is 1.0 KB\.$"):
        rio.load_model(data, max_bytes=1024)
    with pytest.raises(rio.UploadError, match=r"^The hidden size is 16; the largest this app shows is 8\.$"):
        rio.load_model(data, max_hidden=8)
    with pytest.raises(rio.UploadError, match=r"^The input size is 3; the largest this app shows is 2\.$"):
        rio.load_model(data, max_input=2)
    assert rio.MAX_HIDDEN == rnnviz.KNOBS["hidden_size"].max and rio.MAX_INPUT == rnnviz.KNOBS["input_size"].max


def test_damaged_checkpoints():
    model = build_model(ModelSpec(cell="gru", hidden_size=3))
    ckpt = torch.load(io.BytesIO(model_to_bytes(model)), weights_only=True)
    with pytest.raises(rio.UploadError, match="says it is an LSTM but its weights have the shapes of a GRU"):
        rio.load_model(saved({**ckpt, "cell": "lstm"}))
    with pytest.raises(rio.UploadError, match="has version 99; this app reads version 1 and older"):
        rio.load_model(saved({**ckpt, "version": 99}))
    with pytest.raises(rio.UploadError, match="extra entry 'x' is not a float tensor"):
        rio.load_model(saved({**ckpt, "extra": {"x": "hello"}}))
