"""The REINFORCE baseline of hard attention is a moving average per caption length."""

import torch

from vision_attention.backbones import Backbone
from vision_attention.lit import CaptioningModule
from vision_attention.models import ShowAttendTell


def test_each_caption_length_keeps_its_own_moving_average():
    torch.manual_seed(0)
    model = ShowAttendTell(12, Backbone("tiny", grid=None, width=8), embed_dim=8, hidden_dim=16, attn_dim=8,
                           attention="hard", dropout=0.0)
    module = CaptioningModule(model, doubly_stochastic=0.0, expectation_prob=0.0, baseline_decay=0.9).train()
    captions = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0], [1, 8, 9, 10, 11, 2]])
    lengths = torch.tensor([4, 3, 6])  # 3, 2 and 5 words with <end>
    batch = {"images": torch.rand(3, 3, 32, 32), "captions": captions, "lengths": lengths}
    torch.manual_seed(1)
    module.losses(batch, module.features(batch))
    torch.manual_seed(1)  # the same draws again (the expectation coin, then the locations)
    torch.rand(3)
    out = model(module.features(batch), captions, sample_attention=True, expectation=torch.zeros(3, dtype=torch.bool),
                lengths=lengths)  # as losses calls it, so that the draws match
    nll = torch.nn.functional.cross_entropy(out.logits.transpose(1, 2), captions[:, 1:], reduction="none")
    nll = (nll * (torch.arange(5)[None] < (lengths - 1)[:, None])).sum(1)
    expected = torch.zeros_like(module.baseline)
    expected[lengths - 1] = 0.1 * -nll.detach()
    torch.testing.assert_close(module.baseline, expected)
