import math

import pytest
import torch

from vision_attention.layers import PositionalEncoding


def test_sinusoids_follow_the_paper():
    pe = PositionalEncoding(6, max_len=10)
    x = torch.zeros(1, 10, 6)
    table = pe(x)[0]
    for pos in range(10):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert math.isclose(table[pos, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[pos, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    # An offset continues the sequence: step-by-step decoding sees the same positions.
    torch.testing.assert_close(pe(torch.zeros(1, 1, 6), offset=4)[0, 0], table[4])


def test_learned_positions_train_and_lengths_are_checked():
    pe = PositionalEncoding(4, max_len=5, learned=True)
    pe(torch.zeros(2, 3, 4)).sum().backward()
    assert pe.table.grad[:3].abs().sum() > 0 and (pe.table.grad[3:] == 0).all()
    with pytest.raises(ValueError, match="max_len=5"):
        pe(torch.zeros(1, 6, 4))


@pytest.mark.parametrize("learned", [False, True])
def test_positional_gradcheck(learned):
    pe = PositionalEncoding(4, max_len=6, learned=learned).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: pe(inp, offset=1), (x,))
