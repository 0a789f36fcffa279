"""The unit-circle figure: fixed eigenvalues as markers, a per-step trajectory as a thinned cloud whose
points all come from the trajectory, the last step outlined, and axes that hold every eigenvalue."""
import numpy as np

from rnnviz import plots
from tests.support.apphelp import decode


def test_unit_circle_holds_fixed_eigenvalues_and_a_thinned_trajectory():
    rng = np.random.default_rng(0)
    fixed = 1.3 * np.exp(1j * rng.uniform(0, 6.28, 8))            # outside the circle: the axes must reach it
    traj = rng.uniform(-1, 1, (4000, 16)) + 0j                     # 64000 points, more than a figure should hold
    fig = plots.unit_circle({"RNN": ("rnn", fixed), "S6": ("s6", traj)}).to_dict()
    by_name = {t["name"]: t for t in fig["data"]}
    np.testing.assert_allclose(decode(by_name["RNN"]["x"]) + 1j * decode(by_name["RNN"]["y"]), fixed)
    cloud = decode(by_name["S6: every step"]["x"])
    assert len(cloud) <= plots.spectra.MAX_CLOUD_POINTS and np.isin(cloud, traj.real).all()
    np.testing.assert_array_equal(decode(by_name["S6: last step"]["x"]), traj[-1].real)
    r = fig["layout"]["xaxis"]["range"][1]
    assert r >= 1.3 and fig["layout"]["yaxis"]["scaleanchor"] == "x"
    assert by_name["RNN"]["marker"]["color"] == plots.CELL_COLORS["rnn"]
