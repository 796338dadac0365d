"""The mask builders. One mask polarity everywhere: ``True`` means *may attend*
(:mod:`.attend` applies them).

Legend: B batch, T query steps, S key/source length.
"""

from __future__ import annotations

import torch
from torch import Tensor


def padding_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Mask of the real (non-padding) positions of a padded batch.

    Args:
        lengths: number of real positions of each sequence, shape (B,).
        max_len: padded length S; defaults to ``lengths.max()``.

    Returns:
        Bool tensor (B, S), True where the position may be attended.
    """
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    positions = torch.arange(max_len, device=lengths.device)  # (S,)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)


def causal_mask(query_len: int, key_len: int | None = None, device=None) -> Tensor:
    """Mask letting query step t attend key positions <= t (aligned at the end).

    Returns:
        Bool tensor (T, S), True where the position may be attended.
    """
    key_len = query_len if key_len is None else key_len
    return torch.ones(query_len, key_len, dtype=torch.bool, device=device).tril(key_len - query_len)  # (T, S)
