"""examples/finetune.py: a run stopped by --max-steps inside an epoch and resumed ends with the
weights of an uninterrupted run; the recipe's clip_grad is applied; a fine-tuned model with a
reset head is not compared with the table of the weights it started from."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import videozoo

REPO = Path(__file__).resolve().parents[1]
ENTRY = "tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb"


def _finetune():
    spec = importlib.util.spec_from_file_location("example_finetune_resume",
                                                  REPO / "examples" / "finetune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _common(out, data):
    # the synthetic data set is written once (under `data`) and shared by the runs
    return ["--output", str(out), "--synthetic-videos", "12", "--batch-size", "4",
            "--workers", "0", "--log-every", "100", "--eval-every", "0", "--epochs", "2",
            "--mixup", "0.4", "--dropout", "0.5"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return tmp_path_factory.mktemp("ft_resume")


def _state(out):
    return torch.load(out / "last.pt", map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_resume_inside_an_epoch_equals_an_uninterrupted_run(synthetic, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOZOO_OFFLINE", "1")
    ft = _finetune()
    full, part = synthetic / "full", synthetic / "part"
    assert ft.main(_common(full, synthetic)) == 0
    # 3 steps per epoch: stop after 4 (one step into epoch 2), then the same command again
    assert ft.main(_common(part, synthetic) + ["--max-steps", "4"]) == 0
    stopped = _state(part)
    assert stopped["epoch"] == 1 and stopped["step"] == 4 and stopped["step_in_epoch"] == 1
    capsys.readouterr()
    assert ft.main(_common(part, synthetic)) == 0
    assert "4 steps done, 1 steps into epoch 2" in capsys.readouterr().out
    a, b = _state(full), _state(part)
    assert a["step"] == b["step"] == 6 and b["epoch"] == 2 and b["step_in_epoch"] == 0
    assert json.loads((part / "summary.json").read_text())["steps"] == 6
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k


@pytest.mark.slow
def test_recipe_clip_grad_is_applied_and_no_table_comparison(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOZOO_OFFLINE", "1")
    norms = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        norms.append(float(max_norm))
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    ft = _finetune()
    evaluated = []
    real_evaluate = videozoo.evaluate

    def keep(*args, **kwargs):
        evaluated.append(real_evaluate(*args, **kwargs))
        return evaluated[-1]

    monkeypatch.setattr(videozoo, "evaluate", keep)
    common = ["--model", ENTRY, "--output", str(tmp_path), "--synthetic-videos", "8",
              "--batch-size", "4", "--workers", "0", "--epochs", "1", "--input-size", "32"]
    assert ft.main(common) == 0
    assert "gradients clipped to norm 20 (the recipe's)" in capsys.readouterr().out
    assert norms == [20.0, 20.0]  # 2 steps, the recipe's max norm
    # the 3-class model started from a Kinetics-400 entry: no Kinetics numbers beside its own
    assert evaluated and evaluated[-1].reported == {} and evaluated[-1].expected_videos is None
    assert "the table's test set: unknown" in evaluated[-1].summary()
    norms.clear()
    assert ft.main(common + ["--clip-grad", "0", "--output", str(tmp_path / "noclip"),
                             "--resume", "none"]) == 0
    assert norms == []
