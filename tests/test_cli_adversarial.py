"""Bad inputs for every command, run in-process through ``videozoo.cli.main``: each must give
one error line on stderr, the right exit code (2 usage/config, 1 failed work), no traceback and
no hang."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

import videozoo
from videozoo.cli import main as cli
from videozoo.data.synthetic import make_synthetic_dataset

NUM_CLASSES = 4
TINY = ["--set", "num_clips=4", "--set", "num_segments=4", "--set", "resize=-1,32",
        "--set", "crop=center", "--set", "crop_size=32"]


@pytest.fixture(autouse=True)
def _no_hang():
    """Any case running past 60 s fails instead of hanging the suite."""
    def stop(*_):
        raise TimeoutError("the command hung")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("adv_synth"), num_videos=8,
                                  num_classes=NUM_CLASSES, frames=(8, 12), size=(32, 40), seed=5)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    model = videozoo.create_model("tsm_mobilenetv2", num_classes=NUM_CLASSES)
    path = tmp_path_factory.mktemp("adv_ckpt") / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("adv_files")
    (d / "a_file.txt").write_text("x\n")
    (d / "empty_dir").mkdir()
    (d / "garbage.pth").write_bytes(b"\x00not a checkpoint" * 20)
    (d / "garbage.npz").write_bytes(b"PK\x03\x04 broken zip")
    (d / "corrupt.mp4").write_bytes(b"\x00\x01garbage" * 50)
    (d / "empty_list.txt").write_text("")
    (d / "labels3.txt").write_text("a\nb\nc\n")
    return d


def run(capsys, argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code, err, expected_code, needle=None):
    assert code == expected_code, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, err
    if needle:
        assert needle.lower() in errors[0].lower(), err


def eval_args(synth, ckpt, *extra):
    return ["eval", "tsm_mobilenetv2", "--ann", synth.ann_file, "--data-root", synth.root,
            "--checkpoint", ckpt, "--workers", "0", "--batch-size", "4", "--no-progress",
            *TINY, *extra]


# -- eval: usage and configuration errors (2) ------------------------------------------------
EVAL_USAGE = [
    (["--limit", "0"], "--limit"),
    (["--limit", "-3"], "--limit"),
    (["--limit", "many"], "--limit"),
    (["--workers", "-1"], "--workers"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--device", "bogus"], "not a device"),
    (["--device", "cuda:7"], "cuda"),
    (["--decode-timeout", "-1"], "--decode-timeout"),
    (["--decode-timeout", "nan"], "--decode-timeout"),
    (["--max-failures", "10x"], "--max-failures"),
    (["--max-failures", "150%"], "at most 100%"),
    (["--decoder", "nope"], "unknown decoder"),
    (["--set", "crop_sise=3"], "unknown data config field"),
    (["--set", "novalue"], "KEY=VALUE"),
    (["--set", "train=1"], "unknown data config field"),
    (["--set", "num_clips=0"], "num_clips"),
    (["--set", "num_clips=-1"], "num_clips"),
    (["--set", "num_clips=2.5"], "num_clips"),
    (["--set", "clip_len=0"], "clip_len"),
    (["--set", "crop_size=0"], "crop_size"),
    (["--set", "crop_size=-5"], "crop_size"),
    (["--set", "resize=0,0"], "resize"),
    (["--set", "resize=-1,-1"], "resize"),
    (["--set", "crop=weird"], "crop"),
    (["--set", "decoder=nope"], "unknown decoder"),
    (["--set", "average=max"], "average"),
    (["--set", "std=0,0,0"], "std"),
    (["--set", "num_segments=0"], "num_segments"),
    (["--protocol", "nope"], "protocol"),
]


@pytest.mark.parametrize("extra,needle", EVAL_USAGE, ids=[" ".join(c[0]) for c in EVAL_USAGE])
def test_eval_usage_errors(synth, ckpt, capsys, extra, needle):
    code, _, err = run(capsys, eval_args(synth, ckpt, *extra))
    assert_one_error(code, err, 2, needle)


def test_eval_path_errors(synth, ckpt, files, tmp_path, capsys):
    cases = [
        (["--out", files / "a_file.txt"], "is a file"),
        (["--out", files / "a_file.txt" / "sub"], "is a file"),
        (["--checkpoint", tmp_path / "missing.pth"], "no such file"),
        (["--checkpoint", files / "empty_dir"], "directory"),
        (["--checkpoint", files / "garbage.pth"], None),
        (["--data-root", files / "a_file.txt"], "not a directory"),
        (["--data-root", tmp_path / "nowhere"], "no such directory"),
    ]
    for extra, needle in cases:
        code, _, err = run(capsys, eval_args(synth, ckpt, *extra))
        assert_one_error(code, err, 2, needle)
    for ann, needle in ((tmp_path / "missing.txt", "no such file"),
                        (files / "empty_dir", "directory"),
                        (files / "empty_list.txt", None)):
        args = eval_args(synth, ckpt)
        args[args.index("--ann") + 1] = str(ann)
        code, _, err = run(capsys, args)
        assert_one_error(code, err, 2, needle)
    code, _, err = run(capsys, ["eval", "tsm_mobilenetv3", "--ann", synth.ann_file])
    assert_one_error(code, err, 2, "did you mean")
    code, _, err = run(capsys, ["eval", "tsm_mobilenetv2"])
    assert_one_error(code, err, 2, "--ann")


@pytest.mark.parametrize("content", ["", '{"model": "tsm', "[]"])
def test_eval_damaged_manifest(synth, ckpt, tmp_path, capsys, content):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").write_text(content)
    code, _, err = run(capsys, eval_args(synth, ckpt, "--out", tmp_path / "out"))
    assert_one_error(code, err, 2, "manifest.json")
    assert "delete" in err


# -- eval: failed work (1) and the failure threshold -----------------------------------------
def _list_with(synth, tmp_path, extra_lines):
    lines = [x for x in Path(synth.ann_file).read_text().splitlines() if x.strip()]
    for name in os.listdir(synth.root):
        target = tmp_path / name
        if not target.exists():
            os.symlink(Path(synth.root, name), target)
    ann = tmp_path / "list.txt"
    ann.write_text("\n".join(lines + extra_lines) + "\n")
    return ann


def test_eval_failures_against_the_threshold(synth, ckpt, tmp_path, capsys):
    ann = _list_with(synth, tmp_path, ["missing.mp4 1"])  # 1 of 9 fails: 11%
    base = eval_args(synth, ckpt, "--data-root", tmp_path)
    base[base.index("--ann") + 1] = str(ann)
    code, out, err = run(capsys, base)
    assert_one_error(code, err, 1, "more than --max-failures 5%")
    assert "8 scored, 1 failed, of 9" in out  # the report is still printed
    assert run(capsys, base + ["--max-failures", "1"])[0] == 0
    assert run(capsys, base + ["--max-failures", "12%"])[0] == 0
    code, _, err = run(capsys, base + ["--max-failures", "0"])
    assert_one_error(code, err, 1, "more than --max-failures 0")


def test_eval_where_every_video_fails(synth, ckpt, files, capsys):
    code, _, err = run(capsys, eval_args(synth, ckpt, "--data-root", files / "empty_dir",
                                         "--max-failures", "100%"))
    assert_one_error(code, err, 1, "no video was scored")


def test_eval_a_fifo_does_not_hang(synth, ckpt, tmp_path, capsys):
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    ann = _list_with(synth, tmp_path, ["fifo.mp4 1"])
    args = eval_args(synth, ckpt, "--data-root", tmp_path, "--decode-timeout", "1")
    args[args.index("--ann") + 1] = str(ann)
    try:
        code, out, err = run(capsys, args)
    finally:  # let an abandoned reader go
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert_one_error(code, err, 1, "max-failures")
    assert "fifo.mp4" in out


def test_help_states_the_failure_default(capsys):
    assert cli(["eval", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-failures" in out and "default: 5%" in out


# -- predict ----------------------------------------------------------------------------------
def test_predict_bad_inputs(synth, ckpt, files, tmp_path, capsys):
    video = os.path.join(synth.root, "moving_object_0000.mp4")
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    base = ["predict", video, "--model", "tsm_mobilenetv2", "--checkpoint", ckpt, *TINY]
    usage = [
        (["predict", tmp_path / "nothere.mp4", "--model", "tsm_mobilenetv2"], "no such file"),
        (["predict", fifo, "--model", "tsm_mobilenetv2"], "not a regular file"),
        (["predict", video, "--model", "tsm_nope"], "unknown model"),
        (base + ["--labels", tmp_path / "missing.txt"], "no such file"),
        (base + ["--labels", files / "labels3.txt"], "3 class names"),
        (base + ["--set", "bogus=1"], "unknown data config field"),
        (base + ["--set", "crop_size=0"], "crop_size"),
        (base + ["--topk", "0"], "--topk"),
        (base + ["--device", "bogus"], "not a device"),
        (base + ["--decoder", "nope"], "unknown decoder"),
        (["predict", video, "--model", "tsm_mobilenetv2", "--checkpoint",
          files / "garbage.pth"], None),
    ]
    for argv, needle in usage:
        code, _, err = run(capsys, argv)
        assert_one_error(code, err, 2, needle)
    corrupt = ["predict", files / "corrupt.mp4", "--model", "tsm_mobilenetv2", "--checkpoint",
               ckpt, *TINY]
    code, _, err = run(capsys, corrupt)
    assert_one_error(code, err, 1, "corrupt.mp4")


def test_predict_refuses_non_finite_scores(synth, tmp_path, capsys):
    from safetensors.torch import save_file

    model = videozoo.create_model("tsm_mobilenetv2", num_classes=NUM_CLASSES)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    bias = next(k for k in sd if k.endswith("bias") and sd[k].numel() == NUM_CLASSES)
    sd[bias] = torch.full_like(sd[bias], float("nan"))
    path = tmp_path / "nan.safetensors"
    save_file(sd, str(path))
    video = os.path.join(synth.root, "moving_object_0000.mp4")
    code, out, err = run(capsys, ["predict", video, "--model", "tsm_mobilenetv2",
                                  "--checkpoint", path, *TINY])
    assert code in (1, 2) and "Traceback" not in err and "nan%" not in out
    assert_one_error(code, err, code)


# -- fuse ---------------------------------------------------------------------------------------
def test_fuse_bad_inputs(files, tmp_path, capsys):
    import numpy as np

    from videozoo.evaluation.scores import ScoreTable, labels_to_array, save_scores

    good = save_scores(tmp_path / "a.npz", ScoreTable(
        np.arange(3), labels_to_array([0, 1, 2]), np.zeros((3, 4), np.float32)))
    other = save_scores(tmp_path / "b.npz", ScoreTable(
        np.arange(3, 6), labels_to_array([0, 1, 2]), np.zeros((3, 4), np.float32)))
    usage = [
        (["fuse", tmp_path / "missing_dir", good], "no such file or directory"),
        (["fuse", good], "at least two"),
        (["fuse", files / "empty_dir", good], "holds no scores"),
        (["fuse", files / "garbage.npz", good], "not a readable"),
        (["fuse", good, good, "--weights", "nan", "1"], "--weights"),
        (["fuse", good, good, "--weights", "1"], "2 score dumps"),
        (["fuse", good, good, "--topk", "0"], "--topk"),
        (["fuse", good, good, "--out", files / "a_file.txt"], "is a file"),
        (["fuse", good, other], "share no video"),
    ]
    for argv, needle in usage:
        code, _, err = run(capsys, argv)
        assert_one_error(code, err, 2, needle)


# -- publish, demo, the top level -------------------------------------------------------------
def test_publish_demo_and_top_level_bad_inputs(files, tmp_path, capsys):
    cases = [
        (["publish", "tsm_*", "--out", files / "a_file.txt", "--dry-run"], "is a file"),
        (["publish", "tsm_*", "--out", tmp_path / "o", "--checkpoints", tmp_path / "nope"],
         "no such directory"),
        (["demo", "--no-such-flag"], "unrecognized"),
        (["nope"], "invalid choice"),
        (["eval", "--bogus"], None),
    ]
    for argv, needle in cases:
        code, _, err = run(capsys, argv)
        assert_one_error(code, err, 2, needle)


def test_traceback_on_request(synth, ckpt, capsys, monkeypatch):
    args = eval_args(synth, ckpt, "--protocol", "nope")
    with pytest.raises(ValueError):
        cli(args + ["--traceback"])
    monkeypatch.setenv("VIDEOZOO_DEBUG", "1")
    with pytest.raises(ValueError):
        cli(args)
