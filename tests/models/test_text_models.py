"""Text models: masks and windows hold, the Transformer decoder cannot see the future, and
every model learns a tiny task."""

import pytest
import torch

from tests.helpers import assert_every_parameter_gets_gradient
from vision_attention.models import (
    AttentionClassifier,
    Seq2Seq,
    TransformerClassifier,
    TransformerSeq2Seq,
    sequence_loss,
)
from vision_attention.models.decoding import beam_search, greedy

KINDS = ["bahdanau", "luong-dot", "luong-general", "luong-concat", "local-m", "local-p"]
START, END = 1, 2
DIGITS = list(range(4, 14))  # token ids of the toy tasks' "words"


def keyword_sentences(count, seed=0, length=8):
    """Sentences of filler words holding one keyword: id 4 means label 1, id 5 label 0."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(6, 30, (count, length), generator=g)
    lengths = torch.randint(3, length + 1, (count,), generator=g)
    labels = torch.randint(0, 2, (count,), generator=g)
    where = (torch.rand(count, generator=g) * lengths).long()
    tokens[torch.arange(count), where] = torch.where(labels == 1, 4, 5)
    tokens[torch.arange(length)[None] >= lengths[:, None]] = 0
    return tokens, lengths, labels, where


def reversal_pairs(count, seed=0):
    """Source: 3-6 random digits; target: <start> the digits reversed <end>."""
    g = torch.Generator().manual_seed(seed)
    sources, targets = torch.zeros(count, 6, dtype=torch.long), torch.zeros(count, 8, dtype=torch.long)
    for i in range(count):
        n = int(torch.randint(3, 7, (1,), generator=g))
        digits = torch.tensor(DIGITS)[torch.randint(0, 10, (n,), generator=g)]
        sources[i, :n] = digits
        targets[i, : n + 2] = torch.cat([torch.tensor([START]), digits.flip(0), torch.tensor([END])])
    return sources, targets


@pytest.mark.parametrize(
    "make",
    [
        lambda: AttentionClassifier(30, 16, 24, pooling="attention", max_len=8, dropout=0.0),
        lambda: AttentionClassifier(30, 16, 24, pooling="additive", dropout=0.0),
        lambda: AttentionClassifier(30, 16, 24, pooling="attention", max_len=8, dropout=0.0, bidirectional=True),
        lambda: TransformerClassifier(30, dim=32, heads=4, layers=1, ff_dim=64, dropout=0.0),
    ],
    ids=["tutorial-attention", "additive", "bidirectional", "transformer"],
)
def test_classifiers_learn_the_keyword_task_and_mask_padding(make):
    torch.manual_seed(0)
    model = make()
    tokens, lengths, labels, _ = keyword_sentences(512)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for step in range(150):
        rows = torch.arange(step * 64, step * 64 + 64) % 512
        loss = torch.nn.functional.cross_entropy(model(tokens[rows], lengths[rows]).logits, labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_tokens, test_lengths, test_labels, _ = keyword_sentences(256, seed=1)
    model.eval()
    with torch.no_grad():
        out = model(test_tokens, test_lengths)
    accuracy = (out.logits.argmax(1) == test_labels).float().mean()
    assert accuracy > 0.95, accuracy
    beyond = torch.arange(8)[None] >= test_lengths[:, None]
    assert (out.weights[beyond] == 0).all()  # padding gets exactly nothing


def test_last_state_baseline_uses_the_last_real_token():
    torch.manual_seed(0)
    model = AttentionClassifier(30, 8, 12, pooling="last", dropout=0.0)
    tokens = torch.tensor([[7, 8, 9, 0, 0]])
    padded_more = torch.tensor([[7, 8, 9, 0, 0, 0, 0]])
    a, b = model(tokens, torch.tensor([3])), model(padded_more, torch.tensor([3]))
    torch.testing.assert_close(a.logits, b.logits)
    assert a.weights is None


def test_bidirectional_final_states_are_forward_at_the_last_word_and_backward_at_the_first():
    torch.manual_seed(0)
    model = AttentionClassifier(30, 8, 12, pooling="last", dropout=0.0, bidirectional=True).eval()
    tokens, lengths = torch.tensor([[7, 8, 9, 0, 0], [7, 8, 9, 10, 11]]), torch.tensor([3, 5])
    states, _ = model.lstm(model.embedding(tokens[:1, :3]))  # the unpadded sentence, no packing
    expected = model.out(torch.cat([states[0, -1, :6], states[0, 0, 6:]]))
    torch.testing.assert_close(model(tokens, lengths).logits[0], expected)
    padded_more = torch.cat([tokens, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(padded_more, lengths).logits, model(tokens, lengths).logits)


def test_input_dropout_drops_the_same_embedding_units_at_every_word_as_keras():
    torch.manual_seed(0)
    model = AttentionClassifier(30, 16, 12, pooling="last", dropout=0.5).train()
    seen = []
    model.lstm.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    tokens = torch.randint(1, 30, (4, 6))
    model(tokens, torch.full((4,), 6))
    dropped = seen[0] == 0  # (B, S, E)
    assert dropped.any() and not dropped.all()
    assert (dropped == dropped[:, :1]).all()  # one mask per sentence
    assert not (dropped[0] == dropped[1]).all()  # drawn per sentence


def test_recurrent_weights_are_orthogonal_across_the_four_gates_as_keras_makes_them():
    lstm = AttentionClassifier(30, 8, 12, dropout=0.0).lstm  # weight_hh is (4H, H) = Keras' (H, 4H) kernel, transposed
    w = lstm.weight_hh_l0
    torch.testing.assert_close(w.t() @ w, torch.eye(12))  # orthonormal columns over all 48 rows (per gate: 4 I)
    torch.testing.assert_close(lstm.bias_ih_l0[12:24], torch.ones(12))  # forget gate bias 1 (unit_forget_bias)


def test_recurrent_dropout_masks_the_previous_state_with_one_mask_per_sentence_as_keras():
    model = AttentionClassifier(30, 8, 12, pooling="attention", max_len=6, dropout=0.0, recurrent_dropout=0.4)
    embedded = model.embedding(torch.randint(1, 30, (5, 6)))
    cell = torch.nn.LSTMCell(8, 12)  # the plain reference, with the LSTM's weights
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in model.lstm.state_dict().items()})
    torch.manual_seed(3)
    states = model.train()._states_with_recurrent_dropout(embedded)
    torch.manual_seed(3)
    mask = torch.nn.functional.dropout(torch.ones(5, 12), 0.4)  # the same draw
    assert (mask == 0).any() and (mask != 0).any()
    h = c = torch.zeros(5, 12)
    expected = []
    for step in range(6):
        h, c = cell(embedded[:, step], (h * mask, c))  # the cell sees h_{t-1} masked, c_{t-1} whole
        expected.append(h)
    torch.testing.assert_close(states, torch.stack(expected, dim=1))
    # evaluation runs the fused nn.LSTM, which is the same maths without the mask
    tokens, lengths = torch.randint(1, 30, (5, 6)), torch.full((5,), 6)
    model.eval()
    fused = model(tokens, lengths).logits
    model.recurrent_dropout = 1e-9  # the loop, with a mask of ones
    model.train()
    torch.testing.assert_close(model(tokens, lengths).logits, fused)
    with pytest.raises(ValueError, match="bidirectional"):
        AttentionClassifier(30, 8, 12, bidirectional=True, recurrent_dropout=0.2)


def test_see_padding_reads_the_sentence_padded_to_max_len_as_keras_does():
    torch.manual_seed(0)
    tokens, lengths = torch.tensor([[7, 8, 9, 0], [7, 8, 9, 10]]), torch.tensor([3, 4])
    padded = torch.cat([tokens, torch.zeros(2, 2, dtype=torch.long)], dim=1)  # to max_len 6
    last = AttentionClassifier(30, 8, 12, pooling="last", max_len=6, dropout=0.0, see_padding=True).eval()
    states, _ = last.lstm(last.embedding(padded))  # no mask: every state counts
    torch.testing.assert_close(last(tokens, lengths).logits, last.out(states[:, -1]))
    pooled = AttentionClassifier(30, 8, 12, pooling="attention", max_len=6, dropout=0.0, see_padding=True).eval()
    states, _ = pooled.lstm(pooled.embedding(padded))
    weights = torch.softmax(torch.tanh(states @ pooled.pool.weight + pooled.pool.bias), dim=1)  # the tutorial's layer
    out = pooled(tokens, lengths)
    torch.testing.assert_close(out.weights, weights)
    torch.testing.assert_close(out.logits, pooled.out((weights.unsqueeze(2) * states).sum(1)))
    with pytest.raises(ValueError, match="max_len=6"):
        pooled(torch.ones(1, 7, dtype=torch.long), torch.tensor([7]))


@pytest.mark.parametrize("kind", KINDS)
def test_seq2seq_shapes_masks_gradients_and_decoding(kind):
    torch.manual_seed(0)
    model = Seq2Seq(20, 8, 16, attention=kind, window=1, dropout=0.0)
    source, target = reversal_pairs(5)
    logits, alphas = model(source, target[:, :-1])
    assert logits.shape == (5, 7, 20) and alphas.shape == (5, 7, 6)
    padding = (source == 0).unsqueeze(1).expand_as(alphas)
    assert (alphas[padding] == 0).all()
    if kind == "local-m":  # p_t = t: exactly zero outside [t - D, t + D]
        far = (torch.arange(6)[None] - torch.arange(7)[:, None]).abs() > 1
        assert (alphas[:, far] == 0).all() and (alphas[:, ~far].sum() > 0)
    assert_every_parameter_gets_gradient(model, sequence_loss(logits, target[:, 1:]))
    model.eval()
    one = beam_search(model, source, beam_size=1, max_len=8)
    torch.testing.assert_close(one.tokens, greedy(model, source, max_len=8).tokens)


def test_local_p_is_zero_outside_its_predicted_window():
    torch.manual_seed(0)
    model = Seq2Seq(20, 8, 16, attention="local-p", window=1, dropout=0.0).eval()
    source, _ = reversal_pairs(6)
    memory = model.memory(source)
    state = model.init_state(memory)
    out = model.step(torch.full((6,), START), state, memory)
    centre = model.attention.centre(out.state.h, memory.mask.sum(1), None)  # (B,) p_t of this step
    outside = (torch.arange(6)[None] - centre[:, None]).abs() > 1
    assert (out.alpha[outside] == 0).all() and out.alpha.sum() > 0


def test_transformer_decoder_cannot_see_the_future():
    torch.manual_seed(0)
    model = TransformerSeq2Seq(20, dim=16, heads=2, layers=2, ff_dim=32, dropout=0.0).eval()
    source, target = reversal_pairs(4)
    changed = target.clone()
    changed[:, 4:] = 17
    with torch.no_grad():
        a, _ = model(source, target[:, :-1])
        b, _ = model(source, changed[:, :-1])
        # the step-wise path (used by decoding) agrees with the teacher-forced one
        memory = model.memory(source)
        state = model.init_state(memory)
        for t in range(3):
            out = model.step(target[:, t], state, memory)
            torch.testing.assert_close(out.logits, a[:, t], atol=1e-5, rtol=1e-5)
            state = out.state
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])
    one = beam_search(model, source, beam_size=1, max_len=8)
    torch.testing.assert_close(one.tokens, greedy(model, source, max_len=8).tokens)
    assert beam_search(model, source, beam_size=3, max_len=8).alphas.shape[0] == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: Seq2Seq(16, 16, 32, attention="bahdanau", dropout=0.0),
        lambda: Seq2Seq(16, 16, 32, attention="local-p", window=3, dropout=0.0),
        lambda: TransformerSeq2Seq(16, dim=32, heads=4, layers=1, ff_dim=64, dropout=0.0),
    ],
    ids=["bahdanau", "local-p", "transformer"],
)
def test_seq2seq_models_learn_to_reverse_digits(make):
    torch.manual_seed(0)
    model = make()
    source, target = reversal_pairs(1024)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    for step in range(300):
        rows = torch.arange(step * 32, step * 32 + 32) % 1024
        logits, _ = model(source[rows], target[rows, :-1])
        loss = sequence_loss(logits, target[rows, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_source, test_target = reversal_pairs(200, seed=1)
    decoded = greedy(model.eval(), test_source, max_len=8)
    width = test_target.shape[1] - 1
    got = torch.nn.functional.pad(decoded.tokens, (0, width - decoded.tokens.shape[1]))
    exact = (got == test_target[:, 1:]).all(1).float().mean()
    assert exact > 0.8, exact
