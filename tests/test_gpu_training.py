"""Training the spiral MLP (the classic three-arm data set) on the GPU reaches the accuracy it
reaches on the CPU. Plain tensors and a hand-written SGD step for now; it becomes an
nn.Module + optim test once those land."""

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


def train(device, steps=400, hidden=64, lr=1.0, reg=1e-3, seed=0):
    x_np, y_np = spiral()
    rng = np.random.default_rng(seed)
    init = [
        0.5 * rng.standard_normal((hidden, 2)),
        np.zeros(hidden),
        0.1 * rng.standard_normal((3, hidden)),
        np.zeros(3),
    ]
    params = [bp.tensor(p.astype(np.float32), device=device, requires_grad=True) for p in init]
    w1, b1, w2, b2 = params
    x, y = bp.tensor(x_np, device=device), bp.tensor(y_np, device=device)
    for _ in range(steps):
        logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
        loss = F.cross_entropy(logits, y) + 0.5 * reg * ((w1 * w1).sum() + (w2 * w2).sum())
        loss.backward()
        with bp.no_grad():
            for p in params:
                p.sub_(p.grad * lr)
                p.grad = None
    with bp.no_grad():
        logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
        accuracy = (logits.argmax(1) == y).float().mean().item()
    return accuracy, loss.item()


def test_spiral_mlp_trains_to_the_same_accuracy_on_the_gpu():
    if not bp.gpu.is_available():
        pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}")
    cpu_acc, cpu_loss = train("cpu")
    gpu_acc, gpu_loss = train("gpu")
    assert cpu_acc >= 0.95, f"the CPU run itself should learn the spiral (accuracy {cpu_acc})"
    assert gpu_acc >= 0.95
    assert abs(gpu_acc - cpu_acc) <= 0.02, (cpu_acc, gpu_acc)
    assert gpu_loss == pytest.approx(cpu_loss, rel=0.05, abs=0.01)
