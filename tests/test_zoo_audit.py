"""The zoo audit's corrections stay in effect.

docs/zoo_audit_corrections.json (written by tools/audit_zoo.py from MMAction2's git history) lists
what the audit changed in the zoo; each 'applied' correction is checked here against the registry,
so a later edit cannot silently undo it. No git and no network: the file holds the evidence.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import videozoo  # noqa: F401  (registers the zoo)
from videozoo._registry import get_entry

CORRECTIONS = json.loads((Path(__file__).resolve().parents[1] / "docs" /
                          "zoo_audit_corrections.json").read_text())["corrections"]
APPLIED = [c for c in CORRECTIONS if c.get("status") == "applied"]
_PROTOCOL_FIELDS = ("clip_len", "frame_interval", "num_clips", "twice_sample", "dense", "resize",
                    "crop", "crop_size", "average", "num_segments")


def _id(c: dict) -> str:
    return f"{c['entry']}:{c['field']}"


def _fields(p) -> dict:
    return {k: list(getattr(p, k)) if k == "resize" else getattr(p, k) for k in _PROTOCOL_FIELDS}


def _quoted(action: str, after: str) -> str:
    m = re.search(after + r" '([^']+)'", action)
    assert m, f"cannot read {after!r} in {action!r}"
    return m.group(1)


def test_the_audit_record_is_complete():
    assert len(APPLIED) >= 54
    assert {c.get("status") for c in CORRECTIONS} <= {"applied", "open"}
    # nothing the audit applied is open again
    applied_entries = {c["entry"] for c in APPLIED if c["field"] == "test_protocols.default"}
    assert not [c for c in CORRECTIONS if c.get("status") == "open"
                and c["entry"] in applied_entries and c["field"].startswith("test_protocols")]


def _number_for(protocol: str, cells: list[str]) -> float:
    cell = next(c for c in cells if re.search(r"\d\.\d", c))
    parts = [x.strip() for x in cell.split("/")]
    return float(parts[-1] if protocol == "accurate" and len(parts) == 2 else parts[0])


def _matching(entry, protocol: dict) -> str:
    """The entry's protocol with these fields (the averaging aside for a single view)."""
    one_view = (protocol["crop"] == "center" and not protocol["twice_sample"]
                and not protocol["dense"] and protocol["num_clips"] == protocol["num_segments"])
    keys = [k for k in _PROTOCOL_FIELDS if not (one_view and k == "average")]
    names = [p.name for p in entry.test_protocols
             if all(_fields(p)[k] == protocol[k] for k in keys)]
    assert names, f"{entry.name}: no protocol {protocol}"
    return names[0]


@pytest.mark.parametrize("c", APPLIED, ids=_id)
def test_correction_is_in_effect(c):
    entry = get_entry(c["entry"])
    names = [p.name for p in entry.test_protocols]
    field, action = c["field"], c.get("action") or ""
    if field == "test_protocols.default":
        default = entry.protocol()
        if "new_protocol" in c:  # the config of the number's date is the default, named
            new = c["new_protocol"]
            assert default.name == new["name"]
            assert _fields(default) == {k: new[k] for k in _PROTOCOL_FIELDS}
            assert _quoted(action, "named alternative") in names[1:]
        elif action.startswith("make the existing protocol"):
            assert default.name == _quoted(action, "make the existing protocol")
            assert _quoted(action, "keep") in names[1:]
        elif "neither table setting" in action:
            assert names[:2] == ["efficient", "accurate"]
        else:  # a random crop: a deterministic stand-in, said in the notes
            assert "stand-in" in action and default.name == _quoted(action, "keep")
            assert any("stand-in" in n for n in entry.notes)
        # the headline number is reported under the default protocol
        assert any(r.protocol == default.name and r.kind == "weights" for r in entry.reported)
    elif field == "reported":  # every README number with the protocol that produced it
        for pair in c["pairs"]:
            if not pair["row"]:
                continue
            name = _matching(entry, pair["protocol"])
            value = _number_for(name, pair["row"][0])
            assert any(r.protocol == name and abs(r.metrics.get("top1", -1) - value) < 1e-6
                       for r in entry.reported), (pair["readme_commit"], name, value)
    elif field.startswith("train."):
        key = field.split(".", 1)[1]
        if key == "batch_per_gpu":
            assert re.search(rf"x\s*{c['new']}\s*videos", entry.train.batch_size)
        else:
            assert getattr(entry.train, key) == pytest.approx(c["new"])
    elif field.startswith("model."):
        assert getattr(entry, field.split(".", 1)[1]) == c["new"]
    elif field == "notes":
        if "add" in c:
            assert c["add"] in entry.notes
        elif c.get("source") == "review":
            assert c["new"] in entry.notes and c["old"] not in entry.notes
        else:
            assert c["old"] not in entry.notes
    else:
        pytest.fail(f"unknown correction field {field!r}")


def test_a_reverted_default_would_be_caught(monkeypatch):
    """The check can fail: undo one correction in the registry and it no longer holds."""
    import dataclasses

    from videozoo import _registry

    c = next(c for c in APPLIED if c["field"] == "test_protocols.default" and "new_protocol" in c)
    entry = get_entry(c["entry"])
    undone = dataclasses.replace(entry, test_protocols=entry.test_protocols[::-1])
    monkeypatch.setattr(_registry, "get_entry", lambda name: undone)
    monkeypatch.setitem(globals(), "get_entry", lambda name: undone)
    with pytest.raises(AssertionError):
        test_correction_is_in_effect(c)
