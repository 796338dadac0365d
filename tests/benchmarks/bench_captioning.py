"""Show, Attend and Tell speed: one training step and beam search.

Training step at the dimensions of the most used PyTorch tutorial implementation
(encoder 2048 x 14 x 14, attention/decoder/embedding 512, vocabulary 9490, batch
32, 22-token captions, teacher forcing, one Adam step), against a straightforward
reference written here that recomputes the encoder projection at every step and
projects to the vocabulary step by step, as that tutorial does. Beam search
(beam 5, 64 images) batched across images against the same search run one image
at a time. Prints ms, GFLOP/s and the fp32 matmul peak measured in this run.

Run: `make bench` (or `.venv/bin/python tests/benchmarks/bench_captioning.py`).
"""

from __future__ import annotations

import time

import torch
from timing import compare_ms, median_ms, print_table
from torch import nn

from vision_attention.models import ShowAttendTell, caption_loss
from vision_attention.models.decoding import beam_search

B, L, D, E, H, A, V, T = 32, 196, 2048, 512, 512, 512, 9490, 22


class ReferenceDecoder(nn.Module):
    """The straightforward per-step decoder: the encoder projection is recomputed at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder_att, self.decoder_att, self.full_att = nn.Linear(D, A), nn.Linear(H, A), nn.Linear(A, 1)
        self.embedding = nn.Embedding(V, E)
        self.decode_step = nn.LSTMCell(E + D, H)
        self.init_h, self.init_c, self.f_beta = nn.Linear(D, H), nn.Linear(D, H), nn.Linear(H, D)
        self.fc, self.dropout = nn.Linear(H, V), nn.Dropout(0.5)

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = features.mean(1)
        h, c = self.init_h(mean), self.init_c(mean)
        embeddings = self.embedding(captions)
        predictions, alphas = [], []
        for t in range(captions.shape[1] - 1):
            att = self.full_att(torch.relu(self.encoder_att(features) + self.decoder_att(h).unsqueeze(1))).squeeze(2)
            alpha = torch.softmax(att, dim=1)
            context = torch.sigmoid(self.f_beta(h)) * (features * alpha.unsqueeze(2)).sum(1)
            h, c = self.decode_step(torch.cat([embeddings[:, t], context], 1), (h, c))
            predictions.append(self.fc(self.dropout(h)))
            alphas.append(alpha)
        return torch.stack(predictions, 1), torch.stack(alphas, 1)


def matmul_peak_gflops(n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_ms(lambda: a @ b, repeat=10) / 1e6


def our_step_flops() -> float:
    """Multiply-adds x 2 of the matmuls of one training step (forward + 2x for backward)."""
    per_caption = L * D * A  # key projection, once
    per_caption += T * (H * (4 * H + A + 1) + L * A + L * D + D * 4 * H)  # fused h products, scores, context, z gates
    per_caption += T * (E * 4 * H + H * E + D * E + E * V)  # word gates, deep output, vocabulary
    return 3 * 2 * B * per_caption


def training_step_benchmark() -> list[list[object]]:
    torch.manual_seed(0)
    features = torch.randn(B, L, D)
    captions = torch.randint(4, V, (B, T + 1))
    captions[:, 0] = 1
    lengths = torch.full((B,), T + 1)
    ours = ShowAttendTell(V, feature_dim=D, embed_dim=E, hidden_dim=H, attn_dim=A)
    reference = ReferenceDecoder()
    opt_ours, opt_ref = torch.optim.Adam(ours.parameters(), 4e-4), torch.optim.Adam(reference.parameters(), 4e-4)

    def step_ours() -> None:
        opt_ours.zero_grad(set_to_none=True)
        out = ours(features, captions)
        caption_loss(out.logits, captions[:, 1:], out.alphas, lengths)[0].backward()
        opt_ours.step()

    def step_reference() -> None:
        opt_ref.zero_grad(set_to_none=True)
        logits, alphas = reference(features, captions)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), captions[:, 1:])
        (loss + ((1 - alphas.sum(1)) ** 2).mean()).backward()
        opt_ref.step()

    t_ours, t_ref = compare_ms(step_ours, step_reference, rounds=2, repeat=3)
    gflops = our_step_flops() / t_ours / 1e6
    return [
        ["training step, ours", f"{t_ours:.0f}", f"{gflops:.1f}", f"{t_ours / t_ref:.3f}"],
        ["training step, reference (recomputes keys)", f"{t_ref:.0f}", "-", "1.000"],
    ]


def beam_benchmark(model: ShowAttendTell, features: torch.Tensor, label: str, max_len: int) -> list[list[object]]:
    model.eval()
    start = time.perf_counter()
    batched = beam_search(model, features, 5, max_len=max_len)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    singles = [beam_search(model, features[i : i + 1], 5, max_len=max_len) for i in range(len(features))]
    t_single = time.perf_counter() - start
    same = all(torch.equal(batched.tokens[i, : s.tokens.shape[1]], s.tokens[0]) for i, s in enumerate(singles))
    n = len(features)
    return [
        [
            f"beam 5, {n} images, batched ({label})",
            f"{t_batched * 1e3:.0f}",
            f"{n / t_batched:.1f} captions/s",
            f"{t_single / t_batched:.1f}x",
        ],
        [
            f"beam 5, {n} images, one at a time ({label})",
            f"{t_single * 1e3:.0f}",
            f"{n / t_single:.1f} captions/s",
            f"same captions: {same}",
        ],
    ]


if __name__ == "__main__":
    torch.manual_seed(0)
    peak = matmul_peak_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak {peak:.1f} GFLOP/s")
    rows = training_step_benchmark()
    torch.manual_seed(0)
    tutorial = ShowAttendTell(V, feature_dim=D, embed_dim=E, hidden_dim=H, attn_dim=A)
    rows += beam_benchmark(tutorial, torch.randn(64, L, D), "tutorial sizes", max_len=20)
    shapes = ShowAttendTell(26, feature_dim=130, embed_dim=64, hidden_dim=256, attn_dim=128)
    rows += beam_benchmark(shapes, torch.randn(64, 64, 130), "ShapesCaptions sizes", max_len=20)
    print_table("Show, Attend and Tell", ["what", "ms", "GFLOP/s or rate", "ratio"], rows)
