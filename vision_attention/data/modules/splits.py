"""The base of every LightningDataModule here: splits made once, loaders over them with the
family's collate, the vocabulary (when the data has words) kept in the run's state, and
where the data sets live (``$VISION_ATTENTION_DATA``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from ...allocator import keep_freed_memory
from ...vocab import Vocabulary


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A hash of a module's weights, so that caches of differently trained encoders differ."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def data_root(subfolder: str) -> Path | None:
    """``$VISION_ATTENTION_DATA/subfolder`` when the variable is set."""
    root = os.environ.get("VISION_ATTENTION_DATA")
    return Path(root) / subfolder if root else None


def _require(path: str | Path | None, what: str, env_folder: str, recipe: str | None = None) -> Path:
    """The data folder given, else ``$VISION_ATTENTION_DATA/env_folder``; a missing one is
    an error that says how to get it (``recipe``: the datasets/ command that writes it)."""
    if path is None:
        path = data_root(env_folder)
    if path is None:
        get = f"; `{recipe} --out DIR` writes it" if recipe else ""
        raise FileNotFoundError(
            f"{what}: give its folder, or set VISION_ATTENTION_DATA (looked for {env_folder}/ in it){get}"
        )
    path = Path(path)
    if not path.exists():
        get = f"; `{recipe} --out {path}` writes it" if recipe else ""
        raise FileNotFoundError(f"{what}: {path} does not exist{get}")
    return path


class SplitsDataModule(L.LightningDataModule):
    """Subclasses save their hyperparameters (with ``batch_size`` and ``num_workers``) and
    define ``make_splits``; ``make_vocab`` when the data has words (or set ``self.vocab``
    while making the splits); ``dataset`` to wrap a split; ``collate`` for their batches."""

    collate = None  # DataLoader's default
    has_words = True  # a vocabulary, and models that take its size

    def __init__(self) -> None:
        super().__init__()
        self.vocab: Vocabulary | None = None
        self.splits: dict[str, Dataset] = {}

    def make_splits(self) -> dict[str, Dataset]:
        raise NotImplementedError

    def make_vocab(self) -> Vocabulary | None:
        return None

    def check_settings(self) -> None:
        """Sizes are positive integers (the number of items of a split may be 0, which makes
        that split empty), worker counts not negative: each bad value one line naming it."""
        from ...resources import check_int

        for name, value in self.hparams.items():
            if name in ("train_size", "val_size", "test_size"):
                if value is not None:
                    check_int(name, value, low=0)
            elif name.endswith("_size") or name == "max_objects":
                if value is not None:
                    check_int(name, value)
            elif name == "num_workers":
                check_int(name, value, low=0)

    def empty_split(self, split: str) -> str:
        """Why ``split`` holds nothing, naming the setting or file that made it so."""
        size = self.hparams.get(f"{split}_size")
        return f"{split}_size is {size}" if size is not None else "no items"

    def setup(self, stage: str | None = None) -> None:
        keep_freed_memory()  # before the loaders allocate: batches of varying shapes stay fast
        if not self.splits:
            self.check_settings()
            self.splits = self.make_splits()
        if self.vocab is None:
            self.vocab = self.make_vocab()

    @property
    def vocab_size(self) -> int:
        if not self.has_words:  # AttributeError: LightningCLI then links no vocabulary size
            raise AttributeError(f"{type(self).__name__} has no vocabulary")
        if self.vocab is None:
            self.setup()
        return len(self.vocab)

    def dataset(self, split: str, train: bool) -> Dataset:
        return self.splits[split]

    def _loader(self, split: str, train: bool) -> DataLoader:
        self.setup()
        if split not in self.splits:
            raise ValueError(f"{type(self).__name__} has no {split} split (it has {', '.join(self.splits)})")
        if len(self.splits[split]) == 0:
            raise ValueError(f"{type(self).__name__}: the {split} split is empty ({self.empty_split(split)})")
        workers = self.hparams.num_workers
        return DataLoader(
            self.dataset(split, train),
            batch_size=self.hparams.batch_size,
            shuffle=train,
            num_workers=workers,
            collate_fn=type(self).collate,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def state_dict(self) -> dict:
        return {"vocab": self.vocab.to_dict()} if self.vocab is not None else {}

    def load_state_dict(self, state_dict: dict) -> None:
        if "vocab" in state_dict:
            self.vocab = Vocabulary.from_dict(state_dict["vocab"])
