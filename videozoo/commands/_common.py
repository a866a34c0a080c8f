"""What every command shares: argument types that check values where argparse reads them, a
parser whose errors are one line, and the wrapper that turns a user's mistake into one line on
stderr and an exit code (``--traceback`` or ``VIDEOZOO_DEBUG=1`` shows the traceback instead).

Exit codes: 0 done; 1 the work failed (nothing scored, too many videos failed, a download or a
decode failed); 2 a usage or configuration error (bad argument, unknown name, invalid data
config, unreadable input file); 130 interrupted.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Optional

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} "
                              f"(see {self.prog} --help)\n")


def one_line(message: Any) -> str:
    """A message on one line (a KeyError's quotes dropped)."""
    if isinstance(message, KeyError) and message.args:
        message = message.args[0]
    return " ".join(str(message).split())


# --------------------------------------------------------------------------------------------
# argument types
# --------------------------------------------------------------------------------------------
def _number(text: str, kind: Callable[[str], Any], low: float, strict: bool, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    if value < low or (strict and value == low):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, 0, True, "an integer >= 1")


def non_negative_int(text: str) -> int:
    return _number(text, int, 0, False, "an integer >= 0")


def positive_float(text: str) -> float:
    return _number(text, float, 0.0, True, "a number > 0")


def non_negative_float(text: str) -> float:
    return _number(text, float, 0.0, False, "a number >= 0")


def finite_float(text: str) -> float:
    return _number(text, float, -math.inf, False, "a finite number")


def existing_file(text: str) -> str:
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
    return text


def existing_path(text: str) -> str:
    """A regular file or a folder that exists (a video, a frame folder, an output directory);
    a FIFO or a device is refused (reading it could block forever)."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file or directory: {text!r}")
    if not (os.path.isfile(text) or os.path.isdir(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file or a folder")
    return text


def existing_dir(text: str) -> str:
    """A directory that exists; ``''`` (the default: the current directory) passes."""
    if text and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a file, not a directory" if os.path.exists(text)
            else f"no such directory: {text!r}")
    return text


def output_dir(text: str) -> str:
    """A directory to write to: it may not exist yet, but it may not be a file."""
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a directory")
    parent = os.path.dirname(os.path.abspath(text))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"cannot create {text!r}: {parent!r} is a file")
    return text


def device(text: str) -> str:
    """A torch device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a device: {text!r} (e.g. cpu, cuda, cuda:0)"
                                         ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available here")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r} (cpu, cuda or mps)")
    return text


def decoder_name(text: str) -> str:
    from videozoo.data.decoders import list_decoders

    if text not in list_decoders():
        raise argparse.ArgumentTypeError(f"unknown decoder {text!r}; known: "
                                         f"{', '.join(list_decoders())}")
    return text


def data_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` for ``--set``: a DataConfig field and a Python literal (``a,b``: a tuple)."""
    import ast

    from videozoo.data import DataConfig

    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    known = sorted(DataConfig.__dataclass_fields__)
    if key not in known or key == "train":
        raise argparse.ArgumentTypeError(f"unknown data config field {key!r}; known: "
                                         f"{', '.join(k for k in known if k != 'train')}")
    source = value_text if "," not in value_text or value_text.startswith(("(", "[")) \
        else f"({value_text})"
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None if value_text.lower() == "none" else value_text
    if isinstance(value, list):
        value = tuple(value)
    return key, value


@dataclass(frozen=True)
class FailureLimit:
    """How many failed videos a run may have and still succeed: a count or a fraction."""

    count: Optional[int] = None
    fraction: Optional[float] = None

    def exceeded(self, failed: int, total: int) -> bool:
        if self.count is not None:
            return failed > self.count
        return total > 0 and failed / total > (self.fraction or 0.0)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{100 * (self.fraction or 0):g}%"


def failure_limit(text: str) -> FailureLimit:
    """``N`` (videos) or ``P%`` (of the list)."""
    t = text.strip()
    if t.endswith("%"):
        pct = _number(t[:-1], float, 0.0, False, "a count N or a percentage P% (0-100)")
        if pct > 100:
            raise argparse.ArgumentTypeError(f"a percentage is at most 100%, got {text!r}")
        return FailureLimit(fraction=pct / 100)
    return FailureLimit(count=_number(t, int, 0, False, "a count N or a percentage P%"))


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def _user_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(usage errors -> exit 2, failed work -> exit 1)."""
    from videozoo._checkpoint import CheckpointError
    from videozoo._hub import DownloadError
    from videozoo.data.decoders import VideoDecodeError

    usage = (ValueError, KeyError, CheckpointError, FileNotFoundError, NotADirectoryError,
             IsADirectoryError, PermissionError)
    failed = (DownloadError, VideoDecodeError, TimeoutError, OSError)
    return usage, failed


def debug_wanted(argv: Optional[list[str]] = None) -> bool:
    return os.environ.get("VIDEOZOO_DEBUG", "").lower() not in ("", "0", "false", "no") or \
        "--traceback" in (sys.argv if argv is None else argv)


def call_command(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace,
                 debug: bool = False) -> int:
    """``func(args)`` with a user's mistake answered by one line on stderr and an exit code."""
    from videozoo._hub import DownloadError

    usage, failed = _user_errors()
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except usage + failed as e:
        if debug:
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        if isinstance(e, DownloadError) or not isinstance(e, usage):
            return EXIT_FAILED
        return EXIT_USAGE
