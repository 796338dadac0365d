"""vision_attention: attention in vision, correct to the papers.

One shared attention core (:mod:`vision_attention.layers`) under Show, Attend and
Tell captioning, DRAW / alignDRAW image generation and attentive text models.
``Captioner``, ``Drawer``, ``Classifier``, ``Translator`` and ``Judge``
(:mod:`vision_attention.inference`) use trained checkpoints.
"""

__version__ = "0.1.0"
__all__ = ["Captioner", "Classifier", "Drawer", "Judge", "Translator", "__version__"]
INFERENCE = ("Captioner", "Classifier", "Drawer", "Judge", "Translator")


def __getattr__(name: str):
    # Imported on first use, so that `import vision_attention` (and the CLI's --help) stay fast.
    if name in INFERENCE:
        from . import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'vision_attention' has no attribute {name!r}")
