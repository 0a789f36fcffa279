"""One Neuron under AppTest: the closed forms of one unit (bistability, w to the power T, explosion)."""
import math

import numpy as np

from tests.support.apphelp import decode, figures, run_page, texts

ON = "pages/3_One_Neuron.py"


def test_one_neuron_sigmoid_bistability_of_pascanu():
    at = run_page(ON, {"activation": "sigmoid", "w": "5", "b": "-2.5"})
    assert not at.exception
    page = texts(at)
    assert "(-2.6556, -2.3444)" in page and "b is inside" in page
    fig = figures(at)["cobweb"]
    stable = [d for d in fig["data"] if d.get("mode") == "markers" and d["marker"]["color"] == "#111"]
    assert len(stable) == 2


def test_one_neuron_linear_gradient_is_w_to_the_power():
    at = run_page(ON, {"activation": "linear", "w": "0.5", "steps": "20"})
    y = decode(figures(at)["grad"]["data"][1]["y"])
    np.testing.assert_allclose(y, [(20 - k) * math.log10(0.5) for k in range(21)], atol=1e-12)


def test_one_neuron_explosion_is_a_message():
    at = run_page(ON, {"activation": "linear", "w": "8", "steps": "300", "neuron_input": "constant"})
    assert not at.exception
    # h_T = sum_{j<300} 8^j = (8^300 - 1) / 7 = 1.21e270 (float64 still holds it)
    assert any("The state explodes: |h_T| = 1.21 × 10²⁷⁰" in w.value for w in at.warning)
    assert figures(at)["traj"]["layout"]["yaxis"]["type"] == "log"
