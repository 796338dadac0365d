"""LightningDataModules: everything a model trains on comes through here, on one base
(:class:`SplitsDataModule`). Each module has deterministic splits, a padding collate with
lengths where sequences vary, and ``num_workers``; modules with words build their
:class:`~vision_attention.vocab.Vocabulary` in ``setup`` and keep it in their
``state_dict``, so that it travels inside checkpoints."""

from .caption_datamodules import (
    CaptionDataModule,
    CaptionFilesDataModule,
    MNISTCaptionsDataModule,
    SceneCaptionsDataModule,
    ShapesCaptionsDataModule,
)
from .image_datamodules import ImagesDataModule
from .splits import SplitsDataModule, data_root, weights_fingerprint
from .text_datamodules import DatesDataModule, SentimentDataModule, collate_dates

__all__ = [
    "CaptionDataModule",
    "CaptionFilesDataModule",
    "DatesDataModule",
    "ImagesDataModule",
    "MNISTCaptionsDataModule",
    "SceneCaptionsDataModule",
    "SentimentDataModule",
    "ShapesCaptionsDataModule",
    "SplitsDataModule",
    "collate_dates",
    "data_root",
    "weights_fingerprint",
]
