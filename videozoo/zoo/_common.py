"""The vocabulary the zoo files share: source tables, datasets, recipes, test protocols, numbers.

Everything here is plain data about MMAction2's published checkpoints. A :class:`Recipe` holds what
a group of table rows shares (timm's ``_cfg()``, torchvision's ``_COMMON_META``); the family files
(``tsn.py``, ``tsm.py``, ``tpn.py``) describe one row per :func:`entry` call, stating only its name,
checkpoint, numbers and what differs from its recipe.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Union

from .._pretrained import (
    FLOW_MEAN,
    FLOW_STD,
    ReportedResult,
    TestProtocol,
    TrainProtocol,
    ZooEntry,
)

# The MMAction2 revisions whose configs the entries were read from (branch 0.x, branch main).
MMACTION2_0X = "71a938ab54c0ce54c43b6c21b9658408a2bb3c0f"
MMACTION2_1X = "4d6c93474730cad2f25e51109adcf96824efc7a3"
MMACTION2_REPO = "https://github.com/open-mmlab/mmaction2"

# The zoo tables the registry mirrors (``shared/zoo-tables/`` beside the checkout).
TSM_0X = "000_c51641af8350fd2d.txt"
TSN_0X = "001_7efc00ef15340356.txt"
TSM_0X_OTHER = "002_7bb5b6b6d4552cd0.txt"
TSM_1X = "003_4c21d35f244cc3a4.txt"
TPN_0X = "004_3d9976ac29ec7a1d.txt"
TABLES = {
    TSM_0X: "TSM model zoo, MMAction2 0.x",
    TSN_0X: "TSN model zoo, MMAction2 0.x",
    TSM_0X_OTHER: "TSM model zoo, MMAction2 0.x, another revision (no links)",
    TSM_1X: "TSM model zoo, MMAction2 1.x",
    TPN_0X: "TPN model zoo, MMAction2 0.x",
}

# ReportedResult.kind: where a number comes from.
WEIGHTS = "weights"  # measured on this entry's checkpoint (a row with its link, or its extra rows)
REFERENCE = "reference"  # the same setting trained with the authors' original code
FUSION = "fusion"  # two-stream: this entry's scores combined with another entry's
REVISION = "revision"  # the row as another revision of the table (002) prints it
DELTA = "delta"  # change against a baseline entry, as the table prints it
RESULT_KINDS = (WEIGHTS, REFERENCE, FUSION, REVISION, DELTA)

# Papers, as the tables cite them.
TSN_PAPER = """@inproceedings{wang2016temporal,
  title={Temporal segment networks: Towards good practices for deep action recognition},
  author={Wang, Limin and Xiong, Yuanjun and Wang, Zhe and Qiao, Yu and Lin, Dahua and Tang, Xiaoou and Van Gool, Luc},
  booktitle={European conference on computer vision},
  pages={20--36},
  year={2016},
  organization={Springer}
}"""
TSM_PAPER = """@inproceedings{lin2019tsm,
  title={TSM: Temporal Shift Module for Efficient Video Understanding},
  author={Lin, Ji and Gan, Chuang and Han, Song},
  booktitle={Proceedings of the IEEE International Conference on Computer Vision},
  year={2019}
}"""
NON_LOCAL_PAPER = """
@article{NonLocal2018,
  author={Xiaolong Wang and Ross Girshick and Abhinav Gupta and Kaiming He},
  title={Non-local Neural Networks},
  journal={CVPR},
  year={2018}
}"""
TPN_PAPER = """@inproceedings{yang2020tpn,
  title={Temporal Pyramid Network for Action Recognition},
  author={Yang, Ceyuan and Xu, Yinghao and Shi, Jianping and Dai, Bo and Zhou, Bolei},
  booktitle={Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year={2020}
}"""

CROPS = ("center", "three", "ten")
AVERAGES = (None, "prob", "score")


class Dataset(NamedTuple):
    title: str
    num_classes: int
    label_map: str  # path in the MMAction2 repository


DATASETS: dict[str, Dataset] = {
    "kinetics400": Dataset("Kinetics-400", 400, "tools/data/kinetics/label_map_k400.txt"),
    "sthv1": Dataset("Something-Something V1", 174, "tools/data/sthv1/label_map.txt"),
    "sthv2": Dataset("Something-Something V2", 174, "tools/data/sthv2/label_map.txt"),
    "diving48": Dataset("Diving48", 48, "tools/data/diving48/label_map.txt"),
    "jester": Dataset("Jester", 27, "tools/data/jester/label_map.txt"),
    "hmdb51": Dataset("HMDB51", 51, "tools/data/hmdb51/label_map.txt"),
    "ucf101": Dataset("UCF101", 101, "tools/data/ucf101/label_map.txt"),
    "mit": Dataset("Moments in Time", 339, "tools/data/mit/label_map.txt"),
    "mmit": Dataset("Multi-Moments in Time", 313, "tools/data/mmit/label_map.txt"),
    "activitynet": Dataset("ActivityNet v1.3", 200, "tools/data/activitynet/label_map.txt"),
}


def label_map_url(dataset: str) -> str:
    """Raw URL of MMAction2's label map for ``dataset`` (one class name per line, index = line)."""
    return (f"https://raw.githubusercontent.com/open-mmlab/mmaction2/{MMACTION2_1X}/"
            f"{DATASETS[dataset].label_map}")


_SHA_SUFFIX = re.compile(r"-([0-9a-f]{8})\.pth$")


def sha256_prefix_of(url: str) -> str:
    """The 8 hex digits MMAction2's publish tool appends to a checkpoint name (its SHA-256 start)."""
    m = _SHA_SUFFIX.search(url)
    if m is None:
        raise ValueError(f"checkpoint URL {url!r} does not end in '-<8 hex>.pth'")
    return m.group(1)


def checkpoint_stem(url: str) -> str:
    """File name without '.pth', e.g. 'tsm_r50_1x1x8_50e_kinetics400_rgb_20200607-af7fb746'."""
    return url.rsplit("/", 1)[-1][: -len(".pth")]


# -- test protocols -------------------------------------------------------------------------------
_CROP_COUNT = {"center": 1, "three": 3, "ten": 10}
_CROP_OF_COUNT = {v: k for k, v in _CROP_COUNT.items()}


def view_name(num_clips: int, crop: str, *, segments: Optional[int] = None, twice: bool = False,
              dense: bool = False) -> str:
    """'clips x crops' as the tables write it: a TSN clip is one frame (25x10 = 25 frames x
    TenCrop), a TSM clip is ``segments`` frames (1x1 = one 8-frame view, CenterCrop), a 3D clip
    is ``clip_len`` frames (10x3 = ten 8-frame clips x ThreeCrop)."""
    clips = num_clips // segments if segments else num_clips
    clips *= (2 if twice else 1) * (10 if dense else 1)
    return f"{clips}x{_CROP_COUNT[crop]}"


def test(num_clips: int, crop: str, crop_size: int, *, version: str, average: Optional[str],
         segments: Optional[int] = None, clip_len: int = 1, frame_interval: int = 1,
         twice: bool = False, dense: bool = False, name: Optional[str] = None,
         note: str = "") -> TestProtocol:
    """A test protocol in MMAction2's terms (SampleFrames / DenseSampleFrames, Resize(-1, 256),
    CenterCrop / ThreeCrop / TenCrop); named by :func:`view_name` unless ``name`` is given."""
    if crop not in _CROP_COUNT:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    if name is None:
        name = view_name(num_clips, crop, segments=segments, twice=twice, dense=dense)
    return TestProtocol(
        name=name, clip_len=clip_len, frame_interval=frame_interval, num_clips=num_clips,
        twice_sample=twice, dense=dense, legacy_sampling=version == "0.x", resize=(-1, 256),
        crop=crop, crop_size=crop_size, average=average, num_segments=segments, note=note)


def efficient(segments: int, *, version: str, note: str = "") -> TestProtocol:
    """Something-Something 'efficient': one clip of ``segments`` frames, CenterCrop 224."""
    return test(segments, "center", 224, version=version, average="prob", segments=segments,
                name="efficient", note=note)


def accurate(segments: int, *, version: str, note: str = "") -> TestProtocol:
    """Something-Something 'accurate': twice-sampled clips (2 x ``segments`` frames), ThreeCrop
    256, i.e. 6 views."""
    return test(segments, "three", 256, version=version, average="prob", segments=segments,
                twice=True, name="accurate", note=note)


def views(spec: str, *, version: str, average: Optional[str], segments: Optional[int] = None,
          clip_len: int = 1, frame_interval: int = 1) -> TestProtocol:
    """A protocol from its table name: ``'efficient'``, ``'accurate'``, ``'<clips>x<crops>'``
    (CenterCrop and TenCrop at 224, ThreeCrop at 256), ``'dense <clips>x<crops>'``
    (DenseSampleFrames: ten times the sampled clips) and ``'...@<size>'`` for another crop size;
    ``' avg=none'`` overrides the averaging, ``' as <name>'`` names it: ``'1x1 as 1x1_prob'``."""
    spec, _, alias = spec.partition(" as ")
    spec, _, avg = spec.partition(" avg=")
    if avg:
        average = None if avg == "none" else avg
    if spec in ("efficient", "accurate"):
        return (efficient if spec == "efficient" else accurate)(segments, version=version)
    dense = spec.startswith("dense ")
    shape, _, size = spec.removeprefix("dense ").partition("@")
    clips, crops = (int(v) for v in shape.split("x"))
    crop = _CROP_OF_COUNT[crops]
    num_clips = (clips // 10 if dense else clips) * (segments or 1)
    return test(num_clips, crop, int(size) if size else (256 if crop == "three" else 224),
                version=version, average=average, segments=segments, clip_len=clip_len,
                frame_interval=frame_interval, dense=dense, name=alias or None)


# -- reported numbers -----------------------------------------------------------------------------
def top(top1: float, top5: Optional[float], protocol: str = "", source: str = "",
        section: str = "", *, kind: str = WEIGHTS, note: str = "",
        entries: tuple[str, ...] = ()) -> ReportedResult:
    """Top-1 / top-5 accuracy (%) of one table cell. An empty protocol, source or section is
    the entry's: its first protocol, its recipe's table and section."""
    metrics = {"top1": top1} if top5 is None else {"top1": top1, "top5": top5}
    return ReportedResult(metrics=metrics, protocol=protocol, source=source, note=note,
                          kind=kind, section=section, entries=entries)


def mean_ap(value: float, protocol: str = "", source: str = "",
            section: str = "") -> ReportedResult:
    """Mean average precision (%), for the multi-label Multi-Moments in Time row."""
    return ReportedResult(metrics={"mAP": value}, protocol=protocol, source=source,
                          kind=WEIGHTS, section=section)


# -- recipes and entries --------------------------------------------------------------------------
class Recipe(Mapping):
    """What a group of table rows shares: any :func:`entry` keyword. ``train`` is a dict of
    :class:`TrainProtocol` fields (an entry's ``train=`` dict updates it) and ``tests`` a tuple of
    :func:`views` names built with the recipe's ``segments``, ``average``, ``clip_len`` and
    ``frame_interval``; ``section`` / ``source`` fill the entry's reported numbers."""

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def but(self, **changes: Any) -> Recipe:
        """This recipe with some fields changed (``train`` dicts are merged)."""
        if isinstance(changes.get("train"), dict):
            changes["train"] = {**self._fields.get("train", {}), **changes["train"]}
        return Recipe(**{**self._fields, **changes})

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def config_url(config: str, version: str, commit: Optional[str] = None,
               folder: Optional[str] = None) -> str:
    """GitHub URL of an MMAction2 recognition config at the revision it was read from."""
    rev = commit or (MMACTION2_1X if version == "1.x" else MMACTION2_0X)
    folder = folder or config.split("_", 1)[0].split("-", 1)[0]  # tsn / tsm / tpn
    if "multiscalecrop" in config or "randomresizedcrop" in config:
        folder += "/data_benchmark"
    return f"{MMACTION2_REPO}/blob/{rev}/configs/recognition/{folder}/{config}.py"


def _schedule_text(t: Mapping[str, Any]) -> str:
    steps = ", ".join(str(m) for m in t["lr_milestones"])
    warm = t.get("warmup_epochs", 0)
    return (f"step x{t.get('lr_gamma', 0.1)} at epochs {steps}"
            + (f", linear warm-up {warm:g} epochs" if warm else ""))


def train(**fields: Any) -> TrainProtocol:
    """TrainProtocol with the step schedule's human-readable summary filled in."""
    if "lr_schedule" not in fields and fields.get("lr_milestones"):
        fields["lr_schedule"] = _schedule_text(fields)
    return TrainProtocol(**fields)


_TEST_KEYS = ("tests", "segments", "average", "clip_len", "frame_interval")
_RESULT_KEYS = ("section", "source")


def _results(top_: Any, more: tuple, default: str) -> tuple[ReportedResult, ...]:
    if top_ is None:
        return tuple(more)
    cells = top_.items() if isinstance(top_, dict) else ((default, top_),)
    return tuple(top(*nums, protocol) for protocol, nums in cells) + tuple(more)


def entry(*, name: str, url: str, recipe: Optional[Mapping[str, Any]] = None,
          arch: Optional[str] = None, config: Optional[str] = None,
          version: Optional[str] = None, dataset: Optional[str] = None,
          aliases: tuple[str, ...] = (), modality: Optional[str] = None,
          config_commit: Optional[str] = None, log: Optional[str] = None,
          top: Union[tuple, dict, None] = None, more: tuple = (),
          **fields: Any) -> ZooEntry:
    """One checkpoint: its recipe's fields, then the keywords given here. Fills in what follows
    from its dataset, modality, config and checkpoint URL (class count, label map, config link,
    SHA-256 prefix, flow normalisation) and adds the checkpoint file stem to the aliases.

    ``config`` defaults to the name without its ``.tag``; ``url`` may be relative to the
    recipe's ``url_base`` and, like ``log`` (a log file name without ``.log`` in the checkpoint's
    folder), say ``{config}`` for the config name; ``top`` the (top-1, top-5) of the first test
    protocol or a ``{protocol: (top-1, top-5)}`` dict, followed by ``more`` (else the recipe's);
    ``augment`` is short for ``train=dict(augment=...)``; a recipe's ``notes_last`` follow the
    entry's notes, ``config_folder`` names the config's folder and ``config_commit`` the revision
    of a config no longer on its branch. Every keyword of the explicit form (``train=TrainProtocol``,
    ``test_protocols=``, ``reported=``) is still accepted."""
    given = {k: v for k, v in dict(arch=arch, config=config, version=version, dataset=dataset,
                                    modality=modality, config_commit=config_commit).items()
             if v is not None}
    base = dict(recipe or {})
    url_base = base.pop("url_base", "")
    log = log or base.pop("log", None)  # a recipe may name every row's log ('{config}')
    base.pop("log", None)
    cfg = config or fields.pop("config", None) or name.split(".")[0]
    url, log = url.replace("{config}", cfg), log and log.replace("{config}", cfg)
    if not url.startswith("https://"):  # relative to the recipe's download folder
        url = url_base + url
    more = more or base.pop("more", ())  # the recipe's results stand in when none are given
    base.pop("more", None)
    notes = (tuple(base.pop("notes", ())) + tuple(fields.pop("notes", ()))
             + tuple(base.pop("notes_last", ())))  # a recipe's closing notes come last
    train_fields = fields.pop("train", None)
    if "augment" in fields:  # shorthand for train=dict(augment=...)
        train_fields = {**(train_fields or {}), "augment": fields.pop("augment")}
    if isinstance(train_fields, (dict, type(None))):
        merged = {**base.pop("train", {}), **(train_fields or {})}
        if "lr_milestones" in merged and "lr_schedule" not in (train_fields or {}) \
                and "lr_schedule" not in base.get("train", {}):
            merged["lr_schedule"] = _schedule_text(merged)
        train_fields = TrainProtocol(**merged)
    else:
        base.pop("train", None)
    spec = {k: fields.pop(k, base.pop(k, None)) for k in _TEST_KEYS}
    res = {k: fields.pop(k, base.pop(k, "")) for k in _RESULT_KEYS}
    f = {**base, **given, **fields}
    name_version = f.pop("version")
    if "test_protocols" not in f and spec["tests"]:
        f["test_protocols"] = tuple(
            views(s, version=name_version, average=spec["average"], segments=spec["segments"],
                  clip_len=spec["clip_len"] or 1, frame_interval=spec["frame_interval"] or 1)
            for s in spec["tests"])
    protocols = f.get("test_protocols", (TestProtocol(),))
    if "reported" not in f:
        f["reported"] = _results(top, more, protocols[0].name)
    f["reported"] = tuple(
        dataclasses.replace(r, protocol=r.protocol or protocols[0].name,
                            source=r.source or res["source"], section=r.section or res["section"])
        for r in f["reported"])
    if log is not None:
        f["log_url"] = f"{url.rsplit('/', 1)[0]}/{log}.log"
    ds = DATASETS[f["dataset"]]
    mod = f.pop("modality", "rgb")
    if mod == "flow":
        f.setdefault("in_chans", 10)  # 5 consecutive (x, y) flow frames
        f.setdefault("mean", FLOW_MEAN)
        f.setdefault("std", FLOW_STD)
    f.pop("config", None)
    commit = f.pop("config_commit", None)
    folder = f.pop("config_folder", None)  # e.g. 'tsn/custom_backbones'
    stem = checkpoint_stem(url)
    all_aliases = tuple(dict.fromkeys(a for a in (*aliases, stem) if a != name))
    return ZooEntry(
        name=name, config=cfg, mmaction_version=name_version,
        num_classes=f.pop("num_classes", ds.num_classes), modality=mod,
        label_map=label_map_url(f["dataset"]), url=url, sha256_prefix=sha256_prefix_of(url),
        config_url=config_url(cfg, name_version, commit, folder), aliases=all_aliases,
        train=train_fields, notes=notes, **f)
