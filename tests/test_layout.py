"""The floors of the package: models, layers, data, the vocabulary and the inference classes
import without Lightning, so a user who only captions or draws never loads it."""

import subprocess
import sys

import pytest

LIGHTNING_FREE = [
    "vision_attention.models",
    "vision_attention.layers",
    "vision_attention.data",
    "vision_attention.vocab",
    "vision_attention.inference",
]


@pytest.mark.parametrize("module", LIGHTNING_FREE)
def test_module_imports_without_lightning(module):
    code = (
        f"import sys, {module}; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')); "
        "print(loaded); assert not loaded"
    )
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

    for data in (
        ShapesCaptionsDataModule(train_size=8, val_size=4, test_size=4, batch_size=4, image_size=16),
        ImagesDataModule("shapes", train_size=8, val_size=4, test_size=4, batch_size=4, image_size=16),
    ):
        data.setup()
        batch = next(iter(data.train_dataloader()))
        assert "image" not in batch and batch["images"].shape[:2] == (4, 3), type(data).__name__


def test_the_readme_layout_names_every_module_and_only_those():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    section = (root / "README.md").read_text().split("## Layout", 1)[1].split("```", 2)[1]
    named, folder = set(), ""
    for line in section.splitlines():
        words, indent = line.split(), len(line) - len(line.lstrip())
        if indent == 2:  # a top-level entry: a folder, or files of the package's root
            folder = words[0] if words[0].endswith("/") else ""
        elif indent == 4 and words[0].endswith("/"):  # a folder inside one
            folder = folder.split("/")[0] + "/" + words[0]
            continue
        names = [w for w in words if re.fullmatch(r"[a-z_0-9]+\.py", w)]
        named |= {(folder if indent > 2 else "") + n for n in names}
    package = {
        str(p.relative_to(root / "vision_attention"))
        for p in (root / "vision_attention").rglob("*.py")
        if p.name != "__init__.py"
    }
    assert named == package


def test_every_lightning_module_says_its_checkpoint_kind():
    import lightning as L

    from vision_attention import lit

    modules = [
        getattr(lit, n)
        for n in lit.__all__
        if isinstance(getattr(lit, n), type) and issubclass(getattr(lit, n), L.LightningModule) and n != "VisionModule"
    ]
    assert len(modules) == 7 and all(issubclass(m, lit.VisionModule) and m.kind for m in modules)


def test_models_and_layers_import_no_floor_above_them():
    """layers/ imports nothing of ours; models/ only layers, the PyPI weights' file format, the
    shipped weights' table (as torchvision's builders name their weights), configs and the vocabulary."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "vision_attention"
    allowed = {"layers": set(), "models": {"layers", "files", "pretrained", "vocab", "models", "configured"}}
    for floor, may in allowed.items():
        for path in (package / floor).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..x import y
                    assert (node.module or "").split(".")[0] in may, f"{path.name} imports ..{node.module}"


def test_the_judge_heads_are_the_data_attributes():
    from vision_attention.data.attributes import SCHEMAS
    from vision_attention.models.scene_judge import SCHEMAS as HEADS

    assert HEADS == SCHEMAS
