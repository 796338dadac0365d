"""Model folders (model.safetensors + config.json): save_pretrained then from_pretrained gives
the same model, `export` turns a checkpoint into one, and every damaged or unfitting file is
refused with one line naming it."""

import json

import pytest
import torch

from vision_attention.cli import main
from vision_attention.files.checkpoints import CheckpointError
from vision_attention.files.model_folders import CONFIG, WEIGHTS, FolderError, read_config, write_folder
from vision_attention.inference import Captioner, Classifier, Drawer
from vision_attention.inference.loading import load_trained
from vision_attention.models import DRAW, AlignDRAW, AttentionClassifier, ShowAttendTell
from vision_attention.models.backbones import Backbone
from vision_attention.vocab import Vocabulary


def assert_same_captions(a: Captioner, b: Captioner, photos) -> None:
    for x, y in zip(a.caption(photos, beam_size=2, max_len=6), b.caption(photos, beam_size=2, max_len=6)):
        assert x.text == y.text and x.score == pytest.approx(y.score, abs=1e-6)
        torch.testing.assert_close(x.alphas, y.alphas)


def test_save_pretrained_then_from_pretrained_gives_identical_captions(tiny_captioner, tmp_path):
    checkpoint, photos = tiny_captioner
    original = Captioner.from_checkpoint(checkpoint)
    folder = original.save_pretrained(tmp_path / "captioner", meta={"note": "three steps"})
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG, WEIGHTS]
    loaded = Captioner.from_pretrained(folder)
    for name, tensor in original.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    assert loaded.vocab == original.vocab and loaded.image_size == original.image_size == 32
    assert loaded.meta == {"note": "three steps"} and loaded.name == str(folder)
    assert_same_captions(original, loaded, photos)
    with open(folder / WEIGHTS, "rb") as f:
        assert b"pickle" not in f.read(200) and read_config(folder)["weights"]["dtype"] == "float32"


def test_float16_storage_halves_the_file_and_loads_as_float32(tiny_captioner, tmp_path):
    checkpoint, _ = tiny_captioner
    original = Captioner.from_checkpoint(checkpoint)
    full = original.save_pretrained(tmp_path / "f32")
    half = original.save_pretrained(tmp_path / "f16", dtype="float16")
    assert (half / WEIGHTS).stat().st_size < 0.6 * (full / WEIGHTS).stat().st_size
    loaded = Captioner.from_pretrained(half)
    for name, tensor in original.model.state_dict().items():
        got = loaded.model.state_dict()[name]
        assert got.dtype == tensor.dtype, name
        if tensor.is_floating_point():
            torch.testing.assert_close(got, tensor, atol=2e-3, rtol=1e-3)


def test_drawers_and_text_models_round_trip(tmp_path):
    torch.manual_seed(0)
    draw = Drawer(DRAW(image_shape=(1, 12, 12), steps=3, read_n=2, write_n=3, enc_dim=8, dec_dim=8, z_dim=4))
    again = Drawer.from_pretrained(draw.save_pretrained(tmp_path / "draw"))
    assert torch.equal(draw.sample(2, seed=3).canvases, again.sample(2, seed=3).canvases)
    vocab = Vocabulary(["a", "red", "circle"])
    align = Drawer(
        AlignDRAW(
            len(vocab),
            image_shape=(1, 12, 12),
            steps=3,
            read_n=2,
            write_n=3,
            enc_dim=8,
            dec_dim=8,
            z_dim=4,
            embed_dim=4,
            lang_dim=4,
            align_dim=4,
        ),
        vocab=vocab,
    )
    again = Drawer.from_pretrained(align.save_pretrained(tmp_path / "align"))
    assert again.conditional and again.vocab == vocab
    assert torch.equal(
        align.sample(2, seed=1, caption="a red circle").canvases,
        again.sample(2, seed=1, caption="a red circle").canvases,
    )
    classifier = Classifier(AttentionClassifier(len(vocab), embed_dim=4, hidden_dim=6), vocab)
    again = Classifier.from_pretrained(classifier.save_pretrained(tmp_path / "text"))
    assert [r.probability for r in again.classify(["a red circle"])] == [
        r.probability for r in classifier.classify(["a red circle"])
    ]


def test_the_frozen_lite0_trunk_is_not_stored_but_taken_from_its_package(tmp_path):
    torch.manual_seed(0)
    encoder = Backbone("efficientnet_lite0", weights="DEFAULT", grid=None, trainable_blocks=2)
    model = ShowAttendTell(10, encoder, embed_dim=8, hidden_dim=16, attn_dim=8)
    with torch.no_grad():
        model.encoder.blocks[-1][0].weight.mul_(1.1)  # the fine-tuned head differs from ImageNet's
    captioner = Captioner(model, Vocabulary(["a", "dog", "runs", "on", "grass", "the"]), 224)
    folder = captioner.save_pretrained(tmp_path / "lite0")
    config = read_config(folder)
    prefixes = config["weights"]["packaged"]["prefixes"]
    assert prefixes == [f"encoder.blocks.{i}." for i in range(encoder.frozen)] and encoder.frozen == 7
    assert config["model_config"]["encoder"]["weights"] == "DEFAULT"
    stored = load_trained(folder, (), "").state
    assert not any(k.startswith(tuple(prefixes)) for k in stored) and "encoder.blocks.8.0.weight" in stored
    trunk_tensors = sum(v.numel() for k, v in model.state_dict().items() if k.startswith(tuple(prefixes)))
    assert trunk_tensors > 2_000_000  # what the folder need not hold
    loaded = Captioner.from_pretrained(folder)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name
    photo = torch.rand(3, 224, 224)
    assert (
        loaded.caption(photo, beam_size=2, max_len=4)[0].text
        == captioner.caption(photo, beam_size=2, max_len=4)[0].text
    )


def test_a_trunk_block_that_changed_is_stored(tmp_path):
    encoder = Backbone("efficientnet_lite0", weights="DEFAULT", grid=None, trainable_blocks=2)
    with torch.no_grad():
        encoder.blocks[3][0].conv_pw.weight.add_(0.01)  # frozen, yet not ImageNet's any more
    model = ShowAttendTell(5, encoder, embed_dim=8, hidden_dim=16, attn_dim=8)  # "a" and the 4 special tokens
    folder = Captioner(model, Vocabulary(["a"]), 224).save_pretrained(tmp_path / "changed")
    assert read_config(folder)["weights"]["packaged"]["prefixes"] == [f"encoder.blocks.{i}." for i in range(3)]
    loaded = Captioner.from_pretrained(folder)
    assert torch.equal(loaded.model.encoder.blocks[3][0].conv_pw.weight, encoder.blocks[3][0].conv_pw.weight)


def _one_line_refusal(argv, capsys, *expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(e in err[0] for e in expected), err


def test_damaged_or_missing_files_are_refused_with_one_line_naming_them(tiny_captioner, tmp_path, capsys):
    checkpoint, photos = tiny_captioner
    folder = Captioner.from_checkpoint(checkpoint).save_pretrained(tmp_path / "ok")
    caption = ["caption", "--model", str(folder), str(photos[0])]
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-3] ^= 0xFF  # one flipped bit pattern inside a tensor: the header still parses
    (folder / WEIGHTS).write_bytes(bytes(data))
    _one_line_refusal(caption, capsys, str(folder / WEIGHTS), "damaged or replaced")
    (folder / WEIGHTS).unlink()
    _one_line_refusal(caption, capsys, str(folder / WEIGHTS), "missing")
    (folder / CONFIG).write_text('{"format": "vision_attention/1", "kind"')
    _one_line_refusal(caption, capsys, str(folder / CONFIG), "not JSON")
    (folder / CONFIG).unlink()
    _one_line_refusal(caption, capsys, str(folder / CONFIG), "missing")


def test_weights_that_do_not_fit_their_config_are_refused_before_loading(tiny_captioner, tmp_path):
    checkpoint, _ = tiny_captioner
    captioner = Captioner.from_checkpoint(checkpoint)
    folder = captioner.save_pretrained(tmp_path / "ok")
    config = json.loads((folder / CONFIG).read_text())

    def refused(change, *expected):
        broken = json.loads(json.dumps(config))
        change(broken)
        (folder / CONFIG).write_text(json.dumps(broken))
        with pytest.raises(CheckpointError) as err:
            Captioner.from_pretrained(folder)
        assert len(str(err.value).splitlines()) == 1 and all(e in str(err.value) for e in expected), err.value

    refused(lambda c: c["model_config"].update(hidden_dim=17), "is (", "but the config builds")
    refused(lambda c: c["model_config"].update(gating=False), "unexpected (e.g. gate.")
    refused(lambda c: c["model_config"].update(colour="red"), "does not build a ShowAttendTell", "colour")
    refused(lambda c: c.update(kind="drawer"), "a drawer model, not a captioner")
    refused(lambda c: c["model_config"].update(hidden_dim="big"), "does not build a ShowAttendTell")
    refused(lambda c: c["model_config"].update(hidden_dim=-3), "does not build a ShowAttendTell", "negative dimension")
    (folder / CONFIG).write_text(json.dumps(config))
    nan = captioner.model.state_dict()
    nan["out.bias"] = torch.full_like(nan["out.bias"], float("nan"))
    captioner.model.load_state_dict(nan)
    with pytest.raises(CheckpointError, match="out.bias holds NaN"):
        Captioner.from_pretrained(captioner.save_pretrained(tmp_path / "nan"))


def test_a_folder_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    write_folder(tmp_path / "m", {"kind": "x", "model_class": "X", "model_config": {}}, {"w": torch.ones(2)})
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        write_folder(tmp_path / "m", {"kind": "x", "model_class": "X", "model_config": {}}, {"w": torch.zeros(2)})
    import vision_attention.files.model_folders as folders

    def failing(new, folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folders, "_replace_folder", failing)
    with pytest.raises(OSError, match="No space"):
        write_folder(
            tmp_path / "m", {"kind": "x", "model_class": "X", "model_config": {}}, {"w": torch.zeros(2)}, overwrite=True
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary left, the old folder whole
    assert read_config(tmp_path / "m")["kind"] == "x"
    monkeypatch.undo()
    write_folder(
        tmp_path / "m", {"kind": "y", "model_class": "X", "model_config": {}}, {"w": torch.zeros(2)}, overwrite=True
    )
    assert read_config(tmp_path / "m")["kind"] == "y" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_export_writes_a_folder_that_captions_as_the_checkpoint_does(tiny_captioner, tmp_path, capsys):
    checkpoint, photos = tiny_captioner
    folder = tmp_path / "exported"
    card = tmp_path / "card.md"
    card.write_text("# A tiny captioner\n")
    assert main(["export", str(checkpoint), str(folder), "--card", str(card)]) == 0
    assert (folder / "README.md").read_text() == "# A tiny captioner\n"
    capsys.readouterr()
    assert main(["caption", "--checkpoint", str(checkpoint), *map(str, photos)]) == 0
    from_checkpoint = capsys.readouterr().out
    assert main(["caption", "--model", str(folder), *map(str, photos)]) == 0
    assert capsys.readouterr().out == from_checkpoint
    _one_line_refusal(["export", str(checkpoint), str(folder)], capsys, "exists and is not empty")
    assert main(["export", str(checkpoint), str(folder), "--overwrite", "--dtype", "float16"]) == 0
    assert read_config(folder)["weights"]["dtype"] == "float16"


def test_a_hub_id_is_downloaded_and_a_failed_download_is_one_line(tiny_captioner, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    checkpoint, photos = tiny_captioner
    folder = Captioner.from_checkpoint(checkpoint).save_pretrained(tmp_path / "snapshot")
    asked = []
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda repo_id, **kw: asked.append((repo_id, kw)) or str(folder)
    )
    assert Captioner.from_pretrained("someone/tiny-captioner").vocab == Captioner.from_pretrained(folder).vocab
    assert asked[0][0] == "someone/tiny-captioner" and set(asked[0][1]["allow_patterns"]) == {
        CONFIG,
        WEIGHTS,
        "README.md",
    }

    def offline(repo_id, **kw):
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    _one_line_refusal(
        ["caption", "--model", "someone/tiny-captioner", str(photos[0])],
        capsys,
        "someone/tiny-captioner",
        "not downloadable from the Hugging Face Hub (ConnectionError)",
    )
    with pytest.raises(FolderError):
        Captioner.from_pretrained("someone/tiny-captioner")


def test_a_config_claiming_a_huge_model_is_refused_before_anything_is_allocated(tiny_captioner, tmp_path, monkeypatch):
    import resource
    import time

    from vision_attention.inference import loading

    checkpoint, _ = tiny_captioner
    folder = Captioner.from_checkpoint(checkpoint).save_pretrained(tmp_path / "huge")
    config = json.loads((folder / CONFIG).read_text())
    config["model_config"]["hidden_dim"] = 10**7  # 400 billion weights: far beyond any machine's memory
    (folder / CONFIG).write_text(json.dumps(config))
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(
        CheckpointError, match=r": [\w.]+ is \([\d, ]+\) but the config builds \([\d, ]*10000000[\d, ]*\)$"
    ):
        Captioner.from_pretrained(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # under 200 MB more
    assert time.perf_counter() - start < 30
    # Weights that fit a model too large for the memory free: refused by its size, unbuilt.
    folder = Captioner.from_checkpoint(checkpoint).save_pretrained(tmp_path / "fits")
    monkeypatch.setattr(loading, "free_bytes", lambda device: 20_000)  # as on a machine with 20 kB free
    with pytest.raises(
        CheckpointError, match=r"its config builds a model of 0M weights \(0.0 GiB\), more than the 0.0 GiB free"
    ):
        Captioner.from_pretrained(folder)


def test_a_diverged_checkpoint_is_refused_at_load_not_captioned_without_a_word(tiny_captioner, tmp_path, capsys):
    checkpoint, photos = tiny_captioner
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["state_dict"]["model.lstm.weight_hh"] = torch.full_like(
        state["state_dict"]["model.lstm.weight_hh"], float("nan")
    )
    torch.save(state, tmp_path / "nan.ckpt")
    _one_line_refusal(
        ["caption", "--checkpoint", str(tmp_path / "nan.ckpt"), str(photos[0])],
        capsys,
        "lstm.weight_hh holds NaN or infinite values (a diverged run?)",
    )
