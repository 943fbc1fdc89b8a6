"""The Optimizer API beyond the update rules: step hooks, PyTorch's implementation flags,
tensor learning rates, state dicts saved by PyTorch, parameter groups and zero_grad; LBFGS;
and weight averaging (swa_utils)."""

import copy
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.optim import swa_utils
from conftest import assert_close, to_np

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.Adamax, optim.NAdam,
       optim.RAdam, optim.ASGD, optim.Rprop]


def one_param():
    w = nn.Parameter(bp.tensor([1.0, -2.0]))
    w.grad = bp.tensor([0.5, 0.25])
    return w


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_step_hooks_run_in_order_and_can_be_removed(cls):
    w = one_param()
    opt = cls([w], lr=0.01)
    calls = []
    h_pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt, args, kwargs)))
    h_post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    g_pre = optim.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("global pre"))
    g_post = optim.register_optimizer_step_post_hook(lambda o, a, k: calls.append("global post"))
    try:
        opt.step()
    finally:
        g_pre.remove()
        g_post.remove()
    assert calls == ["global pre", ("pre", True, (), {}), ("post", True), "global post"]
    h_pre.remove()
    h_post.remove()
    opt.step()
    assert len(calls) == 4


def test_pre_hook_may_replace_steps_arguments():
    w = one_param()
    opt = optim.SGD([w], lr=0.1)
    seen = []

    def closure():
        seen.append("closure")
        return bp.tensor(3.0)

    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": closure}))
    assert opt.step().item() == 3.0 and seen == ["closure"]
    opt.register_step_pre_hook(lambda o, args, kwargs: "nonsense")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_a_subclass_step_calling_super_runs_the_hooks_per_hooked_step_like_pytorch():
    # PyTorch 2.15 hooks `step` per class, so here both Logged.step and SGD.step run them.
    optim.SGD([one_param()], lr=0.1)

    class Logged(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    w = one_param()
    opt = Logged([w], lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    opt.step()
    assert calls == [1, 1]


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad], ids=lambda c: c.__name__)
def test_foreach_and_fused_are_accepted_and_change_nothing(cls):
    results = []
    for flags in [dict(), dict(foreach=True), dict(foreach=False), dict(fused=True)]:
        w = one_param()
        opt = cls([w], lr=0.1, **flags)
        for _ in range(3):
            opt.step()
        results.append(to_np(w))
        assert opt.param_groups[0]["foreach"] == flags.get("foreach")
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        cls([one_param()], lr=0.1, foreach=True, fused=True)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_differentiable_true_is_refused_with_a_reason(cls):
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        cls([one_param()], lr=0.1, differentiable=True)
    cls([one_param()], lr=0.1, differentiable=False)


def test_capturable_is_accepted_where_pytorch_has_it():
    for cls in [optim.Adam, optim.AdamW, optim.RMSprop, optim.Adadelta, optim.Adamax, optim.NAdam, optim.RAdam, optim.ASGD,
                optim.Rprop]:
        w = one_param()
        opt = cls([w], lr=0.1, capturable=True)
        opt.step()
        assert opt.param_groups[0]["capturable"] is True


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_tensor_learning_rate_steps_like_the_float(cls):
    a, b = one_param(), one_param()
    oa, ob = cls([a], lr=0.03), cls([b], lr=bp.tensor(0.03))
    for _ in range(3):
        oa.step()
        ob.step()
    assert_close(b, to_np(a), rtol=1e-6)


def test_adam_group_keys_are_pytorchs():
    group = optim.Adam([one_param()]).state_dict()["param_groups"][0]
    assert set(group) == {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                          "differentiable", "fused", "decoupled_weight_decay", "params"}
    assert optim.AdamW([one_param()]).param_groups[0]["decoupled_weight_decay"] is True
    group = optim.SGD([one_param()], lr=0.1).state_dict()["param_groups"][0]
    assert set(group) == {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                          "differentiable", "fused", "params"}


def test_a_state_dict_saved_by_pytorch_loads_and_continues_its_trajectory():
    # torch 2.15: Adam([w, b], lr=0.1, amsgrad=True) on (w*w).sum() + (3*b).sum(), w=[1,-2],
    # b=[0.5]; the state_dict after 3 steps (tensors as lists), the parameters then and after
    # 2 more steps.
    torch_state = {
        "state": {
            0: {"step": 3.0, "exp_avg": [0.4840824604034424, -1.0260332822799683],
                "exp_avg_sq": [0.009791404008865356, 0.043355975300073624],
                "max_exp_avg_sq": [0.009791404008865356, 0.043355975300073624]},
            1: {"step": 3.0, "exp_avg": [0.8130000233650208], "exp_avg_sq": [0.02697300724685192],
                "max_exp_avg_sq": [0.02697300724685192]},
        },
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0, "amsgrad": True,
                          "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                          "fused": None, "decoupled_weight_decay": False, "params": [0, 1]}],
    }
    w = nn.Parameter(bp.tensor([0.7015863060951233, -1.7006233930587769]))
    b = nn.Parameter(bp.tensor([0.20000000298023224]))
    opt = optim.Adam([w, b], lr=0.5)
    state = copy.deepcopy(torch_state)
    for s in state["state"].values():  # as bp.load gives them: backprop tensors
        for k, v in s.items():
            s[k] = bp.tensor(v)
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state[w]["step"].shape == ()
    for _ in range(2):
        opt.zero_grad()
        ((w * w).sum() + (3 * b).sum()).backward()
        opt.step()
    assert_close(w, [0.5079637169837952, -1.5029557943344116], rtol=1e-6)
    assert_close(b, [0.0], atol=1e-6)


def test_a_pytorch_pt_file_of_optimizer_state_loads_with_bp_load():
    # tests/fixtures/make_optim_state_fixture.py: torch.optim.RMSprop(lr=0.05, momentum=0.5,
    # centered=True, weight_decay=0.1) on (w*w*w).sum() from [1, -2, 0.5], saved after 3
    # steps with torch.save; w printed after 3 and after 5 steps.
    path = Path(__file__).with_name("fixtures") / "optim_state_rmsprop.pt"
    w = nn.Parameter(bp.tensor([-0.07626339048147202, -3.9288740158081055, -0.48343968391418457]))
    opt = optim.RMSprop([w])
    opt.load_state_dict(bp.load(path))
    assert opt.param_groups[0]["centered"] is True and opt.param_groups[0]["lr"] == 0.05
    assert set(opt.state[w]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}
    for _ in range(2):
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    assert_close(w, [-0.23865975439548492, -5.464657306671143, -1.599367380142212], rtol=1e-5)


def test_state_dict_from_torch_itself_when_installed():
    torch = pytest.importorskip("torch")
    tw = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    topt = torch.optim.NAdam([tw], lr=0.05, weight_decay=0.1)
    for _ in range(3):
        topt.zero_grad()
        (tw * tw * tw).sum().backward()
        topt.step()
    sd = topt.state_dict()
    state = {k: {n: bp.tensor(v.numpy()) for n, v in s.items()} for k, s in sd["state"].items()}
    w = nn.Parameter(bp.tensor(tw.detach().numpy()))
    opt = optim.NAdam([w])
    opt.load_state_dict({"state": state, "param_groups": sd["param_groups"]})
    for _ in range(3):
        topt.zero_grad()
        (tw * tw * tw).sum().backward()
        topt.step()
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    assert_close(w, tw.detach().numpy(), rtol=1e-6)


def test_state_dict_hooks():
    opt = optim.SGD([one_param()], lr=0.1, momentum=0.9)
    opt.step()
    calls = []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    sd = opt.state_dict()
    assert calls == ["pre"] and sd["extra"] == 1
    opt.register_load_state_dict_pre_hook(lambda o, sd: {k: v for k, v in sd.items() if k != "extra"})
    opt.register_load_state_dict_post_hook(lambda o: calls.append("loaded"))
    opt.load_state_dict(sd)
    assert calls[-1] == "loaded"


def test_add_param_group_takes_defaults_and_steps_the_new_group():
    w, v = one_param(), one_param()
    opt = optim.RMSprop([w], lr=0.01, momentum=0.5)
    opt.add_param_group({"params": v, "lr": 0.1})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 0.1
    opt.step()
    assert set(opt.state[v]) == {"step", "square_avg", "momentum_buffer"}
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})


def test_zero_grad_set_to_none_false_keeps_zeroed_tensors():
    w = one_param()
    opt = optim.Adamax([w])
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and to_np(w.grad).tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


@pytest.mark.parametrize("cls,kwargs,match", [
    (optim.RMSprop, dict(alpha=-0.1), "Invalid alpha value"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho value"),
    (optim.Adamax, dict(betas=(0.9, 1.0)), "beta parameter at index 1"),
    (optim.NAdam, dict(momentum_decay=-1), "Invalid momentum_decay value"),
    (optim.RAdam, dict(eps=-1), "Invalid epsilon value"),
    (optim.ASGD, dict(lr=-1), "Invalid learning rate"),
    (optim.Rprop, dict(etas=(1.5, 1.2)), "Invalid eta values"),
    (optim.LBFGS, dict(line_search_fn="armijo"), "strong_wolfe"),
])
def test_bad_hyperparameters_are_rejected(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([one_param()], **kwargs)


# ---- LBFGS ------------------------------------------------------------------------------


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


# torch 2.15, float64, x0 = [-1.2, 1.0, -0.5, 0.8], history_size=5, three steps:
# (LBFGS kwargs, x after, losses returned by the steps, func_evals, n_iter).
LBFGS_TRAJECTORIES = [
    (dict(lr=0.1, max_iter=10), [-0.8442446431678191, 0.707842248762593, 0.4607856746926771, 0.222071305492173],
     [281.7, 37.52998205036359, 5.839810768913153], 30, 30),
    (dict(lr=1, max_iter=20, line_search_fn="strong_wolfe"),
     [1.0000026839910852, 1.0000053103035005, 1.000010726958267, 1.0000209861447753],
     [281.7, 1.8651384803925062, 0.0005304595809413795], 59, 41),
]


@pytest.mark.parametrize("kwargs,want_x,want_losses,evals,iters", LBFGS_TRAJECTORIES)
def test_lbfgs_matches_pytorchs_trajectory(kwargs, want_x, want_losses, evals, iters):
    x = nn.Parameter(bp.tensor([-1.2, 1.0, -0.5, 0.8], dtype=bp.float64))
    opt = optim.LBFGS([x], history_size=5, **kwargs)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(3)]
    np.testing.assert_allclose(losses, want_losses, rtol=1e-7)
    np.testing.assert_allclose(to_np(x), want_x, rtol=1e-7, atol=1e-9)
    assert opt.state[x]["func_evals"] == evals and opt.state[x]["n_iter"] == iters


def test_lbfgs_converges_on_a_least_squares_fit(device):
    rng = np.random.default_rng(0)
    a, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    want = np.linalg.lstsq(a, y, rcond=None)[0]
    w = nn.Parameter(bp.zeros(3, device=device))
    at, yt = bp.tensor(a, dtype=bp.float32, device=device), bp.tensor(y, dtype=bp.float32, device=device)
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((at @ w - yt) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    assert_close(w, want, rtol=1e-4, atol=1e-4)


def test_lbfgs_needs_a_closure_and_one_group():
    w = one_param()
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS([w]).step()  # as PyTorch: the closure is a required argument
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [one_param()]}])


def test_lbfgs_state_dict_round_trip():
    x = nn.Parameter(bp.tensor([-1.2, 1.0], dtype=bp.float64))
    opt = optim.LBFGS([x], max_iter=3, history_size=3)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    opt.step(closure)
    x2 = nn.Parameter(x.detach().clone())
    opt2 = optim.LBFGS([x2], max_iter=3, history_size=3)
    opt2.load_state_dict(opt.state_dict())

    def closure2():
        opt2.zero_grad()
        loss = rosenbrock(x2)
        loss.backward()
        return loss

    opt.step(closure)
    opt2.step(closure2)
    np.testing.assert_array_equal(to_np(x2), to_np(x))


# ---- swa_utils --------------------------------------------------------------------------


def test_averaged_model_keeps_the_running_mean_of_the_weights():
    model = nn.Linear(3, 2)
    swa = swa_utils.AveragedModel(model)
    snapshots = []
    for k in range(4):
        with bp.no_grad():
            model.weight.add_(0.5 * (k + 1))
        snapshots.append(to_np(model.weight).copy())
        swa.update_parameters(model)
    assert swa.n_averaged.item() == 4
    assert_close(swa.module.weight, np.mean(snapshots, axis=0), rtol=1e-6)
    x = bp.randn(5, 3)
    assert_close(swa(x), to_np(x) @ np.mean(snapshots, axis=0).T + to_np(swa.module.bias), rtol=1e-5)


def test_ema_multi_avg_fn_matches_its_formula():
    model = nn.Linear(2, 2)
    decay = 0.9
    ema = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay))
    want = to_np(model.weight).copy()
    for k in range(3):
        with bp.no_grad():
            model.weight.mul_(0.5)
        ema.update_parameters(model)
        cur = to_np(model.weight).copy()
        want = cur if k == 0 else want + (1 - decay) * (cur - want)  # the first update copies
    assert_close(ema.module.weight, want, rtol=1e-6)
    avg = swa_utils.AveragedModel(model, avg_fn=swa_utils.get_ema_avg_fn(decay))
    avg.update_parameters(model)
    with bp.no_grad():
        model.weight.mul_(2.0)
    avg.update_parameters(model)
    now = to_np(model.weight).copy()
    assert_close(avg.module.weight, 0.9 * now / 2 + 0.1 * now, rtol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        swa_utils.get_ema_multi_avg_fn(1.5)


def test_swalr_anneals_to_the_swa_rate_then_holds():
    opt = optim.SGD([one_param()], lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=4, anneal_strategy="linear")
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [1.0, 0.775, 0.55, 0.325, 0.1, 0.1, 0.1], rtol=1e-12)


def test_update_bn_recomputes_running_statistics():
    class TinyNorm(nn.Module):
        """Just enough of a batch-norm layer for update_bn: running mean, momentum, reset."""

        def __init__(self):
            super().__init__()
            self.register_buffer("running_mean", bp.zeros(2))
            self.register_buffer("num_batches_tracked", bp.tensor(0, dtype=bp.int64))
            self.momentum = 0.1

        def reset_running_stats(self):
            self.running_mean = bp.zeros(2)
            self.num_batches_tracked = bp.tensor(0, dtype=bp.int64)

        def forward(self, x):
            if self.training:
                n = self.num_batches_tracked.item() + 1
                factor = 1.0 / n if self.momentum is None else self.momentum
                self.running_mean = self.running_mean * (1 - factor) + x.mean(0) * factor
                self.num_batches_tracked = bp.tensor(n, dtype=bp.int64)
            return x - self.running_mean

    model = nn.Sequential(TinyNorm())
    model.eval()
    batches = [bp.tensor([[1.0, 2.0], [3.0, 4.0]]), bp.tensor([[5.0, 6.0]])]
    swa_utils.update_bn([(b, None) for b in batches], model)
    assert_close(model[0].running_mean, [(2.0 + 5.0) / 2, (3.0 + 6.0) / 2])
    assert model[0].momentum == 0.1 and not model.training
