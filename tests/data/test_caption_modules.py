import torch
from lightning.pytorch.utilities import move_data_to_device

from vision_attention.data import CaptionFilesDataModule, ShapesCaptionsDataModule, Vocabulary


def test_shapes_module_batches_padded_captions_and_keeps_vocab_in_state():
    dm = ShapesCaptionsDataModule(train_size=64, val_size=16, test_size=16, batch_size=16)
    batch = next(iter(dm.val_dataloader()))
    assert batch["images"].shape == (16, 3, 64, 64)
    captions, lengths = batch["captions"], batch["lengths"]
    for row, length, refs in zip(captions, lengths, batch["references"]):
        assert row[0] == Vocabulary.start_id and row[length - 1] == Vocabulary.end_id
        assert (row[length:] == Vocabulary.pad_id).all()
        assert dm.vocab.decode(row.tolist()) == refs[0]
    # Lightning's device transfer passes the references through without walking their words.
    assert move_data_to_device(batch, torch.device("cpu"))["references"] is batch["references"]
    restored = ShapesCaptionsDataModule()
    restored.load_state_dict(dm.state_dict())
    assert restored.vocab == dm.vocab
    assert torch.equal(next(iter(dm.val_dataloader()))["images"], batch["images"])


def test_shapes_module_can_evaluate_on_fewer_objects_than_it_trains_on():
    dm = ShapesCaptionsDataModule(train_size=200, val_size=50, test_size=50, max_objects=3, eval_max_objects=1)
    dm.setup()
    counts = lambda split: {len(dm.splits[split].scene(i).objects) for i in range(len(dm.splits[split]))}
    assert counts("train") == {1, 2, 3}
    assert counts("val") == counts("test") == {1}


def test_flickr8k_subset(data_dir):
    root = data_dir / "flickr8k_subset"
    dm = CaptionFilesDataModule(
        str(root / "captions.txt"), image_size=32, val_share=0.1, test_share=0.0, min_count=1, batch_size=8
    )
    dm.setup()
    records = dm._records
    assert len(records) == 796 and sum(len(r.captions) for r in records) == 3980
    assert len(dm.splits["val"]) == 80 and len(dm.splits["train"]) == 716
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (8, 3, 32, 32) and len(batch["references"][0]) == 5
