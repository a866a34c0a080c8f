"""Every command and snippet of README.md runs as written.

Python blocks run as scripts and shell blocks line by line, in a scratch folder prepared the way
the README's prose says a user's would be (an annotation list and videos where a block names
them). Zoo weights come from a local fake Hub (``HF_ENDPOINT``) that serves, for whatever entry a
block asks for, a ``model.safetensors`` this test makes from random weights, converted by
videozoo's own converter. A block that cannot run here carries ``<!-- readme-test: skip REASON -->``
in the README itself; the set-up block (``<!-- readme-test: ci -->``) is what ``.ci/run`` runs in a
brand-new venv.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from _readme import README, blocks
from _servers import FakeHub
from safetensors import safe_open
from safetensors.torch import save_file

import videozoo
from videozoo._convert import convert_checkpoint

BLOCKS = blocks()

# A lab's MMAction2 1.x TSM config, as its training run would have used it (self-contained).
MY_TSM_CONFIG = """\
model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', pretrained='torchvision://resnet50', depth=50,
                  norm_eval=False, shift_div=8, num_segments=8),
    cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                  init_std=0.001, is_shift=True, num_segments=8, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCHW'))
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(batch_size=1, dataset=dict(type='VideoDataset', ann_file='val.txt',
                                                  pipeline=test_pipeline, test_mode=True))
"""
RUNNABLE = [b for b in BLOCKS if not b.mark]


def test_every_block_runs_or_says_why_not():
    assert RUNNABLE, "README.md has no runnable block"
    for b in BLOCKS:
        assert b.lang in ("python", "sh"), f"README.md:{b.line}: block language {b.lang!r}"
        assert b.mark in ("", "skip", "ci"), f"README.md:{b.line}: unknown mark {b.mark!r}"
        if b.mark == "skip":
            assert len(b.reason) > 10, f"README.md:{b.line}: a skipped block needs a reason"
    assert sum(b.mark == "ci" for b in BLOCKS) == 1


class WeightsHub(FakeHub):
    """A fake Hub that makes a zoo entry's ``model.safetensors`` the first time it is asked."""

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.workdir = workdir
        self._make_lock = threading.Lock()

    def handle_get(self, h, head: bool) -> None:
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/[^/]+/model\.safetensors", h.path.split("?")[0])
        if m and f"{m.group(1)}/{m.group(2)}" not in self.repos:
            with self._make_lock:
                self._make(m.group(1), m.group(2))
        super().handle_get(h, head)

    def _make(self, org: str, name: str) -> None:
        try:
            info = videozoo.pretrained_info(name)
        except Exception:  # not a zoo entry: the Hub answers 404 as the real one would
            return
        torch.manual_seed(0)
        model = videozoo.create_model(info["arch"], num_classes=info["num_classes"],
                                      **info.get("arch_kwargs", {}))
        src = self.workdir / info["url"].rsplit("/", 1)[-1]
        torch.save({"state_dict": model.export_mmaction_state_dict()}, src)
        dst = self.workdir / f"{name}.safetensors"
        convert_checkpoint(src, dst, name)
        # Stand in for the published file: its metadata names the original checkpoint's hash.
        with safe_open(str(dst), "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            meta = dict(f.metadata())
        meta["source_sha256"] = info["sha256_prefix"] + meta["source_sha256"][8:]
        save_file(tensors, str(dst), metadata=meta)
        self.add_file(f"{org}/{name}", "model.safetensors", dst.read_bytes())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The scratch folder and environment the blocks run in."""
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    work.mkdir()
    # What the README's examples name: a Kinetics-style validation list of videos and one video
    # of one's own, an MMAction2 checkpoint of tsm_r50 and the (1.x) config it was trained with.
    videozoo.make_synthetic_dataset(work / "kinetics400_val", num_videos=4, num_classes=2,
                                    frames=16, size=(64, 80), ann_name="list.txt")
    (work / "kinetics400_val" / "list.txt").rename(work / "kinetics400_val_list.txt")
    shutil.copy(next((work / "kinetics400_val").glob("*.mp4")), work / "my_video.mp4")
    model = videozoo.create_model("tsm_r50", num_classes=400)
    torch.save({"state_dict": model.export_mmaction_state_dict()}, work / "tsm_r50_mmaction2.pth")
    (work / "my_tsm_config.py").write_text(MY_TSM_CONFIG)
    with WeightsHub(root) as hub:
        env = dict(os.environ)
        for var in ("HF_HUB_OFFLINE", "VIDEOZOO_MIRROR", "VIDEOZOO_HUB_ORG", "HF_HUB_CACHE",
                    "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(var, None)
        env.update(HF_ENDPOINT=hub.base_url, VIDEOZOO_HOME=str(root / "home"),
                   HF_HOME=str(root / "hf"), NO_PROXY="127.0.0.1,localhost",
                   VIDEOZOO_DISABLE_PROGRESS_BARS="1", PYTHONUNBUFFERED="1",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
        yield work, env


def _run(args: list[str], cwd: Path, env: dict, where: str) -> None:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (f"{where} exited {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[f"README.md:{b.line}" for b in RUNNABLE])
def test_readme_block(block, workspace):
    work, env = workspace
    where = f"{README.name}:{block.line}"
    if block.lang == "python":
        _run([sys.executable, "-c", block.code], work, env, where)
        return
    for cmd in block.commands:
        _run(["bash", "-euo", "pipefail", "-c", cmd], work, env, f"{where}: {cmd}")
