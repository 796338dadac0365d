"""Data: vocabularies, synthetic caption sets with ground truth, real-data loaders,
feature caches, and the LightningDataModules of :mod:`.modules`, which load Lightning only
when first named (so models and inference code can use this package without it)."""

from ..vocab import Vocabulary, tokenize
from .caption_files import (
    CaptionedImage,
    check_images,
    read_caption_records,
    read_captions_txt,
    read_karpathy_json,
    seeded_split,
)
from .caption_sets import CaptionedImages, CaptionItems, collate_captions, pad_captions
from .dates import DatePairs, make_pairs
from .digits import DynamicBinarized, ImageArray, TorchvisionImages, load_binarized_mnist, load_mnist, read_idx
from .feature_cache import CachedFeatures, FeatureCache
from .image_decoding import BadImageError, collate_images, load_rgb
from .mnist_captions import MNISTCaptions
from .sentiment import SentenceLabels, read_sentiment, read_sentiment_file
from .shapes import ShapesCaptions

__all__ = [
    "BadImageError",
    "CachedFeatures",
    "CaptionDataModule",
    "CaptionFilesDataModule",
    "CaptionItems",
    "CaptionedImage",
    "CaptionedImages",
    "DatePairs",
    "DatesDataModule",
    "DynamicBinarized",
    "FeatureCache",
    "ImageArray",
    "ImagesDataModule",
    "MNISTCaptions",
    "MNISTCaptionsDataModule",
    "SentenceLabels",
    "SentimentDataModule",
    "ShapesCaptions",
    "ShapesCaptionsDataModule",
    "TorchvisionImages",
    "Vocabulary",
    "check_images",
    "collate_captions",
    "collate_images",
    "load_binarized_mnist",
    "load_mnist",
    "load_rgb",
    "make_pairs",
    "pad_captions",
    "read_caption_records",
    "read_captions_txt",
    "read_idx",
    "read_karpathy_json",
    "read_sentiment",
    "read_sentiment_file",
    "seeded_split",
    "tokenize",
]

DATA_MODULES = (
    "CaptionDataModule",
    "CaptionFilesDataModule",
    "DatesDataModule",
    "ImagesDataModule",
    "MNISTCaptionsDataModule",
    "SentimentDataModule",
    "ShapesCaptionsDataModule",
)
__all__ += list(DATA_MODULES)


def __getattr__(name: str):
    if name in DATA_MODULES:
        from . import modules

        return getattr(modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
