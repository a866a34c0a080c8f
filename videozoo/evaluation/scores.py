"""Per-video scores on disk: written as they are computed, never lost, read back for resuming.

Layout of an output directory::

    manifest.json          what is being evaluated (model, weights, protocol, video list hash)
    scores.rank{R}.log     append-only records written by process R (one record per batch)
    scores.npz             consolidated scores of all videos, written at the end
    results.json           metrics, counts, failures and protocol, written at the end

A record is ``MAGIC | payload length (u64) | crc32 (u32) | payload`` where the payload is an
``.npz`` archive (no pickle) holding the batch's video indices, their labels, the scores of the
videos that worked and the errors of those that did not, and the fingerprint of the evaluation
(its manifest) that wrote it. Records are flushed and fsync'ed one by one, so a crash loses at
most the batch in flight; a torn tail (the process was killed while writing) is detected by its
length/checksum and dropped when the file is reopened. A corrupt record in the middle (a flipped
byte) is skipped with a warning and reading goes on at the next record, so only its batch is
scored again. Records of another evaluation (another model, protocol or list) are refused.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

__all__ = ["ScoreRecord", "ScoreTable", "ScoreStore", "evaluation_fingerprint", "fuse_tables",
           "labels_to_array", "list_fingerprint",
           "load_scores", "save_scores"]

MAGIC = b"VZSCORE1"
_HEADER = struct.Struct("<8sQI")  # magic, payload length, crc32
MANIFEST = "manifest.json"
CONSOLIDATED = "scores.npz"
RESULTS = "results.json"

PathLike = Union[str, os.PathLike]


def labels_to_array(labels: Sequence[Any]) -> np.ndarray:
    """One row per video: its label(s) as int64, padded with -1 (single-label -> one column)."""
    rows = [np.atleast_1d(np.asarray(lab, dtype=np.int64)).ravel() for lab in labels]
    width = max([len(r) for r in rows], default=1) or 1
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def _merge_label_arrays(arrays: Sequence[np.ndarray]) -> np.ndarray:
    width = max([a.shape[1] for a in arrays], default=1)
    return np.concatenate(
        [np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=-1) for a in arrays]
    ) if arrays else np.zeros((0, 1), dtype=np.int64)


@dataclass
class ScoreRecord:
    """One batch: ``index`` (n,) video indices, ``labels`` (n, L) padded with -1, ``ok`` (n,)
    whether the video was scored, ``scores`` (n_ok, K) for the scored ones (in ``index`` order)
    and ``errors`` (one message per failed video)."""

    index: np.ndarray
    labels: np.ndarray
    ok: np.ndarray
    scores: np.ndarray
    errors: list[str] = field(default_factory=list)
    rank: int = 0
    evaluation: str = ""  # fingerprint of the manifest of the run that wrote it ("" unknown)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            index=np.asarray(self.index, dtype=np.int64),
            labels=np.asarray(self.labels, dtype=np.int64),
            ok=np.asarray(self.ok, dtype=bool),
            scores=np.asarray(self.scores, dtype=np.float32),
            errors=np.asarray(self.errors, dtype=np.str_),
            rank=np.asarray(self.rank, dtype=np.int64),
            evaluation=np.asarray(self.evaluation, dtype=np.str_),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, payload: bytes) -> ScoreRecord:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            rec = cls(index=z["index"], labels=z["labels"], ok=z["ok"], scores=z["scores"],
                      errors=[str(e) for e in z["errors"]], rank=int(z["rank"]),
                      evaluation=str(z["evaluation"]) if "evaluation" in z.files else "")
        n_ok = int(np.asarray(rec.ok, dtype=bool).sum())
        if rec.index.ndim != 1 or rec.ok.shape != rec.index.shape or rec.scores.ndim != 2 \
                or rec.scores.shape[0] != n_ok or rec.labels.shape[0] != rec.index.shape[0] \
                or len(rec.errors) != rec.index.shape[0] - n_ok:
            raise ValueError("inconsistent score record")
        return rec


@dataclass
class ScoreTable:
    """Scores of a set of videos, sorted by video index; failures kept apart."""

    index: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N, L) int64, -1 padded
    scores: np.ndarray  # (N, K) float32
    failures: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def done(self) -> set[int]:
        return set(self.index.tolist()) | set(self.failures)

    @classmethod
    def empty(cls, num_classes: int = 0) -> ScoreTable:
        return cls(np.zeros(0, np.int64), np.zeros((0, 1), np.int64),
                   np.zeros((0, num_classes), np.float32), {})

    @classmethod
    def from_records(cls, records: Iterable[ScoreRecord]) -> ScoreTable:
        """Merge records; a video recorded twice keeps its first result (identical on rerun)."""
        index, labels, scores, failures = [], [], [], {}
        seen: set[int] = set()
        for rec in records:
            ok_idx = rec.index[rec.ok]
            keep = np.array([int(i) not in seen for i in ok_idx], dtype=bool)
            index.append(ok_idx[keep])
            labels.append(rec.labels[rec.ok][keep])
            scores.append(rec.scores[keep])
            seen.update(int(i) for i in ok_idx)
            for i, err in zip(rec.index[~rec.ok], rec.errors):
                failures.setdefault(int(i), err)
        failures = {i: e for i, e in failures.items() if i not in seen}
        return cls.merge([cls(*parts, {}) for parts in zip(index, labels, scores)], failures)

    @classmethod
    def merge(cls, tables: Sequence[ScoreTable], failures: Optional[dict[int, str]] = None
              ) -> ScoreTable:
        """Concatenate tables (e.g. one per process) and sort by video index."""
        failures = dict(failures or {})
        tables = [t for t in tables if len(t) or t.failures]
        for t in tables:
            failures.update(t.failures)
        if not any(len(t) for t in tables):
            out = cls.empty()
            out.failures = dict(sorted(failures.items()))
            return out
        scored = [t for t in tables if len(t)]
        widths = sorted({int(t.scores.shape[1]) for t in scored})
        if len(widths) > 1:
            raise ValueError(f"these scores have different class counts ({widths}): they are "
                             "not of one evaluation")
        index = np.concatenate([t.index for t in scored])
        labels = _merge_label_arrays([t.labels for t in scored])
        scores = np.concatenate([t.scores for t in scored])
        index, first = np.unique(index, return_index=True)  # sorted, duplicates dropped
        failures = {i: e for i, e in sorted(failures.items()) if i not in set(index.tolist())}
        return cls(index, labels[first], scores[first], failures)

    def single_labels(self) -> np.ndarray:
        """(N,) class indices; ValueError if some video has several labels."""
        if self.labels.shape[1] > 1 and (self.labels[:, 1:] >= 0).any():
            raise ValueError("these videos are multi-labelled; use multi_hot() and mAP")
        return self.labels[:, 0].copy()

    def multi_hot(self, num_classes: Optional[int] = None) -> np.ndarray:
        k = num_classes or self.scores.shape[1]
        out = np.zeros((len(self), k), dtype=np.int64)
        rows, cols = np.nonzero(self.labels >= 0)
        out[rows, self.labels[rows, cols]] = 1
        return out

    @property
    def is_multi_label(self) -> bool:
        return self.labels.shape[1] > 1 and bool((self.labels[:, 1:] >= 0).any())


def _record_at(data: bytes, pos: int) -> Optional[tuple[int, ScoreRecord]]:
    """(end offset, record) of a valid record starting at ``pos``, else None."""
    if pos + _HEADER.size > len(data):
        return None
    magic, length, crc = _HEADER.unpack_from(data, pos)
    start, end = pos + _HEADER.size, pos + _HEADER.size + length
    if magic != MAGIC or end > len(data):
        return None
    payload = data[start:end]
    if zlib.crc32(payload) != crc:
        return None
    try:
        return end, ScoreRecord.from_bytes(payload)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _scan(data: bytes) -> tuple[list[ScoreRecord], list[tuple[int, int]], int]:
    """(records, corrupt byte ranges followed by valid records, end of the last valid record).

    After a bad record the scan looks for the next record header and goes on from there."""
    records: list[ScoreRecord] = []
    skipped: list[tuple[int, int]] = []
    pos, valid_end, bad_start = 0, 0, None
    while pos + _HEADER.size <= len(data):
        found = _record_at(data, pos)
        if found is not None:
            if bad_start is not None:
                skipped.append((bad_start, pos))
                bad_start = None
            valid_end, record = found
            records.append(record)
            pos = valid_end
            continue
        if bad_start is None:
            bad_start = pos
        nxt = data.find(MAGIC, pos + 1)
        if nxt < 0:
            break
        pos = nxt
    return records, skipped, valid_end


def _tail_is_corrupt(data: bytes, valid_end: int) -> bool:
    """Whether the bytes after the last valid record are a complete but damaged record (worth a
    warning) rather than a torn one (a process killed while writing: expected, silent)."""
    if len(data) - valid_end < _HEADER.size:
        return False
    magic, length, _ = _HEADER.unpack_from(data, valid_end)
    return magic != MAGIC or valid_end + _HEADER.size + length <= len(data)


def _read_records(path: Path, warn: bool = True) -> tuple[list[ScoreRecord], int]:
    """Records of one log file and the byte offset where its last valid record ends; corrupt
    records are skipped (with a warning), those after them kept."""
    data = path.read_bytes()
    records, skipped, valid_end = _scan(data)
    if warn and (skipped or _tail_is_corrupt(data, valid_end)):
        where = ", ".join(f"bytes {a}-{b}" for a, b in skipped) or f"bytes {valid_end}-"
        warnings.warn(f"{path}: skipped corrupt score records ({where}); the videos in them are "
                      f"scored again, the {len(records)} valid records are kept", stacklevel=3)
    return records, valid_end


def evaluation_fingerprint(manifest: dict[str, Any]) -> str:
    """A short hash of a manifest: the evaluation that records belong to."""
    text = json.dumps(manifest, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def list_fingerprint(items: Sequence[Any]) -> str:
    """A short hash of the evaluated video list (paths and labels), to refuse resuming a
    directory that holds scores of another list."""
    h = hashlib.sha256()
    for it in items:
        h.update(repr(it).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


class ScoreStore:
    """The on-disk, append-only score store of one evaluation run (see the module docstring).

    Every process of a distributed run writes its own ``scores.rank{R}.log``; reading merges
    all of them, so a run can be resumed with another number of processes.
    """

    def __init__(self, out_dir: PathLike, rank: int = 0):
        self.out_dir = Path(out_dir)
        self.rank = rank
        self.path = self.out_dir / f"scores.rank{rank}.log"
        self._fh: Optional[io.BufferedWriter] = None
        self.evaluation: Optional[str] = None  # set by check_manifest

    # -- manifest -------------------------------------------------------------------------------
    def read_manifest(self) -> Optional[dict[str, Any]]:
        """The directory's manifest (None when there is none); a damaged one is a ValueError
        that says how to start over."""
        path = self.out_dir / MANIFEST
        if not path.exists():
            return None
        how = (f"delete {path} to write it again (the scores there of this same evaluation are "
               f"kept, others are refused), or delete {self.out_dir} / use another output "
               "directory to start over")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} cannot be read ({e}): {how}") from None
        if not text.strip():
            raise ValueError(f"{path} is empty (a run was interrupted while writing it): {how}")
        try:
            manifest = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is damaged (truncated or not JSON: {e}): {how}") from None
        if not isinstance(manifest, dict):
            raise ValueError(f"{path} is damaged (not a JSON object): {how}")
        return manifest

    def check_manifest(self, manifest: dict[str, Any], write: bool = True) -> None:
        """Refuse to mix runs: the directory's manifest must equal ``manifest`` (written if new).

        Only the writer (rank 0) creates the file; others only compare when it exists.
        """
        path = self.out_dir / MANIFEST
        manifest = json.loads(json.dumps(manifest, default=str))
        old = self.read_manifest()
        if old is not None:
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            if diff:
                raise ValueError(
                    f"{self.out_dir} holds scores of a different evaluation (differs in: "
                    f"{', '.join(diff)}); use another output directory or delete it"
                )
        elif write:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True))
        self.evaluation = evaluation_fingerprint(manifest)

    # -- records --------------------------------------------------------------------------------
    def log_files(self) -> list[Path]:
        return sorted(self.out_dir.glob("scores.rank*.log")) if self.out_dir.exists() else []

    def records(self) -> Iterator[ScoreRecord]:
        """Every valid record of every process's log, refusing those of another evaluation."""
        expected = self.evaluation
        if expected is None:
            manifest = self.read_manifest()
            expected = evaluation_fingerprint(manifest) if manifest is not None else None
        for path in self.log_files():
            for rec in _read_records(path)[0]:
                if expected is not None and rec.evaluation and rec.evaluation != expected:
                    raise ValueError(
                        f"{path} holds scores of another evaluation (another model, protocol or "
                        f"video list than {self.out_dir / MANIFEST} describes); move it away or "
                        "use another output directory")
                yield rec

    def load(self) -> ScoreTable:
        """Everything recorded so far by any process (torn tails and corrupt records left
        out)."""
        return ScoreTable.from_records(self.records())

    def open(self) -> ScoreStore:
        """Open this process's log for appending, first cutting off a torn last record."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            records, skipped, valid = _scan(data)
            if skipped:  # corrupt records in the middle: keep only the valid ones
                tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
                with open(tmp, "wb") as f:
                    for rec in records:
                        f.write(_frame(rec.to_bytes()))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            elif valid != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(valid)
        self._fh = open(self.path, "ab")
        return self

    def append(self, record: ScoreRecord) -> None:
        """Write one record durably (flush + fsync) before the next batch starts."""
        if self._fh is None:
            self.open()
        assert self._fh is not None
        record.rank = self.rank
        record.evaluation = self.evaluation or ""
        self._fh.write(_frame(record.to_bytes()))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ScoreStore:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_save_npz(path: Path, **arrays: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def save_scores(path: PathLike, table: ScoreTable, names: Optional[Sequence[str]] = None,
                average: Optional[str] = None, multi_label: Optional[bool] = None) -> Path:
    """Write a consolidated ``.npz`` (index, labels, scores, names, failures) atomically.

    ``average`` records what the scores are ('prob', 'score' or 'none' for raw logits), so
    ``fuse`` can tell logits from probabilities.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fail_idx = np.array(sorted(table.failures), dtype=np.int64)
    _atomic_save_npz(
        path,
        index=table.index, labels=table.labels, scores=table.scores,
        names=np.asarray(list(names) if names is not None else [], dtype=np.str_),
        failed_index=fail_idx,
        failed_error=np.asarray([table.failures[int(i)] for i in fail_idx], dtype=np.str_),
        average=np.asarray(str(average if average is not None else "none")),
        multi_label=np.asarray(table.is_multi_label if multi_label is None else multi_label),
    )
    return path


def load_scores(path: PathLike) -> tuple[ScoreTable, dict[str, Any]]:
    """Read a score dump: an output directory (its ``scores.npz``, else its logs) or a ``.npz``.

    Returns the table and extra info (``names`` when known, ``average`` when known).
    """
    path = Path(path)
    info: dict[str, Any] = {}
    if path.is_dir():
        if (path / CONSOLIDATED).exists():
            path = path / CONSOLIDATED
        else:
            table = ScoreStore(path).load()
            if not len(table):
                raise FileNotFoundError(f"{path} holds no scores ({CONSOLIDATED} or score logs)")
            results = path / RESULTS
            if results.exists():
                info["average"] = json.loads(results.read_text()).get("average")
            return table, info
    if path.suffix == ".log":
        return ScoreTable.from_records(_read_records(path)[0]), info
    try:
        return _load_npz(path, info)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable videozoo score file ({e})") from None


def _load_npz(path: Path, info: dict[str, Any]) -> tuple[ScoreTable, dict[str, Any]]:
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("a single array, not an .npz archive")
    with archive as z:
        if "scores" not in z.files:
            raise ValueError(f"{path} is not a videozoo score file (no 'scores' array)")
        scores = z["scores"]
        if scores.ndim != 2:
            raise ValueError(f"its scores have shape {scores.shape}, not (videos, classes)")
        n = scores.shape[0]
        index = z["index"] if "index" in z.files else np.arange(n, dtype=np.int64)
        labels = z["labels"] if "labels" in z.files else np.full((n, 1), -1, np.int64)
        if labels.ndim == 1:
            labels = labels[:, None]
        if index.shape != (n,) or labels.ndim != 2 or labels.shape[0] != n:
            raise ValueError(f"its index {index.shape} / labels {labels.shape} do not match its "
                             f"{n} rows of scores")
        failures = {}
        if "failed_index" in z.files:
            failures = {int(i): str(e) for i, e in zip(z["failed_index"], z["failed_error"])}
        if "names" in z.files and len(z["names"]):
            info["names"] = [str(s) for s in z["names"]]
        if "average" in z.files:
            info["average"] = str(z["average"])
        if "multi_label" in z.files:
            info["multi_label"] = bool(z["multi_label"])
    return ScoreTable(index.astype(np.int64), labels.astype(np.int64), scores, failures), info


def fuse_tables(tables: Sequence[ScoreTable], weights: Optional[Sequence[float]] = None,
                apply_softmax: bool = False) -> tuple[ScoreTable, dict[str, Any]]:
    """Weighted sum of several score dumps of the same videos (two-stream RGB + flow fusion).

    MMAction2's two-stream rows add the raw scores 1:1 without softmax (``report_accuracy.py``);
    ``apply_softmax`` turns each dump into probabilities first. Videos are matched by index; those
    missing from some dump are left out and listed in the returned info, and differing labels are
    an error (the dumps are not of the same list).
    """
    if len(tables) < 2:
        raise ValueError("fusion needs at least two score dumps")
    weights = [1.0] * len(tables) if weights is None else [float(w) for w in weights]
    if len(weights) != len(tables):
        raise ValueError(f"got {len(weights)} weights for {len(tables)} score dumps")
    common = set(tables[0].index.tolist())
    for t in tables[1:]:
        common &= set(t.index.tolist())
    if not common:
        raise ValueError("the score dumps share no video")
    keep = np.array(sorted(common), dtype=np.int64)
    fused = None
    labels = None
    for t, w in zip(tables, weights):
        rows = np.searchsorted(t.index, keep)
        scores = t.scores[rows].astype(np.float64)
        if scores.shape[1] != tables[0].scores.shape[1]:
            raise ValueError(f"score dumps have different class counts: {scores.shape[1]} vs "
                             f"{tables[0].scores.shape[1]}")
        if apply_softmax:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        fused = w * scores if fused is None else fused + w * scores
        lab = t.labels[rows]
        if labels is None:
            labels = lab
        else:
            width = max(labels.shape[1], lab.shape[1])
            a = np.pad(labels, ((0, 0), (0, width - labels.shape[1])), constant_values=-1)
            b = np.pad(lab, ((0, 0), (0, width - lab.shape[1])), constant_values=-1)
            if not np.array_equal(a, b):
                bad = keep[(a != b).any(axis=1)][:5].tolist()
                raise ValueError(f"score dumps disagree on the labels of videos {bad}...: they "
                                 "are not of the same annotation list")
    missing = sorted(set().union(*(t.done for t in tables)) - common)
    assert fused is not None and labels is not None
    return (ScoreTable(keep, labels, fused, {}),
            {"weights": weights, "apply_softmax": apply_softmax, "num_videos": int(len(keep)),
             "left_out": missing})
