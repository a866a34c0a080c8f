"""Shared test fixtures: the MMAction2 parity material in ../shared/parity, when present."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def find_parity_dir() -> Path | None:
    """``$VIDEOZOO_PARITY_DIR`` or ``../shared/parity`` beside the checkout."""
    env = os.environ.get("VIDEOZOO_PARITY_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "parity"]:
        if (cand / "parity_recipe.py").is_file():
            return cand
    return None


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    d = find_parity_dir()
    if d is None:
        where = ("the MMAction2 goldens are not here: put the project's shared/parity folder beside "
                 "the checkout (../shared/parity) or set VIDEOZOO_PARITY_DIR to it")
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the parity tests, but {where}", pytrace=False)
        pytest.skip(where)
    return d


@pytest.fixture(scope="session")
def parity_recipe(parity_dir):
    sys.path.insert(0, str(parity_dir))
    import parity_recipe

    return parity_recipe


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
