"""LSTM projections (torch's proj_size, h_t = W_hr m_t): states against torch's fused nn.LSTM(proj_size=P),
the gradient at m_t = o_t * tanh(c_t) against a float64 autograd loop, the factor through depth against the
SVD of autograd's Jacobian, and uploads of every configuration."""
import importlib
import io
import math

import numpy as np
import pytest
import torch

from rnnviz import from_torch, trace
from rnnviz.deep import StackedModel, StackedTrace, loss_terms
from rnnviz.files import uploads
from tests.support import reference

I, H, P = 3, 7, 4


def _module(layers, bidirectional, seed=0, hidden=H, proj=P):
    torch.manual_seed(seed)
    return torch.nn.LSTM(I, hidden, num_layers=layers, bidirectional=bidirectional, proj_size=proj)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_states_match_torchs_projected_lstm_over_1000_steps(layers, bidirectional):
    """The top output at every step equals torch's fused nn.LSTM(proj_size=P) to 1e-5 over T = 1000 in
    float32, and so do each layer's h_n (W_hr m at its last step) and c_n; each layer's Trace holds m_t, H wide."""
    T = 1000
    module = _module(layers, bidirectional)
    x = torch.randn(T, I, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, (h_n, c_n) = module(x)
    tr = trace(module, x.numpy())
    assert isinstance(tr, StackedTrace) and tr.projected and tr.proj_size == P
    D = 2 if bidirectional else 1
    assert tr.output.shape == (T, D * P)
    np.testing.assert_allclose(tr.output, out.numpy(), atol=1e-5)
    for layer in range(layers):
        for d in range(D):
            sub = tr.trace(layer, d)
            assert sub.hidden.shape == (T, H) and sub.log10_grad_hidden.shape == (T, H)
            hr = getattr(module, f"weight_hr_l{layer}" + ("_reverse" if d else "")).detach().double().numpy()
            np.testing.assert_allclose(hr @ sub.hidden[-1], h_n[layer * D + d].numpy(), atol=1e-5)
            np.testing.assert_allclose(sub.cell[-1], c_n[layer * D + d].numpy(), atol=1e-5)
    model = from_torch(module)
    assert isinstance(model, StackedModel) and model.proj_size == P
    with torch.no_grad():  # the model's own forward is torch's kernel, and to_torch gives the module back
        np.testing.assert_array_equal(model(x)[0].numpy(), out.numpy())
        back = model.to_torch()
        assert back.proj_size == P
        np.testing.assert_array_equal(back(x[None])[0][0].numpy(), out.numpy())


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (1, True), (2, False), (3, True)])
@pytest.mark.parametrize("loss", ["last", "all", "tag"])
def test_gradient_at_m_matches_a_float64_autograd_loop(layers, bidirectional, loss):
    """log10 ||dL/dm_t^(l)|| of every layer, direction and step, and log10 ||dL/dx_t||, equal autograd through a
    float64 loop over the same weights (m_t retained, h_t = W_hr m_t), for the three losses."""
    T = 60
    module = _module(layers, bidirectional, seed=3)
    x = np.random.default_rng(4).normal(size=(T, I)).astype(np.float32)
    tr = trace(module, x, loss=loss)
    D = 2 if bidirectional else 1
    grads, y, dx = reference.stacked_bptt(module, x, loss_terms(loss, T, P, D), input_grad=True)
    np.testing.assert_allclose(tr.output, y, atol=2e-5)
    for layer in range(layers):
        for d in range(D):
            np.testing.assert_allclose(tr.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)
    np.testing.assert_allclose(tr.log10_input_grad_norm, np.log10(dx), atol=2e-5)


def test_saturated_projected_stack_in_two_threads_matches_autograd(monkeypatch):
    """Large weights between the layers and input spikes saturate some steps (their factors go down one by one);
    the two directions run in two threads. The grid and ||dL/dx_t|| still equal fp64 autograd."""
    trace_module = importlib.import_module("rnnviz.trace")
    monkeypatch.setattr(trace_module, "PARALLEL_ABOVE", 0.0)
    T = 60
    module = _module(2, True, seed=5)
    with torch.no_grad():
        module.weight_ih_l1.mul_(40.0)
        module.weight_ih_l1_reverse.mul_(40.0)
    x = np.random.default_rng(6).normal(size=(T, I)).astype(np.float32)
    x[::7] *= 100
    tr = trace(module, x, loss="tag")
    grads, y, dx = reference.stacked_bptt(module, x, loss_terms("tag", T, P, 2), input_grad=True)
    for layer in range(2):
        for d in range(2):
            np.testing.assert_allclose(tr.grad_grid(d)[layer], np.log10(grads[layer][d]), atol=2e-5)
    np.testing.assert_allclose(tr.log10_input_grad_norm, np.log10(dx), atol=2e-5)


def test_depth_factor_at_m_matches_the_svd_of_autograds_jacobian():
    """||dm_t^(1)/dm_t^(0)||_2 of the backward direction of layer 1 (through both directions' projections of
    layer 0, W_hr) equals the largest singular value of autograd's Jacobian of one step at the traced states."""
    T = 12
    module = _module(2, True, seed=7)
    x = np.random.default_rng(2).normal(size=(T, I)).astype(np.float32)
    tr = trace(module, x)
    sd = {k: v.double() for k, v in module.state_dict().items()}
    W = {n: sd[n + "_l1_reverse"] for n in reference.NAMES}
    hr0 = [sd["weight_hr_l0"], sd["weight_hr_l0_reverse"]]
    m0 = torch.as_tensor(np.concatenate([tr.trace(0, 0).hidden, tr.trace(0, 1).hidden[::-1]], 1), dtype=torch.float64)
    sub = tr.trace(1, 1)  # reading order: step k is position T-1-k
    for k in (0, 5, 11):
        t = T - 1 - k
        m_prev = torch.tensor(sub.hidden[k - 1] if k else np.zeros(H), dtype=torch.float64)
        h_prev = sd["weight_hr_l1_reverse"] @ m_prev
        c_prev = torch.tensor(sub.cell[k - 1] if k else np.zeros(H), dtype=torch.float64)

        def m_of(m, h=h_prev, c=c_prev):
            y = torch.cat([hr0[0] @ m[:H], hr0[1] @ m[H:]])
            return reference.step("lstm", "tanh", W, y, h, c)[0]

        J = torch.autograd.functional.jacobian(m_of, m0[t]).numpy()
        assert tr.depth_step_norm_grid(1)[1, t] == pytest.approx(math.log10(np.linalg.norm(J, 2)), abs=1e-5)


def test_projected_model_refuses_what_torch_does_not_allow():
    with pytest.raises(ValueError, match="residual connections"):
        StackedModel("lstm", 2, 5, num_layers=2, residual=True, proj_size=3)
    with pytest.raises(ValueError, match="only an LSTM"):
        StackedModel("gru", 2, 5, proj_size=3)
    with pytest.raises(ValueError, match="proj_size must be between 1 and hidden_size - 1 = 4"):
        StackedModel("lstm", 2, 5, proj_size=5)
    with pytest.raises(ValueError, match="not a one-layer model"):
        StackedModel("lstm", 2, 5, proj_size=3).layer(0)


# ---------------------------------------------------------------- uploads
def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_projected_state_dict_round_trip_gives_the_module_trace(layers, bidirectional):
    module = _module(layers, bidirectional, seed=layers)
    loaded = uploads.load_model(_saved(module.state_dict()))
    assert isinstance(loaded.model, StackedModel) and loaded.model.proj_size == P
    assert (loaded.model.num_layers, loaded.model.bidirectional) == (layers, bidirectional)
    x = np.random.default_rng(1).normal(size=(40, I)).astype(np.float32)
    got, want = trace(loaded.model, x, loss="all"), trace(module, x, loss="all")
    np.testing.assert_array_equal(got.output, want.output)
    for d in range(2 if bidirectional else 1):
        np.testing.assert_array_equal(got.grad_grid(d), want.grad_grid(d))
        np.testing.assert_array_equal(got.depth_step_norm_grid(d), want.depth_step_norm_grid(d))


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd.update(weight_hr_l1=torch.zeros(4, 6)),
     r"Shape mismatch: weight_hr_l1 has shape \[4, 6\]; it must be \[4, 7\] \(an LSTM with hidden size H = 7 "
     r"projected to P = 4 values per step, as weight_hr_l0 says\)\."),
    (lambda sd: sd.update(weight_hh_l0_reverse=torch.zeros(28, 7)),
     r"Shape mismatch: weight_hh_l0_reverse has shape \[28, 7\]; it must be \[28, 4\]"),
    (lambda sd: sd.update(weight_ih_l1=torch.zeros(28, 14)),
     r"weight_ih_l1 has shape \[28, 14\]; it must be \[28, 8\] \(layer 1 reads both directions of layer 0: "
     r"2 × 4 values"),
    (lambda sd: sd.pop("weight_hr_l1_reverse"), r"Missing key weight_hr_l1_reverse: .*weight_hr_l\{k\}"),
    (lambda sd: sd.update(weight_hr_l0=torch.zeros(7, 7)),
     r"weight_hr_l0 has shape \[7, 7\]; an LSTM's projection must be a matrix \[P, H\] with P smaller than the "
     r"hidden size H\."),
])
def test_projection_problems_get_their_messages(change, message):
    sd = _module(2, True).state_dict()
    change(sd)
    with pytest.raises(uploads.UploadError, match=message):
        uploads.load_model(_saved(sd))


def test_a_projection_inside_a_larger_model_is_read_and_its_problems_name_the_module():
    """A projected LSTM saved as part of a larger model ("enc.rnn.weight_hr_l0", beside a readout) is read
    (the readout ignored); a bad projection there is named with its module's prefix."""
    module = _module(2, False, seed=4)
    sd = {**{"enc.rnn." + k: v for k, v in module.state_dict().items()}, "head.weight": torch.zeros(2, P)}
    loaded = uploads.load_model(_saved(sd))
    assert loaded.model.proj_size == P and loaded.model.num_layers == 2
    x = np.random.default_rng(0).normal(size=(20, I)).astype(np.float32)
    np.testing.assert_array_equal(trace(loaded.model, x).grad_grid(0), trace(module, x).grad_grid(0))
    sd["enc.rnn.weight_hr_l0"] = torch.zeros(P)
    with pytest.raises(uploads.UploadError, match=r"enc\.rnn\.weight_hr_l0 has shape \[4\]; an LSTM's projection"):
        uploads.load_model(_saved(sd))


def test_a_hostile_projection_shape_is_refused_without_allocating_it():
    """weight_hh [2000000, 1] and weight_hr_l0 [1, 2000000] (18 MB with weight_ih) describe an LSTM of 500000 units:
    the upload is refused by its hidden size, and nothing of size rows x H (4 TB as float32) is allocated."""
    sd = {"weight_ih_l0": torch.zeros(2_000_000, 1), "weight_hh_l0": torch.zeros(2_000_000, 1),
          "weight_hr_l0": torch.zeros(1, 500_000)}
    with pytest.raises(uploads.UploadError, match="The hidden size is 500000; the largest this app shows is"):
        uploads.load_model(_saved(sd))


def test_a_projection_on_a_gru_is_named():
    sd = {**torch.nn.GRU(3, 5).state_dict(), "weight_hr_l0": torch.zeros(2, 5)}
    sd["weight_hh_l0"] = torch.zeros(15, 2)
    with pytest.raises(uploads.UploadError, match=r"weight_hr_l0 is an LSTM's projection, but these weights have the "
                                                  r"shapes of a GRU\."):
        uploads.load_model(_saved(sd))


def test_exports_of_a_projected_trace_say_so_and_its_checkpoint_loads_into_torch():
    """The trace's metadata names proj_size (its per-layer arrays are at m_t); the app's checkpoint of the model
    loads into torch's nn.LSTM(proj_size=P) as it is and gives the module's output."""
    import json

    from rnnviz.files import export

    module = _module(2, True, seed=9)
    x = np.random.default_rng(3).normal(size=(30, I)).astype(np.float32)
    tr = trace(module, x)
    with np.load(io.BytesIO(export.trace_to_npz(tr))) as f:
        assert json.loads(str(f["meta_json"]))["proj_size"] == P
        np.testing.assert_array_equal(f["output"], tr.output)
    ckpt = torch.load(io.BytesIO(export.model_to_bytes(from_torch(module))), weights_only=True)
    back = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    back.load_state_dict(ckpt["state_dict"])
    with torch.no_grad():
        np.testing.assert_array_equal(back(torch.from_numpy(x))[0].numpy(), module(torch.from_numpy(x))[0].numpy())
