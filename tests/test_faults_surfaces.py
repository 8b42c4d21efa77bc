"""Fault injection on the newer surfaces (video, files and paths, JPEG, blind deblurring, bench, download, demo,
training), generated as ``tests/test_faults.py`` generates the CLI's: each case builds a situation, runs the command
in-process, and checks the contract (exit code 2, one line on stderr, no traceback, nothing created, changed or
removed). Cases that need a second process (a lock held, a file-size limit, a download) run one.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_faults import DDRM, assert_refused, call, photo, snapshot

G = ["--prior", "gaussian", "--steps", "2", "--quiet"]
HAS_AV = importlib.util.find_spec("av") is not None


# ------------------------------------------------------------------------------------------------ situations
def _clip(path: Path, w: int = 32, h: int = 32, frames: int = 3, audio: str | None = None, seed: int = 0) -> Path:
    """A small video (H.264 in .mp4, FFV1 in .mkv), with a second of silent audio in ``audio``'s codec."""
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264" if path.suffix == ".mp4" else "ffv1", rate=10)
        s.width, s.height = w, h
        s.pix_fmt = "yuv420p" if path.suffix == ".mp4" else "yuv444p"
        a = c.add_stream(audio, rate=8000) if audio else None
        for _ in range(frames):
            f = av.VideoFrame.from_ndarray((rng.random((h, w, 3)) * 255).astype(np.uint8), format="rgb24")
            c.mux(s.encode(f))
        c.mux(s.encode(None))
        if a is not None:
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
            sound.sample_rate, sound.pts = 8000, 0
            c.mux(a.encode(sound))
            c.mux(a.encode(None))
    return path


def _bomb(path: Path, side: int = 20000) -> Path:
    """A tiny PNG whose header claims ``side`` x ``side`` RGB pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def _dataset(root: Path, n: int = 3, side: int = 20) -> Path:
    folder = root / "data"
    folder.mkdir()
    for i in range(n):
        photo(folder / f"im{i}.png", seed=i, h=side, w=side)
    return folder


def _protocol(root: Path, data: Path, size: int = 16, task: str = "sr2") -> Path:
    text = (
        f'name = "t"\nseeds = [0]\nbatch_size = 2\nmetrics = ["psnr"]\nprior = "gaussian"\n'
        f'[[datasets]]\nname = "d"\npath = "{data}"\nsize = {size}\nresize = "center-crop"\n'
        f'[[tasks]]\nname = "{task}"\nsigma_y = 0.05\n[[methods]]\nmethod = "ddrm"\nsteps = 2\n'
        '[[methods]]\nmethod = "bicubic"\n'
    )
    (root / "p.toml").write_text(text)
    return root / "p.toml"


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    photo(tmp_path / "y.png", h=16, w=16)
    photo(tmp_path / "clean.png", h=32, w=32)
    return tmp_path


# ------------------------------------------------------------------------------------------------ refused up front
# case -> (prepare the folder, return the command; the substring the one line must hold)
Case = Callable[[Path], list]


def _video_odd_avi(w: Path) -> list:
    return ["restore", _clip(w / "odd.mkv", 17, 15), "-o", w / "out.avi", "--task", "denoise", "--sigma-y", "0.05", *G]


def _video_pcm_mp4(w: Path) -> list:
    src = _clip(w / "pcm.mkv", audio="pcm_s16le")
    return ["restore", src, "-o", w / "out.mp4", "--task", "denoise", "--sigma-y", "0.05", *G]


def _video_out_folder(w: Path) -> list:
    (w / "out.mp4").mkdir()
    return ["restore", _clip(w / "c.mp4"), "-o", w / "out.mp4", "--task", "denoise", "--sigma-y", "0.05", *G]


def _out_is_folder(w: Path) -> list:
    (w / "x.png").mkdir()
    return ["restore", w / "y.png", "-o", w / "x.png", "--task", "denoise", "--sigma-y", "0.05", *G]


def _bomb_restore(w: Path) -> list:
    return ["restore", _bomb(w / "bomb.png"), "-o", w / "b.png", "--task", "denoise", "--sigma-y", "0.05", *G]


def _bomb_degrade(w: Path) -> list:
    return ["degrade", _bomb(w / "bomb.png"), "-o", w / "b.png", "--task", "sr2", "--quiet"]


def _bomb_under_a_lower_limit(w: Path) -> list:
    return ["degrade", w / "clean.png", "-o", w / "b.png", "--task", "sr2", "--max-pixels", "1000", "--quiet"]


def _long_record_name(w: Path) -> list:
    name = "a" * (255 - len(".png") - 2)  # fits as NAME.png; NAME.result.json does not
    return ["restore", w / "y.png", "-o", w / (name + ".png"), "--task", "denoise", "--sigma-y", "0.05", *G]


def _jpeg_restore_noise(w: Path) -> list:
    code, _, err = call(["degrade", w / "clean.png", "-o", w / "q.jpg", "--task", "jpeg10", "--quiet"])
    assert code == 0, err
    return ["restore", w / "q.jpg", "-o", w / "r.png", "--sigma-y", "0.05", *G]


def _jpeg_degrade_noise(w: Path) -> list:
    return ["degrade", w / "clean.png", "-o", w / "q.jpg", "--task", "jpeg10", "--sigma-y", "0.05", "--quiet"]


def _jpeg_demo_noise(w: Path) -> list:
    return ["demo", "-o", w / "d", "--task", "jpeg10", "--sigma-y", "0.02", *G]


def _blind_memory(w: Path) -> list:
    return ["restore", photo(w / "big.png", h=64, w=64), "-o", w / "r.png", "--task", "deblur_blind", "--kernel-size", "5",
            "--sigma-y", "0.02", *G]  # fmt: skip


def _gaussian_memory(w: Path) -> list:
    return ["restore", w / "clean.png", "-o", w / "r.png", "--task", "sr8", "--sigma-y", "0.05", *G]


def _bench_corrupt(w: Path) -> list:
    data = _dataset(w)
    (data / "im2.png").write_bytes((data / "im2.png").read_bytes()[:100])
    return ["bench", _protocol(w, data), "-o", w / "run", "--quiet"]


def _bench_two_names(w: Path) -> list:
    data = _dataset(w)
    Image.open(data / "im0.png").save(data / "im0.jpg")
    return ["bench", _protocol(w, data), "-o", w / "run", "--quiet"]


def _bench_run_in_data(w: Path) -> list:
    data = _dataset(w)
    return ["bench", _protocol(w, data), "-o", data / "run", "--quiet"]


def _bench_data_in_run(w: Path) -> list:
    (w / "run").mkdir()
    data = _dataset(w / "run")
    return ["bench", _protocol(w, data), "-o", w / "run", "--quiet"]


def _bench_too_small(w: Path) -> list:
    data = _dataset(w)
    return ["bench", _protocol(w, data, size=16, task="sr32"), "-o", w / "run", "--quiet"]


def _html_checkpoint(w: Path) -> list:
    (w / "page.pt").write_text("<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>\n")
    return ["restore", w / "y.png", "-o", w / "r.png", "--task", "denoise", "--sigma-y", "0.05", "--prior",
            "adm-ffhq256", "--checkpoint", w / "page.pt", "--quiet"]  # fmt: skip


def _text_init(w: Path) -> list:
    (w / "notes.txt").write_text("weights are on the other disk\n")
    return ["train-prior", "--data", _dataset(w), "--out", w / "ck", "--steps", "1", "--init", w / "notes.txt",
            "--quiet"]  # fmt: skip


def _demo_onto_its_input(w: Path) -> list:
    photo(w / "original.png", h=40, w=40)
    return ["demo", "-o", w, "--image", w / "original.png", *G]


def _demo_over_user_files(w: Path) -> list:
    (w / "d").mkdir()
    photo(w / "d" / "measurement.png")
    return ["demo", "-o", w / "d", "--image", w / "clean.png", *G]


def _demo_memory(w: Path) -> list:
    return ["demo", "-o", w / "d", "--image", photo(w / "big.png", h=64, w=64), "--task", "sr4", *G[:-1]]


def _train_corrupt_checkpoint(w: Path) -> list:
    (w / "ck").mkdir()
    torch.save({"model": {"w": torch.zeros(3)}}, w / "ck" / "checkpoint.pt")
    data = _dataset(w, side=64)
    return ["train-prior", "--data", data, "--out", w / "ck", "--steps", "1", "--crop", "16", "--quiet"]


def _train_garbage_checkpoint(w: Path) -> list:
    (w / "ck").mkdir()
    (w / "ck" / "checkpoint.pt").write_bytes(b"PK\x03\x04" + b"\0" * 100)  # a zip cut short
    data = _dataset(w, side=64)
    return ["train-prior", "--data", data, "--out", w / "ck", "--steps", "1", "--crop", "16", "--quiet"]


def _train_no_data(w: Path) -> list:
    return ["train-prior", "--data", w / "nope", "--out", w / "ck", "--steps", "1", "--quiet"]


CASES: dict[str, tuple[Case, str, bool]] = {  # id -> (situation, expected words, needs PyAV)
    "video: odd size into .avi": (_video_odd_avi, "even size", True),
    "video: PCM audio into .mp4": (_video_pcm_mp4, "cannot write the video", True),
    "video: output is a folder": (_video_out_folder, "is a folder", True),
    "files: output is a folder": (_out_is_folder, "is a folder", False),
    "files: decompression bomb (restore)": (_bomb_restore, "400 million pixels", False),
    "files: decompression bomb (degrade)": (_bomb_degrade, "--max-pixels", False),
    "files: above a lowered --max-pixels": (_bomb_under_a_lower_limit, "above the limit", False),
    "files: a record name too long": (_long_record_name, "bytes, over the", False),
    "jpeg: restore with noise": (_jpeg_restore_noise, "models no Gaussian noise", False),
    "jpeg: degrade with noise": (_jpeg_degrade_noise, "models no Gaussian noise", False),
    "jpeg: demo with noise": (_jpeg_demo_noise, "models no Gaussian noise", False),
    "blind: memory": (_blind_memory, "MiB is free", False),
    "gaussian prior: memory": (_gaussian_memory, "MiB is free", False),
    "bench: a corrupt image": (_bench_corrupt, "im2.png: cannot read the image", False),
    "bench: two files, one row name": (_bench_two_names, "would share the row name", False),
    "bench: run folder inside the data": (_bench_run_in_data, "inside dataset", False),
    "bench: data inside the run folder": (_bench_data_in_run, "holds dataset", False),
    "bench: task too big for the size": (_bench_too_small, "factor 32", False),
    "download: an HTML page as checkpoint": (_html_checkpoint, "an HTML page", False),
    "training: a text file as --init": (_text_init, "a text file", False),
    "training: a corrupt checkpoint": (_train_corrupt_checkpoint, "not a train-prior checkpoint", False),
    "training: a truncated checkpoint": (_train_garbage_checkpoint, "truncated", False),
    "training: no data": (_train_no_data, "no training photos", False),
    "demo: output onto its input": (_demo_onto_its_input, "would overwrite the input", False),
    "demo: over a user's files": (_demo_over_user_files, "holds no earlier demo", False),
    "demo: memory": (_demo_memory, "MiB is free", False),
}
LOW_MEMORY = {"blind: memory", "gaussian prior: memory", "demo: memory"}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_up_front(work, case, monkeypatch):
    situation, words, needs_av = CASES[case]
    if needs_av and not HAS_AV:
        pytest.skip("needs PyAV (pip install 'ddrm[video]')")
    if case in LOW_MEMORY:  # the same on any machine: 1 MiB free (the 64 px runs need 2-3 MiB)
        import ddrm.pipeline.memory as memory

        monkeypatch.setattr(memory, "available_bytes", lambda device: 2**20)
    args = situation(work)
    assert_refused(work, args, words)


# ------------------------------------------------------------------------------------------------ video
@pytest.mark.skipif(not HAS_AV, reason="needs PyAV (pip install 'ddrm[video]')")
def test_a_clip_restores_into_a_folder_of_frames(work):
    src = _clip(work / "c.mp4")
    code, _, err = call(["restore", src, "-o", work / "frames", "--task", "sr2", "--sigma-y", "0.05", *G])
    assert code == 0, err
    assert sorted(p.name for p in (work / "frames").glob("*.png")) == ["000000.png", "000001.png", "000002.png"]
    folder = work / "frames_in"
    folder.mkdir()
    for i in range(2):
        photo(folder / f"f{i}.png", seed=i, h=16, w=16)
    code, _, err = call(["restore", folder, "-o", work / "out", "--temporal", "shared", "--task", "denoise",
                         "--sigma-y", "0.05", *G])  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in (work / "out").glob("*.png")) == ["f0.png", "f1.png"]


@pytest.mark.skipif(not HAS_AV, reason="needs PyAV (pip install 'ddrm[video]')")
def test_a_replaced_clip_is_not_resumed_from(work):
    src = _clip(work / "c.mp4", seed=0)
    args = ["restore", src, "-o", work / "frames", "--task", "denoise", "--sigma-y", "0.05", *G]
    code, _, err = call(args)
    assert code == 0, err
    _clip(work / "c.mp4", seed=1)  # same size, same length, other pictures
    assert_refused(work, args, "restored from another clip")


# ------------------------------------------------------------------------------------------------ files and paths
def test_long_names_keep_their_temporaries_within_the_limit(work):
    from ddrm.io import NAME_MAX, atomic_write, remove_stale_temporaries

    path = work / ("b" * (NAME_MAX - 4) + ".npy")  # as long as a name can be
    atomic_write(path, lambda tmp: tmp.write_bytes(b"x"))
    assert path.read_bytes() == b"x" and sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    name = "a" * (255 - len(".result.json") - 1)
    code, _, err = call(["restore", work / "y.png", "-o", work / f"{name}.png", "--task", "denoise", "--sigma-y",
                         "0.05", *G])  # fmt: skip
    assert code == 0, err
    assert (work / f"{name}.png").is_file() and (work / f"{name}.result.json").is_file()
    assert remove_stale_temporaries(work / f"{name}.png") == 0


def test_a_raised_pixel_limit_reads_the_image(work):
    code, _, err = call(["degrade", work / "clean.png", "-o", work / "b.png", "--task", "sr2", "--max-pixels", "1024",
                         "--quiet"])  # fmt: skip
    assert code == 0, err  # 32 x 32 = 1024 pixels: on the limit


def _hold_lock(target: Path) -> subprocess.Popen:
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom ddrm.pipeline import output_lock\n"
        f"with output_lock(Path({str(target)!r})):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_two_runs_never_write_one_output(work):
    folder = work / "in"
    folder.mkdir()
    photo(folder / "a.png", h=16, w=16)
    holder = _hold_lock(work / "out")
    try:
        line = assert_refused(work, ["restore", folder, "-o", work / "out", "--task", "denoise", "--sigma-y", "0.05",
                                     *G], "another ddrm run")  # fmt: skip
        assert f"pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()
    code, _, err = call(["restore", folder, "-o", work / "out", "--task", "denoise", "--sigma-y", "0.05", *G])
    assert code == 0, err  # a lock its (killed) holder left holds nothing
    assert not [p for p in work.iterdir() if p.name.endswith(".lock")]


# ------------------------------------------------------------------------------------------------ blind deblurring
def test_a_blind_result_is_written_whole_or_not_at_all(work):
    """A write that fails (here: a 2 KiB file-size limit, which the 32 px result exceeds) leaves no kernel files
    without their image."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    limit = 2048

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    photo(work / "big.png", h=48, w=48)
    before = snapshot(work)
    res = subprocess.run([DDRM, "restore", str(work / "big.png"), "-o", str(work / "r.png"), "--task", "deblur_blind",
                          "--kernel-size", "5", "--sigma-y", "0.02", *G], env=env, capture_output=True, text=True,
                         preexec_fn=small_files, timeout=300)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert snapshot(work) == before


# ------------------------------------------------------------------------------------------------ download
def test_a_full_disk_ends_the_download_at_once(tmp_path):
    from test_download import Server, checkpoint_bytes, tiny_preset

    from ddrm.checkpoints import DownloadError, download_checkpoint

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    server = Server({"adm_tiny.pt": checkpoint_bytes("adm_tiny")})
    try:
        (tmp_path / "adm_tiny.pt.part").symlink_to("/dev/full")  # every write: "No space left on device"
        with pytest.raises(DownloadError, match="cannot write the download .*No space left"):
            download_checkpoint(tiny_preset(server.url + "adm_tiny.pt"), tmp_path, progress=False)
        assert len(server.requests) == 1  # said at once, not retried as a dropped connection
    finally:
        server.close()


def test_a_flipped_byte_is_refused_and_never_recorded(tmp_path):
    from test_download import Server, checkpoint_bytes, tiny_preset

    from ddrm.checkpoints import CheckpointError, download_checkpoint

    data = bytearray(checkpoint_bytes("adm_tiny"))
    state = torch.load(io.BytesIO(bytes(data)), weights_only=True)
    largest = max(state.values(), key=lambda t: t.numel()).contiguous().numpy().tobytes()
    where = data.find(largest)  # a zip of torch.save stores the tensors' bytes as they are
    assert where > 0
    data[where + len(largest) // 2] ^= 0x01  # one bit of one weight
    server = Server({"adm_tiny.pt": bytes(data)})
    try:
        with pytest.raises(CheckpointError, match="CRC-32"):
            download_checkpoint(tiny_preset(server.url + "adm_tiny.pt"), tmp_path, progress=False)
        assert not list(tmp_path.iterdir())  # nothing kept, no digest recorded
        # a file put in the cache by hand gets the same checks before its digest is recorded
        (tmp_path / "adm_tiny.pt").write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="CRC-32"):
            download_checkpoint(tiny_preset(None), tmp_path, progress=False)
        assert not (tmp_path / "adm_tiny.pt.sha256.json").exists()
    finally:
        server.close()


def test_a_preset_with_a_known_digest_refuses_another_file(tmp_path):
    from dataclasses import replace

    from test_download import Server, checkpoint_bytes, tiny_preset

    from ddrm.checkpoints import CheckpointError, download_checkpoint

    server = Server({"adm_tiny.pt": checkpoint_bytes("adm_tiny")})
    try:
        preset = replace(tiny_preset(server.url + "adm_tiny.pt"), sha256="0" * 64)
        with pytest.raises(CheckpointError, match="SHA-256 is not that of adm-tiny"):
            download_checkpoint(preset, tmp_path, progress=False)
        assert not list(tmp_path.iterdir())
    finally:
        server.close()


# ------------------------------------------------------------------------------------------------ demo
def test_a_demo_reruns_over_its_own_folder(work):
    args = ["demo", "-o", work / "d", "--image", work / "clean.png", "--task", "sr2", *G]
    for _ in range(2):
        code, out, err = call(args)
        assert code == 0, err
    record = json.loads((work / "d" / "restored.result.json").read_text())
    assert record["source"] == "measurement.png"
    code, out, err = call(["demo", "-o", work / "d", "--image", work / "clean.png", "--task", "jpeg10", *G])
    assert code == 0 and "sigma_y 0:" in out, err  # JPEG's noise level defaults to 0


# ------------------------------------------------------------------------------------------------ training
def test_an_interrupted_step_is_never_saved(tmp_path, monkeypatch):
    """Ctrl-C after the optimiser changed the weights but before the step ended: the checkpoint is the state at the
    step boundary, and resuming gives the uninterrupted run's weights exactly."""
    from test_training import TINY

    from ddrm.training import train

    data = _dataset(tmp_path, side=64)
    opts = dict(steps=4, batch=2, crop=16, config=TINY, progress=False, save_every=100)
    full = torch.load(train(data, tmp_path / "full", **opts), weights_only=True)
    real_step, calls = torch.optim.AdamW.step, [0]

    def interrupted(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt  # mid-step: the weights have moved, the EMA and the step count not yet
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(data, tmp_path / "cut", **opts)
    saved = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert int(saved["step"]) == 2
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    resumed = torch.load(train(data, tmp_path / "cut", **opts), weights_only=True)
    for part in ("model", "ema"):
        for k, v in full[part].items():
            assert torch.equal(v, resumed[part][k]), (part, k)
    rows = (tmp_path / "cut" / "loss.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4]
