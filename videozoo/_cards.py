"""Model cards, written from the zoo entries: one Hugging Face ``README.md`` per entry and the
repository's ``MODEL_CARDS.md`` (plus a hand-drawn SVG of Kinetics-400 accuracy against FLOPs).

Everything shown comes from the entries, i.e. from the MMAction2 tables and configs, so the cards
cannot drift from the registry: ``videozoo cards --check`` (and a test) fail when the committed
``MODEL_CARDS.md`` is not what :func:`render_model_cards` writes.
"""
from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Optional

from ._families import arch_facts
from ._pretrained import ReportedResult, TestProtocol, ZooEntry

FIGURE_PATH = "docs/k400_accuracy_vs_flops.svg"  # relative to MODEL_CARDS.md

KIND_TITLES = {
    "reference": "original authors' code",
    "fusion": "two-stream fusion",
    "revision": "other table revision",
    "delta": "change",
}
_CROP_TITLES = {"center": "CenterCrop", "three": "ThreeCrop", "ten": "TenCrop"}
_CROPS = {"center": 1, "three": 3, "ten": 10}


# -- small pieces ---------------------------------------------------------------------------------
def family(entry: ZooEntry) -> str:
    """The family its architecture registered (``videozoo._families``)."""
    return arch_facts(entry.arch).family


def arch_title(arch: str) -> str:
    return arch_facts(arch).title


def _families(entries: Sequence[ZooEntry]) -> OrderedDict:
    """family name -> title, in the order the entries first show them."""
    out: OrderedDict = OrderedDict()
    for e in entries:
        facts = arch_facts(e.arch)
        out.setdefault(facts.family, facts.family_title)
    return out


def computed_size(entry: ZooEntry) -> Optional[tuple[str, str, tuple[int, ...]]]:
    """(FLOPs, params, view shape) videozoo computed for a row whose table reports none."""
    from ._computed_flops import COMPUTED

    return None if entry.flops else COMPUTED.get(entry.name)


def _shown_flops(entry: ZooEntry) -> str:
    computed = computed_size(entry)
    return entry.flops or (f"{computed[0]}*" if computed else "–")


def _dataset_title(dataset: str) -> str:
    from .zoo._common import DATASETS

    return DATASETS[dataset].title if dataset in DATASETS else dataset


def _table_file(source: str) -> str:
    from .zoo._common import TABLES

    return f"{source} ({TABLES[source]})" if source in TABLES else source


def describe_protocol(p: TestProtocol) -> str:
    """One line: sampling x crops, view count and how views are averaged."""
    crops = _CROPS[p.crop]
    crop = f"{_CROP_TITLES[p.crop]} {p.crop_size}"
    if p.num_segments:  # 2D model with a per-view head (TSM, TPN-TSM): views of num_segments
        per_sample = p.num_clips // p.num_segments
        clips = per_sample * (2 if p.twice_sample else 1) * (10 if p.dense else 1)
        how = ("twice-sampled " if p.twice_sample else "") + ("dense " if p.dense else "")
        what = f"{clips} {how}clip{'s' if clips > 1 else ''} of {p.num_segments} frames"
        views = f"{clips * crops} view{'s' if clips * crops > 1 else ''}"
    elif p.clip_len > 1 and p.average is not None:  # 3D clips
        clips = p.num_clips * (10 if p.dense else 1)
        what = f"{clips} clips of {p.clip_len} frames (every {p.frame_interval})"
        views = f"{clips * crops} views"
    else:  # TSN: every frame (or flow stack) of every crop is averaged into one feature
        frames = p.num_clips * (2 if p.twice_sample else 1) * (10 if p.dense else 1)
        unit = f"stacks of {p.clip_len} flow frames" if p.clip_len > 1 else "frames"
        what = f"{frames} {'dense ' if p.dense else ''}{unit}"
        views = "features averaged over all of them"
    avg = {None: "raw logits", "prob": "mean of softmax", "score": "mean of logits"}[p.average]
    sampling = "0.x sampling" if p.legacy_sampling else "1.x sampling"
    return f"{what} x {crop} ({views}; {avg}; short side 256; {sampling})"


def _fmt(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.2f}"


def _own(entry: ZooEntry) -> list[ReportedResult]:
    """The entry's own numbers, one per protocol (first table row wins), in protocol order."""
    seen: dict[str, ReportedResult] = {}
    for r in entry.reported:
        if r.kind == "weights":
            seen.setdefault(r.protocol, r)
    order = [p.name for p in entry.test_protocols]
    return sorted(seen.values(), key=lambda r: order.index(r.protocol))


def _cell(results: Sequence[ReportedResult], key: str) -> str:
    return " / ".join(_fmt(r.metrics.get(key)) for r in results)


def _metric_names(entries: Iterable[ZooEntry]) -> list[str]:
    keys: list[str] = []
    for e in entries:
        for r in _own(e):
            keys += [k for k in r.metrics if k not in keys]
    return keys


def _shown_params(entry: ZooEntry) -> str:
    if entry.params is None:
        computed = computed_size(entry)
        return f"{computed[1]}*" if computed else "–"
    corrected = any("23.87M" in n for n in entry.notes)
    return f"{entry.params}†" if corrected else entry.params


def _other_results(entry: ZooEntry) -> list[str]:
    out = []
    for r in entry.reported:
        if r.kind == "weights":
            continue
        nums = ", ".join(f"{k} {v:+.2f}" if r.kind == "delta" else f"{k} {v:.2f}"
                         for k, v in r.metrics.items())
        with_ = f" with `{'`, `'.join(r.entries)}`" if r.entries and r.kind != "delta" else ""
        against = f" against `{r.entries[0]}`" if r.kind == "delta" and r.entries else ""
        extra = f" — {r.note}" if r.note and r.kind not in ("delta",) else ""
        out.append(f"{KIND_TITLES.get(r.kind, r.kind)}{with_}{against} ({r.protocol}): {nums} "
                   f"[{r.source}]{extra}")
    return out


# -- Hugging Face model card ----------------------------------------------------------------------
def _yaml(value: object, indent: int = 0) -> list[str]:
    """A tiny YAML emitter for the front matter: dicts, lists and JSON-quoted scalars."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines += _yaml(v, indent + 1)
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return lines
    for item in value:  # a list
        if isinstance(item, (dict, list)) and item:
            sub = _yaml(item, indent + 1)
            lines.append(f"{pad}- {sub[0].lstrip()}")
            lines += sub[1:]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v), ensure_ascii=False)


def _model_index(entry: ZooEntry) -> list[dict]:
    metric_types = {"top1": ("accuracy", "Top-1 accuracy"), "top5": ("top_5_accuracy",
                    "Top-5 accuracy"), "mAP": ("mAP", "mean average precision")}
    metrics = []
    for r in _own(entry):
        for k, v in r.metrics.items():
            kind, title = metric_types.get(k, (k, k))
            metrics.append({"type": kind, "value": v, "name": f"{title} ({r.protocol})"})
    return [{
        "name": entry.name,
        "results": [{
            "task": {"type": "video-classification", "name": "Action recognition"},
            "dataset": {"name": _dataset_title(entry.dataset), "type": entry.dataset,
                        "split": "validation"},
            "metrics": metrics,
            "source": {"name": "MMAction2 model zoo", "url": entry.config_url},
        }],
    }]


def hub_model_card(entry: ZooEntry) -> str:
    """The ``README.md`` of the entry's Hugging Face repository."""
    from ._registry import hf_hub_id

    repo = hf_hub_id(entry)
    front = {
        "license": entry.license,
        "library_name": "videozoo",
        "pipeline_tag": "video-classification",
        "tags": ["video-classification", "action-recognition", "videozoo", "mmaction2",
                 family(entry), entry.arch],
        "datasets": [entry.dataset],
        "model-index": _model_index(entry),
    }
    title = arch_title(entry.arch)
    out = ["---", *_yaml(front), "---", "", f"# {entry.name}", ""]
    out += [f"{title}, trained on {_dataset_title(entry.dataset)} "
            f"({entry.data or entry.decoder}) with MMAction2 {entry.mmaction_version}: config "
            f"[`{entry.config}`]({entry.config_url}). The weights are MMAction2's published "
            "checkpoint, converted to videozoo's safetensors layout; videozoo's model is "
            "numerically identical to MMAction2's.", ""]
    out += ["## Usage", "", "```python", "import videozoo", "",
            f'model = videozoo.create_model("{entry.name}", pretrained=True).eval()',
            "cfg = videozoo.resolve_data_config(model)  # the protocol behind the numbers below",
            "transform = videozoo.create_transform(cfg, is_training=False)",
            f'classes = videozoo.label_names("{entry.name}")',
            "```", "",
            f"Hub repository: `{repo}`. Architecture `{entry.arch}`"
            + (f" with `{json.dumps(entry.arch_kwargs, sort_keys=True)}`"
               if entry.arch_kwargs else "")
            + f", {entry.num_classes} classes ([label map]({entry.label_map})), "
            f"{entry.in_chans}-channel {entry.modality} input normalised with mean "
            f"{tuple(entry.mean)} and std {tuple(entry.std)}.", ""]
    out += ["## Test protocol", "", "| name | protocol |", "| --- | --- |"]
    out += [f"| `{p.name}` | {describe_protocol(p)} |" for p in entry.test_protocols]
    out += ["", f"Input: {entry.decoder}"
            + (f", frames `{entry.filename_tmpl}` from index {entry.start_index}"
               if entry.decoder == "rawframes" else "") + ".", ""]
    out += ["## Reported results", "", "| source | table | kind | protocol | numbers | note |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in entry.reported:
        nums = ", ".join(f"{k} {v:.2f}" for k, v in r.metrics.items())
        note = r.note + (f" (with {', '.join(r.entries)})" if r.entries else "")
        out.append(f"| {r.source} | {r.section} | {r.kind} | {r.protocol} | {nums} | "
                   f"{note.replace('|', '/')} |")
    facts = []
    if entry.flops:
        facts.append(f"FLOPs {entry.flops}")
    if entry.params:
        facts.append(f"params {entry.params}")
    if entry.inference_time:
        facts.append(f"inference {entry.inference_time} video/s ({entry.inference_setting})")
    if entry.gpu_memory_mb:
        facts.append(f"training GPU memory {entry.gpu_memory_mb} MB")
    if facts:
        out += ["", "As reported: " + "; ".join(facts) + "."]
    computed = computed_size(entry)
    if computed:
        from ._computed_flops import CONVENTION

        out += ["", f"Computed by videozoo, not reported by the table: FLOPs {computed[0]}, "
                f"params {computed[1]} ({CONVENTION} {computed[2]})."]
    t = entry.train
    out += ["", "## Training", "",
            f"{t.num_clips} x {t.clip_len} frame(s) (interval {t.frame_interval})"
            + (", dense sampling" if t.dense else "") + f"; {t.epochs} epochs, {t.optimizer} "
            f"lr {t.lr}, momentum {t.momentum}, weight decay {t.weight_decay}; {t.lr_schedule}; "
            f"{t.batch_size}; augmentation: {t.augment.describe() or 'none'}; pretrained: {t.pretrain}"
            + ("; 5x learning rate on the classifier" if t.fc_lr5 else "")
            + (f"; gradient clipping {t.clip_grad}" if t.clip_grad else "")
            + (f"; {t.note}" if t.note else "") + "."]
    if entry.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in entry.notes]
    out += ["", "## Original checkpoint", "",
            f"- weights: {entry.url} (SHA-256 starts with `{entry.sha256_prefix}`)"]
    if entry.log_url:
        out.append(f"- training log: {entry.log_url}")
    out.append(f"- zoo tables: {', '.join(entry.source_tables)}")
    out += ["", "## Citation", "", "```bibtex", entry.paper.strip(), "```", ""]
    return "\n".join(out)


# -- MODEL_CARDS.md -------------------------------------------------------------------------------
def _groups(entries: Sequence[ZooEntry]) -> OrderedDict:
    from .zoo._common import DATASETS

    order = list(DATASETS)
    groups: OrderedDict = OrderedDict()
    for fam in _families(entries):
        members = [e for e in entries if family(e) == fam]
        keys = sorted({(e.dataset, e.mmaction_version) for e in members},
                      key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1]))
        for key in keys:
            groups[(fam, *key)] = [e for e in members if (e.dataset, e.mmaction_version) == key]
    return groups


def _table(entries: Sequence[ZooEntry]) -> list[str]:
    keys = _metric_names(entries)
    titles = {"top1": "top-1", "top5": "top-5", "mAP": "mAP"}
    head = ["name", "data", "protocol"] + [titles.get(k, k) for k in keys] + \
           ["FLOPs", "params", "weights"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for e in entries:
        own = _own(e)
        cells = [f"`{e.name}`", e.data or e.decoder, " / ".join(r.protocol for r in own)]
        cells += [_cell(own, k) for k in keys]
        cells += [_shown_flops(e), _shown_params(e),
                  f"[ckpt]({e.url}) `{e.sha256_prefix}`" if e.url else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_model_cards(entries: Optional[Sequence[ZooEntry]] = None) -> str:
    """``MODEL_CARDS.md``: per family and dataset, the zoo's tables with protocols and links."""
    from ._registry import list_entries
    from .zoo import ENTRIES
    from .zoo._common import TABLES

    if entries is None:
        registered = {e.name for e in list_entries()}
        entries = [e for e in ENTRIES if e.name in registered]
    out = ["# Model cards", "",
           "<!-- Written by `videozoo cards` from the zoo entries; do not edit by hand. -->", "",
           f"{len(entries)} checkpoints from MMAction2's TSN, TSM and TPN model-zoo tables, each "
           "with the test protocol its numbers were measured with. Names are the MMAction2 "
           "config names (`.340x256` / `.256p` / `.320p` tell apart checkpoints of one config "
           "trained on differently resized data); `videozoo.create_model(name, pretrained=True)` "
           "loads one, `videozoo.pretrained_info(name)` shows everything about it.", "",
           "Protocols are named `<clips>x<crops>`: a TSN clip is one frame (`25x10` = 25 frames x "
           "TenCrop, averaged into one feature), a TSM clip is one view of `num_segments` frames "
           "(`1x10` = one 8-frame view x TenCrop = 10 views), a 3D clip is `clip_len` frames. "
           "Something-Something and Jester TSM rows have `efficient` (1 clip x CenterCrop 224) "
           "and `accurate` (twice-sampled clips x ThreeCrop 256) numbers; a cell `a / b` lists "
           "the numbers of the protocols in the protocol column, default first.", "",
           "Sources: " + "; ".join(f"`{k}` — {v}" for k, v in TABLES.items()) + ".", ""]
    current = None
    titles = _families(entries)
    for (fam, dataset, version), members in _groups(entries).items():
        if fam != current:
            out += [f"## {titles[fam]}", ""]
            current = fam
        out += [f"### {_dataset_title(dataset)} — MMAction2 {version}", ""]
        if dataset == "kinetics400" and any(e.flops for e in members):
            out += [f"![Kinetics-400 top-1 against FLOPs]({FIGURE_PATH})", "",
                    "FLOPs are per view as the 1.x table counts them (backbone only, one view of "
                    "8 or 16 frames at 224x224; MobileNetV2 at 256x256); the number of test views "
                    "differs between rows (protocol column).", ""]
        out += _table(members)
        if any(computed_size(e) for e in members):
            from ._computed_flops import CONVENTION

            out += ["", f"\\* Computed by videozoo, not reported by the table ({CONVENTION}, as "
                        "MMAction2 0.x's get_flops counts: see `videozoo info NAME`)."]
        if any(e.params and "23.87M" in " ".join(e.notes) for e in members):
            out += ["", "† The table prints 23.87M, the 174-class (Something-Something) count; "
                        "with 400 classes TSM-R50 has 24,327,632 parameters (24.33M)."]
        others = [(e, _other_results(e)) for e in members]
        if any(o for _, o in others):
            out += ["", "Other reported numbers:", ""]
            for e, lines in others:
                out += [f"- `{e.name}`: {line}" for line in lines]
        notes = [(e, e.notes) for e in members if e.notes]
        if notes:
            out += ["", "<details><summary>Notes (table vs. config, caveats)</summary>", ""]
            for e, ns in notes:
                out += [f"- `{e.name}`: " + " ".join(ns)]
            out += ["", "</details>"]
        out += [""]
    return "\n".join(out)


# -- the figure -----------------------------------------------------------------------------------
def _short_label(entry: ZooEntry) -> str:
    """'r50-1x1x8-50e' from 'tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb'."""
    name = entry.name.split("_", 1)[-1].replace("imagenet-pretrained-", "")
    name = name.replace(f"_{entry.dataset}-rgb", "").replace("_kinetics400-rgb", "")
    for batch in ("_8xb16-", "_8xb8-", "_8xb32-"):
        name = name.replace(batch, "-")
    return name


def k400_flops_svg(entries: Optional[Sequence[ZooEntry]] = None) -> str:
    """Kinetics-400 top-1 against FLOPs (log axis) for the entries whose table reports FLOPs."""
    from .zoo import ENTRIES

    pts = []
    for e in entries if entries is not None else ENTRIES:
        own = _own(e)
        if e.dataset != "kinetics400" or not e.flops or not own or "top1" not in own[0].metrics:
            continue
        pts.append((float(e.flops.rstrip("G")), own[0].metrics["top1"], e))
    if not pts:
        raise ValueError("no Kinetics-400 entry reports FLOPs")
    w, h, left, right, top, bottom = 820, 460, 70, 40, 46, 62
    x0 = math.log10(min(p[0] for p in pts)) - 0.12
    x1 = math.log10(max(p[0] for p in pts)) + 0.12
    y0, y1 = math.floor(min(p[1] for p in pts)) - 1, math.ceil(max(p[1] for p in pts)) + 1

    def sx(v: float) -> float:
        return left + (math.log10(v) - x0) / (x1 - x0) * (w - left - right)

    def sy(v: float) -> float:
        return h - bottom - (v - y0) / (y1 - y0) * (h - top - bottom)

    colors = {"tsm_r50": "#1f77b4", "tsm_r50_nl_embedded_gaussian": "#d62728",
              "tsm_r50_nl_gaussian": "#ff7f0e", "tsm_r50_nl_dot_product": "#9467bd",
              "tsm_mobilenetv2": "#2ca02c", "tsm_mobileone_s4": "#8c564b"}
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="15">Kinetics-400: top-1 '
         'against FLOPs per view (MMAction2 1.x TSM table)</text>']
    for t in (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500):
        if x0 <= math.log10(t) <= x1:
            x = sx(t)
            s += [f'<line x1="{x:.1f}" y1="{h - bottom}" x2="{x:.1f}" y2="{top}" '
                  'stroke="#e4e4e4"/>',
                  f'<text x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{t}</text>']
    for t in range(int(y0), int(y1) + 1):
        y = sy(t)
        s += [f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#eee"/>',
              f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t}</text>']
    s += [f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" '
          'stroke="black"/>',
          f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
          f'<text x="{(left + w - right) / 2}" y="{h - 20}" text-anchor="middle">GFLOPs per '
          'view (log scale; backbone only, as the table reports)</text>',
          f'<text x="20" y="{(top + h - bottom) / 2}" text-anchor="middle" '
          f'transform="rotate(-90 20 {(top + h - bottom) / 2})">top-1 accuracy (%)</text>']
    # numbered markers, each number placed where it overlaps no other number; a legend names them
    ordered = sorted(pts, key=lambda p: (p[0], -p[1]))
    marks = [(sx(f), sy(a)) for f, a, _ in ordered]
    boxes: list[tuple[float, float]] = []
    texts = [f"{i}  {_short_label(e)}: {a:.2f}%, {e.flops}" for i, (_, a, e) in
             enumerate(ordered, 1)]
    legend_w = 6.4 * max(len(t) for t in texts) + 16
    legend_x, legend_y = w - right - legend_w - 4, h - bottom - 16 * len(ordered) - 12
    s.append(f'<rect x="{legend_x - 8:.1f}" y="{legend_y - 14}" width="{legend_w:.1f}" '
             f'height="{16 * len(ordered) + 10}" fill="white" stroke="#bbb"/>')
    for i, (_, acc, e) in enumerate(ordered, 1):
        x, y, c = *marks[i - 1], colors.get(e.arch, "#333")
        for dx, dy in ((10, 4), (-16, 4), (10, -8), (-16, -8), (10, 16), (-16, 16), (0, -10),
                       (0, 20), (20, 4), (-26, 4), (20, -12), (-26, -12), (20, 20), (-26, 20)):
            bx, by = x + dx, y + dy
            clash = any(abs(bx - ox) < 10 and abs(by - oy) < 11 for ox, oy in boxes)
            clash |= any(abs(bx + 3 - mx) < 7 and abs(by - 4 - my) < 8 for mx, my in marks)
            if not clash:
                break
        boxes.append((bx, by))
        ly = legend_y + 16 * (i - 1)
        s += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{c}">'
              f'<title>{e.name}: {acc:.2f} top-1, {e.flops}</title></circle>',
              f'<text x="{bx:.1f}" y="{by:.1f}" font-size="11" font-weight="bold" '
              f'fill="{c}">{i}</text>',
              f'<text x="{legend_x:.1f}" y="{ly}" font-size="11" fill="{c}">{texts[i - 1]}'
              '</text>']
    s.append("</svg>")
    return "\n".join(s) + "\n"
