"""SaveLastOnStop: last.ckpt every few minutes of training and at the step a signal arrives."""

import signal

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint

from vision_attention.lit import SaveLastOnStop
from vision_attention.lit import callbacks as module


class FakeTrainer:
    received_sigterm, world_size, global_step = False, 1, 7

    def __init__(self, folder):
        self.checkpoint_callbacks = [ModelCheckpoint(dirpath=str(folder), save_last=True)]
        self.saved = []

    def save_checkpoint(self, path):
        self.saved.append(path)


def test_last_is_saved_every_few_minutes_of_training(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    trainer, callback = FakeTrainer(tmp_path), SaveLastOnStop(every_minutes=5)
    callback.on_train_start(trainer, None)
    saves = []
    for minute in (1, 4.9, 5.1, 6, 10.0, 10.2):
        clock[0] = 60 * minute
        callback.on_train_batch_end(trainer, None, None, None, 0)
        saves.append(len(trainer.saved))
    callback.on_train_end(trainer, None)
    assert saves == [0, 0, 1, 1, 1, 2]  # at 5.1 min, then 5 min after that save (10.1 was not reached at 10.0)
    assert trainer.saved[-1] == f"{tmp_path}/last.ckpt" and len(trainer.saved) == 3  # and when training ends


def test_ctrl_c_saves_after_the_step_then_exits_130_and_a_second_stops_at_once(tmp_path):
    trainer, callback = FakeTrainer(tmp_path), SaveLastOnStop(every_minutes=None)
    before = signal.getsignal(signal.SIGINT)
    callback.on_train_start(trainer, None)
    assert signal.getsignal(signal.SIGINT) == callback._on_sigint
    callback._on_sigint(signal.SIGINT, None)  # the handler only notes it: the step in progress ends first
    assert trainer.saved == []
    with pytest.raises(SystemExit) as stop:
        callback.on_train_batch_end(trainer, None, None, None, 0)
    assert stop.value.code == 130 and trainer.saved == [f"{tmp_path}/last.ckpt"]
    with pytest.raises(KeyboardInterrupt):
        callback._on_sigint(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) == before


def test_sigterm_seen_by_lightning_saves_and_exits_143(tmp_path):
    trainer, callback = FakeTrainer(tmp_path), SaveLastOnStop()
    callback.on_train_start(trainer, None)
    trainer.received_sigterm = True
    with pytest.raises(SystemExit) as stop:
        callback.on_train_batch_end(trainer, None, None, None, 0)
    callback.on_exception(trainer, None, stop.value)
    assert stop.value.code == 143 and len(trainer.saved) == 1
