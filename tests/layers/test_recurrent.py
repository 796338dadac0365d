import torch
from torch import nn

from vision_attention.layers import lstm_update


def test_lstm_update_is_nn_lstmcell_from_its_pre_activations():
    torch.manual_seed(0)
    cell = nn.LSTMCell(7, 5).double()
    x, h, c = torch.randn(3, 7).double(), torch.randn(3, 5).double(), torch.randn(3, 5).double()
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh  # (B, 4H)
    for ours, theirs in zip(lstm_update(gates, c), cell(x, (h, c))):
        torch.testing.assert_close(ours, theirs)
