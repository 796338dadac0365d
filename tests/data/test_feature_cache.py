import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from vision_attention.data import CachedFeatures, FeatureCache

from ..helpers import remount_read_only, small_filesystem


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


def photo_files(folder, count=6, seed=0):
    """Real image files, so that their bytes are fingerprinted; items read them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        paths.append(folder / f"p{i}.png")
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def items_of(paths):
    from PIL import Image

    return [
        {"image": torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32) / 255).permute(2, 0, 1)} for p in paths
    ]


def cache_of(root, paths):
    from vision_attention.data.feature_cache import file_fingerprints

    return FeatureCache(root, "tiny", {}, [str(p) for p in paths], file_fingerprints(paths))


def test_a_photo_replaced_under_its_name_is_noticed_and_the_cache_rebuilt(tmp_path, capsys):
    paths = photo_files(tmp_path / "photos")
    first = np.array(
        cache_of(tmp_path / "cache", paths).get_or_build(items_of(paths), CountingEncoder(), progress=False)
    )
    photo_files(tmp_path / "new", 6, seed=1)[2].replace(paths[2])  # p2.png now holds another photo
    cache = cache_of(tmp_path / "cache", paths)
    assert cache.stale() == f"1 of 6 images changed since it was built (e.g. {paths[2]})"
    encoder = CountingEncoder()
    again = cache.get_or_build(items_of(paths), encoder, progress=False)
    err = capsys.readouterr().err
    assert encoder.calls == 1 and f"1 of 6 images changed since it was built (e.g. {paths[2]}): rebuilding it" in err
    assert not np.array_equal(again[2], first[2]) and np.array_equal(again[0], first[0])
    assert cache_of(tmp_path / "cache", paths).exists()


def test_a_damaged_header_or_non_finite_features_are_rebuilt_saying_so(tmp_path, capsys):
    paths = photo_files(tmp_path / "photos")
    cache = cache_of(tmp_path / "cache", paths)
    cache.get_or_build(items_of(paths), CountingEncoder(), progress=False)
    cache.header_path.write_text('{"key": "abc", "sha')
    encoder = CountingEncoder()
    cache.get_or_build(items_of(paths), encoder, progress=False)
    assert encoder.calls == 1 and "its header is damaged (JSONDecodeError" in capsys.readouterr().err
    data = np.memmap(cache.data_path, dtype=np.float16, mode="r+", shape=(6, 4, 2))
    data[3, 1, 0] = np.nan
    data.flush()
    del data
    served = cache.get_or_build(items_of(paths), CountingEncoder(), progress=False)
    assert np.isfinite(served).all() and "it holds values that are not finite: rebuilding it" in capsys.readouterr().err


def test_an_encoder_that_gives_nan_is_refused_naming_the_image(tmp_path):
    paths = photo_files(tmp_path / "photos")

    class NaNAtThird(CountingEncoder):
        def forward(self, images):
            out = super().forward(images)
            out[-1, 0, 0] = float("nan")
            return out

    with pytest.raises(ValueError, match=rf"non-finite features .* for {paths[2]}"):
        cache_of(tmp_path / "cache", paths).get_or_build(items_of(paths), NaNAtThird(), batch_size=3, progress=False)
    assert not cache_of(tmp_path / "cache", paths).exists()


BUILD_IN_A_PROCESS = """
import sys, time
from pathlib import Path
import torch
from tests.data.test_feature_cache import CountingEncoder, cache_of, items_of

class Slow(CountingEncoder):
    def forward(self, images):
        Path(sys.argv[2], f"call-{time.monotonic_ns()}").write_text("")
        time.sleep(0.5)
        return super().forward(images)

paths = sorted(Path(sys.argv[1], "photos").glob("*.png"))
cache = cache_of(Path(sys.argv[1], "cache"), paths)
features = cache.get_or_build(items_of(paths), Slow(), batch_size=2, progress=False)
print(float(features.astype("float32").sum()))
"""


def test_two_processes_building_one_cache_build_it_once(tmp_path):
    import os
    from pathlib import Path

    photo_files(tmp_path / "photos")
    (tmp_path / "calls").mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD_IN_A_PROCESS, str(tmp_path), str(tmp_path / "calls")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=120) for r in runs]
    assert all(r.returncode == 0 for r in runs), [o[1][-1500:] for o in outputs]
    assert len(list((tmp_path / "calls").iterdir())) == 3  # 6 photos in batches of 2, once
    assert outputs[0][0] == outputs[1][0]  # both read the same features


def test_a_full_disk_while_building_leaves_no_cache_and_no_temporary(tmp_path):
    paths = photo_files(tmp_path / "photos", count=64)

    class Wide(CountingEncoder):
        def forward(self, images):
            return torch.rand(len(images), 64, 64)  # 8 kB a photo: 512 kB for 64, on a 256 kB disk

    with small_filesystem(tmp_path / "disk", "256k") as disk:
        with pytest.raises(OSError):
            cache_of(disk, paths).get_or_build(items_of(paths), Wide(), batch_size=8, progress=False)
        assert not cache_of(disk, paths).exists()
        assert [p.name for p in disk.iterdir() if not p.name.endswith(".lock")] == []  # nothing half-written left


def test_a_read_only_cache_is_read_and_one_that_must_be_built_there_is_one_line(tmp_path):
    paths = photo_files(tmp_path / "photos")
    with small_filesystem(tmp_path / "disk", "1m") as disk:
        built = np.array(cache_of(disk, paths).get_or_build(items_of(paths), CountingEncoder(), progress=False))
        remount_read_only(disk)
        read = cache_of(disk, paths).get_or_build(items_of(paths), CountingEncoder(fail_at=1), progress=False)
        np.testing.assert_array_equal(read, built)  # served without writing anything
        others = photo_files(tmp_path / "others", seed=3)
        with pytest.raises(OSError, match=rf"feature cache: cannot write in {disk} \(Read-only file system\)"):
            cache_of(disk, others).get_or_build(items_of(others), CountingEncoder(), progress=False)
