"""The floors of the package: models, layers, data, the vocabulary and the inference classes
import without Lightning, so a user who only captions or draws never loads it."""

import subprocess
import sys

import pytest

LIGHTNING_FREE = ["vision_attention.models", "vision_attention.layers", "vision_attention.data",
                  "vision_attention.vocab", "vision_attention.captioner", "vision_attention.drawer",
                  "vision_attention.text", "vision_attention.judging"]


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
