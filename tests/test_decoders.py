"""Decoders on videos and frame folders the tests write: sizes, lengths, order, failures."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from videozoo.data import (
    FrameFolderDecoder,
    VideoDecodeError,
    VideoDecoder,
    create_transform,
    list_decoders,
    open_video,
    register_decoder,
    resolve_data_config,
)
from videozoo.data.synthetic import (
    make_synthetic_video,
    write_flow_folder,
    write_frame_folder,
    write_video,
)


def _video(frames, size, seed=0):
    return make_synthetic_video(seed % 3, 3, frames, size, rng=np.random.default_rng(seed))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """mp4 files of several sizes and lengths (1 frame up), odd aspect ratios included."""
    root = tmp_path_factory.mktemp("videos")
    out = {}
    for frames, size in ((1, (32, 32)), (2, (48, 64)), (7, (30, 90)), (40, (64, 40)),
                         (13, (33, 47))):
        out[(frames, size)] = write_video(root / f"v{frames}_{size[0]}x{size[1]}.mp4",
                                          _video(frames, size, frames))
    return out


def test_registry():
    assert {"decord", "rawframes", "pyav"} <= set(list_decoders())
    with pytest.raises(ValueError, match="unknown decoder"):
        open_video("x.mp4", "torchcodec-not-there")


def test_decord_lengths_sizes_and_order(videos):
    import decord

    for (frames, (h, w)), path in videos.items():
        with open_video(path) as dec:
            assert len(dec) == frames
            inds = [frames - 1, 0, frames // 2, 0, frames - 1]
            got = dec.get_frames(inds)
            assert got.shape == (5, h, w, 3) and got.dtype == np.uint8
            ref = decord.VideoReader(path, num_threads=1).get_batch(inds).asnumpy()
            np.testing.assert_array_equal(got, ref)  # decoding once per index changes nothing
            assert np.array_equal(got[1], got[3]) and np.array_equal(got[0], got[4])


def test_decode_is_close_to_the_source(tmp_path):
    src = _video(6, (48, 64), 1)
    path = write_video(tmp_path / "q.mp4", src)
    with open_video(path) as dec:
        got = dec.get_frames(range(6)).astype(int)
    assert np.abs(got - src).mean() < 6  # lossy codec, but the same picture


def test_pyav_backend_agrees_with_decord(videos):
    path = videos[(13, (33, 47))]
    with open_video(path, "pyav") as av_dec, open_video(path) as dec:
        assert len(av_dec) == len(dec) == 13
        a = av_dec.get_frames([12, 3, 3]).astype(int)
        b = dec.get_frames([12, 3, 3]).astype(int)
    assert a.shape == b.shape
    # same frames; the YUV->RGB conversions differ (at sharp colour edges by tens of levels)
    assert np.abs(a - b).mean() < 2.5
    assert np.abs(a[0] - b[0]).mean() < np.abs(a[0] - b[1]).mean()


def test_out_of_range_indices(videos):
    with open_video(videos[(2, (48, 64))]) as dec:
        with pytest.raises(ValueError, match=r"\[0, 2\)"):
            dec.get_frames([0, 2])
        with pytest.raises(ValueError):
            dec.get_frames([])


def test_short_video_loops_through_a_long_clip(videos):
    path = videos[(1, (32, 32))]
    cfg = resolve_data_config("tsm_r50").replace(resize=None, crop="center", crop_size=32)
    views = create_transform(cfg)(path)
    assert views.shape == (1, 3, 8, 32, 32)
    assert torch.equal(views[0, :, 0], views[0, :, 7])  # the one frame, 8 times


def _expect_decode_error(path, *args, **kwargs):
    with pytest.raises(VideoDecodeError) as info:
        with open_video(path, *args, **kwargs) as dec:
            dec.get_frames(range(len(dec)))
    assert os.fspath(path) in str(info.value) or info.value.path in str(info.value)
    return info.value


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_unreadable_files_raise_one_error_type(tmp_path, videos, decoder):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    data = open(videos[(40, (64, 40))], "rb").read()
    truncated = tmp_path / "truncated.mp4"  # moov atom at the end is cut off
    truncated.write_bytes(data[: len(data) // 2])
    no_frames = tmp_path / "no_frames.mp4"
    write_video(no_frames, np.zeros((0, 16, 16, 3), dtype=np.uint8))
    for path in (tmp_path / "missing.mp4", empty, garbage, truncated, no_frames):
        err = _expect_decode_error(path, decoder)
        assert err.path == os.fspath(path) and str(path) in str(err)


def test_truncated_streamable_file_fails_when_decoding(tmp_path):
    """moov first: the container opens, the missing packets fail at get_frames."""
    import av

    path = tmp_path / "fast.mp4"
    frames = _video(40, (48, 64), 5)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = path.read_bytes()
    cut = tmp_path / "fast_cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    err = _expect_decode_error(cut)
    assert "fast_cut.mp4" in str(err)


def test_frame_folder_matches_cv2(tmp_path):
    import cv2

    frames = _video(5, (30, 44), 2)
    folder = write_frame_folder(tmp_path / "clip", frames)
    assert sorted(os.listdir(folder))[0] == "img_00001.jpg"
    dec = open_video(folder, "rawframes", total_frames=5)
    got = dec.get_frames([4, 0, 4])
    ref = cv2.cvtColor(cv2.imread(os.path.join(folder, "img_00005.jpg")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(got[0], ref)
    np.testing.assert_array_equal(got[0], got[2])
    assert np.abs(got[1].astype(int) - frames[0]).mean() < 4
    assert len(open_video(folder, "rawframes")) == 5  # counted when the list gives no count


def test_frame_folder_template_and_start_index(tmp_path):
    frames = _video(3, (24, 24), 3)
    folder = write_frame_folder(tmp_path / "sth", frames, "{:05d}.jpg", start_index=0)
    dec = FrameFolderDecoder(folder, filename_tmpl="{:05d}.jpg", start_index=0)
    assert len(dec) == 3 and dec.frame_paths(0)[0].endswith("00000.jpg")
    assert dec.get_frames([2]).shape == (1, 24, 24, 3)


def test_flow_folder(tmp_path):
    _, flow = make_synthetic_video(1, 2, 6, (32, 40), "direction", np.random.default_rng(0),
                                   return_flow=True)
    folder = write_flow_folder(tmp_path / "flow", flow)
    assert {"x_00001.jpg", "y_00006.jpg"} <= set(os.listdir(folder))
    dec = open_video(folder, "rawframes", modality="flow", total_frames=6)
    got = dec.get_frames([0, 5])
    assert got.shape == (2, 32, 40, 2)
    assert np.abs(got.astype(int) - flow[[0, 5]]).max() < 20  # JPEG, but x stays in channel 0
    assert got[..., 0].max() > 140 and abs(int(np.median(got[..., 1])) - 128) <= 2


def test_frame_folder_failures(tmp_path):
    frames = _video(4, (24, 24), 4)
    folder = write_frame_folder(tmp_path / "broken", frames)
    (tmp_path / "broken" / "img_00003.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    os.remove(tmp_path / "broken" / "img_00004.jpg")
    dec = open_video(folder, "rawframes", total_frames=4)
    assert dec.get_frames([0, 1]).shape == (2, 24, 24, 3)
    with pytest.raises(VideoDecodeError, match="img_00003.jpg"):
        dec.get_frames([2])
    with pytest.raises(VideoDecodeError, match="img_00004.jpg"):
        dec.get_frames([3])
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match="no frames"):
        open_video(empty, "rawframes")
    with pytest.raises(VideoDecodeError, match="no such frame folder"):
        open_video(tmp_path / "nope", "rawframes", total_frames=3)


def test_third_backend_plugs_in_without_touching_callers(tmp_path):
    name = "_test_array_backend"

    if name not in list_decoders():
        @register_decoder(name)
        class ArrayDecoder(VideoDecoder):
            def __init__(self, source):
                super().__init__(source)
                self.data = np.load(self.path)

            def __len__(self):
                return len(self.data)

            def _decode_sorted(self, indices):
                return self.data[indices]

    path = tmp_path / "clip.npy"
    np.save(path, np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(8, 1).repeat(8, 2)
            .repeat(3, 3))
    cfg = resolve_data_config("tsm_r50").replace(decoder=name, resize=None, crop_size=8,
                                                 crop="center", mean=(0, 0, 0), std=(1, 1, 1))
    views = create_transform(cfg)(path)
    np.testing.assert_array_equal(views[0, 0, :, 0, 0].numpy(), [0, 1, 3, 4, 5, 6, 8, 9])
    with pytest.raises(ValueError, match="registered twice"):
        register_decoder(name)(VideoDecoder)
