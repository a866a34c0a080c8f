"""Model cards: the Hugging Face README of every entry, MODEL_CARDS.md and its figure, and the
``videozoo cards`` command that keeps them current."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml
from conftest import REPO

from videozoo._cards import FIGURE_PATH, hub_model_card, k400_flops_svg, render_model_cards
from videozoo._registry import hf_hub_id
from videozoo.cli import main
from videozoo.zoo import ENTRIES


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_hub_model_card(entry):
    card = hub_model_card(entry)
    meta = _front_matter(card)
    assert meta["license"] == entry.license and meta["library_name"] == "videozoo"
    assert meta["datasets"] == [entry.dataset] and entry.arch in meta["tags"]
    (index,) = meta["model-index"]
    assert index["name"] == entry.name
    (result,) = index["results"]
    values = {m["name"]: m["value"] for m in result["metrics"]}
    for r in entry.reported:
        if r.kind == "weights":
            for v in r.metrics.values():
                assert v in values.values()
    assert entry.metrics.get("top1", entry.metrics.get("mAP")) in values.values()
    body = card.split("\n---\n", 1)[1]
    assert f'create_model("{entry.name}", pretrained=True)' in body
    assert hf_hub_id(entry) in body and entry.url in body and entry.sha256_prefix in body
    assert all(f"`{p.name}`" in body for p in entry.test_protocols)
    assert entry.paper.strip() in body
    assert all(n in body for n in entry.notes)


def test_model_cards_file_is_current():
    """MODEL_CARDS.md and its figure are what `videozoo cards` writes (run it after editing the
    zoo)."""
    md = REPO / "MODEL_CARDS.md"
    assert md.read_text(encoding="utf-8") == render_model_cards(), "run `videozoo cards`"
    assert (REPO / FIGURE_PATH).read_text(encoding="utf-8") == k400_flops_svg(), \
        "run `videozoo cards`"


def test_model_cards_content():
    text = render_model_cards()
    for e in ENTRIES:
        assert f"`{e.name}`" in text and e.url in text
    for title in ("## TSN", "## TSM", "## TPN", "### Kinetics-400 — MMAction2 1.x",
                  "### Multi-Moments in Time — MMAction2 0.x"):
        assert title in text
    assert f"]({FIGURE_PATH})" in text
    # TSM-R50 on Kinetics-400: the 1.x table's 23.87M is the 174-class count
    k400 = [line for line in text.splitlines()
            if line.startswith("| `tsm_imagenet-pretrained-r50_8xb16") and "kinetics400" in line]
    assert len(k400) == 4 and all("24.33M†" in line for line in k400)
    sthv2 = [line for line in text.splitlines()
             if line.startswith("| `tsm_imagenet-pretrained-r50_8xb16") and "sthv2" in line]
    assert len(sthv2) == 2 and all("23.87M |" in line for line in sthv2)
    assert "24,327,632" in text


def test_figure_plots_every_kinetics_entry_with_flops():
    root = ET.fromstring(k400_flops_svg())
    ns = {"s": "http://www.w3.org/2000/svg"}
    titles = [c.find("s:title", ns).text for c in root.iter("{http://www.w3.org/2000/svg}circle")]
    expected = [e for e in ENTRIES if e.dataset == "kinetics400" and e.flops]
    assert len(titles) == len(expected) == 9 + 10  # + the 1.x TSN README's Kinetics-400 rows
    assert {t.split(":")[0] for t in titles} == {e.name for e in expected}


def test_cards_command_writes_and_checks(tmp_path, capsys):
    out = tmp_path / "MODEL_CARDS.md"
    assert main(["cards", "--check", "--output", str(out)]) == 1  # missing
    assert main(["cards", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_model_cards()
    assert (tmp_path / FIGURE_PATH).is_file()
    assert main(["cards", "--check", "--output", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert main(["cards", "--check", "--output", str(out)]) == 1
    assert "stale" in capsys.readouterr().err
