"""Exports read back with plain numpy equal the trace exactly; the script prints the trace's numbers."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import ModelSpec, build_model, inputs, trace
from rnnviz.files import export, script


def lstm_trace(T=30, H=4, loss="all"):
    spec = ModelSpec(cell="lstm", hidden_size=H, input_size=2, init="gaussian", recurrent_gain=1.3, seed=3)
    return spec, trace(build_model(spec), inputs.noise(T, 2, seed=1), loss=loss)


def test_npz_round_trip_is_exact():
    spec, tr = lstm_trace()
    data = export.trace_to_npz(tr, spec, input_kind="noise")
    f = np.load(io.BytesIO(data), allow_pickle=False)
    exact = {"inputs": tr.inputs, "hidden": tr.hidden, "cell": tr.cell, "log10_grad_norm": tr.log10_grad_norm,
             "grad_norm": tr.grad_norm, "log10_cell_grad_norm": tr.log10_cell_grad_norm,
             "log10_jacobian_norm": tr.log10_jacobian_norm, "log10_step_jacobian_norm": tr.log10_step_jacobian_norm,
             "log10_grad_hidden": tr.log10_grad_hidden, "eigenvalues": tr.eigenvalues,
             "singular_values": tr.singular_values, "h0": tr.h0, "c0": tr.c0}
    exact.update({f"gate_{k}": v for k, v in tr.gates.items()})
    exact.update({f"pre_{k}": v for k, v in tr.pre.items()})
    for name, want in exact.items():
        assert f[name].dtype == np.asarray(want).dtype, name
        np.testing.assert_array_equal(f[name], want, err_msg=name)
    assert "pascanu_bound" not in f  # LSTM: no bound
    meta = json.loads(str(f["meta_json"]))
    assert meta == {"format": "rnnviz.trace", "version": 1, **spec.to_dict(), "input_kind": "noise",
                    "loss": "all", "seq_len": 30, "jacobian_norms": True}
    assert export.spec_from_metadata(meta) == spec


def test_csv_round_trip_is_exact_with_named_columns_and_metadata():
    spec = ModelSpec(cell="rnn", hidden_size=3, input_size=1, recurrent_gain=1.7, init="gaussian", seed=2)
    tr = trace(build_model(spec), inputs.sine(25, 1), loss="last")
    data = export.trace_to_csv(tr, spec, input_kind="sine")
    text = data.decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    header = text.splitlines()[len(comments)].split(",")
    assert header == ["t", "steps_back", "x_0", "h_0", "h_1", "h_2", "grad_norm", "log10_grad_norm", "jacobian_norm",
                      "log10_jacobian_norm", "step_jacobian_norm", "log10_step_jacobian_norm", "pascanu_bound",
                      "log10_pascanu_bound"]
    assert "# recurrent_gain: 1.7" in comments and '# cell: "rnn"' in comments and "# seq_len: 25" in comments
    assert "# - h_j: hidden state of unit j after reading x_t" in comments
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=len(comments) + 1)
    col = {name: table[:, k] for k, name in enumerate(header)}
    np.testing.assert_array_equal(col["t"], np.arange(25))
    np.testing.assert_array_equal(col["x_0"].astype(np.float32), tr.inputs[:, 0])
    for j in range(3):
        np.testing.assert_array_equal(col[f"h_{j}"].astype(np.float32), tr.hidden[:, j])
    np.testing.assert_array_equal(col["log10_grad_norm"], tr.log10_grad_norm)
    np.testing.assert_array_equal(col["grad_norm"], tr.grad_norm)
    np.testing.assert_array_equal(col["log10_jacobian_norm"], tr.log10_jacobian_norm)
    np.testing.assert_array_equal(col["log10_pascanu_bound"], tr.log10_pascanu_bound)
    meta = export.read_csv_metadata(data)
    assert export.spec_from_metadata(meta) == spec and meta["input_kind"] == "sine"


def test_csv_of_an_lstm_has_cell_and_gate_columns_and_keeps_inf():
    spec, tr = lstm_trace(T=6, H=2)
    text = export.trace_to_csv(tr, spec).decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    header = lines[0].split(",")
    for name in ("c_0", "c_1", "gate_input_0", "gate_forget_1", "gate_candidate_0", "gate_output_1",
                 "cell_grad_norm", "log10_cell_grad_norm"):
        assert name in header
    table = np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",")
    np.testing.assert_array_equal(table[:, header.index("gate_forget_1")].astype(np.float32), tr.gates["forget"][:, 1])
    np.testing.assert_array_equal(table[:, header.index("log10_cell_grad_norm")], tr.log10_cell_grad_norm)
    # an exploded gradient beyond float64 is written as inf, its log10 exactly
    model = rnnviz.RecurrentModel("rnn", 1, 1, "linear")
    with np.errstate(all="ignore"):
        model.weight_hh.data.fill_(1e10)
        model.weight_ih.data.fill_(1.0)
    big = trace(model, inputs.impulse(40))
    text = export.trace_to_csv(big, jacobian=False).decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    header = lines[0].split(",")
    row0 = lines[1].split(",")
    assert row0[header.index("grad_norm")] == "inf"
    assert float(row0[header.index("log10_grad_norm")]) == big.log10_grad_norm[0] == pytest.approx(390, abs=1e-6)


def test_costly_jacobian_norms_are_left_out_unless_asked_for(monkeypatch):
    # jacobian_cost = 2 H^3 T = 160 at T=10 is within, 320 at T=20 not
    monkeypatch.setattr(export, "JACOBIAN_BUDGET", 200)
    _, small = lstm_trace(T=10, H=2)
    assert "jacobian_norm" in export.trace_arrays(small)
    _, big = lstm_trace(T=20, H=2)
    text = export.trace_to_csv(big).decode()
    assert "jacobian_norm" not in text.splitlines()[-21] and "# jacobian_norms: false" in text
    assert "log10_jacobian_norm" not in big.__dict__  # never computed
    assert "jacobian_norm" in export.trace_arrays(big, jacobian=True)
    assert "jacobian_norm" in export.trace_arrays(big)  # computed now: always included


def test_export_limits_and_contradictions():
    spec, tr = lstm_trace(T=10, H=2)
    with pytest.raises(ValueError, match="A CSV of this trace would have 10 rows x 24 columns; the limit is 100 cells"):
        export.trace_to_csv(tr, spec, max_cells=100)
    with pytest.raises(ValueError, match="metadata says hidden_size=5 but the trace has hidden_size=2"):
        export.trace_to_npz(tr, {"hidden_size": 5})
    with pytest.raises(ValueError, match="metadata 'x' must be a number, string, bool, list or None"):
        export.trace_to_npz(tr, {"x": object()})


def run_script(source: str) -> tuple[np.ndarray, list[list[float]]]:
    """(final hidden state's printed units, table rows [k, ||h_k||, ||dL/dh_k||, (||dL/dc_k||)])."""
    out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("final hidden state h_{T-1} (first 8 units):")
    final = np.array([float(v) for v in lines[0].split(":", 1)[1].split()])
    rows = [[float(v) for v in line.split()] for line in lines[2:]]
    return final, rows


def check_against(tr, final, rows):
    np.testing.assert_allclose(final, tr.hidden[-1, :8], rtol=1e-6, atol=1e-7)
    k = np.array([int(r[0]) for r in rows])
    assert k[0] == 0 and k[-1] == tr.T - 1 and len(k) == min(25, tr.T)
    np.testing.assert_allclose([r[1] for r in rows], np.linalg.norm(tr.hidden[k].astype(np.float64), axis=1),
                               rtol=2e-6)
    np.testing.assert_allclose([r[2] for r in rows], tr.grad_norm[k], rtol=1e-5)
    if tr.cell_type == "lstm":
        np.testing.assert_allclose([r[3] for r in rows], tr.cell_grad_norm[k], rtol=1e-5)


@pytest.mark.parametrize("spec, T, kind, loss", [
    # edge of chaos: float32 and float64 trajectories part ways, the script must still agree
    (ModelSpec(cell="rnn", hidden_size=12, input_size=2, init="gaussian", recurrent_gain=1.6, seed=5), 150,
     "noise", "all"),
    (ModelSpec(cell="lstm", hidden_size=6, init="orthogonal", recurrent_gain=0.9, forget_bias=2.0, seed=1), 60,
     "sine", "last"),
])
def test_reproduce_script_prints_the_traces_numbers(spec, T, kind, loss):
    source = script.reproduce_script(spec, T, kind, loss)
    assert not [line for line in source.splitlines() if "import" in line and "rnnviz" in line]  # PyTorch alone
    assert len(source.splitlines()) < 100
    tr = trace(build_model(spec), inputs.make(kind, T, spec.input_size, seed=spec.seed), loss=loss)
    check_against(tr, *run_script(source))


def test_reproduce_script_with_embedded_weights_and_input():
    """An uploaded (or trained) model and an uploaded sequence: both travel inside the script."""
    model = build_model(ModelSpec(cell="gru", hidden_size=5, input_size=3, init="torch", seed=8))
    x = inputs.noise(20, 3, seed=2) * 2
    source = script.reproduce_script(model=model, x=x, loss="all")
    assert "W_BLOB" in source and "X_BLOB" in source
    check_against(trace(model, x, loss="all"), *run_script(source))


def test_reproduce_script_input_code_matches_rnnviz_inputs():
    """Every named input the script builds is rnnviz.inputs.make's array, bit for bit."""
    import torch

    for kind, size in (("impulse", 3), ("noise", 2), ("sine", 3), ("binary", 2), ("text", 27)):
        code = script._input_code(kind, 37, size, 11, inputs.DEFAULT_TEXT)
        scope = {"torch": torch, "math": __import__("math")}
        exec(code, scope)
        np.testing.assert_array_equal(scope["x"].numpy(), inputs.make(kind, 37, size, seed=11), err_msg=kind)


@pytest.mark.parametrize("init", ["orthogonal", "gaussian", "identity", "torch"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reproduce_script_weight_code_matches_build_model(cell, init):
    """The few lines that rebuild the weights draw exactly what build_model draws."""
    import math

    import torch

    spec = ModelSpec(cell=cell, init=init, hidden_size=4, input_size=2, recurrent_gain=1.1, input_gain=0.7,
                     forget_bias=1.5, seed=9)
    scope = {"torch": torch, "math": math, "I": 2, "H": 4}
    exec(script._weights_code(spec), scope)
    model = build_model(spec)
    for name, w in scope["W"].items():
        assert torch.equal(w, getattr(model, name).detach()), name


# ---------------------------------------------------------------- stacked and bidirectional models
def stacked_trace(cell="lstm", layers=3, bidirectional=True, residual=False, T=24, loss="last"):
    spec = ModelSpec(cell=cell, hidden_size=4, input_size=2, num_layers=layers, bidirectional=bidirectional,
                     residual=residual, seed=3)
    return spec, trace(build_model(spec), inputs.noise(T, 2, seed=1), loss=loss)


def _in_sequence_order(a, d):
    return np.asarray(a)[::-1] if d else np.asarray(a)


@pytest.mark.parametrize("cell, layers, bidirectional, residual", [("lstm", 3, True, False), ("gru", 2, False, True),
                                                                   ("rnn", 1, True, False)])
def test_npz_of_a_stacked_model_holds_every_layer_and_direction(cell, layers, bidirectional, residual):
    """Every layer and direction under torch's numbering (l0/..., l1_reverse/...), each array equal to that
    layer's trace, in sequence order (a backward direction's reversed from its reading order)."""
    spec, tr = stacked_trace(cell, layers, bidirectional, residual)
    f = np.load(io.BytesIO(export.trace_to_npz(tr, spec, input_kind="noise")), allow_pickle=False)
    np.testing.assert_array_equal(f["inputs"], tr.inputs)
    np.testing.assert_array_equal(f["output"], tr.output)
    np.testing.assert_array_equal(f["log10_input_grad_norm"], tr.log10_input_grad_norm)
    D = 2 if bidirectional else 1
    for layer in range(layers):
        for d in range(D):
            sub, p = tr.trace(layer, d), f"l{layer}{'_reverse' if d else ''}/"
            np.testing.assert_array_equal(f[p + "log10_grad_norm"], tr.grad_grid(d)[layer])  # the grid itself
            exact = {"hidden": sub.hidden, "log10_grad_norm": sub.log10_grad_norm, "grad_norm": sub.grad_norm,
                     "log10_grad_hidden": sub.log10_grad_hidden, "log10_jacobian_norm": sub.log10_jacobian_norm}
            exact.update({f"gate_{k}": v for k, v in sub.gates.items()})
            if cell == "lstm":
                exact.update(cell=sub.cell, log10_cell_grad_norm=sub.log10_cell_grad_norm)
            for name, want in exact.items():
                assert f[p + name].dtype == np.asarray(want).dtype, p + name
                np.testing.assert_array_equal(f[p + name], _in_sequence_order(want, d), err_msg=p + name)
            np.testing.assert_array_equal(f[p + "eigenvalues"], sub.eigenvalues)
            np.testing.assert_array_equal(f[p + "log10_depth_grad_norm"], tr.depth_grad_grid(d)[layer])
            if d and layer == layers - 1 and not residual:  # as torch's output holds it: [t, H:] at step t
                np.testing.assert_array_equal(f[p + "hidden"], tr.output[:, 4:])
    assert f"l{layers}/hidden" not in f and ("l0_reverse/hidden" in f) == bidirectional
    meta = json.loads(str(f["meta_json"]))
    assert (meta["num_layers"], meta["bidirectional"], meta["residual"]) == (layers, bidirectional, residual)
    assert export.spec_from_metadata(meta) == spec


def test_csv_of_a_bidirectional_model_names_columns_by_layer_and_direction():
    spec, tr = stacked_trace("gru", 2, True, T=20, loss="all")
    text = export.trace_to_csv(tr, spec, input_kind="noise").decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    header = text.splitlines()[len(comments)].split(",")
    assert header[:4] == ["t", "steps_back", "x_0", "x_1"]
    assert {"l0/h_0", "l0/gate_update_3", "l1_reverse/h_3", "l1_reverse/grad_norm", "l1/log10_depth_grad_norm",
            "log10_input_grad_norm"} <= set(header)
    assert len(header) == len(set(header))
    assert "# num_layers: 2" in comments and "# bidirectional: true" in comments
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=len(comments) + 1)
    col = {name: table[:, k] for k, name in enumerate(header)}
    for layer in range(2):
        for d, p in ((0, f"l{layer}/"), (1, f"l{layer}_reverse/")):
            sub = tr.trace(layer, d)
            np.testing.assert_array_equal(col[p + "log10_grad_norm"], tr.grad_grid(d)[layer])
            for j in range(4):
                np.testing.assert_array_equal(col[f"{p}h_{j}"].astype(np.float32),
                                              _in_sequence_order(sub.hidden, d)[:, j])
    np.testing.assert_array_equal(col["log10_input_grad_norm"], tr.log10_input_grad_norm)


@pytest.mark.parametrize("cell, layers, bidirectional, residual", [("lstm", 3, True, False), ("rnn", 4, False, True),
                                                                   ("gru", 1, True, False)])
def test_checkpoint_of_a_stacked_model_loads_back_to_the_same_trace(cell, layers, bidirectional, residual):
    """model_to_bytes of a stacked model holds every layer and direction; Your Model's loader reads it back
    (residual connections and settings included) to the very same trace; without residual connections torch's
    own module loads its state_dict."""
    from rnnviz.files import uploads

    spec, tr = stacked_trace(cell, layers, bidirectional, residual)
    model = build_model(spec)
    data = export.model_to_bytes(model, {"source": "test"})
    loaded = uploads.load_model(data)
    assert loaded.model.spec == spec and loaded.meta == {"source": "test"} and loaded.notes == []
    assert (loaded.model.num_layers, loaded.model.bidirectional, loaded.model.residual) == (layers, bidirectional,
                                                                                              residual)
    again = trace(loaded.model, tr.inputs, loss="last")
    for d in range(2 if bidirectional else 1):
        np.testing.assert_array_equal(again.grad_grid(d), tr.grad_grid(d))
    np.testing.assert_array_equal(again.output, tr.output)
    ckpt = torch.load(io.BytesIO(data), weights_only=True)
    if not residual:
        module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
            2, 4, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        module.load_state_dict(ckpt["state_dict"])
        with torch.no_grad():
            np.testing.assert_allclose(module(torch.from_numpy(tr.inputs)[None])[0][0].numpy(), tr.output, atol=1e-6)


def test_a_damaged_stacked_checkpoint_is_named():
    from rnnviz.files import uploads

    model = build_model(ModelSpec(cell="gru", hidden_size=3, num_layers=2))
    ckpt = torch.load(io.BytesIO(export.model_to_bytes(model)), weights_only=True)
    del ckpt["state_dict"]["weight_hh_l1"]
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    with pytest.raises(uploads.UploadError, match="Missing key weight_hh_l1"):
        uploads.load_model(buf.getvalue())
    ckpt = torch.load(io.BytesIO(export.model_to_bytes(model)), weights_only=True)
    ckpt["residual"] = "yes"
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    with pytest.raises(uploads.UploadError, match="metadata is damaged"):
        uploads.load_model(buf.getvalue())
