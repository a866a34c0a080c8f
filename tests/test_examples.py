"""The examples run as written (subprocesses, tiny synthetic data, CPU, no network)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import videozoo

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
MOBILE_ENTRY = "tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb"


def run_example(script: str, *args: str, timeout: float = 300) -> str:
    env = {**os.environ, "VIDEOZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def load_example(script: str):
    spec = importlib.util.spec_from_file_location(f"example_{Path(script).stem}",
                                                  EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", ["finetune.py", "predict.py", "extract_features.py",
                                    "reproduce_table.py", "demo_temporal_order.py"])
def test_help_says_what_runs_without_data(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_example(script).main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage:" in out
    if script != "demo_temporal_order.py":
        assert "synthetic" in out and ("RANDOM" in out or "random init" in out)
    if script != "finetune.py":
        assert "--checkpoint" in out


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """One epoch of examples/finetune.py on its own synthetic data, then a resumed second."""
    out = tmp_path_factory.mktemp("finetune")
    common = ["--output", str(out), "--synthetic-videos", "12", "--batch-size", "4",
              "--workers", "0", "--log-every", "1"]
    first = run_example("finetune.py", *common, "--epochs", "1")
    second = run_example("finetune.py", *common, "--epochs", "2")
    return out, first, second


@pytest.mark.slow
def test_finetune_trains_evaluates_checkpoints_and_resumes(finetuned):
    out, first, second = finetuned
    assert "synthetic videos" in first and "random init" in first
    assert "held-out top1" in first
    assert "resumed from" in second and "1 epochs, 3 steps done" in second
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["world_size"] == 1
    history = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and [h["step"] for h in history] == [3, 6]
    # the checkpoint is a plain state dict create_model reads back
    model = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=out / "last.pt")
    assert model.num_classes == 3
    saved = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert saved["epoch"] == 2 and saved["meta"]["model"] == "tsm_mobilenetv2"


@pytest.mark.slow
def test_predict_with_a_local_checkpoint(finetuned):
    out, _, _ = finetuned
    video = out / "data" / "val" / "moving_object_0000.mp4"
    text = run_example("predict.py", str(video), "--model", "tsm_mobilenetv2",
                       "--checkpoint", str(out / "last.pt"), "--input-size", "64",
                       "--topk", "2")
    lines = [line for line in text.splitlines() if line.strip().startswith(("1.", "2."))]
    assert len(lines) == 2
    probs = [float(line.split()[1].rstrip("%")) for line in lines]
    assert probs[0] >= probs[1] and 0 < sum(probs) <= 100.01


@pytest.mark.slow
def test_predict_without_arguments_uses_synthetic_video_and_random_weights():
    text = run_example("predict.py", "--model", "tsm_mobilenetv2", "--input-size", "64",
                       "--topk", "3")
    assert "synthetic" in text and "RANDOM" in text
    assert sum(line.strip().startswith(("1.", "2.", "3.")) for line in text.splitlines()) == 3


@pytest.mark.slow
def test_extract_features(finetuned, tmp_path):
    out, _, _ = finetuned
    dest = tmp_path / "features.npz"
    data = out / "data" / "val"
    run_example("extract_features.py", "--model", "tsm_mobilenetv2", "--checkpoint",
                str(out / "last.pt"), "--ann", str(data / "val_list.txt"), "--data-root",
                str(data), "--input-size", "64", "--workers", "0", "--out", str(dest))
    got = np.load(dest)
    n = len((data / "val_list.txt").read_text().split("\n")) - 1
    assert got["features"].shape == (n, 1280) and np.isfinite(got["features"]).all()
    assert list(got["video_ids"]) == [line.split()[0] for line in
                                      (data / "val_list.txt").read_text().splitlines()]
    # the features are the classifier's input: the logits follow from them
    model = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=out / "last.pt").eval()
    fc = model.get_classifier()
    assert fc(torch.from_numpy(got["features"])).shape == (n, 3)


@pytest.mark.slow
def test_reproduce_table_with_a_local_mmaction_checkpoint(tmp_path):
    model = videozoo.create_model(MOBILE_ENTRY)
    ckpt = tmp_path / "mobile.pth"
    torch.save({"state_dict": model.export_mmaction_state_dict()}, ckpt)
    report = tmp_path / "table.json"
    text = run_example("reproduce_table.py", MOBILE_ENTRY, "--checkpoint",
                       f"{MOBILE_ENTRY}={ckpt}", "--input-size", "64", "--workers", "0",
                       "--out", str(report))
    assert "RANDOM" in text  # the synthetic-data warning
    rows = json.loads(report.read_text())
    assert [r["name"] for r in rows] == [MOBILE_ENTRY]
    row = rows[0]
    assert row["weights"] == str(ckpt) and row["videos"] == 4
    assert row["reported"] == pytest.approx({"top1": 68.46, "top5": 88.64})
    assert set(row["measured"]) >= {"top1", "top5"}
    table = text[text.index("reported"):]  # the table after the per-entry progress lines
    row_line = next(line for line in table.splitlines() if line.startswith(MOBILE_ENTRY))
    assert "10x3" in row_line and "68.46" in row_line
