"""``videozoo.evaluate`` end to end on tiny synthetic videos: scores equal a per-video reference,
views are averaged as MMAction2 does, failures and hung decoders are counted and left out,
resuming gives the uninterrupted result, and two gloo processes give the one-process result."""
from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import videozoo
from videozoo.data import register_decoder, resolve_data_config
from videozoo.data.decoders import DecordDecoder, list_decoders
from videozoo.data.pipeline import create_transform
from videozoo.data.synthetic import make_synthetic_dataset
from videozoo.evaluation import VideoScorer, average_views, compute_metrics
from videozoo.evaluation.scores import ScoreTable, _read_records

NUM_CLASSES = 3


if "sleepy_test" not in list_decoders():
    @register_decoder("sleepy_test")
    class SleepyDecoder(DecordDecoder):
        """decord, except that files named ``slow*`` hang (sleep) while opening."""

        def __init__(self, source, **kwargs):
            if os.path.basename(os.fspath(source)).startswith("slow"):
                time.sleep(float(os.environ.get("VZ_TEST_SLEEP", "30")))
            super().__init__(source, **kwargs)


def tiny_config(**changes):
    """TSM-MobileNetV2's protocol shrunk: 4 segments, short side 32, one centre crop of 32."""
    cfg = resolve_data_config("tsm_mobilenetv2").replace(
        num_clips=4, num_segments=4, resize=(-1, 32), crop="center", crop_size=32)
    return cfg.replace(**changes)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    ds = make_synthetic_dataset(root, num_videos=6, num_classes=NUM_CLASSES, frames=(8, 12),
                                size=(32, 40), seed=3)
    return ds


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = videozoo.create_model("tsm_mobilenetv2", num_classes=NUM_CLASSES).eval()
    with torch.no_grad():  # spread the logits so the classes are not near ties
        m.get_classifier().weight.mul_(300.0)
    return m


def reference_scores(model, ann_file, root, cfg):
    """One video at a time through the CPU test transform, softmax per view, mean."""
    transform = create_transform(cfg)
    rows = []
    for line in Path(ann_file).read_text().split("\n"):
        if not line.strip():
            continue
        views = transform(os.path.join(root, line.split()[0]))
        with torch.inference_mode():
            logits = model(views)
        rows.append(average_views(logits, 1, cfg.average)[0].numpy())
    return np.stack(rows)


def run_eval(model, synth, cfg=None, **kw):
    cfg = cfg or tiny_config()
    ds = videozoo.VideoDataset(synth.ann_file, cfg, root=synth.root)
    kw.setdefault("num_workers", 0)
    kw.setdefault("batch_size", 4)
    return videozoo.evaluate(model, ds, **kw)


def test_scores_match_per_video_reference(model, synth):
    cfg = tiny_config()
    result = run_eval(model, synth, cfg, num_workers=1, batch_size=4)
    ref = reference_scores(model, synth.ann_file, synth.root, cfg)
    assert result.num_videos == result.num_scored == 6 and result.num_failed == 0
    assert result.table.index.tolist() == list(range(6))
    np.testing.assert_allclose(result.table.scores, ref, rtol=1e-4, atol=1e-6)
    labels = np.array(synth.labels)
    assert result.table.single_labels().tolist() == labels.tolist()
    assert result.metrics == pytest.approx(compute_metrics(ref, labels))
    assert {"top1", "mean_class_accuracy"} <= set(result.metrics)
    assert result.views_per_video == 1 and result.frames_per_view == 4
    assert result.videos_per_s > 0
    assert "top1" in result.summary() and "unknown" in result.summary()


def test_average_views():
    logits = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    probs = average_views(logits, 2, "prob")
    expected = logits.softmax(-1).view(2, 2, 2).mean(1)
    assert torch.allclose(probs, expected)
    assert torch.allclose(average_views(logits, 2, "score"),
                          torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
    assert torch.equal(average_views(logits[:2], 2, None), logits[:2])
    with pytest.raises(ValueError, match="one view per video"):
        average_views(logits, 2, None)
    with pytest.raises(ValueError, match="do not split"):
        average_views(logits[:3], 2, "prob")


class ShapeRecorder(nn.Module):
    """A stand-in model: logits from the mean colour; remembers the input shapes it saw."""

    in_chans, num_classes = 3, 3

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return x.mean(dim=(2, 3, 4))


@pytest.mark.parametrize("name, changes, views, frames", [
    # TSN: one view of every frame of every crop (its head averages features over all of them)
    ("tsn_r50", dict(num_clips=5, crop="three", crop_size=32, resize=(-1, 32)), 1, 15),
    # TSM TenCrop: one view per crop (and flip) of num_segments frames
    ("tsm_r50", dict(num_clips=4, num_segments=4, crop="ten", crop_size=24, resize=(-1, 32)),
     10, 4),
    # twice-sampled ThreeCrop: 2 x 3 views
    ("tsm_r50", dict(num_clips=4, num_segments=4, twice_sample=True, crop="three",
                     crop_size=32, resize=(-1, 32)), 6, 4),
])
def test_views_fold_into_one_batch(name, changes, views, frames):
    cfg = resolve_data_config(name).replace(**changes)
    rec = ShapeRecorder()
    scorer = VideoScorer(rec, cfg, "cpu")
    sampled = 2 * cfg.num_clips if cfg.twice_sample else cfg.num_clips
    video = torch.randint(0, 255, (3, sampled, 32, 40, 3), dtype=torch.uint8)
    out = scorer(video)
    assert out.shape == (3, 3)
    assert rec.shapes == [(3 * views, 3, frames, cfg.crop_size, cfg.crop_size)]  # one forward
    assert scorer.view_shape[0] == views


def test_oom_backoff_halves_views(monkeypatch):
    class Picky(ShapeRecorder):
        def forward(self, x):
            if x.shape[0] > 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 1 GiB")
            return super().forward(x)

    cfg = resolve_data_config("tsm_r50").replace(num_clips=4, num_segments=4, crop="three",
                                                 crop_size=32, resize=None)
    rec = Picky()
    scorer = VideoScorer(rec, cfg, "cpu")
    video = torch.randint(0, 255, (2, 4, 32, 40, 3), dtype=torch.uint8)
    with pytest.warns(UserWarning, match="out of memory"):
        out = scorer(video)
    ref = VideoScorer(ShapeRecorder(), cfg, "cpu")(video)
    assert torch.allclose(out, ref)
    assert scorer.max_views == 1 or scorer.max_views == 2
    assert all(s[0] <= 2 for s in rec.shapes)


def _broken_list(synth, tmp_path, extra):
    """The synthetic list with extra lines (bad files) inserted at positions 1 and 3."""
    lines = Path(synth.ann_file).read_text().split("\n")
    lines = [x for x in lines if x.strip()]
    for pos, (name, data) in extra:
        if data is not None:
            Path(tmp_path, name).write_bytes(data)
        lines.insert(pos, f"{name} 0")
    for f in Path(synth.root).glob("*.mp4"):
        target = Path(tmp_path, f.name)
        if not target.exists():
            os.symlink(f, target)
    ann = Path(tmp_path, "broken_list.txt")
    ann.write_text("\n".join(lines) + "\n")
    return ann


def test_corrupt_and_missing_videos_are_counted_not_scored(model, synth, tmp_path):
    ann = _broken_list(synth, tmp_path, [(1, ("corrupt.mp4", b"\x00\x01garbage" * 50)),
                                         (3, ("missing.mp4", None))])
    cfg = tiny_config()
    ds = videozoo.VideoDataset(ann, cfg, root=tmp_path)
    result = videozoo.evaluate(model, ds, num_workers=0, batch_size=3)
    assert result.num_videos == 8 and result.num_scored == 6 and result.num_failed == 2
    assert [f["video"] for f in result.failures] == ["corrupt.mp4", "missing.mp4"]
    assert all(f["error"] for f in result.failures)
    clean = run_eval(model, synth, cfg)
    assert result.metrics == pytest.approx(clean.metrics)
    np.testing.assert_allclose(result.table.scores, clean.table.scores, rtol=1e-4, atol=1e-6)
    assert "corrupt.mp4" in result.summary()

    with pytest.raises(RuntimeError, match="corrupt.mp4"):
        videozoo.evaluate(model, ds, num_workers=0, batch_size=3, strict=True)


def test_hanging_decoder_times_out(model, synth, tmp_path):
    shutil.copy(Path(synth.root, "moving_object_0000.mp4"), tmp_path / "slow_video.mp4")
    ann = _broken_list(synth, tmp_path, [(2, ("slow_video.mp4", None))])
    cfg = tiny_config(decoder="sleepy_test")
    ds = videozoo.VideoDataset(ann, cfg, root=tmp_path)
    t0 = time.perf_counter()
    result = videozoo.evaluate(model, ds, num_workers=1, batch_size=4, decode_timeout=1.5)
    assert time.perf_counter() - t0 < 25  # the decoder sleeps 30 s
    assert result.num_scored == 6 and result.num_failed == 1
    assert "timed out" in result.failures[0]["error"].lower() or \
        "longer than" in result.failures[0]["error"]
    assert result.failures[0]["video"] == "slow_video.mp4"


def test_resume_gives_the_uninterrupted_result(model, synth, tmp_path):
    full = run_eval(model, synth, out_dir=tmp_path / "full", batch_size=2)
    assert (tmp_path / "full" / "results.json").exists()
    # a run stopped after 3 videos, then the same call again
    part = run_eval(model, synth, out_dir=tmp_path / "resumed", batch_size=2, limit=3)
    assert part.num_scored == 3
    resumed = run_eval(model, synth, out_dir=tmp_path / "resumed", batch_size=2)
    assert resumed.num_resumed == 3 and resumed.num_scored == 6
    assert resumed.metrics == full.metrics
    np.testing.assert_array_equal(resumed.table.scores, full.table.scores)
    saved = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert saved["metrics"] == pytest.approx(full.metrics)
    assert saved["num_scored"] == 6 and saved["num_failed"] == 0
    assert saved["protocol"]["num_segments"] == 4
    # nothing left to do: a third call only reads back
    again = run_eval(model, synth, out_dir=tmp_path / "resumed", batch_size=2)
    assert again.num_resumed == 6 and again.metrics == full.metrics
    # another protocol, or other weights, must not mix with these scores
    with pytest.raises(ValueError, match="different evaluation.*average"):
        run_eval(model, synth, out_dir=tmp_path / "resumed", average="score")
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.get_classifier().bias.add_(1.0)
    with pytest.raises(ValueError, match="different evaluation.*weights"):
        run_eval(other, synth, out_dir=tmp_path / "resumed")


def test_dataloader_and_raw_logits(model, synth):
    from torch.utils.data import DataLoader

    from videozoo.data import collate_videos

    cfg = tiny_config(average=None)
    ds = videozoo.VideoDataset(synth.ann_file, cfg, root=synth.root, output="frames",
                               on_error="return")
    loader = DataLoader(ds, batch_size=4, collate_fn=collate_videos)
    result = videozoo.evaluate(model, loader, cfg)
    assert result.average is None and result.num_scored == 6
    with torch.inference_mode():
        views = create_transform(cfg)(os.path.join(synth.root, ds.annotations[0].path))
        logits = model(views)
    np.testing.assert_allclose(result.table.scores[0], logits[0].numpy(), rtol=1e-4, atol=1e-5)


def test_multi_label_reports_map(model, synth, tmp_path):
    lines = [x for x in Path(synth.ann_file).read_text().split("\n") if x.strip()]
    multi = [f"{x.split()[0]} {x.split()[1]} {(int(x.split()[1]) + 1) % NUM_CLASSES}"
             if i % 2 else x for i, x in enumerate(lines)]
    ann = tmp_path / "multi.txt"
    ann.write_text("\n".join(multi) + "\n")
    ds = videozoo.VideoDataset(ann, tiny_config(average=None, crop="center"),
                               root=synth.root, num_classes=NUM_CLASSES)
    result = videozoo.evaluate(model, ds, num_workers=0)
    assert set(result.metrics) == {"mAP", "class_mAP"}
    hot = result.table.multi_hot(NUM_CLASSES)
    assert hot.sum() == 9
    assert result.metrics["mAP"] == pytest.approx(
        100 * videozoo.metrics.mmit_mean_average_precision(result.table.scores, hot))


# -- two processes (gloo) ---------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dist_worker(rank, world, port, ann, root, ckpt, out_dir):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        m = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=ckpt)
        ds = videozoo.VideoDataset(ann, tiny_config(), root=root)
        result = videozoo.evaluate(m, ds, num_workers=0, batch_size=2, out_dir=out_dir)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(
            {"metrics": result.metrics, "num_scored": result.num_scored,
             "num_processes": result.num_processes,
             "scores": result.table.scores.tolist(), "index": result.table.index.tolist()}))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_equal_one(model, synth, tmp_path):
    from safetensors.torch import save_file

    ckpt = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ckpt)
    single = run_eval(model, synth, batch_size=2)
    out = tmp_path / "dist"
    torch.multiprocessing.start_processes(
        _dist_worker, nprocs=2, join=True, start_method="fork",
        args=(2, _free_port(), synth.ann_file, synth.root, str(ckpt), str(out)))
    for rank in (0, 1):
        got = json.loads((out / f"rank{rank}.json").read_text())
        assert got["num_processes"] == 2 and got["num_scored"] == 6
        assert got["index"] == list(range(6))  # every video once, no padding duplicates
        assert got["metrics"] == pytest.approx(single.metrics)
        np.testing.assert_allclose(got["scores"], single.table.scores, rtol=1e-4, atol=1e-6)
    # each process wrote its own share
    shares = {p.name: sorted(ScoreTable.from_records(_read_records(p)[0]).index.tolist())
              for p in sorted(out.glob("scores.rank*.log"))}
    assert shares == {"scores.rank0.log": [0, 2, 4], "scores.rank1.log": [1, 3, 5]}
    saved = json.loads((out / "results.json").read_text())
    assert saved["num_scored"] == 6 and saved["metrics"] == pytest.approx(single.metrics)


@pytest.mark.parametrize("entry, protocol, views, frames, average", [
    # Something-Something: 'accurate' = twice-sampled x ThreeCrop 256, 'efficient' = 1 x centre
    ("tsm_r50_1x1x8_50e_sthv1_rgb", "accurate", 6, 8, "prob"),
    ("tsm_r50_1x1x8_50e_sthv1_rgb", "efficient", 1, 8, "prob"),
    # 0.x TSN 25 clips x TenCrop: one view of 250 frames, raw logits of the mean feature
    ("tsn_r50_1x1x3_100e_kinetics400_rgb.340x256", None, 1, 250, None),
])
def test_zoo_protocol_views(entry, protocol, views, frames, average):
    if videozoo._registry.get_entry(entry) is None:
        pytest.skip(f"zoo entry {entry} not registered")
    cfg = resolve_data_config(entry, protocol)
    rec = ShapeRecorder()
    scorer = VideoScorer(rec, cfg, "cpu")
    assert scorer.average == average
    sampled = cfg.num_clips * (2 if cfg.twice_sample else 1)
    out = scorer(torch.randint(0, 255, (1, sampled, 32, 42, 3), dtype=torch.uint8))
    assert out.shape == (1, 3)
    assert rec.shapes == [(views, 3, frames, cfg.crop_size, cfg.crop_size)]


def test_summary_compares_with_the_table():
    from videozoo.evaluation.result import EvalResult
    from videozoo.evaluation.result import expected_videos as _expected_videos
    from videozoo.evaluation.result import reported_metrics as _reported

    entry = "tsm_r50_1x1x8_50e_sthv1_rgb"
    if videozoo._registry.get_entry(entry) is None:
        pytest.skip("zoo entry not registered")
    reported = _reported(entry, "efficient")
    assert reported == {"top1": 45.58, "top5": 75.02}
    k400 = videozoo.list_pretrained("tsm_r50_1x1x8_50e_kinetics400_rgb*")
    assert k400 and _expected_videos(k400[0]) == 19796
    assert _expected_videos(entry) is None
    r = EvalResult(model=entry, weights="w.pth", protocol=resolve_data_config(entry, "efficient")
                   .to_dict(), average="prob", metrics={"top1": 45.0, "top5": 76.0,
                                                         "mean_class_accuracy": 30.0},
                   num_videos=10, num_scored=9, num_failed=1,
                   failures=[{"index": 3, "video": "x.mp4", "error": "boom"}],
                   expected_videos=19796, reported=reported)
    text = r.summary()
    assert "45.58" in text and "-0.58" in text and "+0.98" in text
    assert "efficient: 8 clips x 1 frame" in text and "center crop 224" in text
    assert "9 scored, 1 failed, of 10 in the list; the table's test set: 19,796" in text
    assert "[3] x.mp4: boom" in text


@pytest.mark.gpu
def test_gpu_amp_channels_last_matches_cpu(model, synth):
    cpu = run_eval(model, synth, device="cpu")
    gpu = run_eval(copy.deepcopy(model), synth, device="cuda", num_workers=2, amp=True)
    assert gpu.num_scored == cpu.num_scored == 6
    np.testing.assert_allclose(gpu.table.scores, cpu.table.scores, atol=2e-2)


def test_channels_last_layout_is_given_back():
    from videozoo.evaluation.scorer import _channels_last_

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv3d(4, 4, 1), nn.Linear(4, 2))
    before = [p.detach().clone() for p in net.parameters()]
    _channels_last_(net)
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert net[1].weight.is_contiguous(memory_format=torch.channels_last_3d)
    _channels_last_(net, enable=False)
    assert all(p.is_contiguous() for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
