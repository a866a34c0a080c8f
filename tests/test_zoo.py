"""The registry mirrors the zoo tables row for row: schema of every entry, every checkpoint link
with its numbers, the rows without links, and the naming/lookup API."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
from conftest import REPO, find_parity_dir

import videozoo
from videozoo import _registry
from videozoo._pretrained import ReportedResult, ZooEntry
from videozoo.zoo import ENTRIES
from videozoo.zoo._common import (
    AVERAGES,
    CROPS,
    DATASETS,
    RESULT_KINDS,
    TABLES,
    TSM_0X,
    TSM_0X_OTHER,
    TSN_0X,
    label_map_url,
    view_name,
)

ARCHS = {
    "tsn_r50", "tsn_r101", "tsn_r50_flow", "tsm_r50", "tsm_r101", "tsm_r50_nl_embedded_gaussian",
    "tsm_r50_nl_gaussian", "tsm_r50_nl_dot_product", "tsm_mobilenetv2", "tsm_mobileone_s4",
    "tpn_slowonly_r50", "tpn_tsm_r50",
    # MMAction2 1.x TSN README's 3rd-party-backbone rows (tests/test_zoo_1x.py)
    "tsn_resnext101_32x4d", "tsn_densenet161", "tsn_swin_base_patch4_window7_224",
    "tsn_mobileone_s4",
}
# rows of the tables in shared/zoo-tables; the 1.x TSN/TPN README rows are checked in test_zoo_1x
SEED_ENTRIES = tuple(e for e in ENTRIES if set(e.source_tables) <= set(TABLES))
HF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,94}[A-Za-z0-9]$")
BY_NAME = {e.name: e for e in ENTRIES}
BY_URL = {e.url: e for e in SEED_ENTRIES}


# -- the tables ----------------------------------------------------------------------------------
def _tables_dir() -> Path | None:
    env = os.environ.get("VIDEOZOO_ZOO_TABLES")
    parity = find_parity_dir()
    cands = ([Path(env)] if env else []) + ([parity.parent / "zoo-tables"] if parity else []) \
        + [REPO.parent / "shared" / "zoo-tables"]
    return next((c for c in cands if (c / TSM_0X).is_file()), None)


@pytest.fixture(scope="module")
def tables() -> Path:
    d = _tables_dir()
    if d is None:
        pytest.skip("zoo tables not found (set VIDEOZOO_ZOO_TABLES)")
    return d


_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_CKPT = re.compile(r"\[(?:infer_)?ckpt\]\((https?://[^)]+\.pth)\)")
_COLUMNS = {  # our key: the header names the tables use (Chinese and English layouts)
    "config": ("配置文件", "config"),
    "res": ("分辨率", "resolution"),
    "top1": ("top1 准确率", "top1 acc", "top1 准确率 (efficient/accurate)"),
    "top5": ("top5 准确率", "top5 acc", "top5 准确率 (efficient/accurate)"),
    "ref1": ("参考代码的 top1 准确率", "reference top1 acc",
             "参考代码的 top1 准确率 (efficient/accurate)"),
    "ref5": ("参考代码的 top5 准确率", "reference top5 acc",
             "参考代码的 top5 准确率 (efficient/accurate)"),
    "mAP": ("mAP",),
    "protocol": ("testing protocol",),
    "flops": ("FLOPs",),
    "params": ("params",),
}


def _cells(line: str) -> list[str]:
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") else s
    return [c.strip() for c in s.split("|")]


def _is_separator(cells: list[str]) -> bool:
    return any(cells) and all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c)


def parse_table_file(path: Path) -> list[dict]:
    """Every data row of every markdown table in ``path`` (a header is the line before a
    separator line; 002's tables have no leading '|')."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rows, header, section = [], None, ""
    for i, line in enumerate(lines):
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
            continue
        if "|" not in line:
            header = None
            continue
        cells = _cells(line)
        if _is_separator(cells):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "|" in nxt and _is_separator(_cells(nxt)):
            header = cells
            continue
        if header is None:
            continue
        head = list(header)
        if len(cells) == len(head) + 1 and not any(h in head for h in _COLUMNS["res"]):
            head.insert(1, "resolution")  # the TPN Something-Something table lacks this header
        row = {"file": path.name, "section": section, "line": i + 1, "cells": cells}
        for key, names in _COLUMNS.items():
            for n in names:
                if n in head:
                    row[key] = _LINK.sub(r"\1", cells[head.index(n)]).strip()
                    break
        m = _CKPT.search(line)
        row["url"] = m.group(1) if m else None
        row["label"] = _LINK.sub(r"\1", cells[0]).strip().replace(".py", "")
        rows.append(row)
    return rows


def _numbers(cell: str | None) -> list[float | None]:
    """'45.58 / 47.70' -> [45.58, 47.70]; 'x' / 'xx' -> None."""
    if cell is None:
        return []
    return [None if p.strip() in ("x", "xx", "") else float(p) for p in cell.split("/")]


def _expected(row: dict) -> list[tuple[str | None, dict[str, float]]]:
    """(protocol or None for 'the entry's default', metrics) the row reports for its weights."""
    if row.get("mAP"):
        return [(None, {"mAP": float(row["mAP"])})]
    t1, t5 = _numbers(row.get("top1")), _numbers(row.get("top5"))
    t5 = t5 or [None] * len(t1)
    if len(t1) == 2:  # efficient / accurate
        return [(p, {k: v for k, v in (("top1", a), ("top5", b)) if v is not None})
                for p, a, b in zip(("efficient", "accurate"), t1, t5)]
    proto = None
    m = re.match(r"(\d+)x(\d+) frames", row.get("protocol", ""))
    if m:  # the data benchmark names its protocols
        proto = f"{m.group(1)}x{m.group(2)}"
    return [(proto, {k: v for k, v in (("top1", t1[0]), ("top5", t5[0])) if v is not None})]


def _has(entry: ZooEntry, protocol: str | None, metrics: dict[str, float], *, kind: str,
         source: str) -> bool:
    protocol = protocol or entry.protocol().name
    return any(r.kind == kind and r.source == source and r.protocol == protocol
               and all(math.isclose(r.metrics.get(k, math.nan), v, abs_tol=1e-9)
                       for k, v in metrics.items())
               for r in entry.reported)


@pytest.fixture(scope="module")
def table_rows(tables: Path) -> dict[str, list[dict]]:
    return {name: parse_table_file(tables / name) for name in TABLES}


# -- schema ---------------------------------------------------------------------------------------
def test_registry_holds_every_entry_once():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names)) == 76 + 15 and len(SEED_ENTRIES) == 76
    assert sorted(videozoo.list_pretrained()) == sorted(names)
    assert len({e.url for e in ENTRIES}) == len({e.sha256_prefix for e in ENTRIES}) == 76 + 15
    aliases = [a for e in ENTRIES for a in e.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & set(names)


def test_every_architecture_is_registered_and_used():
    assert set(videozoo.list_architectures()) >= ARCHS
    assert {e.arch for e in ENTRIES} == ARCHS


@pytest.mark.parametrize("entry", SEED_ENTRIES, ids=lambda e: e.name)
def test_entry_schema(entry: ZooEntry):
    assert entry.arch in ARCHS and _registry.is_model(entry.arch)
    assert entry.mmaction_version in ("0.x", "1.x")
    assert entry.config and not entry.config.endswith(".py")
    assert re.fullmatch(r"https://github.com/open-mmlab/mmaction2/blob/[0-9a-f]{40}/configs/"
                        r"recognition/(tsn|tsm|tpn)(/data_benchmark)?/" + re.escape(entry.config)
                        + r"\.py", entry.config_url)
    assert entry.name.split(".")[0] == entry.name or entry.name.count(".") == 1
    assert entry.dataset in DATASETS and entry.num_classes == DATASETS[entry.dataset].num_classes
    assert entry.label_map == label_map_url(entry.dataset)
    assert entry.label_map.startswith("https://raw.githubusercontent.com/open-mmlab/mmaction2/")
    # modality and normalisation
    if entry.modality == "flow":
        assert entry.arch == "tsn_r50_flow" and entry.in_chans == 10
        assert entry.mean == entry.std == (128.0, 128.0)
    else:
        assert entry.modality == "rgb" and entry.in_chans == 3
        assert len(entry.mean) == len(entry.std) == 3 and min(entry.std) > 0
    # data source
    assert entry.decoder in ("rawframes", "decord")
    if entry.decoder == "decord":
        assert entry.start_index == 0
    else:
        assert entry.start_index in (0, 1) and "{" in entry.filename_tmpl
    assert entry.data
    # test protocols
    names = [p.name for p in entry.test_protocols]
    assert names and len(set(names)) == len(names)
    fam = entry.arch.split("_")[0]
    for p in entry.test_protocols:
        assert p.crop in CROPS and p.crop_size in (224, 256) and p.resize == (-1, 256)
        assert p.average in AVERAGES
        assert p.legacy_sampling == (entry.mmaction_version == "0.x")
        assert p.num_clips >= 1 and p.clip_len >= 1 and p.frame_interval >= 1
        if p.twice_sample:
            assert p.crop == "three" and p.crop_size == 256
        if fam == "tsn":
            assert p.num_segments is None
            assert p.average is (None if entry.mmaction_version == "0.x" else "prob")
            assert p.clip_len == (5 if entry.modality == "flow" else 1)
        elif entry.arch == "tpn_slowonly_r50":
            assert p.num_segments is None and p.clip_len == 8 and p.average == "prob"
        else:  # TSM and TPN-TSM: views of num_segments frames
            assert p.num_segments in (8, 16) and p.clip_len == 1
            # raw-logit averaging only where the audit found it at publication (0.x, one view)
            assert p.average == "prob" or (
                p.average is None and entry.mmaction_version == "0.x"
                and p.num_clips == p.num_segments and p.crop == "center" and not p.dense)
            assert p.num_clips % p.num_segments == 0
            if entry.arch == "tpn_tsm_r50":
                assert p.num_segments == 8
        if p.name not in ("efficient", "accurate"):
            # '1x1_prob': the same views as '1x1' under a later config's averaging (zoo audit)
            assert p.name.removesuffix(f"_{p.average}") == view_name(
                p.num_clips, p.crop, segments=p.num_segments,
                twice=p.twice_sample, dense=p.dense)
        elif p.name == "accurate":
            assert p.twice_sample and p.crop == "three"
        else:
            assert not p.twice_sample and p.crop == "center" and p.crop_size == 224
    # training recipe
    t = entry.train
    assert t.epochs and t.epochs > 0 and t.lr and t.lr > 0 and t.batch_size
    assert t.lr_milestones and all(0 < m <= t.epochs for m in t.lr_milestones)
    assert t.pretrain
    # checkpoint
    assert re.fullmatch(r"[0-9a-f]{8}", entry.sha256_prefix)
    assert entry.url.endswith(f"-{entry.sha256_prefix}.pth") and entry.has_weights
    hub = _registry.hf_hub_id(entry)
    org, repo = hub.split("/")
    assert HF_NAME.match(repo) and "--" not in repo and ".." not in repo and len(repo) <= 96
    # reported numbers
    assert entry.reported and entry.metrics
    for r in entry.reported:
        assert isinstance(r, ReportedResult) and r.kind in RESULT_KINDS
        assert r.protocol in names, (r.protocol, names)
        assert r.source in TABLES and r.source in entry.source_tables and r.section
        assert r.metrics and all(isinstance(v, float) for v in r.metrics.values())
        lo = -100 if r.kind == "delta" else 0
        assert all(lo <= v <= 100 for v in r.metrics.values())
        for other in r.entries:
            assert other in BY_NAME and other != entry.name
    assert all(isinstance(v, float) for v in entry.metrics.values())
    assert set(entry.source_tables) <= set(TABLES)
    assert entry.paper.startswith("@") and entry.license == "apache-2.0"
    if entry.multi_label:
        assert set(entry.metrics) == {"mAP"}
    if entry.flops is not None:
        assert re.fullmatch(r"\d+(\.\d+)?G", entry.flops) and re.fullmatch(r"\d+(\.\d+)?M",
                                                                            entry.params)


def test_source_tables_exist(tables):
    for name in TABLES:
        assert (tables / name).is_file()


# -- the tables, row for row ------------------------------------------------------------------------
def test_every_checkpoint_link_is_an_entry_with_its_numbers(table_rows):
    linked = [r for name, rows in table_rows.items() for r in rows if r["url"]]
    urls = {r["url"] for r in linked}
    assert urls == set(BY_URL), urls ^ set(BY_URL)
    for row in linked:
        entry = BY_URL[row["url"]]
        assert row["file"] in entry.source_tables
        for proto, metrics in _expected(row):
            assert _has(entry, proto, metrics, kind="weights", source=row["file"]), \
                (entry.name, row["line"], proto, metrics)
        for ref_key, key in (("ref1", "top1"), ("ref5", "top5")):
            refs = _numbers(row.get(ref_key))
            protos = ("efficient", "accurate") if len(refs) == 2 else (_expected(row)[0][0],)
            for proto, v in zip(protos, refs):
                if v is not None:
                    assert _has(entry, proto, {key: v}, kind="reference", source=row["file"]), \
                        (entry.name, row["line"], ref_key)
        if row.get("flops"):  # the 1.x table
            assert entry.flops == row["flops"]
            if row["params"] == "23.87M" and entry.dataset == "kinetics400":
                assert entry.params == "24.33M" and any("23.87M" in n for n in entry.notes)
            else:
                assert entry.params == row["params"]


def test_distinct_checkpoints(table_rows):
    """75 '[ckpt]' links plus the one '[infer_ckpt]' (weights ported from the TSM authors):
    76 distinct files, each one entry."""
    links = [m for rows in table_rows.values() for r in rows
             for m in re.findall(r"\[((?:infer_)?ckpt)\]\((https?://[^)]+\.pth)\)",
                                 "|".join(r["cells"]))]
    assert len({u for k, u in links if k == "ckpt"}) == 75
    assert len({u for k, u in links if k == "infer_ckpt"}) == 1
    assert len({u for _, u in links}) == len(SEED_ENTRIES) == 76


def test_rows_of_the_other_revision(table_rows):
    """002 rows equal to 000 only list 002 as a source; differing values and 002-only rows are
    'revision' results of the entry with that config."""
    main = {(r["label"], r.get("res")): r for r in table_rows[TSM_0X] if r["url"]}
    only, differing = [], []
    for row in table_rows[TSM_0X_OTHER]:
        twin = main.get((row["label"], row.get("res")))
        if twin is not None:
            entry = BY_URL[twin["url"]]
            assert TSM_0X_OTHER in entry.source_tables
            if (twin.get("top1"), twin.get("top5")) == (row.get("top1"), row.get("top5")):
                continue
            differing.append(row["label"])
        else:
            only.append(row["label"])
            (entry,) = [e for e in ENTRIES if e.config == row["label"]]
        for proto, metrics in _expected(row):
            assert _has(entry, proto, metrics, kind="revision", source=TSM_0X_OTHER), \
                (entry.name, row["line"])
    assert sorted(only) == ["tsm_r101_1x1x8_50e_sthv2_rgb", "tsm_r50_1x1x16_50e_sthv2_rgb",
                            "tsm_r50_1x1x8_50e_sthv2_rgb"]
    assert sorted(differing) == ["tsm_r101_1x1x8_50e_sthv1_rgb", "tsm_r50_1x1x16_50e_sthv1_rgb",
                                 "tsm_r50_1x1x8_50e_sthv2_rgb"]


def test_two_stream_rows_are_fusion_results_of_both_streams(table_rows):
    rows = [r for r in table_rows[TSN_0X] if "twostream" in r["label"]]
    assert len(rows) == 2
    for row in rows:
        (_, metrics), = _expected(row)
        holders = [e for e in ENTRIES
                   if any(r.kind == "fusion" and r.metrics == metrics for r in e.reported)]
        assert sorted(e.modality for e in holders) == ["flow", "rgb"]
        rgb, flow = sorted(holders, key=lambda e: e.modality, reverse=True)
        for e, other in ((rgb, flow), (flow, rgb)):
            (fusion,) = [r for r in e.reported if r.kind == "fusion" and r.metrics == metrics]
            assert fusion.entries == (other.name,)


def test_data_benchmark_extra_protocols_belong_to_the_checkpoint_above(table_rows):
    rows = table_rows[TSN_0X]
    extra = [(i, r) for i, r in enumerate(rows) if r["label"] == "x"]
    assert len(extra) == 6
    for i, row in extra:
        above = rows[i - 1]
        entry = BY_URL[above["url"]]
        (proto, metrics), = _expected(row)
        assert proto in {p.name for p in entry.test_protocols}
        assert _has(entry, proto, metrics, kind="weights", source=TSN_0X)
        assert f"top1_{proto}" in entry.metrics


def test_mixup_cutmix_deltas_match_the_baseline():
    """The 'change' cells agree with the numbers they compare, except one the table gets wrong,
    which its entry notes."""
    mismatches = []
    for entry in ENTRIES:
        for r in entry.reported:
            if r.kind != "delta":
                continue
            (base,) = r.entries
            own = next(x for x in entry.reported if x.kind == "weights" and x.protocol == r.protocol)
            ref = next(x for x in BY_NAME[base].reported
                       if x.kind == "weights" and x.protocol == r.protocol)
            for k, d in r.metrics.items():
                if abs(own.metrics[k] - ref.metrics[k] - d) > 0.011:
                    mismatches.append((entry.name, r.protocol, k))
    assert mismatches == [("tsm_r50_mixup_1x1x8_50e_sthv1_rgb", "accurate", "top5")]
    assert any("+0.76" in n for n in BY_NAME["tsm_r50_mixup_1x1x8_50e_sthv1_rgb"].notes)


# -- names, lookups, info ---------------------------------------------------------------------------
def test_config_names_resolve_and_tags_tell_rows_apart():
    arch, entry = _registry.resolve("tsm_r50_1x1x8_50e_kinetics400_rgb")
    assert (arch, entry.name) == ("tsm_r50", "tsm_r50_1x1x8_50e_kinetics400_rgb.340x256")
    assert videozoo.list_models("tsm_r50_1x1x8_50e_kinetics400_rgb.*") == [
        "tsm_r50_1x1x8_50e_kinetics400_rgb.256p", "tsm_r50_1x1x8_50e_kinetics400_rgb.320p",
        "tsm_r50_1x1x8_50e_kinetics400_rgb.340x256"]
    for e in ENTRIES:
        for name in (e.name, *e.aliases):
            assert _registry.resolve(name)[1] is e
        resolved = _registry.resolve(e.config)[1]
        assert resolved.config == e.config
    assert _registry.get_entry("tsm_r50_256p_1x1x8_50e_kinetics400_rgb").name.endswith(".256p")


def test_create_model_from_config_name():
    model = videozoo.create_model("tpn_tsm_r50_1x1x8_150e_sthv1_rgb")
    assert model.num_classes == 174
    assert model.pretrained_cfg["name"] == "tpn_tsm_r50_1x1x8_150e_sthv1_rgb"
    assert model.pretrained_cfg["test_protocol"]["name"] == "accurate"


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ValueError, match="Did you mean") as err:
        videozoo.create_model("tsm_r50_1x1x8_50e_kinetics400")
    assert "tsm_r50_1x1x8_50e_kinetics400_rgb" in str(err.value)


def test_list_models_wildcards():
    assert len(videozoo.list_pretrained("tpn*")) == 3 + 3  # 0.x + 1.x (tpn-...) names
    assert set(videozoo.list_models("*sthv2*")) == {e.name for e in ENTRIES if e.dataset == "sthv2"}
    assert set(videozoo.list_models("tsm_r50", pretrained=False)) == {"tsm_r50"}
    assert len(videozoo.list_pretrained(["tsn_*flow", "tsn_*mmit*"])) == 5


def test_pretrained_info():
    info = videozoo.pretrained_info("tsm_r50_1x1x8_50e_kinetics400_rgb")
    for key in ("arch", "config", "dataset", "num_classes", "url", "sha256_prefix", "hf_hub_id",
                "metrics"):
        assert key in info
    assert info["metrics"] == {"top1": 70.24, "top5": 89.56}
    assert info["hf_hub_id"].endswith("/tsm_r50_1x1x8_50e_kinetics400_rgb.340x256")
    sth = videozoo.pretrained_info("tsm_r50_1x1x8_50e_sthv1_rgb")["metrics"]
    # the audit: published while the config tested 'efficient', which is the default since
    assert sth["top1"] == sth["top1_efficient"] == 45.58 and sth["top1_accurate"] == 47.70
    assert videozoo.pretrained_info("tsn_r101_1x1x5_50e_mmit_rgb")["metrics"] == {"mAP": 61.09}
    with pytest.raises(ValueError, match="architecture"):
        videozoo.pretrained_info("tsm_r50")


def test_hub_org_is_configurable(monkeypatch):
    monkeypatch.setenv("VIDEOZOO_HUB_ORG", "someone")
    e = BY_NAME["tsn_r50_320p_1x1x3_110e_kinetics400_flow"]
    assert _registry.hf_hub_id(e) == "someone/tsn_r50_320p_1x1x3_110e_kinetics400_flow"


def test_arch_kwargs_build_the_models_they_describe():
    """Entries carry only what differs from the architecture's defaults; those options build."""
    seen = set()
    for e in ENTRIES:
        key = (e.arch, tuple(sorted(e.arch_kwargs.items())))
        if not e.arch_kwargs or key in seen:
            continue
        seen.add(key)
        model = videozoo.create_model(e.name)
        assert model.num_classes == e.num_classes and model.in_chans == e.in_chans
        drops = [m.p for m in model.modules() if type(m).__name__ == "Dropout"]
        assert drops == [e.arch_kwargs.get("dropout", drops[0])]
    assert seen
