"""Video restoration frame by frame (ddrm.video): I/O through PyAV, resume, shared / independent / warm-start noise,
optical flow and the flicker measure, the CLI's refusals."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli import run

from ddrm.errors import DDRMError
from ddrm.io import read_image, write_image
from ddrm.pipeline import PriorLoader
from ddrm.samplers import SAMPLERS
from ddrm.tasks import make_task

av = pytest.importorskip("av", reason="video tests need PyAV (pip install 'ddrm[video]')")
cv2 = pytest.importorskip("cv2", reason="video tests need OpenCV (pip install 'ddrm[video]')")

from ddrm import video  # noqa: E402


def texture(h: int, w: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """A smooth random texture (H, W, 3) in [0, 1] moved right by ``shift`` pixels (periodic)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.fft2(rng.standard_normal((3, h, w)))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None]
    spectrum *= np.exp(-((fy**2 + fx**2) / 0.004)) * np.exp(-2j * np.pi * fx * shift)
    img = np.real(np.fft.ifft2(spectrum))
    img = (img - img.mean()) / (4 * img.std()) + 0.5
    return np.clip(img.transpose(1, 2, 0), 0, 1)


def make_clip(path: Path, frames: int = 6, h: int = 32, w: int = 48, fps=Fraction(12), audio=True, step=1.5,
              grey=False):  # fmt: skip
    """A short H.264 clip of a texture moving right by ``step`` px per frame, with an AAC tone; ``grey``: the
    texture's grey in every channel (a black-and-white film in a colour container)."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt, v.options = w, h, "yuv420p", {"crf": "8"}
        a = c.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            img = texture(h, w, step * i)
            img = img.mean(2, keepdims=True).repeat(3, 2) if grey else img
            arr = (img * 255 + 0.5).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = i, 1 / fps
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        if a is not None:
            t = np.arange(int(16000 * frames / fps)) / 16000
            af = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp",
                                            layout="mono")  # fmt: skip
            af.sample_rate, af.pts = 16000, 0
            c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.dts is not None]


def stream_facts(path: Path) -> tuple:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(v))
        return n, v.codec_context.width, v.codec_context.height, v.average_rate


# ---------------------------------------------------------------------------------------------- I/O
def test_clip_in_clip_out_keeps_frames_size_rate_and_audio(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", fps=Fraction(30000, 1001))
    out = tmp_path / "out.mp4"
    res = run("restore", clip, "--task", "denoise", "--sigma-y", "0.05", "--prior", "gaussian", "--steps", "3",
              "-o", out, "--reference", clip)  # fmt: skip
    assert stream_facts(out) == (6, 48, 32, Fraction(30000, 1001))
    assert audio_packets(out) == audio_packets(clip)  # passed through, not re-encoded
    frames = sorted((tmp_path / "out_frames").glob("*.png"))
    assert [f.name for f in frames] == [f"{i:06d}.png" for i in range(6)]  # the lossless intermediates
    assert "mean over 6 frames: PSNR" in res.stdout and "flicker" in res.stdout
    # the video holds the frames in order (x264 at CRF 18 on these noisy 48x32 frames, 4:2:0 halving the colour
    # resolution: 33-35 dB on the grey level)
    decoded = [f.mean(0) for _, f in video.open_clip(out).frames()]
    restored = [read_image(f).mean(0) for f in frames]
    mse = np.array([[float(((d - r) ** 2).mean()) for r in restored] for d in decoded])
    assert (mse.argmin(1) == np.arange(6)).all() and -10 * np.log10(mse.diagonal().max()) > 30


def test_super_resolution_clip_into_mkv_and_odd_sizes(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=3, h=16, w=24, audio=False)
    out = tmp_path / "sr.mkv"
    run("restore", clip, "--task", "sr4", "--sigma-y", "0.05", "--prior", "gaussian", "--steps", "2", "-o", out,
        "--quiet")  # fmt: skip
    assert stream_facts(out) == (3, 96, 64, 12)
    odd = [write_image(torch.rand(3, 17, 23), tmp_path / f"odd{i}.png") for i in range(2)]
    video.write_video(odd, tmp_path / "odd.mp4", 10)  # 4:4:4 where 4:2:0 cannot hold the size
    assert stream_facts(tmp_path / "odd.mp4") == (2, 23, 17, 10)


def test_open_clip_refuses_what_it_cannot_read(tmp_path, monkeypatch):
    (tmp_path / "garbage.mp4").write_bytes(b"not a video at all" * 20)
    good = make_clip(tmp_path / "clip.mp4", audio=False)
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[:2000])
    for name in ("garbage.mp4", "cut.mp4"):
        with pytest.raises(DDRMError, match="cannot read the video"):
            video.open_clip(tmp_path / name)
    frames = tmp_path / "frames"
    write_image(torch.rand(3, 8, 8), frames / "a.png")
    write_image(torch.rand(3, 8, 10), frames / "b.png")
    with pytest.raises(DDRMError, match="frames differ in size"):
        video.open_clip(frames)
    monkeypatch.setitem(__import__("sys").modules, "av", None)
    with pytest.raises(DDRMError, match=r"pip install 'ddrm\[video\]'"):
        video.open_clip(good)


@pytest.mark.parametrize(
    "case",
    [
        "corrupt",
        "truncated",
        "temporal-on-image",
        "warm-level-alone",
        "warm-start-solver",
        "fps-on-video",
        "frames-out",
    ],
)
def test_bad_clip_input_is_one_line_and_exit_2(tmp_path, case):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    base = ["--task", "denoise", "--sigma-y", "0.05", "--prior", "gaussian", "--steps", "2"]
    if case == "corrupt":
        (tmp_path / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 500)
        args = ["restore", tmp_path / "x.mp4", *base]
    elif case == "truncated":
        (tmp_path / "x.mp4").write_bytes(clip.read_bytes()[:1500])
        args = ["restore", tmp_path / "x.mp4", *base]
    elif case == "temporal-on-image":
        write_image(torch.rand(3, 8, 8), tmp_path / "x.png")
        args = ["restore", tmp_path / "x.png", *base, "--temporal", "shared"]
    elif case == "warm-level-alone":
        args = ["restore", clip, *base, "--warm-level", "0.3"]
    elif case == "warm-start-solver":
        args = ["restore", clip, *base, "--temporal", "warm-start", "--solver", "ddnm"]
    elif case == "fps-on-video":
        args = ["restore", clip, *base, "--fps", "10"]
    else:
        args = ["restore", clip, *base, "-o", tmp_path / "out.png"]
    before = sorted(p.name for p in tmp_path.iterdir())
    res = run(*args, ok=False)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ddrm: error:"), res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


# ---------------------------------------------------------------------------------------------- restore
def _restore(clip, out, temporal="shared", prior_for=None, **kw):
    spec = make_task("denoise", (3, clip.height, clip.width), {}, torch.Generator())
    solver = SAMPLERS["ddrm"]
    return video.restore_clip(clip, out, spec, 0.05, solver, {"steps": 4}, prior_for or PriorLoader("gaussian"),
                              temporal=temporal, **kw)  # fmt: skip


def _bytes(paths):
    return [p.read_bytes() for p in paths]


@pytest.mark.parametrize("temporal", ["shared", "independent", "warm-start"])
def test_resume_restores_only_missing_frames_and_matches_a_full_run(tmp_path, temporal):
    clip = video.open_clip(make_clip(tmp_path / "clip.mp4", frames=7, audio=False))
    full = _bytes(_restore(clip, tmp_path / "full", temporal, batch_size=3))
    frames = _restore(clip, tmp_path / "part", temporal, batch_size=3)
    stamps = [p.stat().st_mtime_ns for p in frames]
    for i in (4, 6):  # an interrupted run: frames 4.. missing (a stray temporary file too)
        frames[i].unlink()
    (frames[0].parent / ".000004.png.123.tmp").write_bytes(b"half")
    frames = _restore(clip, tmp_path / "part", temporal, batch_size=3)
    assert _bytes(frames) == full
    assert not list(frames[0].parent.glob("*.tmp"))
    kept = [0, 1, 2, 3, 5] if temporal != "warm-start" else [0, 1, 2, 3]  # warm start redoes 5 (it follows 4)
    assert all(frames[i].stat().st_mtime_ns == stamps[i] for i in kept)


def test_resume_refuses_frames_restored_with_other_settings(tmp_path):
    clip = video.open_clip(make_clip(tmp_path / "clip.mp4", frames=2, audio=False))
    _restore(clip, tmp_path / "out", "shared")
    with pytest.raises(DDRMError, match=r"other settings \(temporal\)"):
        _restore(clip, tmp_path / "out", "independent")
    record = json.loads((tmp_path / "out" / "restore.json").read_text())
    assert record["temporal"] == "shared" and (record["solver_args"], record["steps"]) == ({"steps": 4}, 4)
    default = video.clip_record(clip, make_task("denoise", (3, clip.height, clip.width), {}, torch.Generator()), 0.05,
                                SAMPLERS["ddrm"], {}, 0, "shared", 0.5, None)  # fmt: skip
    assert (default["solver_args"], default["steps"]) == ({}, SAMPLERS["ddrm"].defaults("denoise")["steps"])
    (tmp_path / "out" / "restore.json").unlink()
    with pytest.raises(DDRMError, match="no readable restore.json"):
        _restore(clip, tmp_path / "out", "shared")
    _restore(clip, tmp_path / "out", "independent", overwrite=True)


def test_shared_noise_restores_a_static_clip_identically(tmp_path):
    frames = tmp_path / "static"
    img = torch.from_numpy(texture(16, 16)).permute(2, 0, 1).float()
    for i in range(3):
        write_image(img, frames / f"f{i}.png")  # a still scene: the same measurement three times
    clip = video.open_clip(frames)
    shared = _bytes(_restore(clip, tmp_path / "shared", "shared", batch_size=2))
    independent = _bytes(_restore(clip, tmp_path / "independent", "independent", batch_size=2))
    assert shared[0] == shared[1] == shared[2]
    assert len(set(independent)) == 3
    # the frame order in a batch does not matter: batch size 1 gives the same frames
    assert _bytes(_restore(clip, tmp_path / "one", "shared", batch_size=1)) == shared


class CountingPrior:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def denoise(self, x, sigma):
        self.calls += 1
        return self.inner.denoise(x, sigma)


def test_warm_start_runs_the_shortened_chain_from_the_warped_frame(tmp_path):
    clip = video.open_clip(make_clip(tmp_path / "clip.mp4", frames=3, audio=False))
    loader = PriorLoader("gaussian")
    counting = CountingPrior(loader((3, clip.height, clip.width)))
    calls = []
    _restore(clip, tmp_path / "w", "warm-start", prior_for=lambda shape: counting, warm_level=0.5,
             on_start=lambda: calls.append(counting.calls))  # fmt: skip
    assert counting.calls == 4 + 2 + 2  # the first frame 4 steps, then half the chain from the previous frame
    assert calls == [0]  # on_start once, before any network call


# ---------------------------------------------------------------------------------------------- flow, flicker
def test_optical_flow_recovers_a_shift_and_warp_aligns_frames():
    a = torch.from_numpy(texture(48, 64)).permute(2, 0, 1).float()
    b = torch.from_numpy(texture(48, 64, shift=2.0)).permute(2, 0, 1).float()  # b[x] = a[x - 2]
    flow = video.optical_flow(b, a)  # b[y, x] ~ a[y + dy, x + dx]
    inner = flow[8:-8, 8:-8]
    assert abs(float(np.median(inner[..., 0])) + 2.0) < 0.1 and abs(float(np.median(inner[..., 1]))) < 0.1
    err_before = float((b - a)[:, 8:-8, 8:-8].abs().mean())
    err_after = float((b - video.warp(a, flow))[:, 8:-8, 8:-8].abs().mean())
    assert err_after < 0.15 * err_before


def test_flicker_is_near_zero_for_a_still_clip_and_grows_with_independent_noise():
    base = [torch.from_numpy(texture(32, 48, shift=1.5 * i)).permute(2, 0, 1).float() for i in range(4)]
    assert video.flicker([base[0]] * 4) < 0.1  # Farneback finds near-zero flow on equal frames
    clean = video.flicker(base)
    g = torch.Generator().manual_seed(0)
    noisy = [(f + 0.03 * torch.randn(f.shape, generator=g)).clamp(0, 1) for f in base]
    assert clean < 2.0  # the moving texture is followed by the flow
    assert video.flicker(noisy, base) > clean + 5  # ~ 255 * 0.03 * sqrt(2) * sqrt(2 / pi) ~ 8.6 levels more
    with pytest.raises(ValueError, match="at least two"):
        video.flicker(base[:1])


def test_folder_of_frames_becomes_a_video_at_the_given_rate(tmp_path):
    frames = tmp_path / "frames"
    for i in range(3):
        write_image(torch.from_numpy(texture(16, 24, i)).permute(2, 0, 1).float(), frames / f"f{i:02d}.png")
    out = tmp_path / "out.mp4"
    run("restore", frames, "--temporal", "shared", "--fps", "10", "--task", "denoise", "--sigma-y", "0.05",
        "--prior", "gaussian", "--steps", "2", "-o", out, "--quiet")  # fmt: skip
    assert stream_facts(out) == (3, 24, 16, 10)
    assert sorted(p.name for p in (tmp_path / "out_frames").glob("*.png")) == ["f00.png", "f01.png", "f02.png"]
    # into a folder of frames (the folder is the output: not "two outputs"), blind deblurring included
    run("restore", frames, "--temporal", "shared", "--task", "deblur_blind", "--kernel-size", "3", "--sigma-y", "0.02",
        "--prior", "gaussian", "--steps", "3", "-o", tmp_path / "folder", "--quiet")  # fmt: skip
    got = sorted(p.name for p in (tmp_path / "folder").iterdir())
    kinds = (".png", ".kernel.npy", ".kernel.png", ".result.json")
    assert got == sorted([f"f{i:02d}{s}" for i in range(3) for s in kinds] + ["restore.json"])


def test_a_black_and_white_clip_stored_as_colour_is_restored_grey(tmp_path):
    clip = make_clip(tmp_path / "bw.mp4", frames=3, audio=False, grey=True)
    assert video.open_clip(clip).is_grey() and not video.open_clip(make_clip(tmp_path / "c.mp4", frames=2)).is_grey()
    base = ["--task", "denoise", "--sigma-y", "0.05", "--prior", "gaussian", "--steps", "3"]
    res = run("restore", clip, *base, "-o", tmp_path / "out.mp4", "--reference", clip)
    frames = sorted((tmp_path / "out_frames").glob("*.png"))
    assert len(frames) == 3 and all(Image.open(f).mode == "L" for f in frames)  # one noise, one channel, as the film
    assert "mean over 3 frames: PSNR" in res.stdout  # scored against the clip's grey
    # the same frames saved with one channel are the same measurement: the same restoration
    grey = tmp_path / "grey"
    for i, f in video.open_clip(clip).frames():
        write_image(f.mean(0, keepdim=True), grey / f"{i:06d}.png")
    run("restore", grey, "--temporal", "shared", *base, "-o", tmp_path / "from_grey", "--quiet")
    for f in frames:
        a = np.asarray(Image.open(f), dtype=int)
        assert np.abs(a - np.asarray(Image.open(tmp_path / "from_grey" / f.name), dtype=int)).max() <= 1
    # a reference with colours is refused before any frame is restored
    colour = make_clip(tmp_path / "colour.mp4", frames=3, audio=False)
    res = run("restore", clip, *base, "-o", tmp_path / "again.mp4", "--reference", colour, ok=False)
    assert res.returncode == 2 and "this reference has colours" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "again_frames").exists()
    # a clip that turns to colour keeps the colour model throughout (decided before the first frame)
    turning = tmp_path / "turning"
    for i, f in video.open_clip(clip).frames():
        write_image(f, turning / f"{i:06d}.png")
    write_image(torch.from_numpy(texture(32, 48, 9.0)).permute(2, 0, 1).float(), turning / "000003.png")
    run("restore", turning, "--temporal", "shared", *base, "-o", tmp_path / "turned", "--quiet")
    assert [Image.open(f).mode for f in sorted((tmp_path / "turned").glob("*.png"))] == ["RGB"] * 4
