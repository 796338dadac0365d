"""Errors keep their detail: the list of missing images whole, file and line of a byte that
is not UTF-8, the setting behind an empty split or a size of 0."""

import pytest

from vision_attention.cli import main
from vision_attention.data import ShapesCaptionsDataModule, read_caption_records


def test_the_cli_keeps_every_line_of_a_list_of_missing_images(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    rows = ["image,caption"] + [f"p{i}.jpg,a dog runs" for i in range(14)]
    (tmp_path / "captions.txt").write_text("\n".join(rows) + "\n")
    for i in range(12):
        (tmp_path / "images" / f"p{i}.jpg").write_bytes(b"x")
    status = main(["score", "--annotations", str(tmp_path / "captions.txt"), "--split", "train"])
    err = capsys.readouterr().err.splitlines()
    assert status == 2 and err[0] == "vision-attention: error: 2 of 14 images are missing, e.g.:"
    assert [line.strip() for line in err[1:]] == [
        str(tmp_path / "images" / "p12.jpg"),
        str(tmp_path / "images" / "p13.jpg"),
    ]


def test_a_byte_that_is_not_utf8_names_the_file_and_line(tmp_path):
    (tmp_path / "captions.txt").write_bytes(b"image,caption\na.jpg,a dog runs\nb.jpg,a caf\xe9 at night\n")
    with pytest.raises(ValueError, match=r"captions.txt:3: byte 0xe9 is not UTF-8"):
        read_caption_records(tmp_path / "captions.txt")


def test_a_header_only_captions_file_is_named(tmp_path):
    (tmp_path / "captions.txt").write_text("image,caption\n")
    with pytest.raises(ValueError, match=r"captions.txt: no captions after the header"):
        read_caption_records(tmp_path / "captions.txt")


def test_sizes_of_zero_name_their_setting():
    with pytest.raises(ValueError, match="image_size must be an integer >= 1, got 0"):
        ShapesCaptionsDataModule(image_size=0).setup()
    data = ShapesCaptionsDataModule(train_size=0, val_size=4, test_size=4, batch_size=2, image_size=16)
    with pytest.raises(ValueError, match=r"the train split is empty \(train_size is 0\)"):
        data.train_dataloader()
    assert len(next(iter(data.val_dataloader()))["images"]) == 2  # the other splits still load
