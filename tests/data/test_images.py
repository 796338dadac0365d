"""Real-photo decoding: every bad input the tests make themselves gets the documented behaviour."""

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from vision_attention.data import BadImageError, CaptionedImage, CaptionedImages, collate_captions, load_rgb
from vision_attention.data.caption_sets import CaptionItems
from vision_attention.vocab import Vocabulary


def jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))


def test_bad_files_raise_errors_naming_them(tmp_path, photo):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "truncated.jpg").write_bytes(jpeg_bytes(photo)[:300])
    (tmp_path / "text.jpg").write_text("this is not an image")
    for name, reason in (("empty.jpg", "empty"), ("truncated.jpg", "cannot decode"), ("text.jpg", "not an image")):
        with pytest.raises(BadImageError, match=reason) as err:
            load_rgb(tmp_path / name)
        assert name in str(err.value)
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        load_rgb(tmp_path / "missing.jpg")


def test_modes_become_rgb(tmp_path, photo):
    rgba = photo.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: composited on white
    rgba.save(tmp_path / "rgba.png")
    out = load_rgb(tmp_path / "rgba.png")
    assert out.mode == "RGB" and np.asarray(out).min() == 255
    Image.fromarray((np.arange(12 * 16).reshape(12, 16) * 300).astype(np.uint16)).save(tmp_path / "deep.png")
    deep = load_rgb(tmp_path / "deep.png")
    assert deep.mode == "RGB" and deep.size == (16, 12)
    values = np.asarray(deep)[..., 0].astype(int)
    assert values.max() == round(191 * 300 / 65535 * 255) and values.max() > 200 and values[0, 0] == 0
    photo.convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert load_rgb(tmp_path / "cmyk.jpg").mode == "RGB"
    photo.convert("L").save(tmp_path / "gray.png")
    photo.convert("P").save(tmp_path / "palette.png")
    assert load_rgb(tmp_path / "gray.png").mode == "RGB" and load_rgb(tmp_path / "palette.png").mode == "RGB"


def test_exif_orientation_is_applied(tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    photo.save(tmp_path / "rotated.jpg", exif=exif)
    upright = load_rgb(tmp_path / "rotated.jpg")
    assert photo.size == (40, 30) and upright.size == (30, 40)


def test_one_preprocessing_path_for_files_pil_images_arrays_and_tensors(tmp_path, photo):
    """The same picture gives the same model input however it is handed over."""
    from vision_attention.data.image_decoding import as_rgb, to_model_input

    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "rotated.png", exif=exif)
    from_file = to_model_input(as_rgb(tmp_path / "rotated.png"), 16)
    with Image.open(tmp_path / "rotated.png") as opened:
        from_pil = to_model_input(as_rgb(opened), 16)  # EXIF applied for PIL images too
    upright = np.asarray(load_rgb(tmp_path / "rotated.png"))
    from_array = to_model_input(as_rgb(upright), 16)
    from_uint8 = to_model_input(as_rgb(torch.from_numpy(upright).permute(2, 0, 1)), 16)
    from_float = to_model_input(as_rgb(torch.from_numpy(upright).permute(2, 0, 1) / 255.0), 16)
    for other in (from_pil, from_array, from_uint8, from_float):
        torch.testing.assert_close(other, from_file)
    assert from_file.shape == (3, 16, 16) and 0.0 <= from_file.min() and from_file.max() <= 1.0
    deep = Image.fromarray((np.arange(12 * 16).reshape(12, 16) * 300).astype(np.uint16))
    deep.save(tmp_path / "deep.png")
    torch.testing.assert_close(to_model_input(as_rgb(deep), 8), to_model_input(as_rgb(tmp_path / "deep.png"), 8))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*divide 0-255 images by 255"):
        as_rgb(torch.full((3, 4, 4), 200.0))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        as_rgb(torch.rand(4, 4))


def test_decompression_bomb_limit_stays_on_and_names_the_file(tmp_path, photo, monkeypatch):
    photo.save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 x 30 > 2 x 100 trips the error
    with pytest.raises(BadImageError, match="bomb.png.*decompression bomb"):
        load_rgb(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # > 1000 pixels: Pillow's warning, refused too
    with pytest.raises(BadImageError, match="decompression bomb"):
        load_rgb(tmp_path / "bomb.png")


def test_skip_bad_images_warns_once_per_file_counts_and_drops_from_batch(tmp_path, photo):
    photo.save(tmp_path / "good.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"")
    records = [CaptionedImage(tmp_path / n, [["a", "photo"]], "train") for n in ("good.jpg", "bad.jpg", "bad.jpg")]
    to_tensor = lambda im: torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255
    strict = CaptionedImages(records, to_tensor)
    with pytest.raises(BadImageError, match="bad.jpg"):
        strict[1]
    lenient = CaptionedImages(records, to_tensor, skip_bad_images=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = [CaptionItems(lenient, Vocabulary(["a", "photo"]), train=False)[i] for i in range(3)]
    assert sum("bad.jpg" in str(w.message) for w in caught) == 1
    assert lenient.skipped == 2 and items[1] is None
    batch = collate_captions(items)
    assert batch["images"].shape == (1, 3, 30, 40) and batch["paths"] == [str(tmp_path / "good.jpg")]
