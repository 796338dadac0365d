"""Named presets: the model of each ``train/<name>.yaml``, built from Python with the same
sizes (a test holds each preset to its config's parameter count).

Each is registered by name: ``get_model("sat_soft_shapes", vocab_size=V)`` (or
``sat_soft_shapes(vocab_size)``) is the model ``vision-attention fit --config
train/sat_soft_shapes.yaml`` trains. Models that read words take the vocabulary size of
their data (``len(data.vocab)``, or ``data.vocab_size``); pretrained backbones take
``weights`` (None builds them untrained, without the weights file).
"""

from __future__ import annotations

from ..backbones import Backbone
from .aligndraw import AlignDRAW
from .attention_classifier import AttentionClassifier
from .draw import DRAW
from .registry import register_model
from .scene_judge import SceneJudge
from .seq2seq import Seq2Seq
from .show_attend_tell import ShowAttendTell
from .transformer import TransformerClassifier, TransformerSeq2Seq


# ----- Show, Attend and Tell ---------------------------------------------------------------
def _shapes_captioner(vocab_size: int, attention: str) -> ShowAttendTell:
    return ShowAttendTell(
        vocab_size,
        Backbone("tiny", grid=None, width=32, downsample=4),
        embed_dim=64,
        hidden_dim=256,
        attn_dim=128,
        attention=attention,
        dropout=0.2,
    )


@register_model
def sat_soft_shapes(vocab_size: int) -> ShowAttendTell:
    return _shapes_captioner(vocab_size, "soft")


@register_model
def sat_hard_shapes(vocab_size: int) -> ShowAttendTell:
    return _shapes_captioner(vocab_size, "hard")


def _photo_captioner(
    vocab_size: int,
    backbone: str,
    weights: str | None,
    attention: str,
    hidden_dim: int,
    trainable_blocks: int = 0,
    output_stride: int = 32,
) -> ShowAttendTell:
    encoder = Backbone(
        backbone, weights=weights, grid=None, trainable_blocks=trainable_blocks, output_stride=output_stride
    )
    return ShowAttendTell(
        vocab_size, encoder, embed_dim=512, hidden_dim=hidden_dim, attn_dim=512, attention=attention, dropout=0.5
    )


@register_model
def sat_soft_flickr8k(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    """Lite0 with its last stage and head fine-tuned (on a cache of the frozen trunk)."""
    return _photo_captioner(vocab_size, "efficientnet_lite0", weights, "soft", 512, trainable_blocks=2)


@register_model
def sat_soft_flickr8k_14(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    """The paper's 14 x 14 grid: Lite0 dilated to output stride 16, its last stage and head fine-tuned."""
    return _photo_captioner(
        vocab_size, "efficientnet_lite0", weights, "soft", 512, trainable_blocks=2, output_stride=16
    )


@register_model
def sat_hard_flickr8k(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    return _photo_captioner(vocab_size, "efficientnet_lite0", weights, "hard", 512)


@register_model
def sat_soft_flickr8k_lite2(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    """Lite2 with its last stage and head fine-tuned, as Lite0's are."""
    return _photo_captioner(vocab_size, "efficientnet_lite2", weights, "soft", 512, trainable_blocks=2)


@register_model
def sat_soft_flickr8k_scst(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    """The self-critical stage trains the cross-entropy stage's model further: the same model."""
    return sat_soft_flickr8k(vocab_size, weights)


@register_model
def sat_hard_flickr8k_scst(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    return sat_hard_flickr8k(vocab_size, weights)


@register_model
def sat_soft_flickr8k_vgg19(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    """The paper's setting: VGG-19 conv5_4 features (14 x 14 x 512), an LSTM of 1024."""
    return _photo_captioner(vocab_size, "vgg19", weights, "soft", 1024)


@register_model
def sat_hard_flickr8k_vgg19(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    return _photo_captioner(vocab_size, "vgg19", weights, "hard", 1024)


@register_model
def sat_soft_coco(vocab_size: int, weights: str | None = "DEFAULT") -> ShowAttendTell:
    return _photo_captioner(vocab_size, "vgg19", weights, "soft", 1024)


@register_model
def sat_soft_flickr8k_subset(vocab_size: int) -> ShowAttendTell:
    """ResNet-18 trained from scratch on the 796-photo subset, 4 x 4 grid."""
    encoder = Backbone("resnet18", weights=None, grid=4, trainable_blocks=-1)
    return ShowAttendTell(
        vocab_size, encoder, embed_dim=128, hidden_dim=256, attn_dim=128, attention="soft", dropout=0.5
    )


# ----- DRAW and alignDRAW ----------------------------------------------------------------
@register_model
def draw_bmnist() -> DRAW:
    """Gregor et al. 2015's binarized MNIST setting: 64 glimpses, read 2 x 2, write 5 x 5."""
    return DRAW((1, 28, 28), steps=64, read_n=2, write_n=5, enc_dim=256, dec_dim=256, z_dim=100, attention=True)


@register_model
def draw_bmnist_noattn() -> DRAW:
    return DRAW((1, 28, 28), steps=64, read_n=2, write_n=5, enc_dim=256, dec_dim=256, z_dim=100, attention=False)


@register_model
def draw_fashion() -> DRAW:
    return draw_bmnist()


@register_model
def draw_shapes() -> DRAW:
    return DRAW((3, 64, 64), steps=32, read_n=6, write_n=6, enc_dim=400, dec_dim=400, z_dim=100, attention=True)


@register_model
def aligndraw_mnist_captions(vocab_size: int) -> AlignDRAW:
    """Mansimov et al. 2016's MNIST-with-captions setting: 60 x 60, 32 steps, 300 units, z 150."""
    return AlignDRAW(
        vocab_size,
        (1, 60, 60),
        steps=32,
        read_n=8,
        write_n=8,
        enc_dim=300,
        dec_dim=300,
        z_dim=150,
        embed_dim=128,
        lang_dim=128,
        align_dim=128,
    )


@register_model
def aligndraw_mnist_captions_cpu(vocab_size: int) -> AlignDRAW:
    """The same task at a size one CPU core trains: 16 steps, 256 units, z 32 (the shipped model)."""
    return AlignDRAW(
        vocab_size,
        (1, 60, 60),
        steps=16,
        read_n=8,
        write_n=8,
        enc_dim=256,
        dec_dim=256,
        z_dim=32,
        embed_dim=128,
        lang_dim=128,
        align_dim=128,
    )


@register_model
def aligndraw_shapes(vocab_size: int) -> AlignDRAW:
    return AlignDRAW(
        vocab_size,
        (3, 32, 32),
        steps=16,
        read_n=4,
        write_n=4,
        enc_dim=256,
        dec_dim=256,
        z_dim=32,
        embed_dim=64,
        lang_dim=64,
        align_dim=64,
    )


@register_model
def judge_shapes() -> SceneJudge:
    return SceneJudge("shapes", (3, 32, 32), width=32)


@register_model
def judge_mnist_captions() -> SceneJudge:
    return SceneJudge("mnist_captions", (1, 60, 60), width=32, depth=2)


# ----- text ------------------------------------------------------------------------------
def _sentiment(vocab_size: int, pooling: str, **options) -> AttentionClassifier:
    return AttentionClassifier(
        vocab_size, embed_dim=32, hidden_dim=100, pooling=pooling, max_len=32, dropout=0.3, **options
    )


@register_model
def sentiment_lstm(vocab_size: int) -> AttentionClassifier:
    return _sentiment(vocab_size, "last", recurrent_dropout=0.2, see_padding=True)


@register_model
def sentiment_lstm_attention(vocab_size: int) -> AttentionClassifier:
    """The classic Keras tutorial's LSTM + attention classifier."""
    return _sentiment(vocab_size, "attention", recurrent_dropout=0.2, see_padding=True)


@register_model
def sentiment_bilstm(vocab_size: int) -> AttentionClassifier:
    return _sentiment(vocab_size, "last", bidirectional=True)


@register_model
def sentiment_bilstm_attention(vocab_size: int) -> AttentionClassifier:
    return _sentiment(vocab_size, "attention", bidirectional=True)


@register_model
def sentiment_transformer(vocab_size: int) -> TransformerClassifier:
    return TransformerClassifier(vocab_size, dim=64, heads=4, layers=2, ff_dim=128, dropout=0.1, max_len=32)


@register_model
def dates_bahdanau(vocab_size: int) -> Seq2Seq:
    return Seq2Seq(vocab_size, embed_dim=32, hidden_dim=128, attention="bahdanau", dropout=0.1)


@register_model
def dates_luong_general(vocab_size: int) -> Seq2Seq:
    return Seq2Seq(vocab_size, embed_dim=32, hidden_dim=128, attention="luong-general", input_feeding=True, dropout=0.1)


@register_model
def dates_local_p(vocab_size: int) -> Seq2Seq:
    return Seq2Seq(
        vocab_size, embed_dim=32, hidden_dim=128, attention="local-p", window=4, input_feeding=True, dropout=0.1
    )


@register_model
def dates_transformer(vocab_size: int) -> TransformerSeq2Seq:
    return TransformerSeq2Seq(vocab_size, dim=64, heads=4, layers=2, ff_dim=128, dropout=0.1, max_len=64)
