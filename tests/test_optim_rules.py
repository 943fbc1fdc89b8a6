"""RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop against NumPy
transcriptions of PyTorch's documented algorithms (tests/optim_reference.py), every option,
over several steps on CPU (float64 and float32) and GPU; and against trajectories recorded
from PyTorch 2.15 itself."""

import numpy as np
import pytest

import backprop as bp
import optim_reference as ref
from backprop import nn, optim
from conftest import assert_close, to_np
from test_optim import B0, C, D, W0, backprop_run, quadratic_grad

CASES = {
    optim.RMSprop: (ref.rmsprop, [
        dict(lr=1e-2),
        dict(lr=1e-2, alpha=0.9, eps=1e-6, weight_decay=0.1),
        dict(lr=1e-2, momentum=0.9),
        dict(lr=1e-2, centered=True, alpha=0.95),
        dict(lr=5e-3, centered=True, momentum=0.5, weight_decay=0.05, maximize=True),
        dict(lr=1e-2, alpha=0.3),  # 1 - alpha >= 0.5: lerp's other formula
    ]),
    optim.Adagrad: (ref.adagrad, [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2),
        dict(lr=0.05, weight_decay=0.1, eps=1e-6, maximize=True),
    ]),
    optim.Adadelta: (ref.adadelta, [
        dict(),
        dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1),
        dict(lr=1.0, maximize=True),
    ]),
    optim.Adamax: (ref.adamax, [
        dict(lr=0.05),
        dict(lr=0.02, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.1),
        dict(lr=0.02, betas=(0.3, 0.999), maximize=True),
    ]),
    optim.NAdam: (ref.nadam, [
        dict(lr=0.05),
        dict(lr=0.02, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.1),
        dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
    ]),
    optim.RAdam: (ref.radam, [
        dict(lr=0.05),  # beta2 = 0.999: rho_t stays <= 5, the unrectified branch
        dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1),  # rectified from step 6 on
        dict(lr=0.02, betas=(0.8, 0.8), weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
    ]),
    optim.Rprop: (ref.rprop, [
        dict(lr=0.05),
        dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.1)),
        dict(lr=0.02, maximize=True),
    ]),
}

STEPS = 10


def _dtypes(device):
    return [bp.float32] if device == "gpu" else [bp.float64, bp.float32]


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == bp.float64 else dict(rtol=3e-5, atol=3e-6)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_matches_documented_algorithm_for_every_option(cls, device):
    reference, cases = CASES[cls]
    for case in cases:
        for dtype in _dtypes(device):
            w, b, opt = backprop_run(lambda w, b: cls([w, b], **case), STEPS, dtype, device)
            want_w = reference(W0, lambda t: quadratic_grad(t, C, D), STEPS, **case)
            want_b = reference(B0, lambda t: quadratic_grad(t, C[0], D[1]), STEPS, **case)
            assert_close(w, want_w, **_tol(dtype), err_msg=f"{cls.__name__} {case} {dtype}")
            assert_close(b, want_b, **_tol(dtype), err_msg=f"{cls.__name__} {case} {dtype}")
            assert opt.state[opt.param_groups[0]["params"][0]]["step"].item() == STEPS


@pytest.mark.parametrize("case", [dict(lr=0.05), dict(lr=0.05, lambd=0.01, t0=3, weight_decay=0.1),
                                  dict(lr=0.02, alpha=0.5, t0=0, maximize=True)])
def test_asgd_iterate_and_average_match_documented_algorithm(case, device):
    for dtype in _dtypes(device):
        w, b, opt = backprop_run(lambda w, b: optim.ASGD([w, b], **case), STEPS, dtype, device)
        want_w, want_ax = ref.asgd(W0, lambda t: quadratic_grad(t, C, D), STEPS, **case)
        assert_close(w, want_w, **_tol(dtype))
        assert_close(opt.state[opt.param_groups[0]["params"][0]]["ax"], want_ax, **_tol(dtype))
        assert_close(b, ref.asgd(B0, lambda t: quadratic_grad(t, C[0], D[1]), STEPS, **case)[0], **_tol(dtype))


# Ten float64 steps of torch.optim.<name>(w, **kwargs) on the quadratic of test_optim, with w
# starting at W0: the values torch 2.15 printed (w flattened).
PYTORCH_TRAJECTORIES = {
    "RMSprop": ({"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}, [-0.3778517383444124, 0.6983747499137353, 0.13010237080067646, 1.255077185732498, -0.4122561441087993, -0.8686979652925841]),
    "Adagrad": ({"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05}, [-0.10488888371140521, 0.265828537058123, 0.539429749453874, 0.9788316409745896, -0.6853021119322701, -0.4230631771626374]),
    "Adadelta": ({"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}, [0.2872240265525376, -0.18718017687811242, 0.9871866676763175, 0.7127504079416915, -1.0872221899854164, 0.03717525240891627]),
    "Adamax": ({"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1}, [-0.1269734963774915, 0.29466571549008014, 0.5159485111054877, 1.095348214944516, -0.6704312992553306, -0.4528242626952339]),
    "NAdam": ({"lr": 0.05, "momentum_decay": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, [-0.07104238186044212, 0.1960418641287205, 0.5717381933923277, 1.046879890328965, -0.6967090873282378, -0.3411086984540487]),
    "RAdam": ({"lr": 0.05, "betas": (0.9, 0.9), "weight_decay": 0.1}, [0.00958097517942481, 0.2875731805892416, -0.005623919278128952, 0.8229063816809223, -0.5056363117081943, -0.7729513449535771]),
    "ASGD": ({"lr": 0.05, "lambd": 0.01, "t0": 3, "weight_decay": 0.1}, [-0.026054656693250293, 0.5072444904243778, -0.30780141460556937, 0.7490547051246186, -0.46561434392374784, -1.2193224047763043]),
    "Rprop": ({"lr": 0.05, "etas": (0.4, 1.3), "step_sizes": (0.001, 0.2), "maximize": True}, [1.7378015, -1.6378015, 2.4378015000000004, -0.7378015, -2.5378015000000005, 1.4878015]),
}


@pytest.mark.parametrize("name", list(PYTORCH_TRAJECTORIES))
def test_matches_recorded_pytorch_trajectory(name):
    kwargs, want = PYTORCH_TRAJECTORIES[name]
    w = nn.Parameter(bp.tensor(W0, dtype=bp.float64))
    opt = getattr(optim, name)([w], **kwargs)
    c, d = bp.tensor(C, dtype=bp.float64), bp.tensor(D, dtype=bp.float64)
    for _ in range(10):
        opt.zero_grad()
        (c * w + d * w * w / 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(to_np(w).ravel(), want, rtol=1e-12, atol=1e-14)


# PyTorch's state keys per optimizer (torch 2.15, after one step with the options shown).
STATE_KEYS = [
    (optim.RMSprop, dict(momentum=0.9, centered=True), {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (optim.RMSprop, dict(), {"step", "square_avg"}),
    (optim.Adagrad, dict(), {"step", "sum"}),
    (optim.Adadelta, dict(), {"step", "square_avg", "acc_delta"}),
    (optim.Adamax, dict(), {"step", "exp_avg", "exp_inf"}),
    (optim.NAdam, dict(), {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    (optim.RAdam, dict(), {"step", "exp_avg", "exp_avg_sq"}),
    (optim.ASGD, dict(), {"step", "eta", "mu", "ax"}),
    (optim.Rprop, dict(), {"step", "prev", "step_size"}),
]


@pytest.mark.parametrize("cls,kwargs,keys", STATE_KEYS)
def test_state_keys_are_pytorchs(cls, kwargs, keys):
    w = nn.Parameter(bp.ones(2))
    opt = cls([w], **kwargs)
    w.grad = bp.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd["state"][0]) == keys
    assert sd["state"][0]["step"].item() == 1.0 and sd["state"][0]["step"].dtype == bp.float32


def test_adagrad_state_exists_before_the_first_step():
    w = nn.Parameter(bp.ones(2))
    opt = optim.Adagrad([w], initial_accumulator_value=0.5)
    assert_close(opt.state[w]["sum"], [0.5, 0.5])
    assert opt.state[w]["step"].item() == 0.0


def test_options_change_mid_training_create_missing_state():
    # RMSprop switched to centered with momentum after some steps, as a load_state_dict of
    # other hyperparameters would: the new state starts at zero, like PyTorch's.
    w = nn.Parameter(bp.tensor([1.0, -1.0]))
    opt = optim.RMSprop([w], lr=0.01)
    w.grad = bp.ones(2)
    opt.step()
    opt.param_groups[0].update(centered=True, momentum=0.5)
    opt.step()
    assert {"grad_avg", "momentum_buffer"} <= set(opt.state[w]) and opt.state[w]["step"].item() == 2


def test_rprop_state_mismatch_is_a_clear_error():
    w = nn.Parameter(bp.ones(3))
    opt = optim.Rprop([w])
    w.grad = bp.ones(3)
    opt.step()
    opt.state[w]["prev"] = bp.zeros(4)
    with pytest.raises(ValueError, match="prev"):
        opt.step()


def test_nan_gradients_propagate_like_pytorch():
    # torch.maximum propagates NaN into Adamax's exp_inf; Rprop's sign(NaN) is 0 (no move).
    w = nn.Parameter(bp.tensor([1.0, 2.0]))
    opt = optim.Adamax([w], lr=0.1)
    w.grad = bp.tensor([float("nan"), 1.0])
    opt.step()
    got = to_np(w)
    assert np.isnan(got[0]) and got[1] == pytest.approx(1.9)
    w = nn.Parameter(bp.tensor([1.0, 2.0]))
    opt = optim.Rprop([w], lr=0.1)
    w.grad = bp.tensor([float("nan"), 1.0])
    opt.step()
    got = to_np(w)
    assert got[0] == 1.0 and got[1] == pytest.approx(1.9)


@pytest.mark.parametrize("cls", [optim.RMSprop, optim.NAdam, optim.Rprop], ids=lambda c: c.__name__)
def test_large_parameters_split_across_threads_match_small_ones(cls):
    # Above the engine's parallel threshold: the chunked update equals the one-piece update.
    n = 300_001
    rng = np.random.default_rng(0)
    p0, g = rng.standard_normal(n), rng.standard_normal(n)
    big = nn.Parameter(bp.tensor(p0))
    small = [nn.Parameter(bp.tensor(p0[i:i + 1000])) for i in (0, 150_000, n - 1000)]
    ob, os_ = cls([big], lr=0.01), cls(small, lr=0.01)
    for _ in range(3):
        big.grad = bp.tensor(g)
        for s, i in zip(small, (0, 150_000, n - 1000)):
            s.grad = bp.tensor(g[i:i + 1000])
        ob.step()
        os_.step()
    for s, i in zip(small, (0, 150_000, n - 1000)):
        np.testing.assert_array_equal(to_np(big)[i:i + 1000], to_np(s))
