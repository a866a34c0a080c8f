"""Crop boxes, resize sizes and pixels, view layout, train transforms, mixing, data configs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import videozoo
from videozoo import _registry
from videozoo._pretrained import FLOW_MEAN, FLOW_STD, TrainProtocol, ZooEntry
from videozoo._pretrained import TestProtocol as Protocol
from videozoo.data import DataConfig, create_transform, resolve_data_config
from videozoo.data.mixing import CutMix, MixUp
from videozoo.transforms import (
    ClipAugMix,
    ClipRandAugment,
    ColorJitter,
    crop_boxes,
    flip_frames,
    make_views,
    multi_scale_crop_box,
    normalize,
    random_resized_crop_box,
    resize_frames,
    resize_shape,
)


def _fixture(parity_dir, name):
    with open(parity_dir / "fixtures" / name) as f:
        return json.load(f)["cases"]


# -- geometry ---------------------------------------------------------------------------------
def test_crop_boxes_match_mmaction2(parity_dir):
    cases = [c for c in _fixture(parity_dir, "crops.json") if not c["degenerate"]]
    assert len(cases) > 50
    for c in cases:
        args = (c["height"], c["width"], c["crop_size"], c["mode"])
        if "error" in c:
            with pytest.raises(ValueError):
                crop_boxes(*args)
        else:
            assert crop_boxes(*args) == [tuple(b) for b in c["boxes"]], c


def test_crop_boxes_documented_cases():
    assert crop_boxes(256, 455, 224, "ten")[::2] == [
        (0, 0, 224, 224), (228, 0, 452, 224), (0, 32, 224, 256), (228, 32, 452, 256),
        (114, 16, 338, 240)]
    assert [b[0] for b in crop_boxes(256, 455, 256, "three")] == [0, 198, 99]  # left, right, mid
    assert crop_boxes(300, 256, 256, "three") == [(0, 0, 256, 256), (0, 44, 256, 300),
                                                  (0, 22, 256, 278)]
    with pytest.raises(ValueError, match="does not fit"):
        crop_boxes(100, 133, 224, "center")
    with pytest.raises(ValueError, match="crop mode"):
        crop_boxes(256, 340, 224, "five")


def test_resize_sizes_match_mmaction2(parity_dir):
    cases = _fixture(parity_dir, "resize.json")
    assert len(cases) > 50
    for c in cases:
        got = resize_shape(c["height"], c["width"], tuple(c["scale"]), c["keep_ratio"])
        assert got == (c["out_height"], c["out_width"]), c
    assert resize_shape(240, 320, 0.5) == (120, 160)
    with pytest.raises(ValueError):
        resize_shape(240, 320, (-1, -1))


def test_multi_scale_crop_box():
    seen = set()
    for seed in range(200):
        box = multi_scale_crop_box(256, 340, 224, num_fixed_crops=13, rng=seed)
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        sizes = {224, 256, int(256 * 0.75), int(256 * 0.66)}  # 256*.875=224 snapped
        assert w in sizes and h in sizes and 0 <= x1 and x2 <= 340 and y2 <= 256
        seen.add((x1, y1, w, h))
    assert len(seen) > 30
    # 5 fixed positions: corners and centre only
    for seed in range(50):
        x1, y1, x2, y2 = multi_scale_crop_box(256, 340, 224, num_fixed_crops=5, rng=seed)
        ws, hs = (340 - (x2 - x1)) // 4, (256 - (y2 - y1)) // 4
        assert (x1, y1) in {(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)}


def test_random_resized_crop_box():
    for seed in range(100):
        x1, y1, x2, y2 = random_resized_crop_box(64, 96, rng=seed, np_rng=np.random.RandomState(seed))
        assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 64
        area = (x2 - x1) * (y2 - y1) / (64 * 96)
        assert 0.06 <= area <= 1.0
    # impossible area/aspect -> centred square fallback
    box = random_resized_crop_box(64, 96, area_range=(1.0, 1.0), aspect_ratio_range=(3.0, 3.0),
                                  rng=0, np_rng=np.random.RandomState(0))
    assert box == (16, 0, 80, 64)


# -- pixels -----------------------------------------------------------------------------------
@pytest.mark.parametrize("src,dst", [((48, 64), (96, 128)), ((129, 171), (128, 170)),
                                     ((50, 67), (128, 171)), ((37, 90), (64, 155)),
                                     ((64, 64), (32, 32)), ((1, 9), (5, 4))])
def test_torch_resize_is_bit_exact_with_cv2(src, dst):
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, *src, 3), dtype=np.uint8))
    ref = resize_frames(x, dst, "cv2")
    assert torch.equal(resize_frames(x, dst, "torch"), ref)
    approx = resize_frames(x, dst, "interpolate")
    assert (approx.int() - ref.int()).abs().max() <= 1
    flow = x[..., :2].contiguous()
    assert torch.equal(resize_frames(flow, dst, "torch"), resize_frames(flow, dst, "cv2"))


def test_resize_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        resize_frames(torch.zeros(2, 8, 8, 3), (4, 4))
    with pytest.raises(ValueError, match="backend"):
        resize_frames(torch.zeros(2, 8, 8, 3, dtype=torch.uint8), (4, 4), "pil")


def test_normalize_and_flip():
    x = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8)
    out = normalize(x, (123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
    np.testing.assert_allclose(out.flatten().numpy(), [(0 - 123.675) / 58.395,
                                                       (128 - 116.28) / 57.12,
                                                       (255 - 103.53) / 57.375], rtol=1e-6)
    with pytest.raises(ValueError, match="mean/std"):
        normalize(x, FLOW_MEAN, FLOW_STD)
    flow = torch.arange(2 * 3 * 2, dtype=torch.uint8).reshape(1, 2, 3, 2)
    f = flip_frames(flow, invert_x_flow=True)
    assert torch.equal(f[..., 1], flow.flip(-2)[..., 1])
    assert torch.equal(f[..., 0], 255 - flow.flip(-2)[..., 0])


def _coded_frames(m, h, w, channels=3):
    """Frame i: channel 0 = i, channel 1 = x, channel 2 = y (so views can be decoded)."""
    x = torch.zeros(m, h, w, channels, dtype=torch.uint8)
    x[..., 0] = torch.arange(m).view(m, 1, 1)
    x[..., 1] = torch.arange(w).view(1, 1, w)
    if channels > 2:
        x[..., 2] = torch.arange(h).view(1, h, 1)
    return x


RAW = dict(resize=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def test_views_tsm_ten_crop_crop_major():
    frames = _coded_frames(8, 40, 52)
    cfg = dict(RAW, crop="ten", crop_size=32, clip_len=1, num_segments=8)
    v = make_views(frames, cfg)
    assert v.shape == (10, 3, 8, 32, 32)
    boxes = crop_boxes(40, 52, 32, "ten")
    for i, (x1, y1, _, _) in enumerate(boxes):
        view = v[i]
        assert torch.equal(view[0, :, 0, 0], torch.arange(8.0))  # every segment, in order
        xs = view[1, 0, 0]
        expected = torch.arange(x1, x1 + 32.0)
        assert torch.equal(xs, expected.flip(0) if i % 2 else expected)
        assert view[2, 0, 0, 0] == y1


def test_views_twice_sampled_three_crop():
    frames = _coded_frames(16, 32, 48)  # 2 x 8 twice-sampled segments
    v = make_views(frames, dict(RAW, crop="three", crop_size=32, num_segments=8))
    assert v.shape == (6, 3, 8, 32, 32)
    lefts = [b[0] for b in crop_boxes(32, 48, 32, "three")]
    for i in range(6):
        crop, half = divmod(i, 2)
        assert torch.equal(v[i, 0, :, 0, 0], torch.arange(8.0) + 8 * half)
        assert v[i, 1, 0, 0, 0] == lefts[crop]


def test_views_tsn_single_view_and_3d():
    frames = _coded_frames(6, 24, 24)
    tsn = make_views(frames, dict(RAW, crop="three", crop_size=24))
    assert tsn.shape == (1, 3, 18, 24, 24)
    assert torch.equal(tsn[0, 0, :, 0, 0], torch.arange(6.0).repeat(3))
    v3d = make_views(frames, dict(RAW, crop="three", crop_size=24, clip_len=3))
    assert v3d.shape == (6, 3, 3, 24, 24)  # 3 crops x 2 clips, crop-major
    assert torch.equal(v3d[1, 0, :, 0, 0], torch.tensor([3.0, 4.0, 5.0]))
    assert torch.equal(v3d[2, 0, :, 0, 0], torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="num_segments"):
        make_views(frames, dict(RAW, crop="center", crop_size=24, num_segments=4))


def test_views_flow_stacks():
    frames = _coded_frames(10, 24, 30, channels=2)  # 2 clips of 5 flow frames
    cfg = dict(resize=None, mean=(0.0, 0.0), std=(1.0, 1.0), crop="ten", crop_size=24,
               clip_len=5, modality="flow")
    v = make_views(frames, cfg)
    assert v.shape == (1, 10, 20, 24, 24)  # TSN flow: one view of 10 crops x 2 clips stacks
    stack = v[0, :, 0, 0, 0]  # first stack: clip 0, crop 0 (x_t0, y_t0, x_t1, y_t1, ...)
    assert torch.equal(stack[0::2], torch.arange(5.0))
    assert torch.equal(stack[1::2], torch.zeros(5))  # channel 1 codes x = 0 at the corner
    assert torch.equal(v[0, 0, :, 0, 0], torch.tensor([0.0, 5.0] * 10))  # crop-major, clips
    # TenCrop's flipped views flip the pixels but never invert x-flow values (as MMAction2)
    assert torch.equal(v[0, :, 2], v[0, :, 0].flip(-1))


def test_make_views_batched_and_resize_backends():
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 8, 30, 42, 3), dtype=np.uint8))
    cfg = resolve_data_config("tsm_r50").replace(resize=(-1, 34), crop_size=32)
    batched = make_views(frames, cfg)
    assert batched.shape == (2, 10, 3, 8, 32, 32)
    assert torch.equal(batched[1], make_views(frames[1], cfg))
    assert torch.equal(make_views(frames, cfg, resize_backend="torch"), batched)
    assert batched.dtype == torch.float32
    approx = make_views(frames, cfg, resize_backend="interpolate")
    assert (approx - batched).abs().max() <= 1.01 / 57.12


# -- data configs and pipelines ----------------------------------------------------------------
@pytest.mark.parametrize("arch,views,fmt", [
    ("tsn_r50", (1, 3, 250), "NCHW"), ("tsm_r50", (10, 3, 8), "NCHW"),
    ("tsm_mobilenetv2", (3, 3, 8), "NCHW"), ("tsm_mobileone_s4", (3, 3, 16), "NCHW"),
    ("tpn_slowonly_r50", (30, 3, 8), "NCTHW"), ("tpn_tsm_r50", (6, 3, 8), "NCHW"),
    ("tsn_r50_flow", (1, 10, 250), "NCHW_Flow")])
def test_arch_protocol_view_counts(arch, views, fmt):
    cfg = resolve_data_config(arch).replace(resize=None, crop_size=16)
    assert cfg.input_format == fmt
    c = 2 if cfg.modality == "flow" else 3
    video = torch.zeros(40, 16, 20, c, dtype=torch.uint8)
    out = create_transform(cfg)(video)
    assert tuple(out.shape[:3]) == views and out.shape[-2:] == (16, 16)


@pytest.fixture
def zoo_entry(monkeypatch):
    """A temporary zoo entry (sthv1 rawframes TSM with two protocols, flow TSN)."""
    made = []

    def make(**kw):
        base = dict(name=f"_test_entry_{len(made)}", arch="tsm_r50", config="cfg",
                    mmaction_version="0.x", dataset="sthv1", num_classes=174,
                    decoder="rawframes", filename_tmpl="{:05d}.jpg", start_index=1,
                    test_protocols=(
                        Protocol(name="accurate", num_clips=8, twice_sample=True,
                                     crop="three", crop_size=256, num_segments=8),
                        Protocol(name="efficient", num_clips=8, crop="center",
                                     num_segments=8)),
                    train=TrainProtocol(num_clips=8, augment="MultiScaleCrop + Flip"))
        base.update(kw)
        entry = ZooEntry(**base)
        monkeypatch.setitem(_registry._zoo_entries, entry.name, entry)
        made.append(entry)
        return entry

    return make


def test_resolve_from_entry(zoo_entry):
    e = zoo_entry()
    cfg = resolve_data_config(e.name)
    assert (cfg.protocol, cfg.crop, cfg.crop_size, cfg.twice_sample) == ("accurate", "three",
                                                                        256, True)
    assert (cfg.decoder, cfg.filename_tmpl, cfg.start_index) == ("rawframes", "{:05d}.jpg", 1)
    assert cfg.train.flip_label_map[2] == 4 and cfg.train.num_fixed_crops == 13
    eff = resolve_data_config(e.name, "efficient")
    assert (eff.crop, eff.twice_sample, eff.num_segments) == ("center", False, 8)
    with pytest.raises(KeyError):
        resolve_data_config(e.name, "nope")
    flow = zoo_entry(arch="tsn_r50_flow", modality="flow", mean=FLOW_MEAN, std=FLOW_STD,
                     filename_tmpl="img_{:05d}.jpg", dataset="kinetics400",
                     test_protocols=(Protocol(clip_len=5, num_clips=25, crop="ten",
                                                  legacy_sampling=True, average=None),),
                     train=TrainProtocol(clip_len=5, num_clips=3))
    fc = resolve_data_config(flow.name)
    assert fc.filename_tmpl == "{}_{:05d}.jpg" and fc.input_format == "NCHW_Flow"
    assert fc.in_chans == 10 and fc.train.crop == "random_resized" and fc.train.flip_ratio > 0
    # a model carries its entry in pretrained_cfg
    model = torch.nn.Linear(1, 1)
    model.pretrained_cfg = {"name": e.name, "architecture": "tsm_r50"}
    assert resolve_data_config(model, "efficient") == eff
    model.pretrained_cfg = {"architecture": "tpn_slowonly_r50"}
    assert resolve_data_config(model).input_format == "NCTHW"


def test_resolve_errors_and_dict_roundtrip():
    with pytest.raises(ValueError, match="Unknown model"):
        resolve_data_config("tsm_r5O")
    cfg = resolve_data_config("tsm_r50")
    assert DataConfig.from_dict(cfg.to_dict()) == cfg
    assert resolve_data_config(cfg.to_dict()) == cfg
    assert cfg["num_segments"] == 8
    with pytest.raises(ValueError, match="unknown data config keys"):
        DataConfig.from_dict({"crop_sise": 3})
    assert videozoo.resolve_data_config is resolve_data_config


def test_transform_accepts_array_decoder_and_path(tmp_path):
    from videozoo.data import open_video
    from videozoo.data.synthetic import make_synthetic_video, write_video

    video = make_synthetic_video(1, 3, frames=12, size=(36, 44), rng=np.random.default_rng(0))
    path = write_video(tmp_path / "v.mp4", video)
    cfg = resolve_data_config("tsm_r50").replace(resize=(-1, 40), crop_size=32)
    t = create_transform(cfg)
    from_path = t(path)
    with open_video(path) as dec:
        from_decoder = t(dec)
        decoded = torch.from_numpy(dec.get_frames(range(len(dec))))
    assert torch.equal(from_path, from_decoder)
    assert torch.equal(from_path, t(decoded))
    assert from_path.shape == (10, 3, 8, 32, 32)


def test_train_transform_shapes_and_determinism():
    cfg = resolve_data_config("tsm_r50").replace(resize=None)
    cfg = cfg.replace(train=cfg.train.replace(input_size=32, resize=(-1, 40)))
    video = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (30, 36, 50, 3),
                                                                  dtype=np.uint8))
    t = create_transform(cfg, is_training=True)
    a, b = t(video, rng=5), t(video, rng=5)
    assert a.shape == (3, 8, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, t(video, rng=6))
    tpn = resolve_data_config("tpn_slowonly_r50")
    tpn = tpn.replace(train=tpn.train.replace(input_size=24))
    out = create_transform(tpn, is_training=True)(video, rng=0)
    assert out.shape == (3, 8, 24, 24)


def test_train_flip_swaps_labels_and_inverts_x_flow(zoo_entry):
    e = zoo_entry()
    cfg = resolve_data_config(e.name)
    cfg = cfg.replace(train=cfg.train.replace(input_size=20, resize=None, flip_ratio=1.0,
                                              scales=(1,)))
    frames = _coded_frames(8, 20, 20)
    t = create_transform(cfg, is_training=True)
    x, label = t.process(frames, 2, rng=0)
    assert label == 4
    assert t.process(frames, 7, rng=0)[1] == 7
    raw = x * torch.tensor(cfg.std).view(3, 1, 1, 1) + torch.tensor(cfg.mean).view(3, 1, 1, 1)
    assert torch.allclose(raw[1, 0, 0], torch.arange(19.0, -1, -1), atol=1e-3)  # flipped
    flow_cfg = resolve_data_config("tsn_r50_flow")
    flow_cfg = flow_cfg.replace(train=flow_cfg.train.replace(input_size=20, resize=None,
                                                             flip_ratio=1.0))
    flow = torch.full((15, 20, 20, 2), 100, dtype=torch.uint8)
    fx = create_transform(flow_cfg, is_training=True).process(flow, 0, rng=0)[0]
    assert fx.shape == (10, 3, 20, 20)
    assert torch.allclose(fx[0::2], torch.tensor((255 - 100 - 128) / 128.0))  # x inverted
    assert torch.allclose(fx[1::2], torch.tensor((100 - 128) / 128.0))


def _static_clip(t=4):
    frame = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (24, 28, 3),
                                                               dtype=np.uint8))
    return frame.expand(t, -1, -1, -1).contiguous()


@pytest.mark.parametrize("aug", [ClipRandAugment, ClipAugMix, ColorJitter])
def test_photometric_augment_is_consistent_over_frames(aug):
    torch.manual_seed(0)
    clip = _static_clip()
    changed = False
    for _ in range(3):
        out = aug()(clip)
        assert out.shape == clip.shape and out.dtype == torch.uint8
        assert (out == out[0]).all()  # one draw for the whole clip
        changed |= not torch.equal(out, clip)
    assert changed


# -- mixing ----------------------------------------------------------------------------------
def test_mixup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 2, 8, 8)
    labels = torch.tensor([0, 1, 2, 3])
    mixed, soft = MixUp(num_classes=5, alpha=0.2)(x, labels, generator=g)
    assert mixed.shape == x.shape and soft.shape == (4, 5)
    torch.testing.assert_close(soft.sum(1), torch.ones(4))
    lam = soft[0, 0].item()
    partners = [k for k in range(1, 4) if soft[0, k] > 0]
    if partners:  # sample 0 was mixed with another one: inputs mix with the same weight
        torch.testing.assert_close(mixed[0], lam * x[0] + (1 - lam) * x[partners[0]])
    g2 = torch.Generator().manual_seed(0)
    again = MixUp(num_classes=5)(x, labels, generator=g2)
    assert torch.equal(again[0], mixed)


def test_cutmix():
    g = torch.Generator().manual_seed(3)
    x = torch.arange(2, dtype=torch.float32).view(2, 1, 1, 1, 1).expand(2, 3, 4, 16, 16)
    labels = torch.tensor([0, 1])
    mixed, soft = CutMix(num_classes=2, alpha=0.2)(x, labels, generator=g)
    torch.testing.assert_close(soft.sum(1), torch.ones(2))
    # the share of pasted pixels is the label weight of the partner, identical in every frame
    pasted = (mixed[:, 0] != x[:, 0]).float().mean(dim=(-1, -2))
    assert (pasted == pasted[:, :1]).all()
    swapped = pasted[0, 0].item()
    if swapped:  # only a permutation that moves samples pastes anything
        assert soft[0, 1].item() == pytest.approx(swapped)
    assert torch.equal(x[0], torch.zeros(3, 4, 16, 16))  # input untouched
    with pytest.raises(ValueError, match="float"):
        CutMix(2)(torch.zeros(2, 3, dtype=torch.uint8), labels)
    multi = MixUp(3)(torch.zeros(2, 4), torch.tensor([[1.0, 1, 0], [0, 0, 1]]))[1]
    assert multi.shape == (2, 3)


def test_every_zoo_protocol_builds_its_views():
    """Each registered entry's protocols resolve and fold into whole views."""
    from videozoo._registry import list_entries

    entries = list_entries()
    if not entries:
        pytest.skip("no zoo entries registered")
    for e in entries:
        for p in e.test_protocols:
            cfg = resolve_data_config(e.name, p.name)
            assert cfg.in_chans == e.in_chans, e.name
            small = cfg.replace(resize=None, crop_size=8)
            out = create_transform(small)(torch.zeros(20, 8, 8, 2 if cfg.modality == "flow"
                                                      else 3, dtype=torch.uint8))
            assert out.shape[1] == e.in_chans and out.shape[-2:] == (8, 8), e.name
            if cfg.num_segments:
                assert out.shape[2] == cfg.num_segments, e.name


@pytest.mark.gpu
def test_make_views_on_gpu_is_bit_identical_to_cpu():
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 16, 240, 320, 3), dtype=np.uint8))
    for name in ("tsn_r50", "tsm_r50", "tpn_slowonly_r50"):
        cfg = resolve_data_config(name)
        cpu = make_views(frames, cfg)  # cv2
        gpu = make_views(frames, cfg, device="cuda")  # OpenCV's arithmetic in torch
        assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)


@pytest.mark.parametrize("channels", [3, 2])
def test_ten_crop_views_are_the_same_with_and_without_opencv(channels, monkeypatch):
    from videozoo.data import transforms as data_transforms

    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (2, 6, 37, 45, channels), dtype=torch.uint8, generator=g)
    cfg = dict(resize=None, crop="ten", crop_size=(29, 31), clip_len=1, num_segments=6,
               modality="flow" if channels == 2 else "rgb")
    with_cv2 = make_views(frames, cfg, normalize=False)
    monkeypatch.setattr(data_transforms, "_cv2", lambda: None)
    without = make_views(frames, cfg, normalize=False)
    assert torch.equal(with_cv2, without)
    if channels == 3:  # view 1 is box 1's crop mirrored left-right, all six frames
        x1, y1, x2, y2 = crop_boxes(37, 45, (29, 31), "ten")[1]
        expected = frames[0, :, y1:y2, x1:x2].flip(-2).permute(3, 0, 1, 2)
        assert torch.equal(with_cv2[0, 1], expected)
