"""benchmarks/gpu_check.py runs end to end with --dry-run (CPU, tiny sizes) and writes its JSON
outside the checkout; benchmarks/eval.py does not write into the checkout either."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(script):
    spec = importlib.util.spec_from_file_location(f"bench_{Path(script).stem}",
                                                  REPO / "benchmarks" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_go_outside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("VIDEOZOO_BENCHMARK_DIR", raising=False)
    default = _load("gpu_check.py").default_out()
    assert REPO not in default.resolve().parents
    assert REPO not in _load("eval.py").RESULTS.resolve().parents
    monkeypatch.setenv("VIDEOZOO_BENCHMARK_DIR", str(tmp_path))
    assert _load("gpu_check.py").default_out() == tmp_path / "gpu_check.json"


@pytest.mark.slow
def test_gpu_check_dry_run(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "VIDEOZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"),
                           "--dry-run", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["dry_run"] and report["within_budget"]
    assert report["environment"]["videozoo"]
    steps = report["steps"]
    assert steps["pytest"]["ok"], steps["pytest"]
    rows = {r["name"]: r for r in steps["evaluate"]}
    assert set(rows) == {"TSM-R50 8x1", "TSN-R50 25x10"}
    assert rows["TSM-R50 8x1"]["table_videos_per_s"] == 74.0
    assert rows["TSN-R50 25x10"]["table_videos_per_s"] == 4.3
    for r in rows.values():
        assert r["failed"] == 0 and r["num_videos"] >= 1
        assert r["evaluate_videos_per_s"] > 0 and r["model_fp32_batch1_videos_per_s"] > 0
    for r in steps["model_bf16"]:
        assert r["dtype"] == "bfloat16" and r["views_per_s"] > 0
        assert r["achieved_tflops"] > 0 and r["table_gflops_per_view"] > 0
        assert r["ms_per_batch"]["min"] <= r["ms_per_batch"]["median"] <= r["ms_per_batch"]["max"]
