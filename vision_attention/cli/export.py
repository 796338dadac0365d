"""``vision-attention export``: a Lightning checkpoint as a model folder (``model.safetensors`` +
``config.json`` [+ a card]), which every loader reads and no pickle can hide in."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..kinds import KINDS, Kind

NAME, HELP = "export", "write a Lightning checkpoint as a model folder (model.safetensors + config.json)"
EXPORTED = tuple(kind for kind in Kind if kind != Kind.JUDGE)  # a judge stays a checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint (.ckpt) of any kind but a judge")
    parser.add_argument("folder", type=Path, help="the folder to write (refused if it exists, unless --overwrite)")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16"),
        help="how floating weights are stored (default float32; loaded as float32)",
    )
    parser.add_argument("--card", type=Path, help="a model card (Markdown) to include as README.md")
    parser.add_argument("--meta", type=Path, help="a JSON file of figures and provenance for config.json's meta")
    parser.add_argument("--overwrite", action="store_true", help="replace the folder if it exists")


def run(args: argparse.Namespace) -> int:
    from .. import inference
    from ..files.model_folders import check_folder_output, is_model_folder
    from ..files.trained import load_trained

    if is_model_folder(args.checkpoint):
        raise ValueError(f"{args.checkpoint}: a model folder already; export turns a checkpoint (.ckpt) into one")
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint file")
    check_folder_output(args.folder, args.overwrite)  # before any work: a folder it may not replace
    card, meta = text_argument("--card", args.card), text_argument("--meta", args.meta)
    try:
        meta = json.loads(meta) if meta is not None else None
    except json.JSONDecodeError as err:
        raise ValueError(f"--meta {args.meta}: not JSON ({err})") from err
    kind = Kind(load_trained(args.checkpoint, EXPORTED, "a model that can be exported").kind)
    reader = getattr(inference, KINDS[kind].inference)
    options = {"guide": False} if kind == Kind.CAPTIONER else {}  # exporting needs no classifier beside it
    model = reader.from_pretrained(args.checkpoint, **options)
    print(model.save_pretrained(args.folder, dtype=args.dtype, card=card, meta=meta, overwrite=args.overwrite))
    return 0


def text_argument(name: str, path: Path | None) -> str | None:
    """The UTF-8 text of the file an option names, or one line naming the option."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{name} {path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    except OSError as err:
        raise OSError(f"{name} {path}: cannot be read ({err.strerror or err})") from err
