"""examples/finetune.py under torchrun: two gloo processes, DistributedDataParallel, a few steps,
evaluation sharded over both processes."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import videozoo

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_finetune(tmp_path):
    env = {**os.environ, "VIDEOZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           str(REPO / "examples" / "finetune.py"), "--output", str(tmp_path),
           "--synthetic-videos", "12", "--batch-size", "2", "--workers", "0",
           "--epochs", "1", "--max-steps", "2", "--log-every", "1"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert "2 process(es)" in out
    assert "weights identical on all 2 processes" in out
    assert "held-out top1" in out and "(6 videos)" in out  # both shards gathered, each once
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 2
    model = videozoo.create_model("tsm_mobilenetv2", checkpoint_path=tmp_path / "last.pt")
    assert model.num_classes == 3
    assert all(torch.isfinite(p).all() for p in model.parameters())
