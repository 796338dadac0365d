"""Forward + backward time of the attention core at representative sizes, with the
ratio to the torch built-in measured in the same process where one exists.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_layers.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timing import compare_ms, forward_backward, median_ms, print_table
from torch import nn

from vision_attention.layers import (
    AdditiveAttention,
    AttentionPooling,
    GaussianAttention,
    LocalAttention,
    LuongAttention,
    MultiHeadAttention,
    ScaledDotProductAttention,
)


def versus_builtins() -> list[list[object]]:
    rows = []
    x = torch.randn(32, 64, 256, requires_grad=True)
    ours, ref = MultiHeadAttention(256, 8), nn.MultiheadAttention(256, 8, batch_first=True)
    for need in (False, True):
        t_ours, t_ref = compare_ms(
            forward_backward(ours, x, need_weights=need), forward_backward(ref, x, x, x, need_weights=need)
        )
        rows.append(
            [
                f"MultiHeadAttention need_weights={need}",
                "B32 T64 E256 nh8",
                f"{t_ours:.2f}",
                "nn.MultiheadAttention",
                f"{t_ref:.2f}",
                f"{t_ours / t_ref:.2f}",
            ]
        )
    q, k, v = (torch.randn(32, 8, 128, 64, requires_grad=True) for _ in range(3))
    sdpa = ScaledDotProductAttention()

    def builtin() -> None:
        F.scaled_dot_product_attention(q, k, v).sum().backward()

    for need in (False, True):
        t_ours, t_builtin = compare_ms(forward_backward(sdpa, q, k, v, need_weights=need), builtin)
        path = "reference" if need else "fused"
        rows.append(
            [
                f"ScaledDotProduct {path}",
                "B32 nh8 T128 d64",
                f"{t_ours:.2f}",
                "F.scaled_dot_product_attention",
                f"{t_builtin:.2f}",
                f"{t_ours / t_builtin:.2f}",
            ]
        )
    return rows


def additive_per_step() -> list[list[object]]:
    """One decoder step at Show-Attend-Tell tutorial sizes: keys projected once vs every step."""
    attn = AdditiveAttention(512, 2048, 512)
    features = torch.randn(32, 196, 2048)
    state = torch.randn(32, 512, requires_grad=True)
    projected = attn.project_keys(features).detach()
    t_cached, t_recomputed = compare_ms(
        forward_backward(attn, state, features, projected_keys=projected), forward_backward(attn, state, features)
    )
    return [
        [
            "AdditiveAttention step, keys precomputed",
            "B32 L196 D2048 A512",
            f"{t_cached:.2f}",
            "same, keys recomputed per step",
            f"{t_recomputed:.2f}",
            f"{t_cached / t_recomputed:.2f}",
        ]
    ]


def others() -> list[list[object]]:
    rows = []
    h, keys = torch.randn(32, 20, 256, requires_grad=True), torch.randn(32, 30, 256, requires_grad=True)
    for name, module in (
        ("LuongAttention general", LuongAttention(256, 256, "general")),
        ("LuongAttention concat", LuongAttention(256, 256, "concat")),
        ("LocalAttention predictive D=5", LocalAttention(256, 256, "predictive", 5)),
    ):
        rows.append([name, "B32 T20 S30 E256", f"{median_ms(forward_backward(module, h, keys)):.2f}", "-", "-", "-"])
    x = torch.randn(100, 32, 100, requires_grad=True)
    rows.append(
        [
            "AttentionPooling",
            "B100 S32 D100",
            f"{median_ms(forward_backward(AttentionPooling(100, 32), x)):.2f}",
            "-",
            "-",
            "-",
        ]
    )
    read = GaussianAttention(256, 28, 28, 2)
    image, state = torch.rand(64, 1, 28, 28), torch.randn(64, 256, requires_grad=True)
    rows.append(
        [
            "GaussianAttention read N=2",
            "B64 28x28",
            f"{median_ms(forward_backward(read, image, image, state)):.2f}",
            "-",
            "-",
            "-",
        ]
    )
    write = GaussianAttention(256, 28, 28, 5)
    patch = torch.randn(64, 1, 5, 5, requires_grad=True)
    t_write = median_ms(lambda: write.write(patch, state)[0].sum().backward())
    rows.append(["GaussianAttention write N=5", "B64 28x28", f"{t_write:.2f}", "-", "-", "-"])
    return rows


if __name__ == "__main__":
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; forward + backward, median ms")
    print_table(
        "attention core",
        ["module", "size", "ms", "reference", "ref ms", "ratio"],
        versus_builtins() + additive_per_step() + others(),
    )
