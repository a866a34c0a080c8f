"""``videozoo demo``: TSM learns the direction of motion, its shift-free twin (TSN) cannot."""
from __future__ import annotations

import math

import pytest
import torch

import videozoo
from videozoo import demo
from videozoo.cli import build_parser
from videozoo.demo import DemoConfig, chance_band, run_demo, share_weights


def _pair():
    torch.manual_seed(0)
    tsm = videozoo.create_model("tsm_mobilenetv2", num_classes=2)
    tsn = videozoo.create_model("tsm_mobilenetv2", num_classes=2, is_shift=False)
    share_weights(tsm, tsn)
    return tsm.eval(), tsn.eval()


def test_the_pair_shares_every_weight_and_only_tsm_sees_order():
    tsm, tsn = _pair()
    tsm_state, tsn_state = tsm.state_dict(), tsn.state_dict()
    assert len(tsm_state) == len(tsn_state)
    for key, value in tsm_state.items():
        assert torch.equal(value, tsn_state[key.replace(".net.", ".")]), key
    x = torch.randn(2, 3, 8, 32, 32)
    reversed_x = x.flip(2)
    with torch.no_grad():
        # without the shift every frame goes through the network alone, then the scores are
        # averaged: reversing the frames changes nothing (up to float summation order)
        torch.testing.assert_close(tsn(reversed_x), tsn(x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(tsm(reversed_x), tsm(x), rtol=1e-3, atol=1e-5)


def test_share_weights_is_strict():
    tsm, _ = _pair()
    other = videozoo.create_model("tsm_mobilenetv2", num_classes=3, is_shift=False)
    with pytest.raises(RuntimeError, match="size mismatch"):
        share_weights(tsm, other)


def test_data_config_swaps_labels_on_flip_and_keeps_one_view():
    cfg = demo.demo_data_config("tsm_mobilenetv2", 64, 8)
    assert cfg.train.flip_label_map == {0: 1, 1: 0}
    assert (cfg.crop, cfg.crop_size, cfg.num_clips, cfg.num_segments) == ("center", 64, 8, 8)
    assert cfg.train.input_size == 64 and cfg.train.num_clips == 8


def test_config_validation():
    with pytest.raises(ValueError, match="backbone"):
        DemoConfig(backbone="vgg")
    with pytest.raises(ValueError, match="video_frames"):
        DemoConfig(video_frames=4, num_segments=8)


def test_chance_band_is_three_binomial_sigmas():
    assert chance_band(100) == pytest.approx(15.0)
    assert chance_band(96) == pytest.approx(300 * math.sqrt(0.25 / 96))


def test_cli_registers_demo():
    args = build_parser().parse_args(["demo", "--with-tpn", "--seed", "3", "--epochs", "2"])
    cfg = demo.config_from_args(args)
    assert cfg.with_tpn and cfg.seed == 3 and cfg.epochs == 2
    assert cfg.num_train == DemoConfig().num_train and args.func is not None


def test_r50_pair_shares_weights():
    torch.manual_seed(0)
    tsm = videozoo.create_model("tsm_r50", num_classes=2)
    tsn = videozoo.create_model("tsn_r50", num_classes=2)
    share_weights(tsm, tsn)
    assert torch.equal(tsn.backbone.layer1[0].conv1.weight,
                       tsm.backbone.layer1[0].conv1.net.weight)


@pytest.mark.slow
def test_demo_starts_both_models_from_a_local_checkpoint(tmp_path):
    """A TSM checkpoint (MMAction2 layout, 400 classes) feeds both models; TPN runs too."""
    source = videozoo.create_model("tsm_mobilenetv2", num_classes=400)
    ckpt = tmp_path / "tsm.pth"
    torch.save({"state_dict": source.export_mmaction_state_dict()}, ckpt)
    cfg = DemoConfig(num_train=4, num_test=4, epochs=1, batch_size=2, checkpoint=str(ckpt),
                     with_tpn=True, tpn_arch="tpn_slowonly_r50", size=32,
                     workdir=str(tmp_path / "data"))
    with pytest.warns(UserWarning, match="re-initialised"):
        results = run_demo(cfg, log=None)
    assert [r.label for r in results] == ["TSM", "TSN", "TPN"]
    assert all(r.num_test == 4 and 0 <= r.top1 <= 100 for r in results)
    assert str(ckpt) in results[0].note


@pytest.mark.slow
def test_demo_tsm_learns_the_direction_tsn_stays_at_chance(tmp_path):
    """The README's claim. TSN (no shift) averages per-frame scores, so its prediction depends on
    the set of frames only, whose distribution is the same for both classes: on held-out videos
    it is right with probability 1/2 independently of everything it learnt, and its accuracy
    over n videos is (at most) Binomial(n, 1/2)/n: within 3 standard deviations of 50% (the
    band below, 13 points for n=128) except with probability 0.3%. TSM must reach 90%."""
    cfg = DemoConfig(workdir=str(tmp_path))
    results = {r.label: r for r in run_demo(cfg, log=None)}
    tsm, tsn = results["TSM"], results["TSN"]
    assert tsm.num_test == tsn.num_test == cfg.num_test
    assert tsm.chance == tsn.chance == pytest.approx(50.0)
    assert tsm.top1 >= 90.0, tsm
    assert abs(tsn.top1 - tsn.chance) <= chance_band(cfg.num_test), tsn
    assert tsm.train_loss[-1] < tsm.train_loss[0]
    text = demo.format_results(list(results.values()), cfg)
    assert "TSM" in text and "TSN" in text and "is_shift=False" in text


def test_demo_failure_names_what_went_wrong():
    cfg = DemoConfig()

    def results(tsm: float, tsn: float) -> list:
        return [demo.DemoResult("TSM", "a", "", tsm, 50.0, cfg.num_test),
                demo.DemoResult("TSN", "b", "", tsn, 50.0, cfg.num_test)]

    assert demo.demo_failure(results(97.0, 52.0), cfg) is None
    assert "TSM reached 80.0%" in demo.demo_failure(results(80.0, 50.0), cfg)
    assert "TSN scored 75.0%" in demo.demo_failure(results(97.0, 75.0), cfg)
