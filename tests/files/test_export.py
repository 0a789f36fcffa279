"""Exports read back with plain numpy equal the trace exactly; the script prints the trace's numbers."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest

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
