import torch

from tests.helpers import assert_every_parameter_gets_gradient, assert_weights_are_distribution
from vision_attention.layers import AdditiveAttention, HardAttention, SoftAttention, padding_mask


def test_soft_attention_is_additive_attention_over_the_grid():
    torch.manual_seed(0)
    soft = SoftAttention(8, 6, 5)
    additive = AdditiveAttention(8, 6, 5)
    additive.load_state_dict(soft.state_dict())
    h, features = torch.randn(2, 8), torch.randn(2, 9, 6)
    z, alpha = soft(h, features)
    ref_z, ref_alpha = additive(h, features)
    torch.testing.assert_close(z, ref_z)
    torch.testing.assert_close(alpha, ref_alpha)
    torch.testing.assert_close(z, torch.einsum("bl,bld->bd", alpha, features))
    assert_weights_are_distribution(alpha)
    assert_every_parameter_gets_gradient(soft, soft(h, features)[0].sum())


def test_hard_attention_samples_from_alpha_and_returns_its_log_prob_and_entropy():
    torch.manual_seed(0)
    hard = HardAttention(8, 6, 5)
    h, features = torch.randn(1, 8).expand(20000, 8), torch.randn(1, 4, 6).expand(20000, 4, 6)
    mask = torch.tensor([True, True, True, False]).expand(20000, 4)
    out = hard(h, features, mask=mask, generator=torch.Generator().manual_seed(1))
    alpha = out.weights[0]
    assert_weights_are_distribution(out.weights, mask)
    assert (out.location != 3).all(), "sampled a masked location"
    freq = torch.bincount(out.location, minlength=4).float() / 20000
    # Each frequency is within 4 binomial standard deviations of alpha.
    std = (alpha * (1 - alpha) / 20000).sqrt()
    assert ((freq - alpha).abs() <= 4 * std + 1e-6).all(), (freq, alpha)
    torch.testing.assert_close(out.context, features[torch.arange(20000), out.location])
    torch.testing.assert_close(out.log_prob, alpha.log()[out.location])
    torch.testing.assert_close(out.entropy, -(alpha[:3] * alpha[:3].log()).sum().expand(20000))


def test_hard_attention_expectation_switch_gives_soft_context_per_example():
    torch.manual_seed(0)
    hard = HardAttention(8, 6, 5)
    soft = SoftAttention(8, 6, 5)
    soft.load_state_dict(hard.state_dict())
    h, features = torch.randn(4, 8), torch.randn(4, 9, 6)
    use_mean = torch.tensor([True, False, True, False])
    out = hard(h, features, expectation=use_mean)
    z, _ = soft(h, features)
    torch.testing.assert_close(out.context[use_mean], z[use_mean])
    torch.testing.assert_close(out.context[~use_mean], features[~use_mean, out.location[~use_mean]])
    assert (out.log_prob[use_mean] == 0).all() and (out.log_prob[~use_mean] < 0).all()


def test_hard_attention_log_prob_and_entropy_reach_every_parameter():
    torch.manual_seed(0)
    hard = HardAttention(8, 6, 5).double()
    h = torch.randn(3, 8, dtype=torch.float64)
    features = torch.randn(3, 9, 6, dtype=torch.float64)
    mask = padding_mask(torch.tensor([9, 5, 2]), 9)
    out = hard(h, features, mask=mask)
    assert_every_parameter_gets_gradient(hard, out.log_prob.sum() + out.entropy.sum())
    h.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: hard(q, features, mask=mask, expectation=True).context, (h,))
