"""The Beyond LSTM page under AppTest: its figures carry the engine's numbers and the closed forms
(memory horizon ln(10^-3)/ln|λ|, state size γ|b|/√(1 − |λ|²), a parity counter that is right at every step
only with negative eigenvalues)."""
import math

import numpy as np

from rnnviz import modern, modern_trace
from tests.support.apphelp import decode, figures, run_page, texts, trace_named, url_notes

PAGE = "pages/9_Beyond_LSTM.py"


def test_the_page_shows_every_figure_and_the_lru_ring_it_was_given():
    at = run_page(PAGE, {"r_min": "0.95", "r_max": "0.99", "seq_len": "300"})
    assert not at.exception
    figs = figures(at)
    assert {"circle", "grad", "horizon", "gamma", "parity"} <= set(figs)
    # the LRU's eigenvalues in the circle are those of the cell the settings build, on the ring asked for
    lru = modern.build("lru", 1, 32, seed=0, r_min=0.95, r_max=0.99)
    shown = trace_named(figs["circle"], "LRU")
    ev = decode(shown["x"]) + 1j * decode(shown["y"])
    np.testing.assert_allclose(np.sort_complex(ev), np.sort_complex(lru.eigenvalues), atol=1e-12)
    assert np.all((np.abs(ev) >= 0.95 - 1e-6) & (np.abs(ev) <= 0.99 + 1e-6))
    # the LRU's gradient curve is the exact trace: per unit |λ|^lag / sqrt(N)
    x = np.zeros((300, 1), dtype=np.float32)
    x[0] = 1.0
    expected = modern_trace.trace(lru, x).log10_grad_norm
    np.testing.assert_allclose(decode(trace_named(figs["grad"], "LRU")["y"]), expected, rtol=1e-9)
    lag = np.arange(299, -1, -1)
    closed = 0.5 * np.log10(np.sum(np.abs(lru.eigenvalues)[None, :] ** (2 * lag[:, None]), axis=1) / 32)
    np.testing.assert_allclose(expected, closed, atol=1e-9)
    # the RNN's W_hh eigenvalues stand next to them
    assert trace_named(figs["circle"], "RNN")


def test_radius_against_horizon_follows_the_closed_form():
    at = run_page(PAGE)
    fig = figures(at)["horizon"]
    radii = 1 - decode(trace_named(fig, "measured")["x"])
    measured = decode(trace_named(fig, "measured")["y"]).astype(float)
    closed = decode(trace_named(fig, "ln(")["y"]).astype(float)
    np.testing.assert_allclose(closed, math.log(1e-3) / np.log(radii), rtol=1e-9)
    reached = np.isfinite(measured)
    assert reached.sum() >= 6 and not reached[-1]          # 0.9999 remembers beyond the 3000 steps traced
    # the horizon is the first whole lag where |λ|^lag < 1e-3 (the gradient of a ring is exactly |λ|^lag)
    np.testing.assert_array_equal(measured[reached], np.floor(closed[reached]) + 1)


def test_normalisation_keeps_the_state_size_whatever_the_radius():
    fig = figures(run_page(PAGE))["gamma"]
    on = decode(trace_named(fig, "γ = √(1 − |λ|²): measured")["y"]).astype(float)
    off = decode(trace_named(fig, "γ = 1 (no normalisation): measured")["y"]).astype(float)
    radii = 1 - decode(trace_named(fig, "γ = 1 (no normalisation): measured")["x"])
    assert on.max() / on.min() < 1.3                        # about constant
    growth = off / off[0]
    expected = np.sqrt((1 - radii[0] ** 2) / (1 - radii ** 2))
    np.testing.assert_allclose(growth, expected, rtol=0.3)  # ~1/sqrt(1 - r^2), measured on 20000 noisy steps
    assert growth[-1] > 15


def test_parity_switch_negative_eigenvalues():
    at = run_page(PAGE)
    assert "Parity right: 100%" not in texts(at)
    fig = figures(at)["parity"]
    a = decode(trace_named(fig, "transition")["y"]).astype(float)
    assert a.min() >= 0.0                                    # [0, 1]: nothing can flip
    at.toggle(key="parity_negative").set_value(True).run()
    assert not at.exception
    assert "Parity right: 100%" in texts(at)
    fig = figures(at)["parity"]
    bits = decode(trace_named(fig, "bit")["y"]).astype(int)
    a = decode(trace_named(fig, "transition")["y"]).astype(float)
    h = decode(trace_named(fig, "state")["y"]).astype(float)
    np.testing.assert_allclose(a[bits == 1], -1.0, atol=1e-4)   # a flip on every 1 ...
    np.testing.assert_allclose(a[bits == 0], 1.0, atol=1e-4)    # ... and a copy on every 0
    np.testing.assert_allclose(h, 2.0 * (np.cumsum(bits) % 2), atol=1e-3)


def test_bad_link_values_are_named():
    at = run_page(PAGE, {"r_min": "2", "d_state": "x", "seq_len": "99999"})
    assert not at.exception
    notes = url_notes(at)
    assert "r_min" in notes and "d_state" in notes and "seq_len" in notes
