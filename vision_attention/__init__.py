"""vision_attention: attention in vision, correct to the papers.

One shared attention core (:mod:`vision_attention.layers`) under Show, Attend and
Tell captioning, DRAW / alignDRAW image generation and attentive text models.
``Captioner``, ``Drawer``, ``Classifier``, ``Translator`` and ``Judge``
(:mod:`vision_attention.inference`) use trained checkpoints.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"
# Module paths from before the package grouped its floors, which YAML configs (class_path:
# vision_attention.backbones.Backbone), saved run configs and users' scripts still name.
MOVED = {
    "vision_attention.backbones": "vision_attention.models.backbones",
    "vision_attention.checkpoints": "vision_attention.files.checkpoints",
    "vision_attention.model_folders": "vision_attention.files.model_folders",
    "vision_attention.pypi_weights": "vision_attention.files.pypi_weights",
    "vision_attention.outputs": "vision_attention.files.outputs",
    "vision_attention.curves": "vision_attention.viz.curves",
    "vision_attention.cli_caption": "vision_attention.cli.caption",
    "vision_attention.lightning_cli": "vision_attention.cli.lightning",
}
__all__ = ["Captioner", "Classifier", "Drawer", "Judge", "Translator", "__version__"]
INFERENCE = ("Captioner", "Classifier", "Drawer", "Judge", "Translator")


def __getattr__(name: str):
    # Imported on first use, so that `import vision_attention` (and the CLI's --help) stay fast.
    if name in INFERENCE:
        from . import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'vision_attention' has no attribute {name!r}")


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module now at its new one (the same module object)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already run under its new name


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
