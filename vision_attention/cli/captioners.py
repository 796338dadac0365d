"""What ``caption`` and ``score`` share: the captioner a command loads (one, or an ensemble) and
how it is guided (:mod:`vision_attention.inference.guidance`)."""

from __future__ import annotations

import argparse

from ..inference.guidance import GuideSettings
from .arguments import number


def add_guide_arguments(parser: argparse.ArgumentParser) -> None:
    guide = parser.add_argument_group(
        "guided captioning (the backbone's ImageNet classifier asks for the words it sees)"
    )
    guide.add_argument("--no-guide", dest="guide", action="store_false", help="plain beam search, no constraints")
    guide.add_argument(
        "--guide-at",
        type=number("--guide-at"),
        default=GuideSettings.constrain_at,
        metavar="P",
        help=f"evidence a word needs to be asked for (default {GuideSettings.constrain_at})",
    )
    guide.add_argument(
        "--guide-ban-below",
        type=number("--guide-ban-below"),
        default=GuideSettings.suppress_below,
        metavar="P",
        help=f"animal words with less evidence are ruled out (default {GuideSettings.suppress_below})",
    )


def load_captioner(models: list[str], device: str, guide: bool | GuideSettings = True):
    """One captioner, or with several models their ensemble."""
    from ..inference import Captioner, CaptionerEnsemble

    if len(models) == 1:
        return Captioner.from_pretrained(models[0], map_location=device, guide=guide)
    return CaptionerEnsemble.from_pretrained(models, map_location=device, guide=guide)


def guide_settings(args: argparse.Namespace) -> bool | GuideSettings:
    """False for --no-guide; the thresholds given (a default guide where the backbone allows)."""
    if not args.guide:
        return False
    settings = GuideSettings(args.guide_at, args.guide_ban_below)
    return True if settings == GuideSettings() else settings
