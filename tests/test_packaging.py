"""What the project imports is what it declares, and what it claims is what CI installs.

A module that arrives only because something else pulled it in (or because it was installed on
the machine by hand) breaks a fresh install: every third-party import must name a distribution
in pyproject.toml, run-time code in ``dependencies``, tests/examples/benchmarks there or in the
``test`` extra.
"""
from __future__ import annotations

import ast
import functools
import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Reference implementations some tools and benchmarks compare against when they are installed
# (a separate venv, ../shared/parity/SETUP.md); never dependencies of videozoo.
REFERENCE_ONLY = {"mmaction", "mmengine", "mmcv", "mmpretrain"}
# Modules of the suite itself (tests import each other's helpers) and of the parity folder.
LOCAL_TEST_MODULES = ({p.stem for d in ("tests", "benchmarks", "tools") for p in (REPO / d).glob("*.py")}
                      | {"parity_recipe"})


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*groups: str) -> set[str]:
    reqs = list(PYPROJECT["dependencies"]) if "dependencies" in groups else []
    for g in groups:
        reqs += PYPROJECT.get("optional-dependencies", {}).get(g, [])
    return {_norm(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in reqs}


def _imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level third-party modules imported by ``paths`` -> the files importing them."""
    out: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "videozoo":
                    out.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return out


def _files(*dirs: str) -> list[Path]:
    files = []
    for d in dirs:
        p = REPO / d
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return files


@functools.lru_cache(maxsize=1)
def _module_to_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    return {_norm(d) for d in _module_to_distributions().get(module, [])}


@pytest.mark.parametrize("dirs,groups", [
    (("videozoo", "hubconf.py"), ("dependencies",)),
    (("tests", "examples", "benchmarks"), ("dependencies", "test")),
])
def test_every_import_is_declared(dirs, groups):
    declared = _declared(*groups)
    missing = []
    for module, users in sorted(_imports([f for f in _files(*dirs) if f.exists()]).items()):
        if module in LOCAL_TEST_MODULES or module in REFERENCE_ONLY:
            continue
        dists = _distributions(module)
        if not dists:
            missing.append(f"{module} (not installed; imported by {sorted(users)[0]})")
        elif not dists & declared:
            missing.append(f"{module} from {'/'.join(sorted(dists))} (imported by "
                           f"{sorted(users)[0]})")
    assert not missing, f"undeclared in pyproject {'/'.join(groups)}: " + "; ".join(missing)


def test_runtime_code_uses_no_test_only_package():
    test_only = _declared("test") - _declared("dependencies")
    used = {d for m in _imports(_files("videozoo")) for d in _distributions(m)}
    assert not used & test_only, sorted(used & test_only)


def _lower_bound(spec: str) -> str:
    m = re.search(r">=\s*([\w.]+)", spec)
    assert m, f"no lower bound in {spec!r}"
    return m.group(1)


def _requirement(name: str) -> str:
    for r in PYPROJECT["dependencies"]:
        if _norm(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) == name:
            return r
    raise AssertionError(f"{name} is not a dependency")


@pytest.mark.skipif(not os.environ.get("CI"), reason="checks what CI installs (CI=true)")
def test_ci_installs_the_lowest_versions_claimed():
    import torch
    import torchvision

    python = _lower_bound(PYPROJECT["requires-python"])
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == python
    assert torch.__version__.split("+")[0] == _lower_bound(_requirement("torch"))
    assert torchvision.__version__.split("+")[0] == _lower_bound(_requirement("torchvision"))
