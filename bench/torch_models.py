"""PyTorch twins of the project's networks, for the benchmarks' side-by-side peer.

`build(name, num_classes=80, width=1.0)` returns an `nn.Module` taking NCHW `[B, 3, H, W]` and
returning logits `[B, num_classes]`. The head is fastai v1's `create_head` with 512 hidden units
at every width (the registry's convention). Only the architecture matters here (the benchmarks
time steps, not accuracy), so weights keep PyTorch's default initialisation.

Provisional: written by the performance work for CNN-model-1 only; the model-registry work owns
this file and adds the other networks with the same `build` signature.
"""
import torch
from torch import nn

CNN_MODEL1_WIDTHS = (64, 128, 256, 512)
HEAD_HIDDEN_UNITS = 512


def scaled_width(base: int, width: float) -> int:
    """round(base · width), at least 1 (lib/models' scaledWidth)."""
    return max(1, int(round(base * width)))


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=True),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Head(nn.Module):
    """concat(global max, global avg) → BN → Dropout → Linear(512) → ReLU → BN → Dropout → Linear."""

    def __init__(self, channels: int, num_classes: int, hidden: int = HEAD_HIDDEN_UNITS,
                 dropout1: float = 0.25, dropout2: float = 0.5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm1d(2 * channels), nn.Dropout(dropout1), nn.Linear(2 * channels, hidden),
            nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(dropout2), nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([torch.amax(x, dim=(2, 3)), torch.mean(x, dim=(2, 3))], dim=1)
        return self.layers(pooled)


class CnnModel1(nn.Module):
    """Four blocks of [conv 3×3 → BN → ReLU] × 2 → 2×2 average pool, then the head."""

    def __init__(self, num_classes: int = 80, width: float = 1.0):
        super().__init__()
        blocks = []
        c_in = 3
        for base in CNN_MODEL1_WIDTHS:
            c = scaled_width(base, width)
            blocks += [conv_bn_relu(c_in, c), conv_bn_relu(c, c), nn.AvgPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*blocks)
        self.head = Head(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build(name: str, num_classes: int = 80, width: float = 1.0) -> nn.Module:
    """The network `name` (lib/models registry names) with `num_classes` logits."""
    if name == 'cnnModel1':
        return CnnModel1(num_classes, width)
    raise ValueError(f"torch_models.build: unknown network '{name}' (known: cnnModel1)")
