"""The FLOPs/params videozoo computed for rows whose table gives none are stored as data
(``tools/compute_zoo_flops.py``); re-count a few and check the cards mark them as computed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import videozoo
from videozoo._cards import computed_size, hub_model_card, render_model_cards
from videozoo._computed_flops import COMPUTED
from videozoo.flops import count_flops, count_params, format_count
from videozoo.zoo import ENTRIES

TOOL = Path(__file__).resolve().parents[1] / "tools" / "compute_zoo_flops.py"


def test_every_row_without_reported_flops_has_computed_ones():
    assert set(COMPUTED) == {e.name for e in ENTRIES if e.flops is None}
    cards = render_model_cards()
    for e in ENTRIES:
        computed = computed_size(e)
        if computed:
            assert f"{computed[0]}* | {computed[1]}*" in cards
            assert "not reported by the table" in hub_model_card(e)
        else:
            assert e.flops and e.flops + "*" not in cards


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tpn_tsm_r50_1x1x8_150e_sthv1_rgb",
                                  "tsn_r50_320p_1x1x3_110e_kinetics400_flow",
                                  "tsm_r50_1x1x8_50e_sthv1_rgb"])
def test_stored_counts_are_recomputed(name):
    spec = importlib.util.spec_from_file_location("compute_zoo_flops", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    entry = next(e for e in ENTRIES if e.name == name)
    model = videozoo.create_model(name)
    shape = tool.view_shape(entry)
    flops = count_flops(model, shape, convention="mmcv", include_head=True)
    assert COMPUTED[name] == (format_count(flops), format_count(count_params(model)), shape)
    if name.startswith("tpn_tsm"):  # the TPN metafile number, exactly (mmcv convention)
        assert flops == 54_202_822_656
