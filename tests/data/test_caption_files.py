import json

import pytest

from vision_attention.data import check_images, read_captions_txt, read_karpathy_json, seeded_split


def test_karpathy_json(tmp_path):
    data = {
        "images": [
            {
                "filename": "a.jpg",
                "filepath": "train2014",
                "split": "restval",
                "sentences": [{"tokens": ["a", "dog"], "raw": "A dog."}],
            },
            {"filename": "b.jpg", "split": "test", "sentences": [{"raw": "Two cats, sleeping."}]},
        ]
    }
    (tmp_path / "dataset_coco.json").write_text(json.dumps(data))
    records = read_karpathy_json(tmp_path / "dataset_coco.json", tmp_path)
    assert [r.split for r in records] == ["train", "test"]
    assert records[0].path == tmp_path / "train2014" / "a.jpg" and records[1].path == tmp_path / "b.jpg"
    assert records[1].captions == [["two", "cats", "sleeping"]]
    (tmp_path / "broken.json").write_text('{"images": [{"filename": 1}]}')
    with pytest.raises(ValueError, match="broken.json: not a Karpathy split file"):
        read_karpathy_json(tmp_path / "broken.json", tmp_path)


def test_captions_txt_splits_on_the_first_comma(tmp_path):
    (tmp_path / "captions.txt").write_text(
        "image,caption\nx.jpg,A dog, brown and white, runs .\nx.jpg,A dog runs\ny.jpg,Cats\n", encoding="utf-8"
    )
    records = read_captions_txt(tmp_path / "captions.txt", tmp_path)
    assert [r.path.name for r in records] == ["x.jpg", "y.jpg"]
    assert records[0].captions == [["a", "dog", "brown", "and", "white", "runs"], ["a", "dog", "runs"]]
    (tmp_path / "bad.txt").write_text("image,caption\nx.jpg,fine\nno comma here\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: expected 'image,caption'"):
        read_captions_txt(tmp_path / "bad.txt", tmp_path)
    (tmp_path / "noheader.txt").write_text("x.jpg,a dog\n")
    with pytest.raises(ValueError, match="noheader.txt:1"):
        read_captions_txt(tmp_path / "noheader.txt", tmp_path)


def test_seeded_split_is_deterministic_and_missing_images_are_listed_at_once(tmp_path):
    (tmp_path / "captions.txt").write_text("image,caption\n" + "".join(f"{i}.jpg,a dog\n" for i in range(20)))
    first = [r.split for r in seeded_split(read_captions_txt(tmp_path / "captions.txt", tmp_path), 0.25, 0.1, seed=1)]
    again = [r.split for r in seeded_split(read_captions_txt(tmp_path / "captions.txt", tmp_path), 0.25, 0.1, seed=1)]
    assert first == again and first.count("val") == 5 and first.count("test") == 2
    records = read_captions_txt(tmp_path / "captions.txt", tmp_path)
    (tmp_path / "3.jpg").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="19 of 20 images are missing") as err:
        check_images(records, shown=3)
    assert str(err.value).count(".jpg") == 3


def test_official_split_lists_give_the_splits(tmp_path):
    from PIL import Image

    from vision_attention.data import CaptionFilesDataModule
    from vision_attention.data.caption_files import apply_split_lists

    (tmp_path / "images").mkdir()
    for i in range(6):
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / f"{i}.jpg")
    (tmp_path / "captions.txt").write_text("image,caption\n" + "".join(f"{i}.jpg,a dog number {i}\n" for i in range(6)))
    (tmp_path / "Flickr_8k.trainImages.txt").write_text("0.jpg\n1.jpg\n2.jpg\n")
    (tmp_path / "Flickr_8k.devImages.txt").write_text("3.jpg\n4.jpg\n")
    data = CaptionFilesDataModule(str(tmp_path / "captions.txt"), image_size=8, min_count=1)
    data.setup()
    names = {s: [r.path.name for r in data.splits[s].records] for s in ("train", "val", "test")}
    assert names == {"train": ["0.jpg", "1.jpg", "2.jpg"], "val": ["3.jpg", "4.jpg"], "test": []}  # 5.jpg: in no list
    (tmp_path / "Flickr_8k.testImages.txt").write_text("5.jpg\n")
    data = CaptionFilesDataModule(str(tmp_path / "captions.txt"), image_size=8, min_count=1)
    data.setup()
    assert [r.path.name for r in data.splits["test"].records] == ["5.jpg"]
    assert data.splits["val"][0]["image"].shape == (3, 8, 8)
    (tmp_path / "Flickr_8k.testImages.txt").write_text("5.jpg\n3.jpg\n")
    with pytest.raises(ValueError, match=r"testImages.txt:2: 3.jpg is already in the val split"):
        apply_split_lists(read_captions_txt(tmp_path / "captions.txt", tmp_path / "images"), tmp_path)
    (tmp_path / "Flickr_8k.testImages.txt").write_text("9.jpg\n")
    with pytest.raises(ValueError, match=r"testImages.txt:1: 9.jpg has no captions"):
        apply_split_lists(read_captions_txt(tmp_path / "captions.txt", tmp_path / "images"), tmp_path)
