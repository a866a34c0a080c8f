"""The ``videozoo eval / fuse / predict`` commands, ``python -m videozoo.eval`` killed and resumed,
and ``torchrun -m videozoo.eval`` on two gloo processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import save_mmaction_checkpoint

import videozoo
from videozoo.cli import main as cli
from videozoo.data.synthetic import make_synthetic_dataset
from videozoo.evaluation import compute_metrics
from videozoo.evaluation.scores import _read_records, load_scores

NUM_CLASSES = 4
TINY = ["--set", "num_clips=4", "--set", "num_segments=4", "--set", "resize=-1,32",
        "--set", "crop=center", "--set", "crop_size=32"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("cli_synth"), num_videos=8,
                                  num_classes=NUM_CLASSES, frames=(8, 12), size=(32, 40), seed=5)


def _checkpoint(path, seed, fmt="pth"):
    torch.manual_seed(seed)
    model = videozoo.create_model("tsm_mobilenetv2", num_classes=NUM_CLASSES)
    with torch.no_grad():
        model.get_classifier().weight.mul_(300.0)
    if fmt == "pth":
        save_mmaction_checkpoint(model.export_mmaction_state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return str(path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return _checkpoint(d / "a.pth", 1), _checkpoint(d / "b.safetensors", 2, "safetensors")


def _eval_args(synth, ckpt, out=None, *extra):
    args = ["eval", "tsm_mobilenetv2", "--ann", synth.ann_file, "--data-root", synth.root,
            "--checkpoint", ckpt, "--workers", "0", "--batch-size", "2", "--no-progress",
            *TINY, *extra]
    return args + (["--out", str(out)] if out else [])


def test_eval_prints_table_and_writes_results(synth, ckpts, tmp_path, capsys):
    assert cli(_eval_args(synth, ckpts[0], tmp_path / "out")) == 0
    text = capsys.readouterr().out
    for needle in ("reported", "measured", "top1", "mean_class_accuracy",
                   "8 scored, 0 failed, of 8", "the table's test set: unknown",
                   "short side 32", "center crop 32", "average prob", "videos/s"):
        assert needle in text, needle
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    table, info = load_scores(tmp_path / "out")
    assert res["num_scored"] == 8 and res["num_failed"] == 0 and res["failures"] == []
    assert res["protocol"]["crop_size"] == 32 and res["weights"].endswith("a.pth")
    assert info["names"] == [x.split()[0] for x in Path(synth.ann_file).read_text().split("\n")
                             if x.strip()]
    assert res["metrics"] == pytest.approx(compute_metrics(table.scores, table.single_labels()))


def test_eval_bad_input_and_strict(synth, ckpts, tmp_path, capsys):
    assert cli(["eval", "tsm_mobilenetv3", "--ann", synth.ann_file]) == 2
    assert "Did you mean" in capsys.readouterr().err
    assert cli(_eval_args(synth, ckpts[0], None, "--set", "crop_sise=3")) == 2
    assert "unknown data config field" in capsys.readouterr().err
    bad = tmp_path / "list.txt"
    bad.write_text(Path(synth.ann_file).read_text() + "nothere.mp4 1\n")
    args = _eval_args(synth, ckpts[0], None, "--strict", "--limit", "9")
    args[args.index("--ann") + 1] = str(bad)
    assert cli(args) == 1
    assert "nothere.mp4" in capsys.readouterr().err


def test_fuse_adds_raw_logits(synth, ckpts, tmp_path, capsys):
    for ckpt, name in zip(ckpts, ("rgb", "flow")):
        assert cli(_eval_args(synth, ckpt, tmp_path / name, "--average", "none")) == 0
    capsys.readouterr()
    assert cli(["fuse", str(tmp_path / "rgb"), str(tmp_path / "flow"), "--weights", "1", "2",
                "--out", str(tmp_path / "fused")]) == 0
    text = capsys.readouterr().out
    assert "fused [1:2]" in text
    a, _ = load_scores(tmp_path / "rgb")
    b, _ = load_scores(tmp_path / "flow")
    expected = compute_metrics(a.scores.astype(np.float64) + 2 * b.scores, a.single_labels())
    got = json.loads((tmp_path / "fused" / "fuse.json").read_text())
    assert got["metrics"] == pytest.approx(expected)
    assert got["weights"] == [1.0, 2.0] and got["num_videos"] == 8
    fused, info = load_scores(tmp_path / "fused" / "scores.npz")
    np.testing.assert_allclose(fused.scores, a.scores + 2.0 * b.scores, rtol=1e-6)
    assert cli(["fuse", str(tmp_path / "rgb")]) == 2


def test_predict_prints_top_classes(synth, ckpts, tmp_path, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class name {c}" for c in "abcd") + "\n")
    video = os.path.join(synth.root, "moving_object_0000.mp4")
    assert cli(["predict", video, "--model", "tsm_mobilenetv2", "--checkpoint", ckpts[0],
                "--labels", str(labels), "--device", "cpu", *TINY]) == 0
    lines = [x for x in capsys.readouterr().out.split("\n") if x.strip()]
    assert len(lines) == 1 + NUM_CLASSES  # header + top-k capped at the 4 classes
    # the same ranking as the per-video reference: CPU views, softmax per view, mean
    from videozoo.commands.eval import build_data_config, parse_overrides
    from videozoo.data import create_transform
    from videozoo.evaluation import average_views

    model = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=ckpts[0]).eval()
    cfg = build_data_config("tsm_mobilenetv2", model, None,
                            parse_overrides(TINY[1::2]), None)
    with torch.inference_mode():
        scores = average_views(model(create_transform(cfg)(video)), 1, "prob")[0].numpy()
    order = np.argsort(-scores)
    for line, c in zip(lines[1:], order):
        assert line.rstrip().endswith(f"class name {'abcd'[c]}  (class {c})")
    # without a label map: class indices
    assert cli(["predict", video, "--model", "tsm_mobilenetv2", "--checkpoint", ckpts[0],
                "--topk", "2", *TINY]) == 0
    out = capsys.readouterr().out
    assert "names from class indices" in out and out.count("(class ") == 2


# -- killed and resumed, in a real process ----------------------------------------------------
SLOW_RUNNER = """
import sys, time
from videozoo.data import register_decoder
from videozoo.data.decoders import DecordDecoder

@register_decoder("slow_open_test")
class SlowOpen(DecordDecoder):
    def __init__(self, source, **kwargs):
        time.sleep(0.5)
        super().__init__(source, **kwargs)

from videozoo.commands.eval import main
sys.exit(main(sys.argv[1:]))
"""


def _records(out: Path) -> int:
    log = out / "scores.rank0.log"
    return len(_read_records(log)[0]) if log.exists() else 0


@pytest.mark.slow
def test_sigkill_then_rerun_gives_same_metrics(synth, ckpts, tmp_path):
    runner = tmp_path / "runner.py"
    runner.write_text(SLOW_RUNNER)
    out = tmp_path / "killed"
    args = [sys.executable, str(runner)] + _eval_args(synth, ckpts[0], out, "--decoder",
                                                      "slow_open_test")[1:]
    args[args.index("--batch-size") + 1] = "1"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _records(out) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _records(out)
    assert 3 <= done < 8, f"the run was not stopped midway ({done} records)"
    assert not (out / "results.json").exists()

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed   {done} videos" in rerun.stdout
    assert cli(_eval_args(synth, ckpts[0], tmp_path / "straight")) == 0
    resumed = json.loads((out / "results.json").read_text())
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["num_scored"] == 8 and resumed["num_resumed"] == done
    a, b = load_scores(out)[0], load_scores(tmp_path / "straight")[0]
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(synth, ckpts, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
            "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "videozoo.eval"]
    args += _eval_args(synth, ckpts[0], tmp_path / "dist", "--device", "cpu")[1:]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("reported") == 1  # only rank 0 reports
    assert "(2 processes)" in run.stdout
    assert cli(_eval_args(synth, ckpts[0], tmp_path / "one")) == 0
    dist = json.loads((tmp_path / "dist" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert dist["num_processes"] == 2 and dist["num_scored"] == one["num_scored"] == 8
    assert dist["metrics"] == pytest.approx(one["metrics"])
    a, b = load_scores(tmp_path / "dist")[0], load_scores(tmp_path / "one")[0]
    np.testing.assert_array_equal(a.index, np.arange(8))
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6)
