"""A typical training script, type-checked with `mypy --strict` by tests/test_typing.py (it
is never run there): an MLP on random data with a DataLoader, AdamW, a scheduler, gradient
clipping and a checkpoint round trip. A type error here is one a user's script would hit."""

import io

import backprop as bp
from backprop import nn
from backprop.data import DataLoader, TensorDataset
from backprop.nn import functional as F
from backprop.optim import AdamW
from backprop.optim.lr_scheduler import CosineAnnealingLR


class MLP(nn.Module):
    def __init__(self, sizes: list[int], dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), nn.GELU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x: bp.Tensor) -> bp.Tensor:
        out: bp.Tensor = self.net(x.flatten(1))
        return out


def evaluate(model: MLP, loader: DataLoader, device: str) -> float:
    model.eval()
    correct, seen = 0, 0
    with bp.no_grad():
        for x, y in loader:
            logits = model(x.to(device))
            correct += int((logits.argmax(1) == y.to(device)).sum().item())
            seen += y.shape[0]
    return correct / max(seen, 1)


def main() -> None:
    bp.manual_seed(0)
    device = "gpu" if bp.gpu.is_available() else "cpu"
    x = bp.randn(256, 8)
    y = bp.randint(0, 3, (256,))
    train = DataLoader(TensorDataset(x[:200], y[:200]), batch_size=32, shuffle=True)
    test = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=64)

    model = MLP([8, 32, 32, 3]).to(device)
    optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    scheduler = CosineAnnealingLR(optimizer, T_max=5)
    for epoch in range(5):
        model.train()
        total = 0.0
        for xb, yb in train:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb.to(device)), yb.to(device), label_smoothing=0.1)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item()
        scheduler.step()
        lr: float = scheduler.get_last_lr()[0]
        print(f"epoch {epoch}: loss {total / len(train):.4f} lr {lr:.2e} accuracy {evaluate(model, test, device):.3f}")

    buffer = io.BytesIO()
    bp.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = bp.load(buffer, map_location="cpu")
    restored = MLP([8, 32, 32, 3])
    restored.load_state_dict(checkpoint["model"])
    shapes: dict[str, tuple[int, ...]] = {k: tuple(v.shape) for k, v in restored.state_dict().items()}
    size: int = restored.net[0].weight.size(0)
    print(len(shapes), size)


if __name__ == "__main__":
    main()
