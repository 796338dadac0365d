"""The LightningModule that trains and evaluates a Show, Attend and Tell captioner.

Training is teacher forced (cross-entropy, doubly stochastic penalty, and for hard
attention the REINFORCE terms with a moving-average or a per-caption baseline and the
expected context used with probability 0.5). Validation and test DECODE for real (beam
search, no teacher forcing) and report BLEU-1..4, CIDEr-D, METEOR when WordNet is
found, and on the synthetic sets caption correctness and attention localisation
(``localisation``: the nouns naming objects; ``localisation_words``: every word of
an object's phrase) and on every set ``attention_entropy`` (1: uniform attention);
the teacher-forced loss is logged separately as ``val/tf_loss``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch

from ..kinds import Kind
from ..metrics import attention_entropy, caption_metrics, coco_metrics, localisation
from ..models.decoding import beam_search
from ..models.show_attend_tell import MAX_WORDS, ShowAttendTell, caption_loss, caption_rewards, reinforce_terms
from .vision_module import VisionModule


class Decoded(NamedTuple):
    """One validation or test caption, kept for the epoch's scores."""

    words: list[str]
    references: list[list[str]]
    scene: object | None  # a generated scene (ShapesCaptions), which knows the right caption
    alphas: torch.Tensor  # (T, L) its attention
    image_size: tuple[int, int] | None


class CaptioningModule(VisionModule):
    """Trains a :class:`ShowAttendTell`.

    Args:
        model: the captioner.
        lr: learning rate of the decoder (and of a tiny encoder trained from scratch).
        encoder_lr: learning rate of the fine-tuned blocks of a pretrained encoder.
        weight_decay: weight decay.
        optimizer: "adam" or "rmsprop" (the paper used RMSProp on Flickr8k, Adam on COCO).
        doubly_stochastic: lambda of the penalty sum_i (1 - sum_t alpha_ti)^2, the paper's
            regulariser of soft attention (section 4.2.1). Hard attention's alphas learn only
            from the noisy REINFORCE term and the expected-context rows, and the penalty's
            steady pull toward equal coverage outweighs them: on Flickr8k, lambda 1 left hard
            attention uniform (val/attention_entropy 0.999), so its configs use 0.
        reinforce_weight: lambda_r of the REINFORCE term (hard attention).
        entropy_weight: lambda_e of the entropy bonus (hard attention).
        baseline_decay: b <- decay * b + (1 - decay) * log p(y | s, a) (hard attention); one
            b per number of words rewarded, so the reward measures the locations rather than
            how many words it sums (a baseline independent of the sample: still unbiased).
        reinforce_baseline: hard attention. "average": the moving average b above, the
            paper's. "expected": per caption, log p(y | a) of the same caption under the
            expected context without dropout, the deterministic model that decoding runs
            (the self-critical baseline of Rennie et al. 2017), plus b, which then averages
            what is left, log p(y | s, a) minus it. Independent of the sample, so unbiased;
            it removes how hard each caption is from the reward. On a Flickr8k hard-attention
            checkpoint it cut the per-batch REINFORCE gradient 4x, for one more forward pass
            without gradients over the sampled captions; trained with it, attention was
            sharper (val/attention_entropy 0.57 against 0.70) at the same dev BLEU-4.
        reward_to_go: hard attention: reward each location with the words from its step on
            rather than the whole caption (see :func:`~vision_attention.models.show_attend_tell.hard_attention_loss`).
        expectation_prob: probability of using the expected context instead of a sample
            during training (hard attention; the paper uses 0.5).
        beam_size: beam width of validation and test decoding (1: greedy).
        max_len: longest decoded caption.
        official_metrics: also report the official COCO caption code's BLEU, METEOR 1.5,
            ROUGE-L and CIDEr-D (``coco_*``; needs ``pycocoevalcap`` and Java), for final
            figures rather than every validation.
    """

    kind = Kind.CAPTIONER

    def __init__(
        self,
        model: ShowAttendTell,
        lr: float = 4e-4,
        encoder_lr: float = 1e-4,
        weight_decay: float = 0.0,
        optimizer: Literal["adam", "rmsprop"] = "adam",
        doubly_stochastic: float = 1.0,
        reinforce_weight: float = 1.0,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        reinforce_baseline: Literal["average", "expected"] = "average",
        reward_to_go: bool = False,
        expectation_prob: float = 0.5,
        beam_size: int = 3,
        max_len: int = 30,
        official_metrics: bool = False,
    ) -> None:
        super().__init__(model)
        if reinforce_baseline not in ("average", "expected"):
            raise ValueError(f"reinforce_baseline must be 'average' or 'expected', got {reinforce_baseline!r}")
        self.save_hyperparameters(ignore=["model"])
        self.register_buffer(
            "baseline", torch.zeros(MAX_WORDS + 1)
        )  # REINFORCE baseline per number of words, saved with the run
        self._eval: dict[str, list] = {}

    # ----- wiring ------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)  # the vocabulary
        datamodule = getattr(self.trainer, "datamodule", None)
        if getattr(datamodule, "caches_features", False) and self.model.encoder is not None:
            # the encoder says what may be cached
            datamodule.use_cached_features(self.model.encoder.cacheable())

    def checkpoint_extra(self) -> dict:
        data = self.datamodule_hparams()
        return {"image_size": None if data is None else data[1].get("image_size")}  # what Captioner resizes to

    def configure_optimizers(self):
        encoder = self.model.encoder
        encoder_params = [] if encoder is None else [p for p in encoder.parameters() if p.requires_grad]
        ids = {id(p) for p in encoder_params}
        decoder_params = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        from_scratch = getattr(encoder, "from_scratch", False)  # its blocks start untrained: the decoder's rate
        groups = [{"params": decoder_params, "lr": self.hparams.lr}]
        if encoder_params:
            groups.append(
                {"params": encoder_params, "lr": self.hparams.lr if from_scratch else self.hparams.encoder_lr}
            )
        optimizer = torch.optim.Adam if self.hparams.optimizer == "adam" else torch.optim.RMSprop
        return optimizer(groups, weight_decay=self.hparams.weight_decay)

    # ----- the step shared by train / val / test ----------------------------------
    def features(self, batch: dict) -> torch.Tensor:
        if "images" in batch:
            return self.model.encode(batch["images"])
        encoder = self.model.encoder  # cached features: a fine-tuned encoder runs its tail on them
        return batch["features"] if encoder is None else encoder.from_trunk(batch["features"])

    def losses(self, batch: dict, features: torch.Tensor) -> dict:
        """The teacher-forced loss and its parts (and for hard attention the REINFORCE terms,
        updating the baseline)."""
        captions, lengths = batch["captions"], batch["lengths"]
        sampling = self.training and self.model.attention_type == "hard"
        expectation = (
            torch.rand(len(captions), device=self.device) < self.hparams.expectation_prob if sampling else False
        )
        out = self.model(features, captions, sample_attention=sampling, expectation=expectation, lengths=lengths)
        loss, word_nll, penalty = caption_loss(
            out.logits, captions[:, 1:], out.alphas, lengths, self.hparams.doubly_stochastic
        )
        words = lengths - 1  # (B,)
        result = {"loss": loss, "nll": word_nll.sum() / words.sum(), "penalty": penalty.mean()}
        if sampling:
            to_go = self.hparams.reward_to_go
            reference = 0.0  # the part of the baseline per caption
            if self.hparams.reinforce_baseline == "expected":
                reference = self.expected_rewards(features, captions, lengths, ~expectation, to_go)
            reinforce = reinforce_terms(
                word_nll,
                out.log_probs,
                out.entropies,
                lengths,
                ~expectation,
                self.baseline,
                reference,
                self.hparams.baseline_decay,
                self.hparams.reinforce_weight,
                self.hparams.entropy_weight,
                to_go,
            )  # (B,), normalised per word like the caption loss
            result["loss"] = loss + reinforce.sum() / words.sum()
        return result

    @torch.no_grad()
    def expected_rewards(self, features, captions, lengths, rows, to_go: bool) -> torch.Tensor:
        """log p(y | a) of the chosen rows' captions (rewards as :func:`caption_rewards`
        gives them, (B, 1) or (B, T)) under the expected context without dropout; 0 in the
        other rows."""
        if not rows.any():
            return torch.zeros(len(captions), captions.shape[1] - 1 if to_go else 1, device=captions.device)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(features[rows], captions[rows], sample_attention=False, lengths=lengths[rows])
        finally:
            self.model.train(was_training)
        nll = caption_loss(out.logits, captions[rows, 1:], out.alphas, lengths[rows], 0.0)[1]
        rewards = caption_rewards(nll, to_go)
        return rewards.new_zeros(len(captions), rewards.shape[1]).index_copy(0, rows.nonzero().squeeze(1), rewards)

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        """Training: the loss. Validation and test: also decode, scored at the epoch's end."""
        features = self.features(batch)
        result = self.losses(batch, features)
        if split == "train":
            self.log_dict(
                {f"train/{k}": v for k, v in result.items()}, prog_bar=True, batch_size=len(batch["captions"])
            )
        else:
            self.log(f"{split}/tf_loss", result["loss"], batch_size=len(batch["captions"]))
            self._decode(batch, features, split)
        return result["loss"]

    def _decode(self, batch: dict, features: torch.Tensor, prefix: str) -> None:
        decoded = beam_search(self.model, features, self.hparams.beam_size, max_len=self.hparams.max_len)
        store = self._eval.setdefault(prefix, [])
        image_size = tuple(batch["images"].shape[-2:]) if "images" in batch else None
        for i in range(len(decoded.tokens)):
            words = self.vocab.decode(decoded.tokens[i].tolist())
            scene = batch["scenes"][i] if "scenes" in batch else None
            alphas = decoded.alphas[i, : len(words)].cpu()
            store.append(Decoded(words, batch["references"][i], scene, alphas, image_size))

    def _report(self, prefix: str) -> dict[str, float]:
        store = self._eval.pop(prefix, [])
        if not store:
            return {}
        hyps, refs = [s.words for s in store], [s.references for s in store]
        metrics = caption_metrics(hyps, refs)
        # One sentence for every photo is the classic failure on real photos: count them.
        metrics["distinct_captions"] = len({tuple(h) for h in hyps}) / len(hyps)
        metrics["words_used"] = float(len({w for h in hyps for w in h}))
        # 1.0: uniform attention, the mean context whatever the word (attention never learned).
        metrics["attention_entropy"] = torch.cat([attention_entropy(s.alphas) for s in store]).mean().item()
        if self.hparams.official_metrics:
            official = coco_metrics(hyps, refs)
            if official is None:
                raise RuntimeError("official_metrics needs pycocoevalcap: pip install 'vision_attention[eval]'")
            metrics.update(official)
        if store[0].scene is not None:
            metrics["correct"] = sum(s.scene.is_correct(s.words) for s in store) / len(store)
            for name, nouns_only in (("localisation", True), ("localisation_words", False)):
                hits = total = 0
                for words, _, scene, alphas, image_size in store:
                    side = round(alphas.shape[-1] ** 0.5)  # the synthetic sets have square grids
                    maps = alphas.view(len(words), side, side)
                    h, n = localisation(words, maps, scene, image_size or (side, side), nouns_only)
                    hits, total = hits + h, total + n
                metrics[name] = hits / max(total, 1)
        metrics = {f"{prefix}/{k}": v for k, v in metrics.items()}
        self.log_dict(metrics, prog_bar=prefix == "val")
        return metrics

    def on_validation_epoch_end(self) -> None:
        self._report("val")

    def on_test_epoch_end(self) -> None:
        self._report("test")
