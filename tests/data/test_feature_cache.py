import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from vision_attention.data import CachedFeatures, FeatureCache


class CountingEncoder(nn.Module):
    """(B, 3, H, W) -> (B, 4, 2): a stand-in backbone that counts its calls."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def forward(self, images):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt  # the run is interrupted mid-way
        pooled = nn.functional.adaptive_avg_pool2d(images, 2)  # (B, 3, 2, 2)
        return pooled.flatten(2).transpose(1, 2)[..., :2]  # (B, 4, 2)


@pytest.fixture
def images():
    torch.manual_seed(0)
    return [{"image": torch.rand(3, 8, 8)} for _ in range(10)]


def test_features_are_computed_once_and_stored_as_float16(tmp_path, images):
    ids = [f"img{i}" for i in range(10)]
    encoder = CountingEncoder()
    cache = FeatureCache(tmp_path, "tiny", {"grid": 2}, ids)
    feats = cache.get_or_build(images, encoder, batch_size=4, progress=False)
    assert encoder.calls == 3 and feats.dtype == np.float16 and feats.shape == (10, 4, 2)
    expected = encoder(torch.stack([it["image"] for it in images])).numpy()
    np.testing.assert_allclose(feats, expected, atol=1e-3)
    again = FeatureCache(tmp_path, "tiny", {"grid": 2}, ids).get_or_build(images, CountingEncoder(fail_at=1))
    np.testing.assert_array_equal(again, feats)  # loaded from disk: the encoder was never called
    item = CachedFeatures(again, [[["a"]]] * 10)[3]
    assert item["features"].dtype == torch.float32 and item["features"].shape == (4, 2)


def test_a_changed_setting_makes_a_new_cache(tmp_path, images):
    ids = [f"img{i}" for i in range(10)]
    a = FeatureCache(tmp_path, "tiny", {"grid": 2}, ids)
    a.build(images, CountingEncoder(), progress=False)
    assert not FeatureCache(tmp_path, "tiny", {"grid": 3}, ids).exists()
    assert not FeatureCache(tmp_path, "tiny", {"grid": 2}, ids[::-1]).exists()
    assert not FeatureCache(tmp_path, "other", {"grid": 2}, ids).exists()
    assert FeatureCache(tmp_path, "tiny", {"grid": 2}, ids).exists()


def test_an_interrupted_build_leaves_no_valid_cache(tmp_path, images):
    ids = [f"img{i}" for i in range(10)]
    cache = FeatureCache(tmp_path, "tiny", {}, ids)
    with pytest.raises(KeyboardInterrupt):
        cache.build(images, CountingEncoder(fail_at=2), batch_size=4, progress=False)
    assert not cache.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="no complete feature cache"):
        cache.load()
    # A data file without its header (killed between the two renames) is not valid either.
    cache.build(images, CountingEncoder(), progress=False)
    cache.header_path.unlink()
    assert not cache.exists()


def test_a_build_removes_the_temporaries_of_killed_builds_only(tmp_path, images):
    ids = [f"img{i}" for i in range(10)]
    cache = FeatureCache(tmp_path, "tiny", {}, ids)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    here, gone = socket.gethostname(), int(ended.stdout)
    killed = tmp_path / f"{cache.data_path.name}.tmp-{here}-{gone}"  # its process has ended
    running = tmp_path / f"{cache.data_path.name}.tmp-{here}-1"  # pid 1 is alive: a build elsewhere
    remote = tmp_path / f"{cache.data_path.name}.tmp-another-host-{gone}"  # a shared folder
    other = tmp_path / f"another-cache.f16.tmp-{here}-{gone}"
    for path in (killed, running, remote, other):
        path.write_bytes(b"half")
    cache.build(images, CountingEncoder(), progress=False)
    assert cache.exists() and not killed.exists()
    assert running.exists() and remote.exists() and other.exists()
