"""The fenced code blocks of README.md, with their run markers (stdlib only: CI reads it first).

A block runs in ``tests/test_readme.py`` unless an HTML comment right above it says otherwise:
``<!-- readme-test: skip REASON -->`` (shown in the README's source, so the reason travels with
the block) or ``<!-- readme-test: ci -->`` for the set-up block that ``.ci/run`` itself runs in a
brand-new virtual environment. ``python tests/_readme.py setup`` prints that block's commands.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*readme-test:\s*(\w+)\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    lang: str  # 'sh', 'python', '' ...
    code: str
    line: int  # 1-based line of the opening fence
    mark: str = ""  # '' (runs), 'skip', 'ci'
    reason: str = ""

    @property
    def commands(self) -> list[str]:
        """Shell lines, without blank and comment-only lines (trailing comments kept)."""
        return [ln for ln in self.code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def blocks(path: Path = README) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{path}:{start + 1}: code block never closed")
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = _MARK.match(lines[k]) if k >= 0 else None
        out.append(Block(m.group(1), "\n".join(body) + "\n", start + 1,
                         mark.group(1) if mark else "", mark.group(2) if mark else ""))
        i += 1
    return out


def setup_commands(path: Path = README) -> list[str]:
    """The two set-up commands (install + main job, then tests), exactly as the README shows them."""
    ci = [b for b in blocks(path) if b.mark == "ci"]
    if len(ci) != 1 or len(ci[0].commands) != 2:
        raise SystemExit(f"{path}: expected one '<!-- readme-test: ci -->' block of two commands")
    return ci[0].commands


if __name__ == "__main__":
    if sys.argv[1:] != ["setup"]:
        raise SystemExit("usage: python tests/_readme.py setup")
    print("\n".join(setup_commands()))
