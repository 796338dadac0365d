"""The datasets/ recipes' conversion logic, on small local fixtures (no downloads)."""

import hashlib
import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vision_attention.data import load_binarized_mnist, read_captions_txt, read_sentiment_file

RECIPES = Path(__file__).resolve().parents[1] / "datasets"


def recipe(name):
    sys.path.insert(0, str(RECIPES))
    try:
        spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(RECIPES))


def test_binarized_mnist_amat_to_npz_with_content_checksums(tmp_path):
    bm = recipe("binarized_mnist")
    rng = np.random.default_rng(0)
    arrays = {s: rng.integers(0, 2, (n, 784), dtype=np.uint8) for s, n in (("train", 4), ("valid", 2), ("test", 3))}
    for split, array in arrays.items():
        np.savetxt(tmp_path / f"binarized_mnist_{split}.amat", array, fmt="%d")
    sums = {s: hashlib.sha256(a.tobytes()).hexdigest() for s, a in arrays.items()}
    counts = {s: len(a) for s, a in arrays.items()}
    bm.convert(tmp_path, tmp_path / "out", sums, counts)
    assert np.array_equal(load_binarized_mnist(tmp_path / "out", "valid").reshape(2, 784), arrays["valid"])
    with pytest.raises(SystemExit, match="content sha256"):
        bm.convert(tmp_path, tmp_path / "out2", {**sums, "test": "0" * 64}, counts)
    assert set(bm.ARRAY_SHA256) == {"train", "valid", "test"}


def test_flickr8k_token_file_becomes_captions_txt(tmp_path):
    fl = recipe("flickr8k")
    rows = fl.token_file_to_captions(["1000.jpg#0\tA child , in pink , climbs .", "1000.jpg#1\tA girl climbs", ""])
    fl.write_captions(rows, tmp_path / "captions.txt")
    records = read_captions_txt(tmp_path / "captions.txt", tmp_path)
    assert records[0].captions == [["a", "child", "in", "pink", "climbs"], ["a", "girl", "climbs"]]
    with pytest.raises(SystemExit, match="token.txt:1"):
        fl.token_file_to_captions(["no tab here"])


def test_flickr8k_split_lists_are_written_beside_the_captions(tmp_path):
    fl = recipe("flickr8k")
    counts = {"train": 6000, "dev": 1000, "test": 1000}
    with zipfile.ZipFile(tmp_path / "text.zip", "w") as zf:
        for split, n in counts.items():
            zf.writestr(f"Flickr_8k.{split}Images.txt", "".join(f"{split}{i}.jpg\n" for i in range(n)))
    with zipfile.ZipFile(tmp_path / "text.zip") as zf:
        fl.write_split_lists(zf, tmp_path)
    assert (tmp_path / "Flickr_8k.devImages.txt").read_text().split() == [f"dev{i}.jpg" for i in range(1000)]
    with zipfile.ZipFile(tmp_path / "short.zip", "w") as zf:
        zf.writestr("Flickr_8k.trainImages.txt", "a.jpg\n")
    with (
        zipfile.ZipFile(tmp_path / "short.zip") as zf,
        pytest.raises(SystemExit, match="expected 6000 images, found 1"),
    ):
        fl.write_split_lists(zf, tmp_path)


def test_sentiment_archive_is_extracted_and_verified(tmp_path):
    se = recipe("sentiment")
    texts = {
        "amazon_cells_labelled.txt": "good\t1\n",
        "yelp_labelled.txt": "bad\t0\n",
        "imdb_labelled.txt": "odd\u0085 one\t1\n",
    }
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        for name, text in texts.items():
            zf.writestr(f"sentiment labelled sentences/{name}", text.encode())
        zf.writestr("__MACOSX/sentiment labelled sentences/._imdb_labelled.txt", b"junk")
    sums = {n: hashlib.sha256(t.encode()).hexdigest() for n, t in texts.items()}
    se.extract(tmp_path / "s.zip", tmp_path / "out", sums)
    assert read_sentiment_file(tmp_path / "out" / "imdb_labelled.txt") == [("odd\u0085 one", 1)]
    with pytest.raises(SystemExit, match="differs from the published"):
        se.extract(tmp_path / "s.zip", tmp_path / "out", {**sums, "yelp_labelled.txt": "0" * 64})


def test_download_refuses_a_corrupt_existing_file(tmp_path):
    fetch = recipe("_fetch")
    (tmp_path / "f.gz").write_bytes(b"abc")
    assert (
        fetch.download("http://unused.invalid/f.gz", tmp_path / "f.gz", hashlib.md5(b"abc").hexdigest(), "md5")
        == tmp_path / "f.gz"
    )
    with pytest.raises(SystemExit, match="differs from the published"):
        fetch.download("http://unused.invalid/f.gz", tmp_path / "f.gz", "0" * 32, "md5")


def test_image_archives_are_flattened_from_zip_and_tar(tmp_path):
    import tarfile

    fetch = recipe("_fetch")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("train2014/x.jpg", b"1")
        zf.writestr("train2014/notes.txt", b"skip me")
        zf.writestr("__MACOSX/train2014/._x.jpg", b"junk")
    assert fetch.extract_images(tmp_path / "a.zip", tmp_path / "zip_out") == 1
    assert (tmp_path / "zip_out" / "x.jpg").read_bytes() == b"1"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "y.JPG").write_bytes(b"2")
    with tarfile.open(tmp_path / "b.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "src" / "y.JPG", arcname="flickr30k-images/y.JPG")
    assert fetch.extract_images(tmp_path / "b.tar.gz", tmp_path / "tar_out") == 1
    assert (tmp_path / "tar_out" / "y.JPG").read_bytes() == b"2"
