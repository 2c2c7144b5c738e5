# The accountant functions of the Python module give what the sp_accountant CLI prints (RDP and PRV epsilon, the
# calibrated noise multiplier of both), and composing groups of steps adds their RDP curves. Run by ctest
# (python_accountant).
import json

import numpy as np
import pytest

import synpriv
from conftest import assert_same, run_tool


def cli(*args):
    return json.loads(run_tool("sp_accountant", *args))


def test_rdp_epsilon_matches_the_cli():
    want = cli("--sample-rate", 0.00512, "--noise-multiplier", 1.0, "--steps", 19531, "--delta", 1e-5)
    got = synpriv.rdp_epsilon(0.00512, 1.0, 19531, 1e-5)
    assert got["epsilon"] == want["epsilon"] and got["best_order"] == want["best_order"]
    assert got["order_at_grid_edge"] is want["order_at_grid_edge"] is False and got["warning"] is None


def test_rdp_warning_at_the_grid_edge_matches_the_cli():
    want = cli("--sample-rate", 0.001, "--noise-multiplier", 20, "--steps", 100, "--delta", 1e-5)
    got = synpriv.rdp_epsilon(0.001, 20, 100, 1e-5)
    assert (got["epsilon"], got["best_order"], got["warning"]) == (want["epsilon"], want["best_order"], want["warning"])
    assert got["order_at_grid_edge"] is True


def test_prv_epsilon_matches_the_cli():
    want = cli("--sample-rate", 0.08192, "--noise-multiplier", 10, "--steps", 875, "--delta", 1e-5, "--accountant", "prv")
    got = synpriv.prv_epsilon(0.08192, 10, 875, 1e-5)
    for key in ["epsilon", "epsilon_lower", "epsilon_estimate", "epsilon_upper", "eps_error", "delta_error", "mesh",
                "domain_points", "domain_half_width"]:
        assert got[key] == want[key], key


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_calibrated_noise_matches_the_cli(accountant):
    want = cli("--sample-rate", 0.01, "--steps", 300, "--delta", 1e-5, "--target-epsilon", 2, "--accountant", accountant)
    got = synpriv.calibrate_noise(0.01, 300, 1e-5, 2.0, accountant=accountant)
    assert got["noise_multiplier"] == want["noise_multiplier"]
    assert got["evaluations"] == want["evaluations"]
    assert got["epsilon"] == want["epsilon"] <= 2.0


def test_groups_of_steps_compose():
    a = synpriv.rdp_curve(0.01, 1.2, 300)
    b = synpriv.rdp_curve(0.02, 0.9, 50)
    both = synpriv.rdp_curve([0.01, 0.02], [1.2, 0.9], [300, 50])
    np.testing.assert_allclose(both, a + b, rtol=1e-14)
    assert len(both) == len(synpriv.default_rdp_orders())
    # A scalar applies to every group.
    assert_same(synpriv.rdp_epsilon([0.01, 0.01], 1.2, [100, 200], 1e-5), synpriv.rdp_epsilon(0.01, 1.2, 300, 1e-5))
