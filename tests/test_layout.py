"""The floors of the package: models, layers, data, the vocabulary and the inference classes
import without Lightning, so a user who only captions or draws never loads it."""

import subprocess
import sys

import pytest

LIGHTNING_FREE = ["vision_attention.models", "vision_attention.layers", "vision_attention.data",
                  "vision_attention.vocab", "vision_attention.inference"]


@pytest.mark.parametrize("module", LIGHTNING_FREE)
def test_module_imports_without_lightning(module):
    code = f"import sys, {module}; loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')); print(loaded); assert not loaded"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_data_modules_are_still_reached_from_the_data_package():
    import lightning as L

    from vision_attention import data

    assert issubclass(data.ShapesCaptionsDataModule, L.LightningDataModule)
    with pytest.raises(AttributeError, match="NoSuchModule"):
        data.NoSuchModule  # noqa: B018


def test_every_family_batches_images_under_one_key():
    from vision_attention.data import ImagesDataModule, ShapesCaptionsDataModule

    for data in (ShapesCaptionsDataModule(train_size=8, val_size=4, test_size=4, batch_size=4, image_size=16),
                 ImagesDataModule("shapes", train_size=8, val_size=4, test_size=4, batch_size=4, image_size=16)):
        data.setup()
        batch = next(iter(data.train_dataloader()))
        assert "image" not in batch and batch["images"].shape[:2] == (4, 3), type(data).__name__
