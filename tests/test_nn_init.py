"""nn.init: the PyTorch formulas for bounds and standard deviations, checked statistically."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from conftest import to_np


def big(shape=(300, 400)):
    return nn.Parameter(bp.empty(*shape))


def test_calculate_gain_table():
    g = nn.init.calculate_gain
    assert g("linear") == 1 and g("sigmoid") == 1 and g("tanh") == 5 / 3
    assert g("relu") == math.sqrt(2)
    assert g("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert g("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unsupported"):
        g("swish")


@pytest.mark.parametrize(
    "fill,bound",
    [
        (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2) * math.sqrt(3 / 400)),
        (lambda t: nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2) * math.sqrt(3 / 300)),
        (lambda t: nn.init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(6 / 700)),
        (lambda t: nn.init.uniform_(t, -0.3, 0.3), 0.3),
    ],
)
def test_uniform_initialisers(fill, bound):
    t = big()
    assert fill(t) is t
    a = to_np(t)
    assert np.abs(a).max() <= bound
    assert np.abs(a).max() > 0.99 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.01 * bound


@pytest.mark.parametrize(
    "fill,mean,std",
    [
        (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), 0.0, math.sqrt(2 / 400)),
        (lambda t: nn.init.kaiming_normal_(t, a=0.2, mode="fan_out"), 0.0, math.sqrt(2 / (1 + 0.04)) / math.sqrt(300)),
        (lambda t: nn.init.xavier_normal_(t), 0.0, math.sqrt(2 / 700)),
        (lambda t: nn.init.normal_(t, 0.5, 0.02), 0.5, 0.02),
    ],
)
def test_normal_initialisers(fill, mean, std):
    a = to_np(fill(big()))
    # 120,000 samples: the sample mean and std are within a fraction of a percent of std.
    assert abs(a.std() - std) < 0.01 * std
    assert abs(a.mean() - mean) < 0.02 * std


def test_constant_initialisers_and_errors():
    t = big((3, 4))
    np.testing.assert_array_equal(to_np(nn.init.ones_(t)), np.ones((3, 4)))
    np.testing.assert_array_equal(to_np(nn.init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(to_np(nn.init.constant_(t, 2.5)), np.full((3, 4), 2.5))
    assert t.requires_grad and t.grad_fn is None  # still a leaf parameter
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(bp.empty(5)))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_normal_(big((2, 2)), mode="fan")
