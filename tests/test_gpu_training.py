"""Training the spiral MLP (the classic three-arm data set) on the GPU reaches the accuracy it
reaches on the CPU: an nn.Module moved with .to("gpu"), stepped by the fused optimizers."""

import numpy as np
import pytest

import backprop as bp

pytestmark = pytest.mark.gpu

F = bp.nn.functional


def spiral(points_per_class=100, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, points_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, points_per_class) + rng.standard_normal(points_per_class) * 0.2
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(points_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)



def model_on(device, hidden=64, seed=0):
    """The same initial weights on either device: initialised on the CPU, then moved."""
    bp.manual_seed(seed)
    model = bp.nn.Sequential(bp.nn.Linear(2, hidden), bp.nn.ReLU(), bp.nn.Linear(hidden, 3))
    return model.to(device)


def train(device, make_optimizer, steps=300):
    x_np, y_np = spiral()
    model = model_on(device)
    opt = make_optimizer(model.parameters())
    x, y = bp.tensor(x_np, device=device), bp.tensor(y_np, device=device)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    with bp.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    return accuracy, loss.item()


OPTIMIZERS = {
    "sgd-momentum-l2": lambda params: bp.optim.SGD(params, lr=0.5, momentum=0.9, weight_decay=1e-3),
    "adamw": lambda params: bp.optim.AdamW(params, lr=0.02),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_spiral_mlp_trains_to_the_same_accuracy_on_the_gpu(name):
    if not bp.gpu.is_available():
        pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}")
    cpu_acc, cpu_loss = train("cpu", OPTIMIZERS[name])
    gpu_acc, gpu_loss = train("gpu", OPTIMIZERS[name])
    assert cpu_acc >= 0.95, f"the CPU run itself should learn the spiral (accuracy {cpu_acc})"
    assert gpu_acc >= 0.95
    assert abs(gpu_acc - cpu_acc) <= 0.02, (cpu_acc, gpu_acc)
    assert gpu_loss == pytest.approx(cpu_loss, rel=0.05, abs=0.01)


def test_an_optimizer_step_on_the_gpu_is_recorded_without_a_sync():
    if not bp.gpu.is_available():
        pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}")
    model = model_on("gpu")
    opt = bp.optim.Adam(model.parameters(), lr=0.01)
    model(bp.randn(8, 2, device="gpu")).sum().backward()
    opt.step()  # creates the state
    bp.gpu.synchronize()
    before = bp.gpu.memory_stats()["submits"]
    opt.step()
    assert bp.gpu.memory_stats()["submits"] == before, "an optimizer step must not wait for the GPU"
    bp.gpu.synchronize()
