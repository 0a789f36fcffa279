"""Uploads of stacked and bidirectional state_dicts: every configuration goes in through the loader and
gives the same trace as the module itself; each problem gets its own plain message."""
import io

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.deep import StackedModel
from rnnviz.files import uploads

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("cell", list(MODULES))
@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_dict_round_trip_gives_the_module_trace(cell, layers, bidirectional):
    torch.manual_seed(layers)
    module = MODULES[cell](3, 5, num_layers=layers, bidirectional=bidirectional)
    loaded = uploads.load_model(saved(module.state_dict()))
    x = rnnviz.inputs.make("noise", 40, 3, seed=1)
    got, want = rnnviz.trace(loaded.model, x, loss="all"), rnnviz.trace(module, x, loss="all")
    if layers == 1 and not bidirectional:
        assert not isinstance(loaded.model, StackedModel)
        np.testing.assert_array_equal(got.log10_grad_norm, want.log10_grad_norm)
        return
    assert isinstance(loaded.model, StackedModel)
    assert (loaded.model.num_layers, loaded.model.bidirectional) == (layers, bidirectional)
    np.testing.assert_array_equal(got.output, want.output)
    for d in range(2 if bidirectional else 1):
        np.testing.assert_array_equal(got.grad_grid(d), want.grad_grid(d))
    assert f"{layers}-layer" in loaded.source


def test_missing_layer_key_is_named():
    sd = torch.nn.LSTM(3, 4, num_layers=3).state_dict()
    del sd["weight_hh_l2"]
    with pytest.raises(uploads.UploadError, match=r"Missing key weight_hh_l2: a 3-layer RNN / LSTM / GRU has "
                                                  r"weight_ih_l\{k\}, weight_hh_l\{k\}"):
        uploads.load_model(saved(sd))


def test_reverse_weight_of_the_wrong_shape_is_named():
    sd = torch.nn.GRU(2, 4, num_layers=2, bidirectional=True).state_dict()
    sd["weight_ih_l1_reverse"] = torch.zeros(12, 4)
    with pytest.raises(uploads.UploadError, match=r"weight_ih_l1_reverse has shape \[12, 4\]; it must be \[12, 8\] "
                                                  r"\(layer 1 reads both directions of layer 0: 2 × 4 values"):
        uploads.load_model(saved(sd))
    sd = torch.nn.GRU(2, 4, bidirectional=True).state_dict()
    sd["weight_hh_l0_reverse"] = torch.zeros(12, 5)
    with pytest.raises(uploads.UploadError, match=r"weight_hh_l0_reverse has shape \[12, 5\]; it must be \[12, 4\]"):
        uploads.load_model(saved(sd))


def test_missing_reverse_twin_and_other_problems():
    sd = torch.nn.RNN(2, 3, num_layers=2, bidirectional=True).state_dict()
    del sd["bias_hh_l1_reverse"]
    with pytest.raises(uploads.UploadError, match="Missing key bias_hh_l1_reverse: a 2-layer bidirectional"):
        uploads.load_model(saved(sd))
    sd = torch.nn.LSTM(2, 3, num_layers=5).state_dict()
    with pytest.raises(uploads.UploadError, match="5-layer network; rnnviz shows up to 4 layers"):
        uploads.load_model(saved(sd))
    sd = torch.nn.LSTM(2, 3, num_layers=2).state_dict()
    sd["weight_hh_l1"] = torch.full((12, 3), float("nan"))
    with pytest.raises(uploads.UploadError, match="weight_hh_l1 contains 36 NaN"):
        uploads.load_model(saved(sd))


def test_stacked_module_inside_a_larger_model_and_without_biases():
    sd = {f"encoder.{k}": v for k, v in torch.nn.GRU(2, 4, num_layers=2).state_dict().items()}
    sd["head.weight"] = torch.zeros(3, 4)
    loaded = uploads.load_model(saved(sd))
    assert loaded.model.num_layers == 2 and "module 'encoder'" in loaded.source
    assert any("Ignored 1 tensor that is not part" in n for n in loaded.notes)
    loaded = uploads.load_model(saved(torch.nn.RNN(2, 4, num_layers=2, bias=False).state_dict()))
    assert any("no biases" in n for n in loaded.notes) and any("assuming tanh" in n for n in loaded.notes)
