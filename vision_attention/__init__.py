"""vision_attention: attention in vision, correct to the papers.

One shared attention core (:mod:`vision_attention.layers`) under Show, Attend and
Tell captioning, DRAW / alignDRAW image generation and attentive text models.
"""

__version__ = "0.1.0"
