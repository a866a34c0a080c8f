"""The MMAction2 parity harness (``../shared/parity/check_project.py``) must pass in full.

It runs in a subprocess with this interpreter, against the installed ``videozoo``; skipped when
the fixtures are not beside the checkout (see ``conftest.parity_dir``).
"""
from __future__ import annotations

import subprocess
import sys

import pytest


def run_harness(parity_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(parity_dir / "check_project.py"), *args],
                          capture_output=True, text=True, timeout=1800)


def report(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stdout.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL")]
    last = lines[-1] if lines else "(no output)"
    return "\n".join([last, *failed[:30], proc.stderr[-2000:]])


@pytest.mark.slow
def test_parity_models(parity_dir):
    proc = run_harness(parity_dir, "--models-only")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.strip().splitlines()[-1].endswith(" 0 failed")


def test_parity_sampling_crops_metrics(parity_dir):
    proc = run_harness(parity_dir, "--skip-models")
    assert proc.returncode == 0, report(proc)
    assert proc.stdout.strip().splitlines()[-1].endswith(" 0 failed")
