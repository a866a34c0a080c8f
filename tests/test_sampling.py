"""Frame sampling against MMAction2's goldens and its documented behaviour."""
from __future__ import annotations

import json

import numpy as np
import pytest

import videozoo
from videozoo.transforms import num_sampled_clips, sample_frame_indices


def _cases(parity_dir, name):
    with open(parity_dir / "fixtures" / name) as f:
        return json.load(f)["cases"]


@pytest.mark.parametrize("fixture,legacy", [("sampling.json", False),
                                            ("sampling_legacy.json", True)])
def test_matches_mmaction2_fixtures(parity_dir, fixture, legacy):
    cases = _cases(parity_dir, fixture)
    assert len(cases) > 200
    for c in cases:
        got = sample_frame_indices(c["total_frames"], c["clip_len"], c["frame_interval"],
                                   c["num_clips"], test_mode=True, twice_sample=c["twice_sample"],
                                   dense=c["dense"], legacy=legacy)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.asarray(c["frame_inds"]), err_msg=str(c))


def test_public_attribute_path():
    assert videozoo.transforms.sample_frame_indices is sample_frame_indices


def test_documented_examples():
    # facts §8.2: F=300, TSM 1x1x8
    np.testing.assert_array_equal(sample_frame_indices(300, 1, 1, 8),
                                  [18, 56, 93, 131, 168, 206, 243, 281])
    twice = sample_frame_indices(300, 1, 1, 8, twice_sample=True, start_index=1)
    np.testing.assert_array_equal(twice[8:], [1, 38, 76, 113, 151, 188, 226, 263])
    # 1.x spreads 3D clip starts over the video, 0.x centres them in bins
    starts_1x = sample_frame_indices(300, 8, 8, 10)[::8]
    starts_0x = sample_frame_indices(300, 8, 8, 10, legacy=True)[::8]
    np.testing.assert_array_equal(starts_1x, [0, 27, 54, 81, 108, 135, 162, 189, 216, 243])
    np.testing.assert_array_equal(starts_0x, [11, 35, 59, 82, 106, 130, 154, 177, 201, 225])


@pytest.mark.parametrize("legacy", [False, True])
def test_test_mode_shapes_and_range(legacy):
    for total in (1, 2, 3, 7, 8, 9, 31, 64, 65, 300):
        for clip_len, interval, clips in ((1, 1, 8), (1, 1, 25), (5, 1, 3), (8, 8, 10), (32, 2, 1)):
            for twice in (False, True):
                if twice and clip_len > 1 and clips == 1 and not legacy:
                    continue
                got = sample_frame_indices(total, clip_len, interval, clips, twice_sample=twice,
                                           legacy=legacy)
                assert got.min() >= 0 and got.max() < total
                if not (legacy and twice and total <= clip_len * interval - 1):
                    assert len(got) == num_sampled_clips(clips, twice) * clip_len
            dense = sample_frame_indices(total, 1, 1, 8, dense=True)
            assert len(dense) == num_sampled_clips(8, dense=True) == 80
            assert dense.max() < total


def test_clip_major_order_and_interval():
    inds = sample_frame_indices(1000, 4, 3, 5).reshape(5, 4)
    np.testing.assert_array_equal(np.diff(inds, axis=1), 3)  # frames of a clip, interval apart
    assert np.all(np.diff(inds[:, 0]) > 0)  # clips in time order


def test_short_video_loops():
    # MMAction2 'loop': a 3-frame video read as an 8-segment TSM clip
    got = sample_frame_indices(3, 1, 1, 8)
    assert set(got.tolist()) <= {0, 1, 2} and len(got) == 8
    np.testing.assert_array_equal(sample_frame_indices(1, 8, 8, 2), np.zeros(16))
    np.testing.assert_array_equal(sample_frame_indices(5, 4, 2, 1), [0, 2, 4, 1])


def test_repeat_last():
    got = sample_frame_indices(5, 4, 2, 1, out_of_bound="repeat_last")
    np.testing.assert_array_equal(got, [0, 2, 4, 4])


def test_dense_positions():
    # fewer than 64 frames: 10 identical positions
    got = sample_frame_indices(40, 1, 1, 8, dense=True).reshape(10, 8)
    assert (got == got[0]).all()
    np.testing.assert_array_equal(got[0], (np.arange(8) * 8) % 40)
    got = sample_frame_indices(300, 1, 1, 8, dense=True).reshape(10, 8)
    np.testing.assert_array_equal(got[:, 0], np.linspace(0, 236, 10, dtype=int))


def test_train_mode_bins_and_determinism():
    a = sample_frame_indices(300, 1, 1, 8, test_mode=False, rng=3)
    b = sample_frame_indices(300, 1, 1, 8, test_mode=False, rng=np.random.RandomState(3))
    np.testing.assert_array_equal(a, b)
    # one random frame in each of 8 equal bins of 37 frames
    bins = 300 // 8
    for k, v in enumerate(a):
        assert k * bins <= v < (k + 1) * bins
    # None draws from numpy's global RNG, as MMAction2
    np.random.seed(11)
    c = sample_frame_indices(300, 1, 1, 8, test_mode=False)
    np.testing.assert_array_equal(c, sample_frame_indices(300, 1, 1, 8, test_mode=False, rng=11))
    g = sample_frame_indices(300, 8, 8, 1, test_mode=False, rng=np.random.default_rng(0))
    assert len(g) == 8 and np.all(np.diff(g) == 8)
    draws = {tuple(sample_frame_indices(300, 1, 1, 8, test_mode=False, rng=s)) for s in range(20)}
    assert len(draws) > 15


def test_train_mode_short_videos():
    rng = np.random.RandomState(0)
    for total in range(1, 12):
        for clip_len, interval, clips in ((1, 1, 8), (8, 8, 1), (5, 1, 3)):
            got = sample_frame_indices(total, clip_len, interval, clips, test_mode=False, rng=rng)
            assert len(got) == clip_len * clips and got.min() >= 0 and got.max() < total
    # fewer frames than segments: sorted random starts, then evenly spread
    got = sample_frame_indices(10, 1, 1, 8, test_mode=False, rng=0)
    assert np.all(np.diff(got) >= 0)
    np.testing.assert_array_equal(sample_frame_indices(8, 1, 1, 8, test_mode=False, rng=0),
                                  np.arange(8))
    tail = sample_frame_indices(100, 1, 1, 4, test_mode=False, rng=0, keep_tail_frames=True)
    assert all(k * 25 <= v < (k + 1) * 25 for k, v in enumerate(tail))


def test_dense_train():
    got = sample_frame_indices(300, 1, 1, 8, test_mode=False, dense=True, rng=0)
    assert len(got) == 8 and np.all(np.diff(got) == 8)


@pytest.mark.parametrize("kwargs", [dict(total_frames=0), dict(clip_len=0), dict(num_clips=-1),
                                    dict(frame_interval=1.5), dict(out_of_bound="clip")])
def test_bad_arguments(kwargs):
    args = dict(total_frames=10, clip_len=1, frame_interval=1, num_clips=3)
    args.update(kwargs)
    with pytest.raises(ValueError):
        sample_frame_indices(**args)


def test_twice_single_3d_clip_is_rejected_like_mmaction2():
    with pytest.raises(ValueError, match="num_clips"):
        sample_frame_indices(100, 8, 8, 1, twice_sample=True)
    assert len(sample_frame_indices(100, 8, 8, 1, twice_sample=True, legacy=True)) == 16
