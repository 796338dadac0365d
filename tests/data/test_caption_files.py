import json

import pytest

from vision_attention.data import check_images, read_captions_txt, read_karpathy_json, seeded_split


def test_karpathy_json(tmp_path):
    data = {"images": [
        {"filename": "a.jpg", "filepath": "train2014", "split": "restval", "sentences": [{"tokens": ["a", "dog"], "raw": "A dog."}]},
        {"filename": "b.jpg", "split": "test", "sentences": [{"raw": "Two cats, sleeping."}]},
    ]}
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
