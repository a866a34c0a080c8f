"""``videozoo info NAME``: everything the zoo knows about an entry (or an architecture): numbers per
test protocol, FLOPs and parameters, data, training recipe, notes. Unknown names exit 2 with
suggestions."""
from __future__ import annotations

import argparse
import difflib
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a zoo entry: numbers per protocol, FLOPs, data, notes")
    p.add_argument("name", help="zoo entry, alias or architecture")
    p.add_argument("--json", action="store_true", help="print videozoo.pretrained_info as JSON")
    p.set_defaults(func=run)


def _suggest(name: str) -> list[str]:
    from videozoo import _registry

    known = (_registry.list_architectures() + [e.name for e in _registry.list_entries()]
             + list(_registry._aliases))
    return difflib.get_close_matches(name, known, n=5, cutoff=0.5)


def _architecture(name: str) -> int:
    from videozoo import _registry
    from videozoo._families import arch_facts

    facts = arch_facts(name)
    print(f"{name}: architecture, {facts.title} (family {facts.family}, {facts.input_format} "
          f"input, optimiser recipe '{facts.optimizer}')")
    weights = _registry.list_pretrained(arch=name)
    print(f"zoo entries ({len(weights)}):" if weights else "no zoo entries")
    for n in weights:
        print(f"  {n}")
    return 0


def run(args: argparse.Namespace) -> int:
    from videozoo import _registry
    from videozoo._cards import computed_size, describe_protocol

    entry = _registry.get_entry(args.name)
    if entry is None:
        if _registry.is_model(args.name):
            return _architecture(args.name)
        close = _suggest(args.name)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        print(f"videozoo info: unknown model {args.name!r}.{hint}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_registry.pretrained_info(entry.name), indent=1, default=str))
        return 0
    print(f"{entry.name}  ({entry.arch}, MMAction2 {entry.mmaction_version}, {entry.dataset}, "
          f"{entry.num_classes} classes)")
    if entry.aliases:
        print(f"aliases: {', '.join(entry.aliases)}")
    print(f"config: {entry.config_url}")
    print(f"weights: {entry.url} (SHA-256 {entry.sha256_prefix}...)")
    print(f"data: {entry.data} ({entry.decoder}); {entry.modality}, mean {tuple(entry.mean)}, "
          f"std {tuple(entry.std)}")
    print("results:")
    for p in entry.test_protocols:
        own = [r for r in entry.reported if r.kind == "weights" and r.protocol == p.name]
        nums = "; ".join(", ".join(f"{k} {v:.2f}" for k, v in r.metrics.items()) for r in own)
        default = " (default)" if p is entry.test_protocols[0] else ""
        print(f"  {p.name}{default}: {nums or '-'}")
        print(f"      {describe_protocol(p)}")
    for r in entry.reported:
        if r.kind != "weights":
            nums = ", ".join(f"{k} {v:.2f}" for k, v in r.metrics.items())
            print(f"  [{r.kind}] {r.protocol}: {nums}" + (f" - {r.note}" if r.note else ""))
    computed = computed_size(entry)
    if entry.flops or entry.params:
        print(f"FLOPs {entry.flops or '-'}, params {entry.params or '-'} (as reported)")
    elif computed:
        print(f"FLOPs {computed[0]}, params {computed[1]} (computed, not reported; view "
              f"{computed[2]})")
    t = entry.train
    print(f"training: {t.epochs} epochs, {t.optimizer} lr {t.lr}, weight decay {t.weight_decay}, "
          f"{t.lr_schedule}; {t.batch_size}; augmentation: {t.augment.describe() or 'none'}; "
          f"pretrained: {t.pretrain}")
    for n in entry.notes:
        print(f"note: {n}")
    return 0
