"""DRAW training-step speed at the paper's MNIST setting (B 64, T 64, read 2, write 5,
LSTMs 256, z 100, 28 x 28), against a straightforward per-op reference written here in
the style of popular single-file implementations (filterbanks rebuilt from scratch with
separate ops, one Linear per quantity). Prints ms/step, images/s, the ratio, a profile
of where our step spends its time, and the floor no implementation of these sizes goes
below on the machine: the step's matrix products alone, timed at their shapes.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_draw.py`).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from timing import compare_ms, median_ms, print_table
from torch import nn

from vision_attention.models.draw import DRAW, draw_loss
from vision_attention.models.fused.draw import fused_weights

B, T, READ_N, WRITE_N, H, Z, SIDE = 64, 64, 2, 5, 256, 100, 28


class ReferenceDRAW(nn.Module):
    """Per-op DRAW: every quantity through its own layer and elementwise ops."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.LSTMCell(2 * READ_N * READ_N + H, H)
        self.dec = nn.LSTMCell(Z, H)
        self.mu, self.logsigma = nn.Linear(H, Z), nn.Linear(H, Z)
        self.read_att, self.write_att = nn.Linear(H, 5), nn.Linear(H, 5)
        self.write_lin = nn.Linear(H, WRITE_N * WRITE_N)

    def filterbank(self, h, att, n):
        params = att(h)
        gx_, gy_, logvar, logdelta, loggamma = params.split(1, dim=1)
        gx = (SIDE + 1) / 2 * (gx_ + 1)
        gy = (SIDE + 1) / 2 * (gy_ + 1)
        delta = (SIDE - 1) / (n - 1) * torch.exp(logdelta)
        var = torch.exp(logvar)
        grid = torch.arange(n, dtype=torch.float32).view(1, -1)
        mu_x = gx + (grid - n / 2 - 0.5 + 1) * delta
        mu_y = gy + (grid - n / 2 - 0.5 + 1) * delta
        a = torch.arange(SIDE, dtype=torch.float32).view(1, 1, -1)
        b = torch.arange(SIDE, dtype=torch.float32).view(1, 1, -1)
        fx = torch.exp(-torch.pow(a - mu_x.unsqueeze(2), 2) / (2 * var.unsqueeze(2)))
        fy = torch.exp(-torch.pow(b - mu_y.unsqueeze(2), 2) / (2 * var.unsqueeze(2)))
        fx = fx / (fx.sum(2, keepdim=True) + 1e-8)
        fy = fy / (fy.sum(2, keepdim=True) + 1e-8)
        return fx, fy, torch.exp(loggamma)

    def forward(self, x):
        h_enc = c_enc = h_dec = c_dec = torch.zeros(x.shape[0], H)
        canvas = torch.zeros_like(x)
        kl = 0
        for _ in range(T):
            x_hat = x - torch.sigmoid(canvas)
            fx, fy, gamma = self.filterbank(h_dec, self.read_att, READ_N)
            r1 = torch.bmm(torch.bmm(fy, x.view(-1, SIDE, SIDE)), fx.transpose(1, 2)).view(-1, READ_N * READ_N)
            r2 = torch.bmm(torch.bmm(fy, x_hat.view(-1, SIDE, SIDE)), fx.transpose(1, 2)).view(-1, READ_N * READ_N)
            r = gamma * torch.cat([r1, r2], 1)
            h_enc, c_enc = self.enc(torch.cat([r, h_dec], 1), (h_enc, c_enc))
            mu, logsigma = self.mu(h_enc), self.logsigma(h_enc)
            z = mu + torch.exp(logsigma) * torch.randn_like(mu)
            kl = kl + 0.5 * torch.sum(mu**2 + torch.exp(2 * logsigma) - 2 * logsigma - 1, 1)
            h_dec, c_dec = self.dec(z, (h_dec, c_dec))
            w = self.write_lin(h_dec).view(-1, WRITE_N, WRITE_N)
            fx, fy, gamma = self.filterbank(h_dec, self.write_att, WRITE_N)
            canvas = canvas + (torch.bmm(torch.bmm(fy.transpose(1, 2), w), fx) / gamma.view(-1, 1, 1)).view_as(x)
        recon = F.binary_cross_entropy_with_logits(canvas, x, reduction="none").flatten(1).sum(1)
        return (recon + kl).mean()


def matmul_shapes(model: DRAW, batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one glimpse of our training step: the four
    forward products (read glimpse and h_enc into the encoder gates and posterior, z and
    h_dec into the decoder gates, write and windows), then for each the gradient of its
    input and of its weight. The reference's LSTMCells and Linears do the same FLOPs."""
    read_size = model.encoder.weight_ih.shape[1] - model.decoder.hidden_size
    _, _, dec_sizes, enc_w, _ = fused_weights(model)
    forward = [
        (batch, read_size, 4 * model.encoder.hidden_size),
        (batch, model.encoder.hidden_size, enc_w.shape[0]),
        (batch, model.z_dim, 4 * model.decoder.hidden_size),
        (batch, model.decoder.hidden_size, sum(dec_sizes)),
    ]
    return forward + [(m, n, k) for m, k, n in forward] + [(k, m, n) for m, k, n in forward]


def matmul_floor_ms(shapes: list[tuple[int, int, int]], steps: int) -> float:
    """Time of the step's matrix products alone: ``steps`` rounds of one matmul per shape."""
    pairs = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]

    def products() -> None:
        for _ in range(steps):
            for a, b in pairs:
                a @ b

    return median_ms(products, repeat=5)


def main() -> None:
    torch.manual_seed(0)
    x = torch.bernoulli(torch.full((B, 1, SIDE, SIDE), 0.13))
    ours, reference = DRAW((1, SIDE, SIDE), T, READ_N, WRITE_N, H, H, Z), ReferenceDRAW()
    compiled = DRAW((1, SIDE, SIDE), T, READ_N, WRITE_N, H, H, Z).compile_steps(dynamic=False)
    optimizers = {m: torch.optim.Adam(m.parameters(), 1e-3) for m in (ours, compiled, reference)}

    def train_step(model: nn.Module) -> None:
        optimizers[model].zero_grad(set_to_none=True)
        loss = model(x) if model is reference else draw_loss(model, model(x), x).loss
        loss.backward()
        optimizers[model].step()

    start = time.perf_counter()
    train_step(compiled)
    compile_s = time.perf_counter() - start
    t_ours, t_ref = compare_ms(lambda: train_step(ours), lambda: train_step(reference), rounds=2, repeat=5)
    t_compiled, t_ref2 = compare_ms(lambda: train_step(compiled), lambda: train_step(reference), rounds=2, repeat=5)
    t_ref = min(t_ref, t_ref2)
    shapes = matmul_shapes(ours, B)
    t_floor = matmul_floor_ms(shapes, T)
    gflop = 2 * sum(m * k * n for m, k, n in shapes) * T / 1e9
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print_table(
        "DRAW training step (B 64, T 64, read 2, write 5, LSTM 256, z 100, 28 x 28)",
        ["implementation", "ms/step", "images/s", "ratio"],
        [
            ["ours", f"{t_ours:.0f}", f"{B / t_ours * 1e3:.0f}", f"{t_ours / t_ref:.2f}"],
            [
                f"ours, compile_steps() (compiled in {compile_s:.0f} s)",
                f"{t_compiled:.0f}",
                f"{B / t_compiled * 1e3:.0f}",
                f"{t_compiled / t_ref:.2f}",
            ],
            ["per-op reference", f"{t_ref:.0f}", f"{B / t_ref * 1e3:.0f}", "1.00"],
            [
                f"floor: the {gflop:.1f} GFLOP of matrix products alone",
                f"{t_floor:.0f}",
                f"{B / t_floor * 1e3:.0f}",
                f"{t_floor / t_ref:.2f}",
            ],
        ],
    )
    from torch.profiler import ProfilerActivity, profile

    for name, model in (("our step", ours), ("our compiled step", compiled)):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_step(model)
        print(f"\nwhere {name} spends its time (top 12 ops by self CPU time)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
