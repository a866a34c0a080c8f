"""Audit every videozoo zoo entry against MMAction2's configs and their git history.

    python tools/audit_zoo.py --repo /path/to/mmaction2.git [--out docs]

For each entry with a checkpoint it reads, from a local MMAction2 git directory (bare is fine),
the entry's config as it was

* at the checkpoint's date (the date in the file name, ``..._20200607-af7fb746.pth``; for files
  without one, the training log's date, else the day the checkpoint link first appeared in the
  README) -- the last first-parent commit of the entry's branch (``0.x`` or ``main``) touching
  each file on or before that day (China time), following renames between layouts;
* at the day the headline number first appeared in the README next to this checkpoint;
* at the revision of the seed table (``shared/zoo-tables``) the entry cites;
* at today's tip of the branch,

each with its ``_base_`` files, parsed with videozoo's own config reader (nothing executed), and
compares test sampling, resize, crop, view averaging, segments, train recipe, class count and
modality with the entry. It writes ``zoo_audit.md``, ``zoo_audit.json`` and
``zoo_audit_corrections.json`` (the precise changes the zoo needs) to ``--out``.

Not part of the package or the test suite.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import videozoo  # noqa: F401  (registers the zoo)
from videozoo._mmaction_config import ConfigError, load_config
from videozoo._mmaction_recipe import ConfigSummaryError, architecture_of, summarize_config
from videozoo._registry import list_entries

# History is read on each line's first-parent chain: 0.x on ``0.x``; 1.x on ``dev-1.x``, where the
# 1.x configs were developed (``main`` only receives them at releases). "Today" is the release tip.
BRANCH = {"0.x": "0.x", "1.x": "dev-1.x"}
TIP = {"0.x": "0.x", "1.x": "main"}
# Fields the checkpoint's tensors decide: where the config disagrees, the config could not have
# produced these weights (a config bug of its time), and the entry keeps what the weights need.
WEIGHT_FIELDS = ("model.arch", "model.num_classes", "model.in_chans")
# The seed tables and the README revision each one is (found by tools/audit_zoo.py --find-tables:
# byte-identical blob for 000/001/003/004, identical table rows for 002, which has no links).
TABLE_REVISIONS = {
    "000_c51641af8350fd2d.txt": ("0.x", "configs/recognition/tsm/README_zh-CN.md"),
    "001_7efc00ef15340356.txt": ("0.x", "configs/recognition/tsn/README.md"),
    "002_7bb5b6b6d4552cd0.txt": ("0.x", "configs/recognition/tsm/README_zh-CN.md"),
    "003_4c21d35f244cc3a4.txt": ("1.x", "configs/recognition/tsm/README.md"),
    "004_3d9976ac29ec7a1d.txt": ("0.x", "configs/recognition/tpn/README_zh-CN.md"),
}
TEST_FIELDS = ("clip_len", "frame_interval", "num_clips", "twice_sample", "dense", "resize",
               "crop", "crop_size", "average", "num_segments")
TRAIN_FIELDS = ("epochs", "lr", "momentum", "weight_decay", "lr_milestones", "clip_grad", "fc_lr5",
                "optimizer", "clip_len", "frame_interval", "num_clips", "dense")
_DATE_IN_NAME = re.compile(r"_(20\d{6})-[0-9a-f]{8}\.pth$")
_DATE_IN_LOG = re.compile(r"(20\d{6})_\d{6}\.log")


class Git:
    """Read-only access to one MMAction2 git directory, with caches."""

    def __init__(self, repo: str):
        self.repo = repo

    def run(self, *args: str, check: bool = True) -> str:
        res = subprocess.run(["git", "-C", self.repo, *args], capture_output=True, text=True,
                             errors="replace")
        if check and res.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {res.stderr.strip()}")
        return res.stdout

    @functools.cache  # noqa: B019  (one Git object per run)
    def show(self, rev: str, path: str) -> Optional[str]:
        res = subprocess.run(["git", "-C", self.repo, "show", f"{rev}:{path}"], capture_output=True,
                             text=True, errors="replace")
        return res.stdout if res.returncode == 0 else None

    @functools.cache  # noqa: B019  (one Git object per run)
    def last_touch(self, branch: str, path: str, before: str) -> Optional[tuple[str, str]]:
        """(commit, ISO date) of the last first-parent commit touching ``path`` up to ``before``."""
        out = self.run("log", "-1", "--first-parent", "--format=%H %cI", f"--before={before}",
                       branch, "--", path).split()
        return (out[0], out[1]) if out else None

    @functools.cache  # noqa: B019  (one Git object per run)
    def commit_date(self, rev: str) -> str:
        return self.run("log", "-1", "--format=%cI", rev).strip()

    @functools.cache  # noqa: B019  (one Git object per run)
    def resolve(self, rev: str) -> str:
        return self.run("rev-parse", rev).strip()

    @functools.cache  # noqa: B019  (one Git object per run)
    def names_of(self, branch: str, path: str) -> tuple[str, ...]:
        """Every name ``path`` had in the branch's history, newest first: renames are followed,
        copies are not (a config copied from another is a new config)."""
        out = self.run("log", "--follow", "--name-status", "--format=", branch, "--", path,
                       check=False)  # a mirror may lack a few old blobs
        names, current = [path], path
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0].startswith("R") and parts[2] == current:
                current = parts[1]
                names.append(current)
            elif len(parts) >= 2 and parts[-1] == current and parts[0][:1] in "AC":
                break
        return tuple(dict.fromkeys(names))

    @functools.cache  # noqa: B019  (one Git object per run)
    def all_config_paths(self, branch: str) -> tuple[str, ...]:
        out = self.run("log", "--first-parent", "--name-only", "--format=", branch, "--",
                       "configs/recognition")
        return tuple(dict.fromkeys(ln.strip() for ln in out.splitlines() if ln.strip().endswith(".py")))

    @functools.cache  # noqa: B019  (one Git object per run)
    def readme_revisions(self, branch: str, path: str, first_parent: bool = True
                         ) -> tuple[tuple[str, str], ...]:
        """(commit, ISO date) of every (first-parent) commit touching ``path``, oldest first."""
        fp = ("--first-parent",) if first_parent else ()
        out = self.run("log", *fp, "--reverse", "--format=%H %cI", branch, "--", path)
        return tuple(tuple(ln.split()) for ln in out.splitlines() if ln.strip())  # type: ignore


class Snapshot:
    """The repository's files as one branch had them at the end of one day (or at a commit)."""

    def __init__(self, git: Git, branch: str, *, day: Optional[str] = None,
                 commit: Optional[str] = None):
        self.git, self.branch = git, branch
        self.commit = commit
        self.before = f"{day} 23:59:59 +0800" if day else None
        self.touched: dict[str, tuple[str, str]] = {}  # path -> (commit, date) it was read at

    def read(self, path: str) -> str:
        path = posixpath.normpath(path)
        if self.commit is not None:
            text = self.git.show(self.commit, path)
            touch = self.git.last_touch(self.commit, path, "2100-01-01") if text is not None else None
        else:
            touch = self.git.last_touch(self.branch, path, self.before)
            text = self.git.show(touch[0], path) if touch else None
        if text is None or touch is None:
            raise FileNotFoundError(f"{path} does not exist at {self.describe()}")
        self.touched[path] = touch
        return text

    def describe(self) -> str:
        return self.commit[:10] if self.commit else f"{self.branch} on {self.before}"

    def exists(self, path: str) -> bool:
        try:
            self.read(path)
            return True
        except FileNotFoundError:
            return False

    def revision(self) -> dict[str, str]:
        """The newest commit among the files read: the config revision this snapshot checked."""
        if not self.touched:
            return {}
        commit, date = max(self.touched.values(), key=lambda t: t[1])
        return {"commit": commit, "date": date}


# -- entries ----------------------------------------------------------------------------------------
def checkpoint_day(git: Git, entry: Any) -> tuple[str, str]:
    """(YYYY-MM-DD, how it was found) for an entry's checkpoint."""
    name = entry.url.rsplit("/", 1)[-1]
    m = _DATE_IN_NAME.search(name)
    if m:
        d = m.group(1)
        return f"{d[:4]}-{d[4:6]}-{d[6:]}", "checkpoint file name"
    m = _DATE_IN_LOG.search(entry.log_url or "")
    if m:
        d = m.group(1)
        return f"{d[:4]}-{d[4:6]}-{d[6:]}", "training log name (checkpoint name has no date)"
    first = first_readme_mention(git, entry, entry.sha256_prefix)
    if first:
        return first[1][:10], f"first README commit linking the checkpoint ({first[0][:10]})"
    raise RuntimeError(f"{entry.name}: no date for {name}")


def readme_paths(entry: Any) -> list[str]:
    family = entry.config.split("_", 1)[0].split("-", 1)[0]
    base = f"configs/recognition/{family}"
    return [f"{base}/README.md", f"{base}/README_zh-CN.md"]


def first_readme_mention(git: Git, entry: Any, *needles: str) -> Optional[tuple[str, str]]:
    """The first README revision with a line that holds every needle (e.g. the checkpoint hash
    and the headline number)."""
    branch = BRANCH[entry.mmaction_version]
    best: Optional[tuple[str, str]] = None
    for path in readme_paths(entry):
        for commit, date in git.readme_revisions(branch, path):
            text = git.show(commit, path) or ""
            if any(all(n in line for n in needles) for line in text.splitlines()):
                if best is None or date < best[1]:
                    best = (commit, date)
                break
    return best


def protocol_history(git: Git, entry: Any, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The config's test protocol after every commit touching it or its bases: the commits where
    it changed are the evidence for 'the config changed after the checkpoint was published'."""
    branch = BRANCH[entry.mmaction_version]
    paths = set(config_path_candidates(git, entry))
    for rec in result["revisions"].values():
        paths.update(rec.get("files", {}))
    out = git.run("log", "--first-parent", "--reverse", "--format=%H %cI", branch, "--", *sorted(paths))
    history: list[dict[str, Any]] = []
    last = None
    for line in out.splitlines():
        commit, date = line.split()
        got = read_config(git, entry, Snapshot(git, branch, commit=commit))
        if "summary" not in got:
            state: Any = {"error": got["error"][:200]}
        else:
            state = config_values(got["summary"])["test"]
        if state != last:
            history.append({"commit": commit, "date": date, "path": got.get("path"),
                            "test": state,
                            "matching_protocol": protocol_matches(entry, state)
                            if "error" not in state else None})
            last = state
    return history


def number_history(git: Git, entry: Any) -> list[dict[str, Any]]:
    """Every change of the README line(s) linking this checkpoint: (commit, date, file, cells)."""
    branch = BRANCH[entry.mmaction_version]
    out: list[dict[str, Any]] = []
    for path in readme_paths(entry):
        last: Optional[tuple] = None
        for commit, date in git.readme_revisions(branch, path):
            text = git.show(commit, path) or ""
            rows = tuple(_numbers(line) for line in text.splitlines()
                         if entry.sha256_prefix in line and "|" in line)
            if rows != last:
                out.append({"commit": commit, "date": date, "file": path.rsplit("/", 1)[-1],
                            "rows": [list(r) for r in rows]})
                last = rows
    return out


def _numbers(line: str) -> tuple[str, ...]:
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return tuple(c for c in cells if re.fullmatch(r"[\d.]+( / [\d.x]+)?|x+ / [\d.]+", c))


def first_commit_of(git: Git, entry: Any) -> Optional[tuple[str, str]]:
    branch = BRANCH[entry.mmaction_version]
    best = None
    for p in git.all_config_paths(branch):
        if posixpath.basename(p) == entry.config + ".py":
            # the last time the path was added: a name can be reused by a different config
            out = git.run("log", "--first-parent", "--diff-filter=A", "-1", "--format=%H %cI",
                          branch, "--", p)
            first = out.split()
            if first and (best is None or first[1] < best[1]):
                best = (first[0], first[1])
    return best


def config_path_candidates(git: Git, entry: Any) -> list[str]:
    branch = BRANCH[entry.mmaction_version]
    base = entry.config + ".py"
    today = [p for p in git.all_config_paths(branch) if posixpath.basename(p) == base]
    names: list[str] = []
    for p in today:
        names.extend(git.names_of(branch, p))
    return list(dict.fromkeys(names))


def read_config(git: Git, entry: Any, snap: Snapshot) -> dict[str, Any]:
    """The config of ``entry`` in ``snap``: summary, path, revision, or an error."""
    for path in config_path_candidates(git, entry):
        if not snap.exists(path):
            continue
        try:
            cfg = load_config(path, reader=snap.read)
            summary = summarize_config(cfg)
        except (ConfigError, ConfigSummaryError, FileNotFoundError) as e:
            return {"path": path, "error": str(e), "revision": snap.revision()}
        return {"path": path, "summary": summary, "revision": snap.revision(),
                "files": {p: t[0][:10] for p, t in sorted(snap.touched.items())}}
    return {"error": f"config {entry.config}.py does not exist at {snap.describe()}"}


def config_values(summary: dict[str, Any]) -> dict[str, Any]:
    """The config's values in the entry's terms (TestProtocol / TrainProtocol / ZooEntry)."""
    test, head, backbone, train = (summary["test"], summary["head"], summary["backbone"],
                                   summary["train"])
    if head.get("type") == "TSMHead":
        segments = head.get("num_segments", 8)
    elif summary.get("fcn_test") and backbone.get("type") == "ResNetTSM":
        segments = backbone.get("num_segments", 8)
    else:
        segments = None
    resize = test.get("resize")
    try:
        arch, arch_kwargs = architecture_of(summary)
    except ConfigSummaryError as e:
        arch, arch_kwargs = f"? ({e})", {}
    return {
        "test": {
            "clip_len": test.get("clip_len"), "frame_interval": test.get("frame_interval"),
            "num_clips": test.get("num_clips"), "twice_sample": test.get("twice_sample"),
            "dense": test.get("dense"), "resize": list(resize) if isinstance(resize, tuple) else resize,
            "crop": test.get("crop"), "crop_size": test.get("crop_size"),
            "average": summary.get("average_clips"), "num_segments": segments,
        },
        "train": {
            "epochs": train.get("epochs"), "lr": train.get("lr"), "momentum": train.get("momentum"),
            "weight_decay": train.get("weight_decay"),
            "lr_milestones": list(train.get("milestones") or ()),
            "clip_grad": train.get("clip_grad"), "fc_lr5": train.get("fc_lr5"),
            "optimizer": train.get("optimizer"), "clip_len": train.get("sample_clip_len"),
            "frame_interval": train.get("sample_frame_interval"),
            "num_clips": train.get("sample_num_clips"), "dense": train.get("dense"),
            "batch_per_gpu": train.get("batch_per_gpu"),
        },
        "model": {
            "arch": arch, "num_classes": summary.get("num_classes"),
            "modality": summary.get("modality"), "in_chans": summary.get("in_channels"),
            "decoder": test.get("decoder"),
            "mean": [float(x) for x in summary.get("mean") or ()],
            "std": [float(x) for x in summary.get("std") or ()],
            "dropout": head.get("dropout_ratio"), "init_std": head.get("init_std"),
            "backbone_num_segments": arch_kwargs.get("num_segments"),
            "test_pipeline_from": test.get("pipeline_from"),
            "nesterov": train.get("nesterov"),
            "schedule": train.get("schedule"), "warmup": train.get("warmup"),
            "warmup_iters": train.get("warmup_iters"),
        },
    }


def _batch_per_gpu(text: Optional[str]) -> Optional[int]:
    m = re.search(r"x\s*(\d+)\s*videos", text or "")
    return int(m.group(1)) if m else None


def entry_values(entry: Any) -> dict[str, Any]:
    p, t = entry.protocol(), entry.train
    return {
        "test": {
            "clip_len": p.clip_len, "frame_interval": p.frame_interval, "num_clips": p.num_clips,
            "twice_sample": p.twice_sample, "dense": p.dense, "resize": list(p.resize),
            "crop": p.crop, "crop_size": p.crop_size, "average": p.average,
            "num_segments": p.num_segments,
        },
        "train": {
            "epochs": t.epochs, "lr": t.lr, "momentum": t.momentum, "weight_decay": t.weight_decay,
            "lr_milestones": list(t.lr_milestones), "clip_grad": t.clip_grad, "fc_lr5": t.fc_lr5,
            "optimizer": t.optimizer, "clip_len": t.clip_len, "frame_interval": t.frame_interval,
            "num_clips": t.num_clips, "dense": t.dense,
            "batch_per_gpu": _batch_per_gpu(t.batch_size),
        },
        "model": {
            "arch": entry.arch, "num_classes": entry.num_classes, "modality": entry.modality,
            "in_chans": entry.in_chans, "decoder": entry.decoder,
            "mean": [float(x) for x in entry.mean], "std": [float(x) for x in entry.std],
            "dropout": entry.arch_kwargs.get("dropout"), "init_std": entry.arch_kwargs.get("init_std"),
        },
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-12
    return a == b


def compare(entry_vals: dict[str, Any], cfg_vals: dict[str, Any]) -> list[dict[str, Any]]:
    diffs = []
    for group in ("test", "train", "model"):
        for field, value in entry_vals[group].items():
            cfg_value = cfg_vals[group].get(field)
            if field in ("dropout", "init_std") and value is None:
                continue  # the architecture's default; checked by the parity tests, not here
            if group == "train" and value is None and cfg_value is None:
                continue
            if not _same(value, cfg_value):
                diffs.append({"field": f"{group}.{field}", "entry": value, "config": cfg_value})
    return diffs


def protocol_matches(entry: Any, cfg_test: dict[str, Any], *,
                     same_accuracy: bool = False) -> Optional[str]:
    """The name of the entry's protocol equal to the config's test pipeline, if any; with
    ``same_accuracy`` the averaging is ignored where there is one view (it changes the scores,
    not the top-1)."""
    fields = TEST_FIELDS
    if same_accuracy and _views(cfg_test) == 1:
        fields = tuple(k for k in TEST_FIELDS if k != "average")
    for p in entry.test_protocols:
        vals = {"clip_len": p.clip_len, "frame_interval": p.frame_interval, "num_clips": p.num_clips,
                "twice_sample": p.twice_sample, "dense": p.dense, "resize": list(p.resize),
                "crop": p.crop, "crop_size": p.crop_size, "average": p.average,
                "num_segments": p.num_segments}
        if all(_same(vals[k], cfg_test.get(k)) for k in fields):
            return p.name
    return None


def explained_test_difference(entry: Any, cfg_test: dict[str, Any]) -> Optional[str]:
    """Why a default protocol that differs from the config is right, where the notes record it:
    the config's crop is random (the entry keeps a deterministic stand-in), or the config's
    pipeline is neither of an 'efficient / accurate' row's settings (the entry keeps both)."""
    notes = " ".join(entry.notes)
    if cfg_test.get("crop") not in ("center", "three", "ten") and "stand-in" in notes:
        return f"the config's crop ({cfg_test.get('crop')}) is random; the notes name the stand-in"
    names = [p.name for p in entry.test_protocols]
    if names[:2] == ["efficient", "accurate"] and "neither table setting" in notes \
            and protocol_matches(entry, cfg_test) is None:
        return "the config's pipeline is neither table setting; the notes record it"
    return None


def numbers_by_protocol(entry: Any, pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each README revision's row: the protocol its config then tested and whether the
    entry holds that number under that protocol ('kept')."""
    out = []
    for h in pairs:
        name = protocol_matches(entry, h["config_test"], same_accuracy=True)
        cells = [c for c in (h["rows"][0] if h["rows"] else ()) if re.search(r"\d\.\d", c)]
        number = None
        if cells and name:
            parts = [x.strip() for x in cells[0].split("/")]
            number = parts[-1] if name == "accurate" and len(parts) == 2 else parts[0]
        kept = number is not None and any(
            r.protocol == name and abs(r.metrics.get("top1", -1) - float(number)) < 1e-6
            for r in entry.reported)
        out.append({"readme_commit": h["commit"], "date": h["date"][:10], "number": number,
                    "protocol": name, "kept": kept})
    return out


def headline(entry: Any) -> Optional[str]:
    """The headline top-1 as the table prints it ('70.24'; Sth 'a / b' rows: the first value)."""
    for r in entry.reported:
        if r.kind == "weights" and r.protocol == entry.protocol().name:
            v = r.metrics.get("top1", r.metrics.get("mAP"))
            if v is not None:
                return f"{v:.2f}"
    return None


def row_numbers(entry: Any) -> list[str]:
    """The other top-1 of a Something-Something 'efficient / accurate' row (its table cell holds
    both; the row was published when the first of them appeared)."""
    names = {p.name for p in entry.test_protocols}
    if not {"efficient", "accurate"} <= names:
        return []
    return [f"{r.metrics['top1']:.2f}" for r in entry.reported
            if r.kind == "weights" and r.protocol in ("efficient", "accurate")
            and r.protocol != entry.protocol().name and "top1" in r.metrics]


def audit_entry(git: Git, entry: Any, table_commits: dict[str, str]) -> dict[str, Any]:
    branch = BRANCH[entry.mmaction_version]
    day, day_source = checkpoint_day(git, entry)
    snaps: dict[str, tuple[Snapshot, str]] = {
        "checkpoint": (Snapshot(git, branch, day=day), f"{day} ({day_source})"),
    }
    log = _DATE_IN_LOG.search(entry.log_url or "")
    if log:
        d = log.group(1)
        log_day = f"{d[:4]}-{d[4:6]}-{d[6:]}"
        if log_day != day:
            snaps["training_start"] = (Snapshot(git, branch, day=log_day), f"{log_day} (log name)")
    head = headline(entry)
    first = first_readme_mention(git, entry, entry.sha256_prefix, head) if head else None
    for other in row_numbers(entry):  # an efficient / accurate row: published with either number
        seen = first_readme_mention(git, entry, entry.sha256_prefix, other)
        if seen and (first is None or seen[1] < first[1]):
            head, first = other, seen
    if first:
        snaps["number_published"] = (Snapshot(git, branch, day=first[1][:10]),
                                     f"{first[1][:10]} (README {first[0][:10]} first shows "
                                     f"{head} with this checkpoint)")
    for table in entry.source_tables:
        if table in table_commits:
            snaps[f"table {table[:3]}"] = (Snapshot(git, branch, commit=table_commits[table]),
                                           f"seed table {table} = README at "
                                           f"{table_commits[table][:10]}")
    first_version = first_commit_of(git, entry)
    if first_version:
        snaps["first_version"] = (Snapshot(git, branch, commit=first_version[0]),
                                  f"{first_version[1][:10]} (first commit with the config under "
                                  "this name)")
    tip = TIP[entry.mmaction_version]
    snaps["today"] = (Snapshot(git, tip, commit=git.resolve(tip)), f"{tip} tip")

    ent = entry_values(entry)
    result: dict[str, Any] = {
        "entry": entry.name, "config": entry.config, "version": entry.mmaction_version,
        "checkpoint": entry.url.rsplit("/", 1)[-1], "checkpoint_day": day,
        "day_source": day_source, "headline_top1": head, "entry_values": ent,
        "protocols": [p.name for p in entry.test_protocols], "revisions": {},
    }
    for label, (snap, desc) in snaps.items():
        got = read_config(git, entry, snap)
        rec: dict[str, Any] = {"when": desc, "path": got.get("path"),
                               "revision": got.get("revision", {})}
        if "error" in got:
            rec["error"] = got["error"]
        else:
            vals = config_values(got["summary"])
            rec["values"] = vals
            rec["files"] = got["files"]
            diffs = compare(ent, vals)
            renamed = posixpath.basename(got["path"]) != entry.config + ".py"
            if renamed and any(d["field"] == "model.arch" for d in diffs):
                rec["error"] = (f"only a predecessor config with another model existed then "
                                f"({got['path']}, {vals['model']['arch']})")
                del rec["values"]
                result["revisions"][label] = rec
                continue
            rec["predecessor"] = renamed  # the config under an earlier name (0.x/1.x renames)
            rec["warnings"] = got["summary"].get("warnings", [])
            broken = [d for d in diffs if d["field"] in WEIGHT_FIELDS or (
                d["field"] in ("model.mean", "model.std") and d["config"]
                and len(d["config"]) != len(d["entry"])) or (
                d["field"].startswith("test.") and any("test_dataloader" in w
                                                       for w in rec["warnings"]))]
            rec["differences"] = [d for d in diffs if d not in broken]
            rec["config_cannot_produce_weights"] = broken
            rec["matching_protocol"] = protocol_matches(entry, vals["test"])
        result["revisions"][label] = rec
    result["protocol_history"] = protocol_history(git, entry, result)
    history = number_history(git, entry)
    seen: set[str] = set()
    for item in history:  # the config's test protocol on each day the row's numbers changed
        key = json.dumps(item["rows"])
        if not item["rows"] or key in seen:
            continue
        seen.add(key)
        got = read_config(git, entry, Snapshot(git, branch, day=item["date"][:10]))
        if "summary" in got:
            test = config_values(got["summary"])["test"]
            item["config_test"] = test
            item["config_revision"] = got["revision"]
            item["matching_protocol"] = protocol_matches(entry, test)
    result["number_history"] = history
    pairs = [h for h in history if "config_test" in h]
    result["numbers_by_protocol"] = numbers_by_protocol(entry, pairs)
    test_label, _ = evidence_labels(result)
    if test_label:
        result["explained"] = explained_test_difference(entry,
                                                        result["revisions"][test_label]["values"]["test"])
    today = result["revisions"].get("today", {})
    result["today_protocol"] = today.get("matching_protocol")
    result["outcome"] = outcome(result)
    return result


def _usable(revs: dict[str, Any], *labels: str) -> Optional[str]:
    """The first snapshot with a readable config under the entry's own name, else the first
    readable one (a predecessor name)."""
    ok = [label for label in labels if "values" in revs.get(label, {})]
    same_name = [label for label in ok if not revs[label].get("predecessor")]
    return (same_name or [None])[0]


def evidence_labels(result: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """Which snapshot is the evidence for the test protocol (the config on the day the headline
    number was published, else at the checkpoint's date) and for the train recipe (the config
    when training started, else at the checkpoint's date, else when the number was published)."""
    revs = result["revisions"]
    tables = sorted(label for label in revs if label.startswith("table "))
    return (_usable(revs, "number_published", "checkpoint", "first_version", *tables),
            _usable(revs, "training_start", "checkpoint", "number_published", "first_version",
                    *tables))


def outcome(result: dict[str, Any]) -> str:
    test_label, train_label = evidence_labels(result)
    if test_label is None:
        return "unchecked"
    revs = result["revisions"]
    diffs = [d for d in revs[test_label]["differences"] if not d["field"].startswith("train.")]
    if result.get("explained"):
        diffs = [d for d in diffs if not d["field"].startswith("test.")]
    diffs += [d for d in revs[train_label]["differences"] if d["field"].startswith("train.")]
    if diffs:
        return "differs"
    return "agrees (documented stand-in)" if result.get("explained") else "agrees"


# -- corrections ------------------------------------------------------------------------------------
_PROTOCOL_ARGS = ("clip_len", "frame_interval", "num_clips", "twice_sample", "dense", "resize",
                  "crop", "crop_size", "average", "num_segments")


def _views(test: dict[str, Any]) -> int:
    crops = {"center": 1, "three": 3, "ten": 10}.get(test.get("crop"), 1)
    if test.get("num_segments") is None:  # TSN: one feature mean over every frame
        return 1
    clips = test["num_clips"] // test["num_segments"] if test.get("clip_len") == 1 else test["num_clips"]
    return crops * max(clips, 1) * (2 if test.get("twice_sample") else 1) * (10 if test.get("dense") else 1)


def view_name(test: dict[str, Any]) -> str:
    """'<clips>x<crops>' as the zoo names protocols: a TSN clip is one frame, a TSM clip is
    ``num_segments`` frames, a 3D clip ``clip_len`` frames; twice-sampling doubles and dense
    sampling (10 positions) multiplies the clips."""
    crops = {"center": 1, "three": 3, "ten": 10}.get(test.get("crop"), 1)
    clips = test["num_clips"]
    if test.get("num_segments") and test.get("clip_len") == 1:
        clips //= test["num_segments"]
    clips *= (2 if test.get("twice_sample") else 1) * (10 if test.get("dense") else 1)
    return f"{clips}x{crops}"


def _evidence(rec: dict[str, Any]) -> dict[str, Any]:
    return dict(rec.get("revision", {}), when=rec.get("when"), path=rec.get("path"))


def corrections_for(entry: Any, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Precise changes for one entry: protocol defaults, recipe values, model fields."""
    revs = result["revisions"]
    test_label, train_label = evidence_labels(result)
    if test_label is None:
        return []
    ref = revs[test_label]
    today = revs.get("today", {})
    out: list[dict[str, Any]] = []
    test_diffs = [d for d in ref["differences"] if d["field"].startswith("test.")]
    if test_diffs and not result.get("explained"):
        cfg_test = ref["values"]["test"]
        default = entry.protocol().name
        today_test = today.get("values", {}).get("test")
        same_today = bool(today_test) and all(
            _same(today_test.get(k), result["entry_values"]["test"][k]) for k in TEST_FIELDS)
        only_average = {d["field"] for d in test_diffs} == {"test.average"}
        effect = ("scores only: one view per video, so the top-1/top-5 are the same under either "
                  "averaging" if only_average and _views(cfg_test) == 1 else
                  "changes the reported accuracy")
        new_name = view_name(cfg_test)
        alt_name = default
        if new_name == default:  # same views, other averaging: the later protocol gets a suffix
            alt_name = f"{default}_{result['entry_values']['test']['average']}"
        item = {"entry": entry.name, "field": "test_protocols.default",
                "old": {d["field"][5:]: d["entry"] for d in test_diffs},
                "new": {d["field"][5:]: d["config"] for d in test_diffs},
                "effect": effect, "evidence": _evidence(ref)}
        match = ref.get("matching_protocol")
        if match:
            item["action"] = (f"make the existing protocol {match!r} the default (first); keep "
                              f"{default!r} as a named alternative")
        elif {"efficient", "accurate"} <= {p.name for p in entry.test_protocols}:
            item["action"] = ("the config's pipeline matches neither table setting (the row's pair is "
                              "efficient / accurate): make 'efficient' the default and keep "
                              "'accurate'; record the config's own pipeline in the notes")
        elif cfg_test.get("crop") not in ("center", "three", "ten"):
            item["action"] = (f"the config's crop ({cfg_test.get('crop')}) is not a deterministic "
                              f"protocol: keep {default!r} as the stand-in and say so in the notes")
        else:
            item["new_protocol"] = dict({k: cfg_test.get(k) for k in _PROTOCOL_ARGS}, name=new_name)
            item["action"] = (f"add new_protocol as the default (first), named {new_name!r}, with the "
                              f"reported numbers of the row; keep the current default as a named "
                              f"alternative {alt_name!r}"
                              + (" (it is the config at today's revision: "
                                 f"{today.get('revision', {}).get('commit', '')[:10]})"
                                 if same_today else ""))
        out.append(item)
    for d in ref["differences"]:
        if d["field"].startswith(("test.", "train.")):
            continue
        out.append({"entry": entry.name, "field": d["field"], "old": d["entry"], "new": d["config"],
                    "evidence": _evidence(ref)})
    pairs = [h for h in result.get("number_history", []) if "config_test" in h]
    kept = all(n["kept"] for n in result.get("numbers_by_protocol", ())) and pairs
    if len({json.dumps(h["config_test"], sort_keys=True) for h in pairs}) > 1 and not kept:
        out.append({
            "entry": entry.name, "field": "reported",
            "action": "the README's numbers for this checkpoint changed together with the test "
                      "protocol; give each number its own protocol (the seed table's number keeps "
                      "the protocol of its date, later numbers are kind 'revision')",
            "pairs": [{"readme_commit": h["commit"], "date": h["date"][:10], "row": h["rows"],
                       "protocol": {k: h["config_test"].get(k) for k in _PROTOCOL_ARGS},
                       "matching_protocol": h.get("matching_protocol"),
                       "config_revision": h.get("config_revision", {}).get("commit")}
                      for h in pairs],
            "old": None, "new": None, "evidence": {}})
    if train_label is not None:
        train_diffs = {d["field"]: d for d in revs[train_label]["differences"]}
        lr, batch = train_diffs.get("train.lr"), train_diffs.get("train.batch_per_gpu")
        for d in train_diffs.values():
            if d["field"].startswith("train."):
                item = {"entry": entry.name, "field": d["field"], "old": d["entry"],
                        "new": d["config"], "evidence": _evidence(revs[train_label])}
                if lr and batch and all(isinstance(x, (int, float)) for x in
                                        (lr["entry"], lr["config"], batch["entry"], batch["config"])) \
                        and abs(lr["entry"] / batch["entry"] - lr["config"] / batch["config"]) < 1e-12:
                    item["effect"] = ("the same learning rate per video (linear scaling): lr and "
                                      "videos per GPU changed together")
                out.append(item)
    return out


_COMMIT_IN_NOTE = re.compile(r"commit ([0-9a-f]{7,40})")


def check_notes(git: Git, entry: Any, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Notes that cite a config commit or a value at the checkpoint's date, checked."""
    out = []
    ck = result["revisions"].get("checkpoint", {})
    if "values" not in ck or ck.get("predecessor"):
        label = _usable(result["revisions"], "first_version", "number_published")
        ck = result["revisions"].get(label, {}) if label else {}
    rev = ck.get("revision", {}).get("commit", "")
    files = ck.get("files", {})
    vals = ck.get("values", {})
    for note in entry.notes:
        problems = []
        about_then = "checkpoint's date" in note or "checkpoint's publication" in note
        for h in _COMMIT_IN_NOTE.findall(note) if about_then else ():
            same_content = bool(files) and all(
                git.show(h, p) is not None and git.show(h, p) == git.show(c, p)
                for p, c in files.items())
            if same_content or rev.startswith(h) or any(c.startswith(h) for c in files.values()):
                continue
            branch = BRANCH[entry.mmaction_version]
            on_chain = subprocess.run(["git", "-C", git.repo, "merge-base", "--is-ancestor", h,
                                       branch], capture_output=True).returncode == 0
            when = git.commit_date(h)[:10]
            kind = ("a side-branch commit merged later" if on_chain else "a commit not on the branch")
            problems.append(f"cites commit {h} ({when}), {kind}; the config the audit read at that "
                            f"date is the first-parent revision {rev[:10]} "
                            f"(files {', '.join(sorted(set(files.values())))}): cite it instead")
        m = re.search(r"average_clips=(None|'prob'|'score'|prob|score)", note)
        if m and about_then and vals:
            claimed = None if m.group(1) == "None" else m.group(1).strip("'")
            actual = vals["test"]["average"]
            if claimed != actual:
                problems.append(f"says average_clips={m.group(1)} at the checkpoint's date; the "
                                f"config then had {actual!r}")
        if problems:
            out.append({"entry": entry.name, "field": "notes", "old": note,
                        "problems": problems,
                        "new": "rewrite with the evidence: " + "; ".join(problems),
                        "evidence": dict(ck.get("revision", {}), when=ck.get("when"))})
    return out


# -- output ------------------------------------------------------------------------------------------
def find_table_commits(git: Git, tables_dir: Path) -> dict[str, str]:
    """The README commit each seed table is: an identical blob, else identical table rows."""
    out: dict[str, str] = {}
    for table, (version, path) in TABLE_REVISIONS.items():
        f = tables_dir / table
        if not f.exists():
            continue
        text = f.read_text()
        want_rows = _rows(text)
        revisions = git.readme_revisions(BRANCH[version], path, first_parent=False)
        blobs = [(commit, git.show(commit, path) or "") for commit, _date in revisions]
        best = next((c for c, b in blobs if b == text), None)
        best = best or next((c for c, b in blobs if _rows(b) == want_rows), None)
        if best:
            out[table] = best
    return out


def _rows(text: str) -> set[tuple[str, ...]]:
    rows = set()
    for line in text.splitlines():
        if "|" not in line:
            continue
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
        cells = tuple(c.strip().replace(".py", "") for c in line.strip().strip("|").split("|"))
        if not all(set(c) <= set(":- ") for c in cells):
            rows.add(cells)
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "(" + ", ".join(str(x) for x in v) + ")"
    return repr(v) if isinstance(v, str) or v is None else str(v)


def write_markdown(results: list[dict[str, Any]], corrections: list[dict[str, Any]],
                   table_commits: dict[str, str], git: Git, path: Path) -> None:
    lines = ["# Zoo audit: every entry against MMAction2's configs and their history", "",
             "Generated by `tools/audit_zoo.py` from a local MMAction2 git directory; the configs "
             "were read with videozoo's own config reader (nothing executed), `_base_` files "
             "included. *checkpoint* = the config on the checkpoint's date; *number* = on the day "
             "the README first showed the entry's headline number with this checkpoint; "
             "*table* = at the seed table's README revision; *today* = branch tip "
             f"(0.x {git.resolve('0.x')[:10]}, main {git.resolve('main')[:10]}).", "",
             "Seed tables: " + ", ".join(f"`{t}` = README at {c[:10]} "
                                         f"({git.commit_date(c)[:10]})"
                                         for t, c in table_commits.items()) + ".", "",
             "*today's config* says whether the entry keeps the config at the branch tip as a "
             "protocol: the default, a named alternative ('kept as'), or not.", "",
             "| entry | checked at (commit, date) | outcome | today's config |",
             "| --- | --- | --- | --- |"]
    for r in results:
        ref = r["revisions"].get("number_published") or r["revisions"]["checkpoint"]
        rev = ref.get("revision", {})
        today = r.get("today_protocol")
        kept = ("default" if today == r["protocols"][0] else f"kept as `{today}`" if today
                else "not a protocol")
        lines.append(f"| `{r['entry']}` | {rev.get('commit', '?')[:10]} {rev.get('date', '')[:10]} "
                     f"| {r['outcome']} | {kept} |")
    lines += ["", "## Details", ""]
    for r in results:
        lines.append(f"### `{r['entry']}`")
        lines.append(f"checkpoint `{r['checkpoint']}`, dated {r['checkpoint_day']} "
                     f"({r['day_source']}); protocols {r['protocols']}; outcome **{r['outcome']}**")
        lines.append("")
        for label, rec in r["revisions"].items():
            rev = rec.get("revision", {})
            head = (f"- *{label}*: {rec['when']}; `{rec.get('path')}` at "
                    f"{rev.get('commit', '?')[:10]} ({rev.get('date', '')[:10]})")
            if "error" in rec:
                lines.append(head + f": **not readable**: {rec['error']}")
                continue
            match = rec.get("matching_protocol")
            if not rec["differences"]:
                lines.append(head + ": agrees")
            else:
                lines.append(head + ": differs")
                for d in rec["differences"]:
                    lines.append(f"  - `{d['field']}`: entry {_fmt(d['entry'])}, config "
                                 f"{_fmt(d['config'])}")
            if match and match != r["protocols"][0]:
                lines.append(f"  - the config's test pipeline is the entry's protocol `{match}`")
            for d in rec.get("config_cannot_produce_weights", []):
                lines.append(f"  - config bug of its time (the weights decide): `{d['field']}` "
                             f"config {_fmt(d['config'])}, entry {_fmt(d['entry'])}")
            for w in rec.get("warnings", []):
                lines.append(f"  - warning: {w}")
        changes = r.get("protocol_history", [])
        if len(changes) > 1:
            lines.append("- test protocol of the config over time (first-parent commits):")
            for h in changes:
                t = h["test"]
                desc = (t["error"] if "error" in t else
                        ", ".join(f"{k}={_fmt(t.get(k))}" for k in TEST_FIELDS))
                lines.append(f"  - {h['commit'][:10]} {h['date'][:10]}: {desc}"
                             + (f" = `{h['matching_protocol']}`" if h.get("matching_protocol") else ""))
        if r.get("explained"):
            lines.append(f"- default protocol differs from the config, explained: {r['explained']}")
        for n in r.get("numbers_by_protocol", []):
            lines.append(f"- README {n['readme_commit'][:10]} {n['date']}: {n['number']} <- "
                         f"`{n['protocol']}` ({'kept' if n['kept'] else 'NOT in the entry'})")
        rows = [h for h in r.get("number_history", []) if h["rows"]]
        if rows:
            lines.append("- README rows linking this checkpoint (numbers as printed):")
            for h in rows:
                cells = "; ".join(" | ".join(row) for row in h["rows"])
                lines.append(f"  - {h['commit'][:10]} {h['date'][:10]} {h['file']}: {cells}")
        lines.append("")
    lines += ["## Corrections", "",
              "Also in `docs/zoo_audit_corrections.json` (entry, field, old -> new, evidence, "
              "status: *open*, or *applied* to the zoo; tests/test_zoo_audit.py checks that "
              "every applied one stays in effect).", ""]
    for c in corrections:
        status = f"[{c.get('status', 'open')}] "
        if c["field"] == "reported":
            pairs = "; ".join(f"{p['date']} {p['readme_commit'][:10]}: "
                              f"{' | '.join(p['row'][0]) if p['row'] else ''} <- "
                              f"{p['matching_protocol'] or _fmt(p['protocol'])}" for p in c["pairs"])
            lines.append(f"- {status}`{c['entry']}` numbers by protocol: {pairs}")
            continue
        ev = c.get("evidence", {})
        if "add" in c:
            lines.append(f"- {status}`{c['entry']}` `{c['field']}` (add, review): {c['add']}")
            continue
        lines.append(f"- {status}`{c['entry']}` `{c['field']}`: {_fmt(c['old'])} -> {_fmt(c['new'])} "
                     f"(evidence {ev.get('commit', '?')[:10]} {ev.get('date', '')[:10]}"
                     f"{'; ' + c['action'] if c.get('action') else ''})")
    path.write_text("\n".join(lines) + "\n")


def _key(c: dict[str, Any]) -> str:
    return json.dumps([c["entry"], c["field"], c.get("old"), c.get("add")], default=str)


def with_status(found: list[dict[str, Any]], previous_file: Path,
                results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The corrections as a record: each found one is 'open'; one of the previous run that this
    run no longer finds is 'applied' (the zoo now agrees), so the file keeps what the audit
    changed and tests/test_zoo_audit.py can check that it stays in effect. A review correction
    (merged again each run) is 'applied' once its text is in the entry's notes."""
    notes = {e.name: e.notes for e in list_entries()}
    audited = {r["entry"] for r in results}
    out = []
    for c in found:
        text = c.get("add") or (c.get("new") if c.get("source") == "review" else None)
        done = text is not None and text in notes.get(c["entry"], ())
        out.append({**c, "status": "applied" if done else "open"})
    keys = {_key(c) for c in out}
    if previous_file.exists():
        for c in json.loads(previous_file.read_text()).get("corrections", []):
            if _key(c) not in keys and c["entry"] in audited:
                out.append({**c, "status": "applied"})
    return sorted(out, key=lambda c: (c["status"] != "open", c["entry"], c["field"]))


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True, help="MMAction2 git directory (bare is fine)")
    ap.add_argument("--tables", default=str(Path(__file__).resolve().parents[2] / "shared" /
                                            "zoo-tables"), help="the seed tables' folder")
    ap.add_argument("--out", default="docs", help="where to write zoo_audit.{md,json} and "
                    "zoo_audit_corrections.json")
    ap.add_argument("--only", default=None, help="audit only entries whose name contains this")
    args = ap.parse_args(argv)
    git = Git(args.repo)
    table_commits = find_table_commits(git, Path(args.tables))
    results, corrections = [], []
    entries = [e for e in list_entries() if e.url and (args.only is None or args.only in e.name)]
    for i, entry in enumerate(entries):
        print(f"[{i + 1}/{len(entries)}] {entry.name}", file=sys.stderr)
        r = audit_entry(git, entry, table_commits)
        results.append(r)
        corrections += corrections_for(entry, r) + check_notes(git, entry, r)
    review = Path(__file__).with_name("audit_zoo_review.json")
    if review.exists():  # what reading the evidence found that the comparison cannot decide
        for item in json.loads(review.read_text())["corrections"]:
            for name in item["entries"]:
                corrections = [c for c in corrections if not (
                    c["entry"] == name and c["field"] == "notes" and c.get("old") == item.get("old"))]
                corrections.append({"entry": name, "source": "review",
                                    **{k: v for k, v in item.items() if k != "entries"}})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corrections = with_status(corrections, out / "zoo_audit_corrections.json", results)
    meta = {"generated": dt.date.today().isoformat(), "tool": "tools/audit_zoo.py",
            "mmaction2": {b: git.resolve(b) for b in ("0.x", "main")},
            "tables": {t: {"commit": c, "date": git.commit_date(c)} for t, c in table_commits.items()}}
    (out / "zoo_audit.json").write_text(json.dumps({**meta, "entries": results}, indent=1,
                                                   default=str) + "\n")
    (out / "zoo_audit_corrections.json").write_text(json.dumps(
        {**meta, "corrections": corrections}, indent=1, default=str) + "\n")
    write_markdown(results, corrections, table_commits, git, out / "zoo_audit.md")
    n_diff = sum(r["outcome"] == "differs" for r in results)
    n_open = sum(c["status"] == "open" for c in corrections)
    print(f"{len(results)} entries: {len(results) - n_diff} agree or unchecked, {n_diff} differ; "
          f"{n_open} open corrections, {len(corrections) - n_open} applied", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
