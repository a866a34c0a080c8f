"""``videozoo cards [--check] [--output PATH]``: regenerate ``MODEL_CARDS.md`` and its figure
(``docs/k400_accuracy_vs_flops.svg`` beside it) from the zoo entries; ``--check`` only compares
and exits 1 when either file is stale."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def default_output() -> Path:
    """``MODEL_CARDS.md`` at the root of the source checkout videozoo runs from, else in the
    current directory."""
    root = Path(__file__).resolve().parents[2]
    return root / "MODEL_CARDS.md" if (root / "pyproject.toml").is_file() else Path("MODEL_CARDS.md")


def expected_files(output: Path) -> dict[Path, str]:
    """Every file the command writes, with the content it writes."""
    from videozoo._cards import FIGURE_PATH, k400_flops_svg, render_model_cards

    return {output: render_model_cards(), output.parent / FIGURE_PATH: k400_flops_svg()}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cards", help="regenerate MODEL_CARDS.md (and its figure) from the zoo")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the files differ from what would be written")
    p.add_argument("--output", type=Path, default=None,
                   help="path of MODEL_CARDS.md (default: the checkout's root)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = args.output or default_output()
    files = expected_files(output)
    if args.check:
        stale = [p for p, text in files.items()
                 if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"stale: {p} (run `videozoo cards` to regenerate it)", file=sys.stderr)
        if not stale:
            print(f"up to date: {', '.join(str(p) for p in files)}")
        return 1 if stale else 0
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p}")
    return 0
