"""A judge of generated images: a small CNN that reads a synthetic scene's attributes
(:mod:`vision_attention.data.attributes`) from its pixels. Trained on real images, it
scores text-to-image models by whether it reads back what their caption said.

Legend: B batch, C channels, H x W image.
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from ..configured import Configured
from .registry import register_model

# The heads and their class counts per scene schema: the attributes of
# vision_attention.data.attributes.SCHEMAS (a test holds the two equal; a model does not
# import the data floor).
SCHEMAS: dict[str, dict[str, int]] = {
    "shapes": {
        "count": 2,
        "relation": 4,
        "shape_0": 3,
        "colour_0": 5,
        "size_0": 2,
        "shape_1": 3,
        "colour_1": 5,
        "size_1": 2,
    },
    "mnist_captions": {"count": 2, "corner": 4, "relation": 2, "digit_0": 10, "digit_1": 10},
}


@register_model
class SceneJudge(Configured, nn.Module):
    """Four conv blocks, each starting with a stride-2 conv, then one linear head per
    attribute over the flattened map (no global pooling: positions matter).

    Args:
        schema: "shapes" or "mnist_captions" (the heads and their class counts).
        image_shape: (C, H, W) of the images.
        width: channels of the first block (doubling after the second).
        depth: convolutions per block (the extra ones keep the resolution).
    """

    def __init__(
        self, schema: str, image_shape: tuple[int, int, int] = (3, 32, 32), width: int = 32, depth: int = 1
    ) -> None:
        super().__init__()
        if schema not in SCHEMAS:
            raise ValueError(f"unknown judge schema {schema!r}; choose from {sorted(SCHEMAS)}")
        channels, height, width_px = image_shape
        self.schema, self.heads = schema, SCHEMAS[schema]
        sizes = [channels, width, width, 2 * width, 2 * width]
        blocks = []
        for cin, cout in itertools.pairwise(sizes):
            for i in range(depth):  # the block's first conv halves the map, the others keep it
                stride, source = (2, cin) if i == 0 else (1, cout)
                blocks += [
                    nn.Conv2d(source, cout, 3, stride=stride, padding=1),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
        self.features = nn.Sequential(*blocks, nn.Flatten(), nn.Dropout(0.2))
        cells = -(-height // 16) * -(-width_px // 16)  # the map after four halvings, rounded up
        self.classify = nn.ModuleDict({name: nn.Linear(sizes[-1] * cells, n) for name, n in self.heads.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """(B, C, H, W) in [0, 1] -> logits (B, classes) per attribute."""
        features = self.features(images)
        return {name: head(features) for name, head in self.classify.items()}
