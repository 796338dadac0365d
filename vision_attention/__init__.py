"""vision_attention: attention in vision, correct to the papers.

One shared attention core (:mod:`vision_attention.layers`) under Show, Attend and
Tell captioning, DRAW / alignDRAW image generation and attentive text models.
``Captioner`` and ``Drawer`` use trained checkpoints.
"""

from .allocator import keep_freed_memory

keep_freed_memory()  # before torch allocates: shapes that vary per batch stay fast

__version__ = "0.1.0"
__all__ = ["Captioner", "Drawer", "__version__"]


def __getattr__(name: str):
    # Imported on first use, so that `import vision_attention` (and the CLI's --help) stay fast.
    if name == "Captioner":
        from .captioner import Captioner

        return Captioner
    if name == "Drawer":
        from .drawer import Drawer

        return Drawer
    raise AttributeError(f"module 'vision_attention' has no attribute {name!r}")
