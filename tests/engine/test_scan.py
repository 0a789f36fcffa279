"""The parallel scan gives the sequential loop's states and gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnviz import modern
from rnnviz.scan import linear_loop, linear_scan, log_scan


def _ab(T, S, dtype, seed=0, B=3):
    g = torch.Generator().manual_seed(seed)
    mod = 0.5 + 0.5 * torch.rand(B, T, S, generator=g, dtype=torch.float64)   # |a| in [0.5, 1]
    b = torch.randn(B, T, S, generator=g, dtype=torch.float64)
    h0 = torch.randn(B, S, generator=g, dtype=torch.float64)
    if dtype.is_complex:
        phase = torch.rand(B, T, S, generator=g, dtype=torch.float64) * 6.3
        a = torch.polar(mod, phase)
        b, h0 = torch.complex(b, torch.randn_like(b)), torch.complex(h0, torch.randn_like(h0))
    else:
        a = mod * torch.sign(torch.randn(B, T, S, generator=g, dtype=torch.float64))   # negative ones too
    return a.to(dtype), b.to(dtype), h0.to(dtype)


def _plain(a, b, h0):
    """h_t = a_t h_t-1 + b_t with numpy, one step at a time."""
    a, b, h = a.numpy(), b.numpy(), h0.numpy().copy()
    out = np.empty_like(b)
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


@pytest.mark.parametrize("T", [1, 2, 3, 7, 64, 65, 257, 1000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64, torch.float64])
def test_scan_equals_loop(T, dtype):
    a, b, h0 = _ab(T, 4, dtype)
    want = _plain(a.to(torch.complex128 if dtype.is_complex else torch.float64),
                  b.to(torch.complex128 if dtype.is_complex else torch.float64),
                  h0.to(torch.complex128 if dtype.is_complex else torch.float64))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for fn in (linear_loop, linear_scan):
        got = fn(a, b, h0).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max(), err_msg=fn.__name__)
    without_h0 = linear_loop(a, b).numpy()
    np.testing.assert_allclose(linear_scan(a, b).numpy(), without_h0, rtol=0, atol=tol * np.abs(want).max())


def test_scan_equals_loop_at_8192_steps_with_gradients():
    a, b, h0 = _ab(8192, 8, torch.complex64, seed=1, B=2)
    grads = []
    for fn in (linear_loop, linear_scan):
        a1, b1, h1 = (t.clone().requires_grad_() for t in (a, b, h0))
        h = fn(a1, b1, h1)
        (h.real * torch.linspace(-1, 1, 8)).sum().backward()
        grads.append((h.detach(), a1.grad, b1.grad, h1.grad))
    for loop_value, scan_value in zip(*grads):
        scale = loop_value.abs().max()
        assert (loop_value - scan_value).abs().max() <= 1e-5 * scale


def test_log_scan_is_the_same_recurrence_for_positive_values():
    a, b, h0 = _ab(200, 5, torch.float64, seed=2)
    a, b, h0 = a.abs(), b.abs(), h0.abs()
    np.testing.assert_allclose(log_scan(a.log(), b.log(), h0.log()).numpy(), _plain(a, b, h0), rtol=1e-11)
    np.testing.assert_allclose(log_scan(a.log(), b.log()).numpy(), _plain(a, b, 0 * h0), rtol=1e-11)


@pytest.mark.parametrize("cell", modern.CELLS)
def test_cells_scan_equals_loop_including_gradients(cell):
    model = modern.build(cell, 2, 6, seed=4)
    x = torch.randn(4, 1500, 2, generator=torch.Generator().manual_seed(5))
    out = {}
    for mode in ("loop", "scan"):
        model.zero_grad()
        y, _ = model(x, mode=mode)
        (y ** 2).mean().backward()
        out[mode] = (y.detach(), [p.grad.clone() for p in model.parameters()])
    (y_loop, g_loop), (y_scan, g_scan) = out["loop"], out["scan"]
    assert (y_loop - y_scan).abs().max() <= 1e-5 * y_loop.abs().max()
    for p_loop, p_scan in zip(g_loop, g_scan):
        assert (p_loop - p_scan).abs().max() <= 1e-5 * p_loop.abs().max()
