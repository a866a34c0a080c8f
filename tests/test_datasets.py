"""VideoDataset over annotation lists, DataLoader workers, DistributedSampler, label maps and
the synthetic generator."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

import videozoo
from videozoo import _registry
from videozoo._pretrained import ZooEntry
from videozoo.data import (
    VideoDataset,
    VideoDecodeError,
    collate_videos,
    label_names,
    make_synthetic_dataset,
    make_views,
    read_annotations,
    resolve_data_config,
)
from videozoo.data.synthetic import make_synthetic_video

SMALL = dict(resize=(-1, 36), crop_size=32)


@pytest.fixture(scope="module")
def mp4_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("mp4")
    return make_synthetic_dataset(root, num_videos=6, num_classes=3, frames=(5, 20),
                                  size=(40, 52), seed=1)


def _tsm(**kw):
    return resolve_data_config("tsm_r50").replace(**SMALL, **kw)


def test_video_list_items(mp4_set):
    ds = VideoDataset(mp4_set.ann_file, _tsm(), root=mp4_set.root)
    assert len(ds) == 6 and not ds.multi_label
    item = ds[0]
    assert item["inputs"].shape == (10, 3, 8, 32, 32)
    assert item["label"].item() == mp4_set.labels[0] and item["label"].dtype == torch.long
    assert item["video_id"] == "moving_object_0000.mp4" and item["error"] == ""
    frames = VideoDataset(mp4_set.ann_file, _tsm(), root=mp4_set.root, output="frames")[0]
    assert frames["inputs"].dtype == torch.uint8 and frames["inputs"].shape == (8, 40, 52, 3)
    # GPU-style preprocessing of the uint8 frames gives the same views
    assert torch.equal(make_views(frames["inputs"], ds.cfg, resize_backend="torch"),
                       item["inputs"])


def test_rawframe_and_flow_lists(tmp_path):
    rgb = make_synthetic_dataset(tmp_path / "rgb", 3, 3, frames=9, size=(30, 40),
                                 format="rawframes")
    line = Path(rgb.ann_file).read_text().splitlines()[0].split()
    assert len(line) == 3 and line[1] == "9"
    cfg = resolve_data_config("tsn_r50").replace(decoder="rawframes", start_index=1,
                                                 filename_tmpl="img_{:05d}.jpg", num_clips=3,
                                                 crop="three", resize=(-1, 32), crop_size=32)
    item = VideoDataset(rgb.ann_file, cfg, root=rgb.root)[1]
    assert item["inputs"].shape == (1, 3, 9, 32, 32)  # TSN: 3 clips x 3 crops, one view
    flow = make_synthetic_dataset(tmp_path / "flow", 2, 2, frames=12, size=(30, 40),
                                  format="flow", kind="direction")
    fcfg = resolve_data_config("tsn_r50_flow").replace(num_clips=2, resize=(-1, 32),
                                                       crop_size=32)
    fitem = VideoDataset(flow.ann_file, fcfg, root=flow.root)[0]
    assert fitem["inputs"].shape == (1, 10, 20, 32, 32)  # 2 clips x 10 crops stacks of 5


def test_multi_label_lines(tmp_path, mp4_set):
    ann = tmp_path / "multi.txt"
    ann.write_text("moving_object_0000.mp4 1 4\nmoving_object_0001.mp4 0\n")
    with pytest.raises(ValueError, match="num_classes"):
        VideoDataset(ann, _tsm(), root=mp4_set.root)
    ds = VideoDataset(ann, _tsm(), root=mp4_set.root, num_classes=5)
    assert ds.multi_label
    torch.testing.assert_close(ds[0]["label"], torch.tensor([0.0, 1, 0, 0, 1]))
    torch.testing.assert_close(ds[1]["label"], torch.tensor([1.0, 0, 0, 0, 0]))
    bad = tmp_path / "bad.txt"
    bad.write_text("a.mp4 one\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_annotations(bad)


def test_decode_failures_are_reported(tmp_path, mp4_set):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    for name in Path(mp4_set.root).glob("*.mp4"):
        (tmp_path / name.name).symlink_to(name)
    ann = tmp_path / "list.txt"
    ann.write_text("moving_object_0000.mp4 0\nbroken.mp4 1\nmissing.mp4 2\n"
                   "moving_object_0001.mp4 1\n")
    strict = VideoDataset(ann, _tsm(), root=tmp_path)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        strict[1]
    ds = VideoDataset(ann, _tsm(), root=tmp_path, on_error="return")
    rec = ds[2]
    assert rec["error"] and "missing.mp4" in rec["error"] and rec["inputs"].numel() == 0
    batch = collate_videos([ds[i] for i in range(4)])
    assert batch["inputs"].shape == (2, 10, 3, 8, 32, 32)
    assert batch["index"].tolist() == [0, 3] and batch["label"].tolist() == [0, 1]
    assert [f["video_id"] for f in batch["failed"]] == ["broken.mp4", "missing.mp4"]


def test_dataloader_workers_and_distributed_sampler(mp4_set):
    ds = VideoDataset(mp4_set.ann_file, _tsm(), root=mp4_set.root, output="frames",
                      on_error="return")
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=False)
        loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=2,
                            collate_fn=collate_videos)
        for batch in loader:
            assert isinstance(batch["inputs"], torch.Tensor)  # same-sized videos stack
            assert batch["inputs"].dtype == torch.uint8
            seen += batch["index"].tolist()
    assert sorted(seen) == list(range(6))
    # default collate works for fixed-size views
    loader = DataLoader(VideoDataset(mp4_set.ann_file, _tsm(), root=mp4_set.root),
                        batch_size=3, num_workers=2)
    batch = next(iter(loader))
    assert batch["inputs"].shape == (3, 10, 3, 8, 32, 32) and len(batch["video_id"]) == 3


def test_training_items_vary_per_epoch(mp4_set):
    cfg = _tsm()
    cfg = cfg.replace(train=cfg.train.replace(input_size=24, resize=(-1, 32)))
    ds = VideoDataset(mp4_set.ann_file, cfg, root=mp4_set.root, is_training=True)
    loader = DataLoader(ds, batch_size=6, num_workers=2)
    torch.manual_seed(0)
    a = next(iter(loader))
    b = next(iter(loader))
    assert a["inputs"].shape == (6, 3, 8, 24, 24)
    assert not torch.equal(a["inputs"], b["inputs"])
    torch.manual_seed(0)
    assert torch.equal(next(iter(loader))["inputs"], a["inputs"])  # seeded runs repeat
    with pytest.raises(ValueError, match="frames"):
        VideoDataset(mp4_set.ann_file, cfg, root=mp4_set.root, is_training=True,
                     output="frames")


# -- label maps --------------------------------------------------------------------------------
@pytest.fixture
def label_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "label_map_test.txt").write_text("abseiling\nair drumming\n\nzumba\n",
                                               encoding="utf-8")
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/label_map_test.txt", requests
    httpd.shutdown()
    httpd.server_close()


def test_label_names_download_and_cache(label_server, tmp_path, monkeypatch):
    url, requests = label_server
    monkeypatch.setenv("VIDEOZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDEOZOO_DISABLE_PROGRESS_BARS", "1")
    entry = ZooEntry(name="_test_label_entry", arch="tsm_r50", config="c",
                     mmaction_version="1.x", dataset="kinetics400", num_classes=3,
                     label_map=url)
    monkeypatch.setitem(_registry._zoo_entries, entry.name, entry)
    names = videozoo.label_names(entry.name)
    assert names == ["abseiling", "air drumming", "zumba"]
    assert (tmp_path / "home" / "label_maps" / "label_map_test.txt").is_file()
    n = len(requests)
    assert label_names(entry.name) == names and len(requests) == n  # cached
    monkeypatch.setenv("VIDEOZOO_OFFLINE", "1")
    assert label_names(url, cache_dir=tmp_path / "home" / "label_maps") == names
    with pytest.raises(ValueError, match="architecture"):
        label_names("tsm_r50")


# -- synthetic data ----------------------------------------------------------------------------
def _object_x(frame):
    """Column centre of the bright square (the background is darker)."""
    cols = np.nonzero((frame.mean(-1) > 150).any(0))[0]
    return cols.mean()


def test_direction_kind_only_order_tells_the_class():
    rng = np.random.default_rng(0)
    left = make_synthetic_video(0, 2, 10, (32, 48), "direction", rng)
    right = make_synthetic_video(1, 2, 10, (32, 48), "direction", rng)
    xl = [_object_x(f) for f in left]
    xr = [_object_x(f) for f in right]
    assert np.all(np.diff(xl) < 0) and np.all(np.diff(xr) > 0)
    # the same object in both classes: a frame alone does not tell the direction
    assert np.array_equal(left[0][left[0].mean(-1) > 150], right[0][right[0].mean(-1) > 150])
    # positions cover the same range for both classes over many videos
    starts = {c: [_object_x(make_synthetic_video(c, 2, 10, (32, 48), "direction", rng)[0])
                  for _ in range(200)] for c in (0, 1)}
    assert abs(np.mean(starts[0]) - np.mean(starts[1]) - 27) < 6  # left starts right, mirrored
    ends = [_object_x(make_synthetic_video(0, 2, 10, (32, 48), "direction", rng)[-1])
            for _ in range(200)]
    assert abs(np.mean(ends) - np.mean(starts[1])) < 3  # a left video ends where right starts


def test_synthetic_dataset_is_reproducible(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", 4, 2, frames=6, size=(24, 36), seed=3)
    b = make_synthetic_dataset(tmp_path / "b", 4, 2, frames=6, size=(24, 36), seed=3)
    assert a.labels == b.labels and sorted(a.labels) == [0, 0, 1, 1]
    assert Path(a.ann_file).read_text() == Path(b.ann_file).read_text()
    with pytest.raises(ValueError, match="direction"):
        make_synthetic_video(0, 3, 4, 32, "direction")
