"""End-to-end tests of the real ``ddrm`` console script, in subprocesses, on small generated images."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddrm.errors import InputError
from ddrm.io import read_image
from ddrm.pipeline import CAPTION_HEIGHT

DDRM = str(Path(sys.executable).parent / "ddrm")


def run(*args, cwd=None, ok=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([DDRM, *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    if ok:
        assert res.returncode == 0, res.stderr
    return res


def make_photo(path: Path, h=24, w=40, seed=0):
    """A smooth random RGB image (low-pass noise), like a tiny photo."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 4 + 2, w // 4 + 2, 3))
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((w + 8, h + 8), Image.Resampling.BICUBIC)
    img.crop((4, 4, w + 4, h + 4)).save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def psnr(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a), dtype=float)
    y = np.asarray(Image.open(b), dtype=float)
    return 10 * np.log10(255**2 / np.mean((x - y) ** 2))


# The restored image's PSNR minus the pseudo-inverse's (the grid's second panel), one sample of the analytic Gaussian
# prior at 10 steps: measured over 5 photos (make_photo seeds 0-4, degrade seeds 3-7) at 1 and 2 threads; each bound
# is the worst measured less 1 dB. The prior is stationary, zero-mean and blind to colour, and a single sample puts
# its own texture in the null space, so on these smooth photos it loses to the pseudo-inverse where the measurement
# already holds most of the image (bicubic SR x2: -5.5 to -5.8 dB; colourisation: -1.9 to -3.0 dB, the sample's
# random colours against grey): the bounds there say the run does not fall apart, not that it wins.
BEATS_PINV_BY = {"sr4": -1.7, "sr_bicubic2": -6.8, "deblur_gauss": 16.8, "deblur_aniso": 15.4, "deblur_motion": 9.4,
                 "inpaint": 1.8, "color": -4.0, "denoise": 0.0}  # fmt: skip


@pytest.mark.parametrize("task", list(BEATS_PINV_BY))
def test_degrade_then_restore_from_sidecar(tmp_path, task):
    clean = make_photo(tmp_path / "clean.png")
    before = digest(clean)
    extra = ["--kernel-size", "7"] if task == "deblur_motion" else []
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", task, "--sigma-y", "0.02", "--seed", "3", *extra)
    meta = json.loads((tmp_path / "y.json").read_text())
    assert meta["sigma_y"] == 0.02 and meta["image_shape"] == [3, 24, 40]
    res = run(
        "restore",
        tmp_path / "y.png",
        "--prior",
        "gaussian",
        "--steps",
        "10",
        "-o",
        tmp_path / "x.png",
        "--reference",
        clean,
        "--save-grid",
    )
    assert "PSNR" in res.stdout
    out = Image.open(tmp_path / "x.png")
    assert out.size == (40, 24) and out.mode == "RGB"
    grid = Image.open(tmp_path / "x_grid.png")
    assert grid.size == (4 * 40 + 3 * 4, 24 + CAPTION_HEIGHT)  # the panels' names above them
    c, x, g = (np.asarray(Image.open(p), dtype=float) for p in (clean, tmp_path / "x.png", tmp_path / "x_grid.png"))
    g = g[CAPTION_HEIGHT:]
    score = lambda a: 10 * np.log10(255**2 / np.mean((a - c) ** 2))  # noqa: E731
    assert score(x) - score(g[:, 44:84]) > BEATS_PINV_BY[task], (score(x), score(g[:, 44:84]))
    assert digest(clean) == before  # inputs are never modified
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("name", ["photo.y", "my photo.v2 final", "a.b.c"])
def test_sidecars_pair_with_any_file_name(tmp_path, name):
    """Dots and spaces in names: the sidecar of NAME.png is NAME.json, found by restore and by --from."""
    folder = tmp_path / "with space.d"
    folder.mkdir()
    clean = make_photo(folder / f"{name}.clean.png")
    y = folder / f"{name}.png"
    run("degrade", clean, "-o", y, "--task", "inpaint", "--sigma-y", "0.02", "--seed", "1")
    sidecar = folder / f"{name}.json"
    meta = json.loads(sidecar.read_text())
    assert meta["measurement"] == y.name and all((folder / f).is_file() for f in meta["param_files"].values())
    for extra in ([], ["--from", sidecar]):
        out = folder / f"{name}.{len(extra)}.restored.png"
        run("restore", y, *extra, "--prior", "gaussian", "--steps", "3", "-o", out, "--quiet")
        assert Image.open(out).size == (40, 24)


def test_restore_is_deterministic_and_beats_the_measurement(tmp_path):
    clean = make_photo(tmp_path / "clean.png", 32, 48, seed=1)
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "denoise", "--sigma-y", "0.1", "--seed", "0")
    for name, seed in (("a.png", 5), ("b.png", 5), ("c.png", 6)):
        run(
            "restore",
            tmp_path / "y.png",
            "--prior",
            "gaussian",
            "--steps",
            "20",
            "--seed",
            seed,
            "-o",
            tmp_path / name,
            "--quiet",
        )
    assert digest(tmp_path / "a.png") == digest(tmp_path / "b.png") != digest(tmp_path / "c.png")
    assert psnr(tmp_path / "a.png", clean) > psnr(tmp_path / "y.png", clean) + 1.0


def test_one_overwrite_rule_for_a_file_and_a_folder(tmp_path):
    """An existing single result is skipped, and said, as a folder's are; --overwrite redoes it and replaces its whole
    set of files: the grid of an earlier run does not stay beside a result made without one."""
    clean = make_photo(tmp_path / "clean.png", 24, 32, seed=2)
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "denoise", "--sigma-y", "0.1")
    common = ("--prior", "gaussian", "--steps", "3", "-o", tmp_path / "x.png")
    run("restore", tmp_path / "y.png", *common, "--seed", "1", "--save-grid", "--quiet")
    first = digest(tmp_path / "x.png")
    assert (tmp_path / "x_grid.png").is_file()
    res = run("restore", tmp_path / "y.png", *common, "--seed", "2", "--quiet")
    assert "x.png exists; skipping it (use --overwrite to redo)" in res.stderr
    assert digest(tmp_path / "x.png") == first
    run("restore", tmp_path / "y.png", *common, "--seed", "2", "--overwrite", "--quiet")
    assert digest(tmp_path / "x.png") != first
    assert (tmp_path / "x.result.json").is_file() and not (tmp_path / "x_grid.png").exists()


def test_super_resolution_from_a_low_resolution_image(tmp_path):
    lr = make_photo(tmp_path / "lr.png", 9, 13)  # odd sizes, no sidecar
    run(
        "restore",
        lr,
        "--task",
        "sr4",
        "--sigma-y",
        "0.01",
        "--prior",
        "gaussian",
        "--steps",
        "8",
        "-o",
        tmp_path / "hr.png",
    )
    assert Image.open(tmp_path / "hr.png").size == (52, 36)
    # compressed sensing needs its sidecar (the permutation and image size)
    clean = make_photo(tmp_path / "sq.png", 16, 32)
    run("degrade", clean, "-o", tmp_path / "cs.npy", "--task", "cs2", "--sigma-y", "0.01")
    assert (tmp_path / "cs.perm.npy").is_file()
    run("restore", tmp_path / "cs.npy", "--prior", "gaussian", "--steps", "8", "-o", tmp_path / "cs_x.png")
    assert Image.open(tmp_path / "cs_x.png").size == (32, 16)
    bad = run("restore", tmp_path / "cs.npy", "--task", "cs2", "--sigma-y", "0.01", "--prior", "gaussian", ok=False)
    assert bad.returncode == 2 and "--from SIDECAR" in bad.stderr


def test_a_greyscale_photo_is_restored_as_the_grey_of_a_colour_image(tmp_path):
    """A one-channel photo (an old print's scan, a grey camera's frame) is the grey of the image measured: each task
    restores it with its operator on the channels' mean (recorded as ``grey``), the noise estimated on the grey image
    itself, and the result, written grey as the photo (its colours were not measured), explains the measurement (its
    residual is about the noise); blind deblurring too, its kernel estimated from the grey."""
    clean = np.asarray(Image.open(make_photo(tmp_path / "c.png", 32, 48)).convert("L"), dtype=float) / 255
    noisy = np.clip(clean + 0.05 * np.random.default_rng(0).standard_normal(clean.shape), 0, 1)
    Image.fromarray((noisy * 255 + 0.5).astype(np.uint8)).save(tmp_path / "grey.png")
    np.save(tmp_path / "k.npy", np.full((1, 5), 0.2))
    mask = np.ones_like(clean)
    mask[8:20, 10:30] = 0
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "m.png")
    runs = {"denoise": (), "sr_bicubic2": (), "deblur_gauss": (), "deblur_motion": ("--kernel", tmp_path / "k.npy"),
            "inpaint": ("--mask", tmp_path / "m.png")}  # fmt: skip
    for task, extra in runs.items():
        out = tmp_path / f"{task}.png"
        run("restore", tmp_path / "grey.png", "--task", task, *extra, "--prior", "gaussian", "--steps", "10", "-o",
            out, "--quiet")  # fmt: skip
        rec = json.loads(out.with_suffix(".result.json").read_text())
        assert rec["task_params"]["grey"] is True and rec["sigma_y_from"] == "estimated", task
        # measured over make_photo seeds 0-3 (noise seeds alike), 1 and 2 threads: estimates 0.041-0.047 on this 32x48
        # photo (clipping at 0 and 1 takes some noise away), residuals 0.81-1.46 x the noise; bounds with margin
        assert rec["sigma_y"] == pytest.approx(0.05, rel=0.25), task
        restored = np.asarray(Image.open(out), dtype=float) / 255
        assert restored.ndim == 2 and Image.open(out).mode == "L", task
        # the result keeps the photo's contrast: 0.90-1.36 of the clean grey's over the same seeds (a grey coordinate
        # measured at the wrong scale, singular values not divided by sqrt(3), gave 0.57-0.79)
        contrast = restored.std() / clean.std()
        assert 0.85 < contrast < 1.5, (task, contrast)
        if task != "inpaint":  # the missing pixels' noise is not measured: the residual is over all
            assert 0.5 < rec["residual_ratio"] < 2.5, (task, rec["residual_ratio"])
    # blind deblurring: the kernel estimated from the grey in every channel, the image measured through its grey
    out = tmp_path / "blind.png"
    run("restore", tmp_path / "grey.png", "--task", "deblur_blind", "--kernel-size", "5", "--prior", "gaussian",
        "--steps", "10", "-o", out, "--save-grid", "--quiet")  # fmt: skip
    rec = json.loads(out.with_suffix(".result.json").read_text())
    kernel = np.load(tmp_path / "blind.kernel.npy")
    assert rec["task_params"]["grey"] is True and Image.open(out).mode == "L" and Image.open(out).size == (48, 32)
    assert kernel.shape == (5, 5) and abs(kernel.sum() - 1) < 1e-4 and 0.5 < rec["residual_ratio"] < 2.5


def test_a_grey_photo_stored_as_colour_is_restored_as_the_grey_photo(tmp_path):
    """A grey photo saved as RGB (a scan, a black-and-white photo; here as PNG and as an RGB JPEG, whose chroma
    rounding leaves the channels within 2/255) is restored as the one-channel photo is: its grey measured (recorded as
    ``grey``), one noise level, a grey result; a grey reference stored as RGB scores it, a reference with colours is
    refused in one line; a photo whose colours differ by more than the JPEG's rounding stays a colour photo."""
    clean = np.asarray(Image.open(make_photo(tmp_path / "c.png", 32, 48)).convert("L"))
    noisy = np.clip(clean / 255 + 0.05 * np.random.default_rng(0).standard_normal(clean.shape), 0, 1)
    noisy = (noisy * 255 + 0.5).astype(np.uint8)
    for folder in ("one", "three", "jpeg", "ref", "colour_ref", "tinted"):
        (tmp_path / folder).mkdir()
    Image.fromarray(noisy).save(tmp_path / "one" / "p.png")  # the same name: the same seed
    Image.fromarray(noisy).convert("RGB").save(tmp_path / "three" / "p.png")
    Image.fromarray(noisy).convert("RGB").save(tmp_path / "jpeg" / "p.jpg", quality=95)
    Image.fromarray(clean).convert("RGB").save(tmp_path / "ref" / "p.png")
    Image.open(tmp_path / "c.png").save(tmp_path / "colour_ref" / "p.png")
    tinted = np.asarray(Image.fromarray(noisy).convert("RGB")).copy()
    tinted[5:9, 5:9, 0] = np.minimum(tinted[5:9, 5:9, 0].astype(int) + 4, 255)  # a faint red patch: a colour photo
    Image.fromarray(tinted).save(tmp_path / "tinted" / "p.png")
    common = ("--task", "denoise", "--prior", "gaussian", "--steps", "10", "--quiet")
    outs = {}
    for folder, name in (("one", "p.png"), ("three", "p.png"), ("jpeg", "p.jpg"), ("tinted", "p.png")):
        out = tmp_path / f"{folder}.png"
        ref = ("--reference", tmp_path / "ref") if folder == "three" else ()
        run("restore", tmp_path / folder / name, "-o", out, *common, *ref)
        outs[folder] = (np.asarray(Image.open(out)), json.loads(out.with_suffix(".result.json").read_text()))
    (one, rec_one), (three, rec_three), (jpeg, rec_jpeg), (colour, rec_colour) = outs.values()
    for image, rec in ((three, rec_three), (jpeg, rec_jpeg)):
        assert image.shape == clean.shape and rec["task_params"] == {"grey": True}
    assert rec_three["sigma_y"] == pytest.approx(rec_one["sigma_y"], rel=1e-5)
    assert np.abs(three.astype(int) - one).max() <= 1  # the same photo, the same result (up to rounding)
    assert rec_three["psnr"] > 20 and np.isfinite(rec_three["psnr"])
    # the tinted photo: a colour photo's model and result (its noise level estimated on three channels)
    assert colour.shape == (*clean.shape, 3) and "grey" not in rec_colour["task_params"]
    bad = run("restore", tmp_path / "three" / "p.png", "-o", tmp_path / "x.png", *common, "--reference",
              tmp_path / "colour_ref", ok=False)  # fmt: skip
    assert bad.returncode == 2 and "has colours" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_clean_greyscale_photo_is_degraded_to_a_greyscale_photos_measurement(tmp_path):
    """``ddrm degrade`` of a one-channel photo makes the measurement a greyscale photo is restored as: the grey of an
    image with colours (``grey`` in the sidecar, image_shape three channels; a greyscale JPEG for jpeg), the same
    measurement as the photo stored as RGB gives; restored from its sidecar it is written grey, byte for byte the
    restoration of the same file without a sidecar, and so is a grey measurement saved again as RGB (a colourisation's
    too). Colourisation of a grey photo is refused in one line; a sidecar's ``grey`` must be true or false."""
    grey = Image.open(make_photo(tmp_path / "c.png", 32, 48)).convert("L")
    grey.save(tmp_path / "grey.png")
    grey.convert("RGB").save(tmp_path / "rgb.png")
    common = ("--prior", "gaussian", "--steps", "10", "--quiet")
    for task, suffix, level in (("sr_bicubic2", ".png", "0.02"), ("denoise", ".png", "0.02"), ("jpeg10", ".jpg", "0")):
        y = tmp_path / f"{task}{suffix}"
        run("degrade", tmp_path / "grey.png", "-o", y, "--task", task, "--sigma-y", level, "--seed", "3")
        meta = json.loads(y.with_suffix(".json").read_text())
        assert meta["image_shape"] == [3, 32, 48], meta
        assert meta["params"].get("subsampling" if task == "jpeg10" else "grey") == (
            "grey" if task == "jpeg10" else True
        )
        assert Image.open(y).mode == "L" and Image.open(y).size == ((24, 16) if task == "sr_bicubic2" else (48, 32))
        # the same photo stored as RGB (channels equal, as ddrm restore reads a grey photo): the same measurement
        colour = tmp_path / f"rgb_{task}{suffix}"
        run("degrade", tmp_path / "rgb.png", "-o", colour, "--task", task, "--sigma-y", level, "--seed", "3")
        assert colour.read_bytes() == y.read_bytes(), task
        out = tmp_path / f"{task}.restored.png"
        run("restore", y, "-o", out, "--reference", tmp_path / "grey.png", *common)
        rec = json.loads(out.with_suffix(".result.json").read_text())
        assert Image.open(out).mode == "L" and Image.open(out).size == (48, 32) and rec["psnr"] > 20, (task, rec)
        if task != "jpeg10":  # the photo's route (no sidecar, the same level): the same restoration
            alone = tmp_path / "alone" / y.name
            alone.parent.mkdir(exist_ok=True)
            alone.write_bytes(y.read_bytes())
            run("restore", alone, "--task", task, "--sigma-y", level, "-o", alone.with_suffix(".out.png"), *common)
            assert alone.with_suffix(".out.png").read_bytes() == out.read_bytes(), task
    # the grey measurement saved again as RGB (an image editor's habit) is still its sidecar's one channel
    resaved = tmp_path / "resaved" / "denoise.png"
    resaved.parent.mkdir()
    Image.open(tmp_path / "denoise.png").convert("RGB").save(resaved)
    resaved.with_suffix(".json").write_bytes((tmp_path / "denoise.json").read_bytes())
    run("restore", resaved, "-o", resaved.with_suffix(".out.png"), *common)
    assert resaved.with_suffix(".out.png").read_bytes() == (tmp_path / "denoise.restored.png").read_bytes()
    # so is a colourisation's grey input (a measurement of its own grey, no ``grey`` flag), written in colour
    run("degrade", tmp_path / "c.png", "-o", tmp_path / "color.png", "--task", "color", "--sigma-y", "0.02")
    run("restore", tmp_path / "color.png", "-o", tmp_path / "color.out.png", *common)
    Image.open(tmp_path / "color.png").convert("RGB").save(resaved.with_name("color.png"))
    resaved.with_name("color.json").write_bytes((tmp_path / "color.json").read_bytes())
    run("restore", resaved.with_name("color.png"), "-o", resaved.with_name("color.out.png"), *common)
    assert Image.open(tmp_path / "color.out.png").mode == "RGB"
    assert resaved.with_name("color.out.png").read_bytes() == (tmp_path / "color.out.png").read_bytes()
    # ddrm demo (the page's degrade mode) on the grey photo: the same measurement as ddrm degrade's, a grey result
    run("demo", "--image", tmp_path / "grey.png", "-o", tmp_path / "demo", "--task", "sr_bicubic2", "--sigma-y", "0.02",
        "--seed", "3", *common)  # fmt: skip
    assert (tmp_path / "demo" / "measurement.png").read_bytes() == (tmp_path / "sr_bicubic2.png").read_bytes()
    assert all(Image.open(tmp_path / "demo" / f"{f}.png").mode == "L" for f in ("original", "restored"))
    bad = run("degrade", tmp_path / "grey.png", "-o", tmp_path / "col.png", "--task", "color", ok=False)
    assert bad.returncode == 2 and "no colours" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "col.png").exists() and not (tmp_path / "col.json").exists()
    sidecar = tmp_path / "denoise.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "params": {"grey": 1}}))
    bad = run("restore", tmp_path / "denoise.png", "-o", tmp_path / "x.png", *common, ok=False)
    assert bad.returncode == 2 and "true or false" in bad.stderr and "Traceback" not in bad.stderr


def test_a_phone_photo_is_restored_and_degraded_as_viewers_show_it(tmp_path):
    """A portrait a phone stored sideways with EXIF orientation 6 is degraded and restored upright, as viewers (and
    the web page) show it; a JPEG restored with its own tables is restored on the grid its blocks were stored on and
    written upright (its grid and spread too), scored against an upright reference."""
    stored = np.asarray(Image.open(make_photo(tmp_path / "p.png", 24, 40)))  # 40 wide, 24 high as stored
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[274] = 6  # shown turned 90 degrees clockwise
    im.save(tmp_path / "phone.png", exif=exif)
    im.save(tmp_path / "phone.jpg", quality=90, exif=exif)
    run("degrade", tmp_path / "phone.png", "-o", tmp_path / "y.png", "--task", "sr2", "--sigma-y", "0")
    upright = np.rot90(stored, -1).astype(np.float64)
    halved = upright.reshape(20, 2, 12, 2, 3).mean((1, 3))
    assert np.abs(np.asarray(Image.open(tmp_path / "y.png"), np.float64) - halved).max() <= 0.51
    common = ("--prior", "gaussian", "--steps", "3", "--quiet")
    run("restore", tmp_path / "phone.png", "--task", "sr_bicubic2", "--sigma-y", "0.01", "-o", tmp_path / "up.png",
        *common)  # fmt: skip
    assert Image.open(tmp_path / "up.png").size == (48, 80)  # upright (24 wide, 40 high), twice as large
    # the same JPEG without the tag (the same tables and pixels) restores to the stored grid's image; the tagged one
    # is that image turned, scored against the upright clean photo as the untagged one against the stored one (the
    # same name: the same noise)
    for folder in ("plain", "up", "st"):
        (tmp_path / folder).mkdir()
    im.save(tmp_path / "plain" / "phone.jpg", quality=90)
    Image.fromarray(np.rot90(stored, -1)).save(tmp_path / "up" / "phone.png")
    Image.fromarray(stored).save(tmp_path / "st" / "phone.png")
    jpeg = ("--task", "jpeg", "--samples", "2", "--save-grid", *common)
    run("restore", tmp_path / "phone.jpg", "-o", tmp_path / "tagged.png", "--reference", tmp_path / "up", *jpeg)
    plain = tmp_path / "plain" / "phone.jpg"
    run("restore", plain, "-o", tmp_path / "plain.png", "--reference", tmp_path / "st", *jpeg)
    turned = np.asarray(Image.open(tmp_path / "tagged.png"))
    assert turned.shape == (40, 24, 3)
    assert np.array_equal(turned, np.rot90(np.asarray(Image.open(tmp_path / "plain.png")), -1))
    spread = np.load(tmp_path / "tagged.std.npy")
    assert np.array_equal(spread, np.rot90(np.load(tmp_path / "plain.std.npy"), -1, (-2, -1)))
    grids = [Image.open(tmp_path / f"{n}_grid.png").size for n in ("tagged", "plain")]
    assert grids[0] != grids[1] and grids[0][1] > grids[1][1]  # upright panels are taller
    records = [json.loads((tmp_path / f"{n}.result.json").read_text()) for n in ("tagged", "plain")]
    assert records[0]["exif_orientation"] == 6 and "exif_orientation" not in records[1]
    assert records[0]["psnr"] == pytest.approx(records[1]["psnr"], abs=1e-9)


def _cmyk_profile() -> bytes:
    """A small ICC v2 printer profile of our own (CMYK to Lab, a 2-point table per ink): its cyan ink prints red,
    so a reader that applies the profile and one that ignores it disagree at a glance."""
    import struct

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def lab(c, m, y, k):  # the colour printed by each corner of the inks' cube
        return (0, 0, 0) if k else (55, 70, 55) if c else (55, 80, -10) if m else (90, -5, 90) if y else (100, 0, 0)

    clut = b"".join(struct.pack(">3H", round(L * 0xFF00 / 100), round((a + 128) * 256), round((b + 128) * 256))
                    for corner in np.ndindex(2, 2, 2, 2) for L, a, b in [lab(*corner)])  # fmt: skip
    ramp, d50 = struct.pack(">2H", 0, 65535), s15(0.9642) + s15(1.0) + s15(0.8249)
    identity = b"".join(s15(float(i == j)) for i in range(3) for j in range(3))
    a2b0 = b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + identity + struct.pack(">2H", 2, 2) + ramp * 4 + clut + ramp * 3
    text = b"ddrm test inks\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(78)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + bytes(4) + d50), (b"A2B0", a2b0)]
    start, table, data = 132 + 12 * len(tags), b"", b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table, data = table + sig + struct.pack(">2I", start + len(data), len(body)), data + body
    header = (struct.pack(">I4sI", start + len(data), bytes(4), 0x02100000) + b"prtrCMYKLab " + bytes(12) + b"acsp"
              + bytes(28) + d50 + bytes(48))  # fmt: skip
    return header + struct.pack(">I", len(tags)) + table + data


def test_a_restoration_asked_for_in_a_lossy_format_is_written_to_keep_it(tmp_path, monkeypatch):
    """``-o out.jpg`` (or .webp, .avif) writes the restoration in that format at a quality that keeps it: the bundled
    photo as a result, written and read back, is within 1/100 of its pixels' range (measured: JPEG 44.95 dB, AVIF
    45.82, WebP exact; Pillow's defaults gave 32.46, 35.87 and 34.17, more than many restorations gain; bound 42 dB).
    A folder's .jfif, .jpe and .avif photos are restored with the others, no measurement is written lossy, and an
    animation (GIF, APNG, WebP, AVIF) is refused in one line rather than restored as its first frame."""
    from PIL import features

    import ddrm
    from ddrm.io import image_writer

    avif = (".avif",) if features.check("avif") else ()  # a Pillow without the codec reads none (one line)
    x = read_image(ddrm.EXAMPLE_IMAGE)
    stored = (x * 255).round() / 255
    for suffix in (".jpg", ".jfif", ".webp", *avif, ".png", ".tif"):
        out = tmp_path / f"r{suffix}"
        image_writer(x, out)(out)
        error = float((read_image(out) - stored).pow(2).mean())
        assert error == 0 if suffix in (".webp", ".png", ".tif") else 10 * math.log10(1 / error) > 42, (suffix, error)
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["a.jfif", "b.jpe", "d.png", *(f"c{s}" for s in avif)]
    for name in names:
        Image.open(make_photo(tmp_path / "p.png")).save(folder / name, format=None if name[-3:] != "jpe" else "JPEG")
    run("restore", folder, "-o", tmp_path / "out", "--task", "denoise", "--sigma-y", "0.02", "--prior", "gaussian",
        "--steps", "2", "--quiet")  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == sorted(n[0] + ".png" for n in names)
    for suffix in (".avif", ".jfif"):
        bad = run("degrade", tmp_path / "p.png", "-o", tmp_path / f"y{suffix}", "--task", "sr2", "--sigma-y", "0",
                  ok=False)  # fmt: skip
        assert bad.returncode == 2 and "compression artefacts" in bad.stderr
    bad = run("degrade", tmp_path / "p.png", "-o", tmp_path / "y.xyz", "--task", "sr2", "--sigma-y", "0", ok=False)
    assert bad.returncode == 2 and "lossless image (.png, .webp, .tif, .bmp) or .npy" in bad.stderr
    run("degrade", tmp_path / "p.png", "-o", tmp_path / "y.webp", "--task", "sr2", "--sigma-y", "0")
    run("degrade", tmp_path / "p.png", "-o", tmp_path / "y.png", "--task", "sr2", "--sigma-y", "0")
    assert torch.equal(read_image(tmp_path / "y.webp"), read_image(tmp_path / "y.png"))  # lossless
    frames = [Image.open(tmp_path / "p.png").rotate(10 * i) for i in range(3)]  # an animation: not one image
    for suffix in (".gif", ".png", ".webp", *avif):
        frames[0].save(tmp_path / f"anim{suffix}", save_all=True, append_images=frames[1:], duration=100)
        bad = run("restore", tmp_path / f"anim{suffix}", "--task", "denoise", "--sigma-y", "0.02", "--prior",
                  "gaussian", "-o", tmp_path / "anim_out.png", ok=False)  # fmt: skip
        assert bad.returncode == 2 and "an animation of 3 frames" in bad.stderr, bad.stderr
    monkeypatch.setattr(features, "check", lambda name: name != "avif")  # a Pillow without AVIF: one line
    (tmp_path / "x.avif").write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match="needs a Pillow with AVIF support"):
        read_image(tmp_path / "x.avif")


def test_a_cmyk_print_file_is_read_in_srgb_through_its_profile(tmp_path):
    """A CMYK JPEG (a print workflow's) is read in sRGB: through its embedded ICC profile where it has one (here one
    whose cyan ink prints red: the left half reads red, as a colour-managed viewer shows it, not cyan), else by the
    plain conversion viewers without colour management make; the result is written untagged (sRGB, not the inks'
    profile). Its JPEG blocks are CMYK planes, so --task jpeg refuses it in one line."""
    inks = np.zeros((16, 32, 4), np.uint8)
    inks[:, :16, 0] = 255  # cyan on the left, paper on the right
    Image.fromarray(inks, "CMYK").save(tmp_path / "managed.jpg", quality=95, icc_profile=_cmyk_profile())
    Image.fromarray(inks, "CMYK").save(tmp_path / "plain.jpg", quality=95)
    managed, plain = (read_image(tmp_path / f"{n}.jpg") for n in ("managed", "plain"))
    left, right = managed[:, 4:12, 2:14].mean((1, 2)), managed[:, 4:12, 18:30].mean((1, 2))
    assert left[0] > 0.85 and left[1:].max() < 0.3, left  # red (LittleCMS: 243, 56, 40 of 255)
    assert right.min() > 0.97, right  # white paper
    with Image.open(tmp_path / "plain.jpg") as im:
        assert torch.equal(plain, torch.from_numpy(np.asarray(im.convert("RGB"), np.float32) / 255).permute(2, 0, 1))
    assert plain[:, 4:12, 2:14].mean((1, 2))[0] < 0.05  # the plain conversion: cyan
    common = ("--task", "denoise", "--sigma-y", "0.02", "--prior", "gaussian", "--steps", "3", "--quiet")
    run("restore", tmp_path / "managed.jpg", "-o", tmp_path / "out.png", *common)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGB" and "icc_profile" not in out.info
        assert np.asarray(out)[4:12, 2:14, 0].mean() > 200
    bad = run("restore", tmp_path / "managed.jpg", "--task", "jpeg", "--prior", "gaussian", "-o", tmp_path / "j.png",
              ok=False)  # fmt: skip
    assert bad.returncode == 2 and "CMYK JPEG" in bad.stderr and "Traceback" not in bad.stderr


def test_a_photos_colour_profile_is_kept_on_its_restoration(tmp_path):
    """A photo with an embedded ICC profile (a phone's Display P3, here an sRGB one) is restored in its own values and
    written with the same profile, so a colour-managed viewer shows it in the colours of its input; a photo without
    one gets none."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.open(make_photo(tmp_path / "plain.png")).save(tmp_path / "tagged.png", icc_profile=profile)
    common = ("--task", "denoise", "--sigma-y", "0.02", "--prior", "gaussian", "--steps", "3", "--quiet")
    run("restore", tmp_path / "tagged.png", "-o", tmp_path / "t.png", *common)
    run("restore", tmp_path / "plain.png", "-o", tmp_path / "p.png", *common)
    assert Image.open(tmp_path / "t.png").info.get("icc_profile") == profile
    assert "icc_profile" not in Image.open(tmp_path / "p.png").info


def test_a_heif_photo_is_read_and_restored(tmp_path, monkeypatch):
    """A phone's HEIF photo (an iPhone's default format) is read through pillow-heif (``ddrm[heif]``) and restored,
    alone or in a folder; without the package it is one line naming the extra."""
    pillow_heif = pytest.importorskip("pillow_heif")
    import ddrm

    with Image.open(ddrm.EXAMPLE_IMAGE) as im:  # a photo, which HEIF's codec is made for (measured: 1.7 of 255)
        arr = np.asarray(im.convert("RGB"))[100:124, 100:140].copy()
    (tmp_path / "in").mkdir()
    pillow_heif.from_pillow(Image.fromarray(arr)).save(tmp_path / "in" / "phone.heic", quality=95)
    x = read_image(tmp_path / "in" / "phone.heic")
    assert x.shape == (3, 24, 40) and (x * 255 - torch.from_numpy(arr).permute(2, 0, 1)).abs().mean() < 4
    common = ("--task", "denoise", "--sigma-y", "0.02", "--prior", "gaussian", "--steps", "3", "--quiet")
    run("restore", tmp_path / "in" / "phone.heic", "-o", tmp_path / "x.png", *common)
    assert Image.open(tmp_path / "x.png").size == (40, 24)
    run("restore", tmp_path / "in", "-o", tmp_path / "out", *common)
    assert [p.name for p in (tmp_path / "out").glob("*.png")] == ["phone.png"]
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # not installed
    with pytest.raises(InputError, match=r"needs the pillow-heif package: pip install 'ddrm\[heif\]'"):
        read_image(tmp_path / "in" / "phone.heic")


def test_folder_batching_and_resume(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    mask = np.ones((24, 40), np.uint8) * 255
    mask[8:16, 10:30] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for i in range(3):
        run(
            "degrade",
            make_photo(tmp_path / f"c{i}.png", seed=i),
            "-o",
            src / f"img{i}.png",
            "--task",
            "inpaint",
            "--mask",
            tmp_path / "mask.png",
            "--sigma-y",
            "0.05",
            "--quiet",
        )
    # restore one image alone first (as if an earlier run was interrupted after it)
    single = tmp_path / "single.png"
    run("restore", src / "img1.png", "--prior", "gaussian", "--steps", "6", "-o", single, "--quiet")
    out = tmp_path / "out"
    out.mkdir()
    (out / "img1.png").write_bytes(single.read_bytes())
    stamp = (out / "img1.png").stat().st_mtime_ns
    res = run("restore", src, "--prior", "gaussian", "--steps", "6", "-o", out, "--batch-size", "3")
    assert "1 image(s) already restored" in res.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".result.json")) == [
        "img0.png",
        "img1.png",
        "img2.png",
    ]
    assert sorted(p.name for p in out.glob("*.result.json")) == ["img0.result.json", "img2.result.json"]  # written now
    assert (out / "img1.png").stat().st_mtime_ns == stamp  # finished work is not redone
    # an image's result does not depend on the batch it was in (per-image generators)
    run("restore", src / "img2.png", "--prior", "gaussian", "--steps", "6", "-o", tmp_path / "alone2.png", "--quiet")
    assert digest(tmp_path / "alone2.png") == digest(out / "img2.png")


def bad_inputs(tmp_path: Path) -> dict:
    clean = make_photo(tmp_path / "clean.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.fromarray(np.zeros((24, 40, 4), np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(np.full((5, 5), 255, np.uint8)).save(tmp_path / "small_mask.png")
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    nan = np.zeros((3, 24, 40), np.float32)
    nan[0, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    restore = [
        "restore",
        clean,
        "--task",
        "denoise",
        "--sigma-y",
        "0.1",
        "--prior",
        "gaussian",
        "-o",
        tmp_path / "o.png",
    ]
    return {
        "corrupt": ["degrade", tmp_path / "corrupt.png", "-o", tmp_path / "o.png", "--task", "sr4"],
        "mode": ["degrade", tmp_path / "rgba.png", "-o", tmp_path / "o.png", "--task", "sr4"],
        "mask size": [
            "degrade",
            clean,
            "-o",
            tmp_path / "o.png",
            "--task",
            "inpaint",
            "--mask",
            tmp_path / "small_mask.png",
        ],
        "kernel sum": [
            "degrade",
            clean,
            "-o",
            tmp_path / "o.png",
            "--task",
            "deblur_motion",
            "--kernel",
            tmp_path / "k.npy",
        ],
        "factor": ["degrade", clean, "-o", tmp_path / "o.png", "--task", "sr7"],
        "sigma": ["degrade", clean, "-o", tmp_path / "o.png", "--task", "denoise", "--sigma-y", "-0.1"],
        "nan": [
            "restore",
            tmp_path / "nan.npy",
            "--task",
            "denoise",
            "--sigma-y",
            "0.1",
            "--prior",
            "gaussian",
            "-o",
            tmp_path / "o.png",
        ],
        "checkpoint": [
            "restore",
            clean,
            "--task",
            "denoise",
            "--sigma-y",
            "0.1",
            "--prior",
            "adm-ffhq256",
            "--checkpoint",
            tmp_path / "none.pt",
            "-o",
            tmp_path / "o.png",
        ],
        "unknown prior": [
            "restore",
            clean,
            "--task",
            "denoise",
            "--sigma-y",
            "0.1",
            "--prior",
            "nope",
            "-o",
            tmp_path / "o.png",
        ],
        "unknown solver": [*restore, "--solver", "nope"],
        "solver arg key": [*restore, "--solver", "ddnm", "--solver-arg", "nope=1"],
        "solver arg value": [*restore, "--solver", "dps", "--solver-arg", "scale=abc"],
        "solver arg bound": [*restore, "--solver", "diffpir", "--solver-arg", "zeta=1.5"],
        "solver arg form": [*restore, "--solver", "dps", "--solver-arg", "scale"],
        "eta for dps": [*restore, "--solver", "dps", "--eta", "0.5"],
        "steps": [*restore, "--steps", "0"],
        "unsupported task": [*restore, "--solver", "repaint"],
    }


BAD_CASES = [
    "corrupt",
    "mode",
    "mask size",
    "kernel sum",
    "factor",
    "sigma",
    "nan",
    "checkpoint",
    "unknown prior",
    "unknown solver",
    "solver arg key",
    "solver arg value",
    "solver arg bound",
    "solver arg form",
    "eta for dps",
    "steps",
    "unsupported task",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    args = bad_inputs(tmp_path)[case]
    res = run(*args, ok=False)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ddrm: error: "), res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.json").exists()  # no partial output


def test_solvers_are_listed_and_described():
    from ddrm.samplers import SAMPLERS

    res = run("solvers")
    for name, spec in SAMPLERS.items():
        line = next(ln for ln in res.stdout.splitlines() if ln.split()[:1] == [name])
        assert f" {spec.count_nfe()} " in line and (" yes " if spec.needs_grad else " no ") in line
    assert "2410" in res.stdout and "Inpainting" in res.stdout  # RePaint's NFE and its one operator
    res = run("solvers", "diffpir")
    assert "lam = 1.75 in [0, inf]" in res.stdout and "defaults for inpaint: steps=20, lam=0.25, zeta=1.0" in res.stdout
    assert "Zhu" in res.stdout


@pytest.mark.parametrize(
    "solver, extra",
    [
        ("ddnm", ["--solver-arg", "eta=0.5", "--solver-arg", "travel_length=2", "--solver-arg", "travel-repeat=2"]),
        ("dps", ["--solver-arg", "scale=0.5", "--solver-arg", "clip=false"]),  # backpropagates under the CLI's no_grad
        ("diffpir", ["--solver-arg", "lam=0"]),
        ("repaint", ["--solver-arg", "jump_length=2", "--solver-arg", "jump_n_sample=2"]),
    ],
)
def test_restore_with_a_peer_solver(tmp_path, solver, extra):
    clean = make_photo(tmp_path / "clean.png")
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "inpaint", "--sigma-y", "0", "--seed", "2")
    args = [
        "restore",
        tmp_path / "y.png",
        "--prior",
        "gaussian",
        "--solver",
        solver,
        "--steps",
        "12",
        "-o",
        tmp_path / "x.png",
    ]
    run(*args, *extra, "--quiet")
    assert psnr(tmp_path / "x.png", clean) > psnr(tmp_path / "y.png", clean) + 3  # the holes are filled
    again = tmp_path / "x2.png"
    run(*args[:-1], again, *extra, "--quiet")
    assert digest(again) == digest(tmp_path / "x.png")  # seeded


def test_models_lists_presets():
    res = run("models")
    for name in ("adm-imagenet256-uncond", "adm-ffhq256", "ddpm-celebahq256", "builtin", "hf:ORG/NAME"):
        assert name in res.stdout
    assert "builtin-v1" in res.stdout and "builtin-low" in res.stdout and "predicts v" in res.stdout
    assert "552.8M" in res.stdout and "256x256_diffusion_uncond.pt" in res.stdout


BUILTIN = Path(__file__).resolve().parents[1] / "src" / "ddrm" / "weights" / "builtin.json"


@pytest.mark.skipif(not BUILTIN.is_file(), reason="the built-in prior is not shipped in this checkout")
def test_restore_with_the_builtin_prior(tmp_path):
    clean = make_photo(tmp_path / "clean.png", 30, 44, seed=4)  # not a multiple of the network's stride
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "inpaint", "--sigma-y", "0.02", "--seed", "1")
    run("restore", tmp_path / "y.png", "--steps", "10", "-o", tmp_path / "x.png", "--quiet")
    assert Image.open(tmp_path / "x.png").size == (44, 30)
    # half the pixels are missing (y holds zeros there): the prior must fill them in sensibly
    assert psnr(tmp_path / "x.png", clean) > psnr(tmp_path / "y.png", clean) + 5


def test_folder_restore_is_sharded_under_torchrun(tmp_path):
    """With torchrun's RANK / WORLD_SIZE each process writes every world-th batch: together, the files of one run."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        run("degrade", make_photo(tmp_path / f"c{i}.png", seed=i), "-o", src / f"img{i}.png", "--task", "sr2",
            "--sigma-y", "0.05", "--quiet")  # fmt: skip
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    run("restore", src, "--prior", "gaussian", "--steps", "4", "-o", one, "--quiet", "--batch-size", "1")
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2"}
        res = subprocess.run(
            [sys.executable, "-m", "ddrm.cli", "restore", str(src), "--prior", "gaussian", "--steps", "4", "-o",
             str(two), "--quiet", "--batch-size", "1"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert len(list(two.glob("*.png"))) == (2 if rank == 0 else 4)
    for f in one.glob("*.png"):
        assert digest(f) == digest(two / f.name)


def test_demo_runs_offline_and_is_the_degrade_restore_path(tmp_path):
    """`ddrm demo`: the bundled photo degraded, restored and scored; its files are those `ddrm degrade` and
    `ddrm restore` write for the same settings (one library path)."""
    out = tmp_path / "demo"
    res = run("demo", "-o", out, "--steps", "2")
    assert "restored PSNR" in res.stdout and "pseudo-inverse" in res.stdout
    assert "the built-in prior is small" in res.stdout and "--prior adm-imagenet256-uncond" in res.stdout
    for name, size in [("original", (256, 256)), ("measurement", (64, 64)), ("restored", (256, 256))]:
        assert Image.open(out / f"{name}.png").size == size
    assert Image.open(out / "restored_grid.png").size == (4 * 256 + 3 * 4, 256 + CAPTION_HEIGHT)
    assert json.loads((out / "measurement.json").read_text())["sigma_y"] == 0.05
    again = tmp_path / "again"
    again.mkdir()
    y = again / "measurement.png"
    run("degrade", out / "original.png", "-o", y, "--task", "sr4", "--sigma-y", "0.05", "--seed", "0", "--quiet")
    assert digest(y) == digest(out / "measurement.png")
    run("restore", y, "-o", again / "restored.png", "--steps", "2", "--quiet")
    assert digest(again / "restored.png") == digest(out / "restored.png")
    bad = run("demo", "-o", out, "--image", tmp_path / "missing.png", ok=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_bug_keeps_its_traceback_and_a_user_error_is_one_line(tmp_path, monkeypatch, capsys):
    """``DDRMError`` and file ``OSError``: one line, exit 2; anything else (a bug, an out-of-memory) propagates with its
    traceback (exit 1 from the console script)."""
    import ddrm.cli.models as models
    from ddrm.cli import main
    from ddrm.errors import CheckpointError

    def broken(args):
        raise RuntimeError("shape mismatch inside the library")

    monkeypatch.setattr(models, "cmd_models", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["models"])
    for exc in (CheckpointError("no such checkpoint: x.pt"), FileNotFoundError(2, "No such file", "y.png")):

        def refuse(args, exc=exc):
            raise exc

        monkeypatch.setattr(models, "cmd_models", refuse)
        assert main(["models"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ddrm: error: ") and "Traceback" not in err[0]
    res = subprocess.run(
        [sys.executable, "-c", "import sys, ddrm.cli.models as m; m.cmd_models = lambda a: 1 / 0; "
         "from ddrm.cli import main; sys.exit(main(['models']))"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1 and "Traceback" in res.stderr and "ZeroDivisionError" in res.stderr


def test_the_library_never_shards_by_itself(tmp_path, monkeypatch):
    """``run_restore`` called from Python inside a torchrun job writes every job: sharding is the caller's argument."""
    from ddrm.pipeline import PriorLoader, RestoreJob, run_restore
    from ddrm.samplers import SAMPLERS
    from ddrm.tasks import spec_for_measurement

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    spec = spec_for_measurement("denoise", {}, (3, 8, 8))
    jobs = [RestoreJob(tmp_path / f"in{i}.png", tmp_path / f"out{i}.png", torch_rand(i), spec, 0.05) for i in range(4)]
    loader = PriorLoader("gaussian")
    run_restore(jobs, SAMPLERS["ddrm"], {"steps": 2}, loader, batch_size=1)
    assert all(j.target.is_file() for j in jobs)
    for j in jobs:
        j.target.unlink()
    run_restore(jobs, SAMPLERS["ddrm"], {"steps": 2}, loader, batch_size=1, shard=(1, 2))  # said: process 1 of 2
    assert [j.target.exists() for j in jobs] == [False, True, False, True]


def torch_rand(seed: int):
    import torch

    return torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_blind_deblurring_gets_the_pipelines_guarantees(tmp_path):
    """Blind jobs go through the same path as every other: grids, folders that resume, stale temporaries removed,
    options that do not apply refused in one line."""
    src = tmp_path / "blurry"
    src.mkdir()
    for i in range(2):
        make_photo(src / f"b{i}.png", 16, 16, seed=i)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".b0.png.abcd.tmp"
    stale.write_bytes(b"left by a killed run")
    common = ["--task", "deblur_blind", "--kernel-size", "3", "--sigma-y", "0.02", "--prior", "gaussian", "--steps",
              "3", "--quiet"]  # fmt: skip
    run("restore", src, "-o", out, *common, "--save-grid", "--tile", "16")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["b0.kernel.npy", "b0.kernel.png", "b0.png", "b0.result.json", "b0_grid.png", "b1.kernel.npy",
                     "b1.kernel.png", "b1.png", "b1.result.json", "b1_grid.png"], names  # fmt: skip
    before = {p.name: digest(p) for p in out.iterdir()}
    (out / "b1.png").unlink()
    (out / "b1.result.json").unlink()
    run("restore", src, "-o", out, *common, "--save-grid")  # resumes: b1 alone, with the very bytes of the first run
    assert {p.name: digest(p) for p in out.iterdir()} == before
    res = run("restore", src, "-o", tmp_path / "o2", *common, "--batch-size", "2", ok=False)
    assert res.returncode == 2 and "one at a time" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o2").exists()
    # one draw: narrowing changes the image, not the estimate (with two, the kept draw can change with the image)
    run("restore", src / "b0.png", "-o", tmp_path / "one.png", *common, "--kernel-draws", "1")
    run("restore", src / "b0.png", "-o", tmp_path / "n.png", *common, "--kernel-narrow", "0.5", "--kernel-draws", "1")
    record = json.loads((tmp_path / "n.result.json").read_text())["task_params"]
    assert record["narrow"] == 0.5 and record["draws"] == 1
    assert digest(tmp_path / "n.kernel.npy") == digest(tmp_path / "one.kernel.npy")  # the estimate; the image differs
    assert digest(tmp_path / "n.png") != digest(tmp_path / "one.png")
    assert json.loads((out / "b0.result.json").read_text())["task_params"]["draws"] == 2  # the default
    # several samples, drawn with the one estimate: the one-sample run's kernel, the spread beside the mean, the first
    # sample the one-sample image
    run("restore", src / "b0.png", "-o", tmp_path / "s.png", *common, "--kernel-draws", "1", "--samples", "2")
    assert digest(tmp_path / "s.kernel.npy") == digest(tmp_path / "one.kernel.npy")
    assert (tmp_path / "s.std.npy").is_file() and digest(tmp_path / "s.png") != digest(tmp_path / "one.png")
    run("restore", src / "b0.png", "-o", tmp_path / "f.png", *common, "--kernel-draws", "1", "--samples", "2",
        "--estimate", "sample")  # fmt: skip
    assert digest(tmp_path / "f.png") == digest(tmp_path / "one.png")
    for flags, why in ((["--kernel-narrow", "0"], "narrowing factor"), (["--kernel-narrow", "2"], "must lie in"),
                       (["--kernel-draws", "0"], "must lie in"), (["--kernel-draws", "1.5"], "an integer")):  # fmt: skip
        res = run("restore", src / "b0.png", "-o", tmp_path / "bad.png", *common, *flags, ok=False)
        assert res.returncode == 2 and why in res.stderr and not (tmp_path / "bad.png").exists()


def test_samples_their_mean_their_spread_and_the_result_record(tmp_path):
    """--samples N: the mean is the result (--estimate mean) and the spread is written beside it; --estimate sample
    keeps the first sample, which is the plain restoration; every result has its record with the consistency."""
    from ddrm.samplers import SAMPLERS

    clean = make_photo(tmp_path / "clean.png", 16, 16)
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "sr2", "--sigma-y", "0.05")
    common = ["--prior", "gaussian", "--steps", "4", "--quiet"]
    run("restore", tmp_path / "y.png", "-o", tmp_path / "one.png", *common)
    res = run("restore", tmp_path / "y.png", "-o", tmp_path / "mean.png", "--samples", "3", *common)
    assert "residual" in res.stdout and "x the noise" in res.stdout
    run("restore", tmp_path / "y.png", "-o", tmp_path / "first.png", "--samples", "3", "--estimate", "sample", *common)
    assert digest(tmp_path / "first.png") == digest(tmp_path / "one.png")
    assert digest(tmp_path / "mean.png") != digest(tmp_path / "one.png")
    std = np.load(tmp_path / "mean.std.npy")
    assert std.shape == (3, 16, 16) and std.min() >= 0 and std.max() > 0
    assert (tmp_path / "mean.std.png").is_file() and not (tmp_path / "one.std.npy").exists()
    rec = json.loads((tmp_path / "mean.result.json").read_text())
    assert rec["samples"] == 3 and rec["estimate"] == "mean" and rec["task"] == "sr" and rec["sigma_y"] == 0.05
    assert 0.3 < rec["residual_ratio"] < 3 and rec["residual"] == pytest.approx(rec["residual_ratio"] * 0.05)
    assert rec["solver_args"] == {"steps": 4} and rec["steps"] == 4
    run("restore", tmp_path / "y.png", "-o", tmp_path / "own.png", "--prior", "gaussian", "--quiet")
    rec = json.loads((tmp_path / "own.result.json").read_text())  # no --steps: the count the run took is written
    assert rec["solver_args"] == {} and rec["steps"] == SAMPLERS["ddrm"].defaults("sr2")["steps"]
    res = run("restore", tmp_path / "y.png", "-o", tmp_path / "bad.png", "--estimate", "mean", *common, ok=False)
    assert res.returncode == 2 and "needs several samples" in res.stderr and not (tmp_path / "bad.png").exists()


def test_a_result_that_does_not_explain_its_measurement_is_warned_about(tmp_path):
    clean = make_photo(tmp_path / "clean.png", 16, 16)
    run("degrade", clean, "-o", tmp_path / "y.png", "--task", "denoise", "--sigma-y", "0.1")
    common = ["--prior", "gaussian", "--quiet"]
    # DPS at 2 of its 1000 steps stays near the prior: far from y
    res = run("restore", tmp_path / "y.png", "-o", tmp_path / "a.png", "--solver", "dps", "--steps", "2", *common)
    assert "ddrm: warning: y.png: the result does not explain the measurement" in res.stderr
    # DDNM imposes H x = y: it copies the noise
    res = run("restore", tmp_path / "y.png", "-o", tmp_path / "b.png", "--solver", "ddnm", "--steps", "3", *common)
    assert "ddrm: warning: y.png: the result fits the measurement's noise" in res.stderr
    res = run("restore", tmp_path / "y.png", "-o", tmp_path / "c.png", "--steps", "6", *common)
    assert "warning" not in res.stderr
    assert 0.5 < json.loads((tmp_path / "c.result.json").read_text())["residual_ratio"] < 2


def test_every_option_says_what_it_is_and_the_version_prints():
    import argparse

    from ddrm import __version__
    from ddrm.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sp in sub.choices.items():
        silent = [a.option_strings or a.dest for a in sp._actions if not a.help]
        assert not silent, f"{name}: options without help: {silent}"
    res = run("--version")
    assert res.stdout.strip() == f"ddrm {__version__}"
    text = run("restore", "--help").stdout
    assert "NAME_restored.png" in text and text.count("  ddrm restore ") == 3  # the default name, three examples
