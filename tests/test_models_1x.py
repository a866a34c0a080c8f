"""MMAction2 1.x's TSN rows with 3rd-party backbones: goldens from MMAction2 1.2.0 and key maps.

Each fixture in ``fixtures/mmaction2_1x/`` was written by ``tools/make_goldens_1x.py`` from the
real 1.x config; the checkpoint is rebuilt here from the recipe, so only hashes, BN scales and
logits are stored.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import videozoo
from videozoo._checkpoint import CheckpointError

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction2_1x"
SLOW_CASES = {"tsn_swin_base_patch4_window7_224", "tsn_densenet161", "tsn_resnext101_32x4d"}
NEW_ARCHS = ("tsn_resnext101_32x4d", "tsn_densenet161", "tsn_swin_base_patch4_window7_224",
             "tsn_mobileone_s4")


def _recipe():
    spec = importlib.util.spec_from_file_location("golden_recipe_1x", FIXTURES / "recipe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recipe = _recipe()


def _cases() -> list:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        marks = [pytest.mark.slow] if path.stem in SLOW_CASES else []
        out.append(pytest.param(path, id=path.stem, marks=marks))
    return out


def _golden_state_dict(case: dict) -> dict:
    """The MMAction2 checkpoint the fixture's logits were computed with, rebuilt from the
    recipe over the key set videozoo exports (which must hash to MMAction2's)."""
    model = videozoo.create_model(case["arch"], **case["create_kwargs"])
    exported = model.export_mmaction_state_dict()
    assert len(exported) == case["num_keys"]
    assert recipe.keys_digest(exported) == case["keys_sha256"], "key set differs from MMAction2's"
    shapes = {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in exported.items()}
    norms = recipe.norm_modules(shapes)
    assert len(norms) == len(case["norm_scales"])
    return recipe.build_state_dict(shapes, dict(zip(norms, case["norm_scales"])))


def _weights_digest(sd: dict) -> str:
    import hashlib
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("path", _cases())
def test_logits_match_mmaction2_1x(path: Path, tmp_path: Path):
    case = json.loads(path.read_text())
    sd = _golden_state_dict(case)
    assert _weights_digest(sd) == case["weights_sha256"], "recipe did not rebuild the weights"
    ckpt = tmp_path / "ckpt.pth"
    torch.save({"meta": {"mmengine_version": "0.10.7"}, "state_dict": sd}, ckpt)
    model = videozoo.create_model(case["arch"], checkpoint_path=str(ckpt),
                                  **case["create_kwargs"]).eval()
    x = recipe.make_input(case["input"]["seed"], case["input"]["shape"])
    with torch.no_grad():
        out = model(x)
    expected = torch.tensor(case["logits"])
    assert out.shape == expected.shape
    diff = float((out - expected).abs().max())
    assert diff <= 1e-4, f"max |videozoo - MMAction2 1.2.0| = {diff:.3g}"
    assert torch.equal(out.argmax(1), expected.argmax(1))
    # the export is the exact inverse of the conversion
    back = model.export_mmaction_state_dict()
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)


@pytest.mark.parametrize("arch", NEW_ARCHS)
def test_registered_as_tsn(arch: str):
    from videozoo._families import arch_facts

    assert arch in videozoo.list_architectures("tsn_*")
    assert arch_facts(arch).family == "tsn"


def test_mobileone_fused_equals_train_form(tmp_path: Path):
    case = json.loads((FIXTURES / "tsn_mobileone_s4.json").read_text())
    ckpt = tmp_path / "ckpt.pth"
    torch.save({"state_dict": _golden_state_dict(case)}, ckpt)
    model = videozoo.create_model("tsn_mobileone_s4", checkpoint_path=str(ckpt)).eval()
    x = recipe.make_input(case["input"]["seed"], case["input"]["shape"])
    with torch.no_grad():
        ref = model(x)
        fused = model.reparameterize()(x)
    assert model.deploy
    assert float((fused - ref).abs().max()) < 1e-4
    assert any(".branch_reparam." in k for k in model.export_mmaction_state_dict())


def test_mobileone_form_mismatch_is_refused(tmp_path: Path):
    deploy = videozoo.create_model("tsn_mobileone_s4", deploy=True)
    ckpt = tmp_path / "deploy.pth"
    torch.save({"state_dict": deploy.export_mmaction_state_dict()}, ckpt)
    with pytest.raises(CheckpointError, match="deploy=True"):
        videozoo.create_model("tsn_mobileone_s4", checkpoint_path=str(ckpt))


@pytest.mark.slow
def test_swin_reads_old_timm_layout(tmp_path: Path):
    """Checkpoints saved with timm < 0.9 hold PatchMerging at the end of the previous stage and
    the derived index/mask buffers; they load into the same model."""
    model = videozoo.create_model("tsn_swin_base_patch4_window7_224", num_classes=5).eval()
    old = {}
    for k, v in model.export_mmaction_state_dict().items():
        parts = k.split(".")
        if k.startswith("backbone.layers.") and parts[3] == "downsample":
            parts[2] = str(int(parts[2]) - 1)
        old[".".join(parts)] = v
    old["backbone.layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(49, 49).long()
    old["backbone.layers.0.blocks.1.attn_mask"] = torch.zeros(64, 49, 49)
    assert "backbone.layers.0.downsample.reduction.weight" in old
    ckpt = tmp_path / "old.pth"
    torch.save({"state_dict": old}, ckpt)
    loaded = videozoo.create_model("tsn_swin_base_patch4_window7_224",
                                   checkpoint_path=str(ckpt)).eval()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_timm_contract_pieces():
    model = videozoo.create_model("tsn_resnext101_32x4d", num_classes=7).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape[:3] == (2, 3, 2048)
        assert model.forward_head(feats, pre_logits=True).shape == (2, 2048)
        assert model(x).shape == (2, 7)
    model.reset_classifier(3)
    assert model(x).shape == (2, 3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="in_chans"):
        videozoo.create_model("tsn_densenet161", in_chans=0)
    with pytest.raises(ValueError, match="num_segments"):
        videozoo.create_model("tsn_mobileone_s4", num_segments=0)
    model = videozoo.create_model("tsn_mobileone_s4")
    with pytest.raises(ValueError):
        model(torch.randn(1, 4, 2, 32, 32))  # wrong channel count


def test_densenet_stem_adapts_to_in_chans():
    """Any in_chans builds (random stem sized for it); pretrained RGB filters are adapted the
    way timm does (summed for 1 channel, repeated and rescaled by 3/in_chans for more)."""
    from timm.models import adapt_input_conv
    from torch import nn

    from videozoo.models.tsn_3rdparty import _adapt_stem_conv

    model = videozoo.create_model("tsn_densenet161", num_classes=3, in_chans=4).eval()
    assert model.backbone.features.conv0.weight.shape[1] == 4
    with torch.no_grad():
        assert model(torch.randn(1, 4, 2, 32, 32)).shape == (1, 3)
    rgb = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
    for n in (1, 4, 6):
        adapted = _adapt_stem_conv(rgb, n, pretrained=True)
        torch.testing.assert_close(adapted.weight, adapt_input_conv(n, rgb.weight))
        assert adapted.stride == rgb.stride and adapted.padding == rgb.padding
    torch.testing.assert_close(_adapt_stem_conv(rgb, 6, True).weight[:, 3:],
                               rgb.weight.detach() * 0.5)
    assert _adapt_stem_conv(rgb, 3, pretrained=True) is rgb
