"""The self-critical stage (:mod:`vision_attention.models.self_critical`) of a captioner that
cross-entropy trained: it starts from that run's weights and maximises CIDEr-D.

Validation and test are :class:`CaptioningModule`'s (beam search, BLEU, CIDEr-D, distinct
captions and words used, which watch for the classic collapse to one generic caption);
training logs the mean reward of the samples, of the baseline, and how many distinct
captions the samples hold.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Literal

import torch

from ..files.checkpoints import KEY, CheckpointError, find_run_checkpoint
from ..files.model_folders import is_model_folder
from ..files.trained import load_trained
from ..kinds import Kind
from ..metrics import CiderD
from ..models.self_critical import self_critical_loss
from ..models.show_attend_tell import ShowAttendTell
from ..pretrained import is_shipped
from .captioning_module import CaptioningModule


class SelfCriticalModule(CaptioningModule):
    """Self-critical sequence training of a :class:`ShowAttendTell`.

    Args:
        model: the captioner, built as the cross-entropy run built it.
        init_from: that run's checkpoint (a file), a model folder or shipped name (e.g.
            ``sat-soft-flickr8k``), or its run folder (its best checkpoint
            is taken, as ``--ckpt_path best`` finds it). Its weights start this stage; a
            resumed stage (``--ckpt_path last``) continues from its own instead.
        samples: K captions sampled per image.
        baseline: "greedy" (the model's greedy caption's reward, Rennie et al.) or "mean"
            (the mean reward of the image's other samples, Luo 2020).
        lr: learning rate of the decoder.
        encoder_lr: learning rate of the encoder's fine-tuned blocks.
        sample_len: most words a sampled caption holds.
        beam_size: beam width of validation and test decoding.
        max_len: longest decoded caption at validation and test.
        official_metrics: also the COCO caption code's metrics at validation and test.
        xe_weight: weight of the cross-entropy loss on the batch's reference captions, mixed
            into the self-critical loss (keeps the language of the references in view).
        entropy_bonus: weight of the entropy of the sampled word distributions (see
            :func:`~vision_attention.models.self_critical.self_critical_loss`).
        min_distinct: the diversity a validation must keep to count: ``val/cider_d_diverse``
            is its CIDEr-D when at least this share of the captions are distinct and they use at
            least ``min_words`` words, else 0 (a checkpoint can be selected on it).
        min_words: see ``min_distinct``.
    """

    def __init__(
        self,
        model: ShowAttendTell,
        init_from: str,
        samples: int = 5,
        baseline: Literal["greedy", "mean"] = "greedy",
        lr: float = 5e-5,
        encoder_lr: float = 1e-5,
        sample_len: int = 20,
        beam_size: int = 3,
        max_len: int = 30,
        official_metrics: bool = False,
        xe_weight: float = 0.0,
        entropy_bonus: float = 0.0,
        min_distinct: float = 0.0,
        min_words: int = 0,
    ) -> None:
        super().__init__(
            model, lr=lr, encoder_lr=encoder_lr, beam_size=beam_size, max_len=max_len, official_metrics=official_metrics
        )
        if xe_weight < 0 or entropy_bonus < 0:
            raise ValueError(f"xe_weight and entropy_bonus must be >= 0, got {xe_weight} and {entropy_bonus}")
        if baseline not in ("greedy", "mean"):
            raise ValueError(f"baseline must be 'greedy' or 'mean', got {baseline!r}")
        # The parent saved this frame's arguments as hyperparameters, but under LightningCLI only
        # those the config gives: the parent's own settings keep their defaults.
        for name, parameter in inspect.signature(CaptioningModule.__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty and name not in self.hparams:
                self.hparams[name] = parameter.default
        source = str(init_from)
        path = Path(source)
        if not is_shipped(source) and path.is_dir() and not is_model_folder(path):  # a run folder: its best
            found = find_run_checkpoint("best", path)
            if found is None:
                raise CheckpointError(f"init_from {init_from}: no best checkpoint under this run folder")
            source = str(found)
        trained = load_trained(source, (Kind.CAPTIONER,), "a captioner")
        # a folder's trunk that it does not store is this model's own (the same package weights)
        own = self.model.state_dict()
        weights = {**own, **trained.state}
        unfit = [k for k in own if weights[k].shape != own[k].shape] + [k for k in weights if k not in own]
        if unfit or (not trained.packaged and set(own) - set(trained.state)):
            name = unfit[0] if unfit else min(set(own) - set(trained.state))
            raise CheckpointError(f"init_from {source}: its weights do not fit this model (e.g. {name})")
        self.model.load_state_dict(weights)
        self.vocab = trained.vocab  # checked against the data's
        self.init_path = source
        self.cider: CiderD | None = None

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and self.cider is None:
            if not hasattr(datamodule, "train_references"):
                raise ValueError(f"{type(datamodule).__name__} cannot give its training references for CIDEr-D")
            self.cider = CiderD(datamodule.train_references())  # document frequencies of the training corpus

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[KEY]["init_from"] = self.init_path

    def model_step(self, batch: dict, split: str) -> torch.Tensor:
        if split != "train":
            return super().model_step(batch, split)
        features = self.features(batch)  # (B, L, D), through a fine-tuned tail
        references = batch["references"]

        def reward(tokens: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
            words = [self.vocab.decode(row) for row in tokens.tolist()]
            refs = [references[i] for i in images.tolist()]
            return torch.tensor(self.cider.scores(words, refs), device=tokens.device)

        hp = self.hparams
        out = self_critical_loss(
            self.model, features, reward, hp.samples, hp.baseline, hp.sample_len, entropy_bonus=hp.entropy_bonus
        )
        loss = out.loss
        logged = {"train/reward": out.rewards.mean(), "train/baseline": out.baselines.mean()}
        if hp.xe_weight:
            cross_entropy = self.losses(batch, features)["loss"]  # on the references, as stage one trained
            loss = loss + hp.xe_weight * cross_entropy
            logged["train/xe"] = cross_entropy
        distinct = len({tuple(t) for t in out.samples.tokens.tolist()}) / len(out.samples.tokens)
        logged.update({"train/loss": loss, "train/distinct_samples": distinct, "train/entropy": out.entropy})
        self.log_dict(logged, prog_bar=True, batch_size=len(features))
        return loss

    def on_validation_epoch_end(self) -> None:
        metrics = self._report("val")
        if "val/cider_d" in metrics:
            diverse = (
                metrics["val/distinct_captions"] >= self.hparams.min_distinct
                and metrics["val/words_used"] >= self.hparams.min_words
            )
            self.log("val/cider_d_diverse", metrics["val/cider_d"] if diverse else 0.0)
