"""benchmarks/models.py runs, and its no-shift baseline really is the model without shifts."""
from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

import videozoo
from videozoo.models.layers import TemporalShift

ROOT = Path(__file__).resolve().parents[1]


def _load_benchmark():
    """benchmarks/models.py under a name of its own (a bare ``models`` could be anything)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its ``_common``
    spec = importlib.util.spec_from_file_location("videozoo_benchmark_models",
                                                  ROOT / "benchmarks" / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def test_without_shifts_is_the_model_with_its_shifts_removed():
    torch.manual_seed(0)
    model = videozoo.create_model("tsm_r50", num_classes=5)
    for m in model.modules():  # timm zero-initialises each block's last BN: undo it
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    model.eval()
    stripped = copy.deepcopy(model)
    for module in list(stripped.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, TemporalShift):
                setattr(module, name, child.net)
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        shifted = model(x)
        off = bench.without_shifts(model)(x)
        assert torch.equal(off, stripped(x))
        assert not torch.equal(off, shifted)
        assert torch.equal(model(x), shifted)  # switched back on afterwards


def test_models_benchmark_writes_the_shift_ratio(tmp_path):
    out = tmp_path / "models.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "models.py"), "--archs", "tsm_r50",
                    "--size", "32", "--repeats", "1", "--inner", "1", "--skip-shift-alone",
                    "--out", str(out)], check=True, capture_output=True, timeout=300)
    rows = json.loads(out.read_text())
    text = json.dumps(rows)
    assert "shift_ratio" in text and "tsm_r50" in text
