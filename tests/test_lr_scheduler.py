"""Every learning-rate scheduler against 100 steps recorded from PyTorch
(tests/fixtures/lr_schedules.json, written by tests/fixtures/make_lr_fixtures.py, which also
defines how each case is built); state dicts, tensor learning rates and argument errors."""

import json
import math
import pathlib
import sys
import warnings

import pytest

import backprop as bp
from backprop import nn, optim
from backprop.optim import lr_scheduler

sys.path.insert(0, str(pathlib.Path(__file__).with_name("fixtures")))
import make_lr_fixtures as fixtures  # noqa: E402  (needs no torch to import its builders)

FIXTURE = json.loads(pathlib.Path(__file__).with_name("fixtures").joinpath("lr_schedules.json").read_text())


class BackpropNamespace:
    optim = optim

    @staticmethod
    def param():
        return nn.Parameter(bp.zeros(1))


@pytest.mark.parametrize("name", sorted(FIXTURE["cases"]))
def test_schedule_equals_pytorchs_over_100_steps(name):
    case = FIXTURE["cases"][name]
    spec = tuple(case["spec"])
    got = fixtures.run(BackpropNamespace, spec, steps=len(case["lr"]))
    for step, (mine, theirs) in enumerate(zip(got["lr"], case["lr"])):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15), f"{name}: step {step}: {mine} != {theirs}"
    for step, (mine, theirs) in enumerate(zip(got.get("momentum", []), case.get("momentum", []))):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15), f"{name} momentum: step {step}"


def make_opt(lr=0.1, **kwargs):
    return optim.SGD([nn.Parameter(bp.zeros(1))], lr=lr, **kwargs)


def test_formulas_hold_without_the_fixture():
    # A few closed forms checked directly (the fixture is the full comparison).
    opt = make_opt(1.0)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    seen = []
    for _ in range(7):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01])
    opt = make_opt(0.5)
    sched = lr_scheduler.PolynomialLR(opt, total_iters=4, power=1.0)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr()[0])
    assert seen == pytest.approx([0.5, 0.375, 0.25, 0.125, 0.0, 0.0])


def test_step_with_epoch_uses_the_closed_form():
    opt = make_opt(1.0)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)
    assert sched.get_last_lr() == [0.125]


def test_state_dict_round_trip_resumes_the_schedule():
    opt = make_opt()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2)
    for _ in range(7):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    assert "optimizer" not in saved and saved["T_i"] == 10
    opt2 = make_opt()
    sched2 = lr_scheduler.CosineAnnealingWarmRestarts(opt2, T_0=5, T_mult=2)
    sched2.load_state_dict(saved)
    for _ in range(4):
        opt.step()
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_composite_and_lambda_state_dicts():
    opt = make_opt()
    chained = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2),
                                             lr_scheduler.ExponentialLR(opt, gamma=0.9)])
    sd = chained.state_dict()
    assert len(sd["_schedulers"]) == 2 and "optimizer" not in sd["_schedulers"][0]

    class Warmup:
        def __init__(self):
            self.steps = 3

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    fn = Warmup()
    sched = lr_scheduler.LambdaLR(opt, [fn])
    fn.steps = 7
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"steps": 7}]
    fn.steps = 3
    sched.load_state_dict(saved)
    assert fn.steps == 7
    assert lr_scheduler.LambdaLR(opt, lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


def test_tensor_learning_rate_is_filled_in_place():
    lr = bp.tensor(0.1)
    opt = optim.Adam([nn.Parameter(bp.zeros(2))], lr=lr)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)


def test_scheduler_before_optimizer_step_warns():
    opt = make_opt()
    sched = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = make_opt()
    sched = lr_scheduler.StepLR(opt, step_size=1)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_reduce_on_plateau_waits_patience_then_cools_down():
    opt = make_opt(1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1]:
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_bad_arguments_are_rejected_like_pytorch():
    opt = make_opt()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.CyclicLR(optim.Adagrad([nn.Parameter(bp.zeros(1))]), 0.01, 0.1)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ConstantLR(opt)], milestones=[3])
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        opt = make_opt(momentum=0.9)
        sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
        opt.step()
        for _ in range(3):
            sched.step()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_opt(), step_size=1, last_epoch=3)


def test_cosine_annealing_matches_its_formula_within_one_period():
    opt = make_opt(0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    for t in range(1, 11):
        opt.step()
        sched.step()
        assert sched.get_last_lr()[0] == pytest.approx(0.001 + 0.099 * (1 + math.cos(math.pi * t / 10)) / 2, rel=1e-12)
