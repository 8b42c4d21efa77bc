"""JPEG as a degradation: our torch codec against Pillow's libjpeg, DDRM-JPEG against the official update written in
VP form, and ``ddrm degrade/restore --task jpegQF`` end to end."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ddrm.app.demo import EXAMPLE_IMAGE
from ddrm.errors import DDRMError
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.operators import JPEG, build_operator
from ddrm.operators.jpeg import dct_matrix, quantisation_tables, rgb_to_ycbcr, ycbcr_to_rgb
from ddrm.priors import GaussianPrior
from ddrm.samplers import SAMPLERS


def pillow_jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    arr = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, subsampling=2)
    return torch.from_numpy(np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))).permute(2, 0, 1) / 255


def test_tables_dct_and_colour_transform():
    qy, qc = quantisation_tables(50)
    assert qy[0, 0] == 16 and qy[7, 7] == 99 and qc[0, 0] == 17 and qc[7, 7] == 99  # Annex K at QF 50
    qy, qc = quantisation_tables(10)  # s = 500: floor((16 * 500 + 50) / 100) = 80, capped at 255 (baseline)
    assert qy[0, 0] == 80 and qy.max() == 255 and qc[0, 0] == 85
    assert (quantisation_tables(100)[0] == 1).all()
    with pytest.raises(ValueError, match="1..100"):
        quantisation_tables(0)
    d = dct_matrix()
    torch.testing.assert_close(d @ d.T, torch.eye(8, dtype=torch.float64))
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64) * 255
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("quality", [5, 10, 20, 50, 90])
def test_torch_codec_matches_pillow(quality):
    """Our decode of our encode against Pillow's (libjpeg) on a photo whose size is not a multiple of 16: PSNR
    between the two decodes >= 38 dB (measured here: 39.3 / 42.5 / 42.4 / 43.5 / 45.0 dB at QF 5 / 10 / 20 / 50 /
    90), while each is 23-35 dB from the clean image."""
    x = read_image(EXAMPLE_IMAGE)[:, :250, :230]
    ours = JPEG(tuple(x.shape), quality, dtype=torch.float64).compress(x[None].double())[0].float()
    ref = pillow_jpeg(x, quality)
    agreement, loss = psnr(ours, ref), psnr(ref, x)
    print(f"QF {quality}: ours vs Pillow {agreement:.2f} dB; Pillow vs clean {loss:.2f} dB")
    assert agreement >= 38 and agreement > loss + 5


def test_codec_is_differentiable_with_exact_values():
    op = JPEG((3, 16, 24), 20, dtype=torch.float64)
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64, requires_grad=True)
    out = op.compress(x)
    assert torch.equal(out * 255, (out * 255).round())  # 8-bit values (straight-through rounding)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    y = op.H(x.detach() * 2 - 1)
    torch.testing.assert_close(y, op.compress(x.detach()) * 2 - 1)
    assert op.pinv(y) is y and op.measurement_shape == (3, 16, 24)


def official_vp(prior, op, y, steps, eta, eta_b, start, g):
    """The official ``jpeg_steps`` update, written in VP form (x_vp = sqrt(abar) x_ve), with the same noise draws."""
    sched = prior.schedule
    ts = sched.timesteps(steps, start).tolist()
    abars = [1 / (1 + sched.sigmas[t].item() ** 2) for t in ts] + [1.0]

    def codec(v):
        return op.pinv(op.H(v))

    x = math.sqrt(abars[0]) * y + math.sqrt(1 - abars[0]) * torch.randn(y.shape, generator=g, dtype=y.dtype)
    for i in range(steps):
        at, an = abars[i], abars[i + 1]
        x0 = prior.denoise(x / math.sqrt(at), math.sqrt((1 - at) / at))
        et = (x - math.sqrt(at) * x0) / math.sqrt(1 - at)
        xt = x0 - codec(x0) + codec(y)
        x = eta_b * math.sqrt(an) * xt + (1 - eta_b) * math.sqrt(an) * x0
        if an < 1:
            x = x + eta * math.sqrt(1 - an) * torch.randn(y.shape, generator=g, dtype=y.dtype)
            x = x + (1 - eta) * math.sqrt(1 - an) * et
    return x


def test_ddrm_jpeg_follows_the_official_update():
    shape = (3, 16, 16)
    op = build_operator("jpeg", shape, dtype=torch.float64, quality=10)
    base = GaussianPrior.stationary(shape, dtype=torch.float64)
    prior = GaussianPrior(base.mean * 0.5, base.spectrum * 0.25)
    x = prior.sample(2, torch.Generator().manual_seed(0)).clamp(-1, 1)
    y = op.H(x)
    ours = SAMPLERS["ddrm-jpeg"](prior, op, y, 0.0, steps=6, eta=0.7, eta_b=0.4, start=0.3,
                                generator=torch.Generator().manual_seed(3))  # fmt: skip
    ref = official_vp(prior, op, y, 6, 0.7, 0.4, 0.3, torch.Generator().manual_seed(3))
    torch.testing.assert_close(ours, ref, atol=1e-9, rtol=0)
    assert SAMPLERS["ddrm-jpeg"].defaults() == {"eta": 1.0, "eta_b": 0.4, "start": None, "steps": 20}
    # the default start follows the file's tables and is the official 0.3 at quality 10
    from ddrm.samplers.ddrm_jpeg import auto_start

    assert auto_start(prior.schedule, JPEG((3, 16, 16), 10), 20) == pytest.approx(0.3, abs=1e-9)
    finer = [auto_start(prior.schedule, JPEG((3, 16, 16), q), 20) for q in (20, 50, 95)]
    assert 0.3 > finer[0] > finer[1] > finer[2] >= 0.02
    assert prior.schedule.timesteps(20, 0.3).tolist()[:2] == [285, 270]  # the official grid: range(0, 300, 15)
    with pytest.raises(ValueError, match="does not support the sr task"):
        SAMPLERS["ddrm-jpeg"](prior, build_operator("sr", shape, factor=2, dtype=torch.float64), y[..., ::2, ::2], 0.0)


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ddrm.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_degrade_writes_a_real_jpeg_and_restore_takes_it(tmp_path):
    x = read_image(EXAMPLE_IMAGE)[:, 64:128, 96:160]
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(tmp_path / "clean.png")
    res = run("degrade", str(tmp_path / "clean.png"), "-o", str(tmp_path / "photo.q.jpg"), "--task", "jpeg10",
              "--sigma-y", "0")  # fmt: skip
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "photo.q.jpg") as im:
        assert im.format == "JPEG" and im.size == (64, 64)
    y = read_image(tmp_path / "photo.q.jpg")
    torch.testing.assert_close(y, pillow_jpeg(x, 10), atol=0, rtol=0)  # Pillow's codec, not ours
    for i, args in enumerate((["--from", str(tmp_path / "photo.q.json")], ["--task", "jpeg10"])):
        out = tmp_path / f"r{i}.png"  # two results (an existing one would be skipped, not redone)
        res = run("restore", str(tmp_path / "photo.q.jpg"), *args, "--steps", "3", "-o", str(out), "--quiet",
                  "--reference", str(tmp_path / "clean.png"))  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert read_image(out).shape == (3, 64, 64) and "PSNR" in res.stdout
    bad = [
        (["degrade", str(tmp_path / "clean.png"), "-o", str(tmp_path / "n.jpg"), "--task", "jpeg10", "--sigma-y",
          "0.05"], "models no Gaussian noise"),
        (["degrade", str(tmp_path / "clean.png"), "-o", str(tmp_path / "n.png"), "--task", "jpeg10", "--sigma-y",
          "0"], "name it .jpg"),
        (["restore", str(tmp_path / "photo.q.jpg"), "--task", "jpeg10", "--solver", "ddrm", "-o",
          str(tmp_path / "n2.png")], "does not support the jpeg task (it needs linear operators with an SVD); use ddrm-jpeg"),
    ]  # fmt: skip
    for args, message in bad:
        res = run(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and message in lines[0], res.stderr


def test_pocs_deblocking_baseline():
    """The decoded JPEG lies in its own quantisation cells (luma exactly; 4:2:0 chroma up to the upsampling), and
    the POCS baseline (TV + projection) beats the JPEG on the example photo at QF 10."""
    from ddrm.bench.baselines import jpeg_deblock

    x = read_image(EXAMPLE_IMAGE)[:, :128, :128]
    y = pillow_jpeg(x, 10)
    op = JPEG(tuple(x.shape), 10)
    assert psnr(op.project(y[None], y[None])[0], y) > 35
    smooth = op.project(torch.full_like(y[None], 0.5), y[None])[0]  # a flat image pulled into y's cells
    assert psnr(smooth, y) > psnr(torch.full_like(y, 0.5), y) + 5
    out = jpeg_deblock(y[None], 10, lam=0.02)[0]
    print(f"JPEG {psnr(y, x):.2f} dB, POCS-TV {psnr(out, x):.2f} dB")
    assert psnr(out, x) > psnr(y, x) + 0.2


def saved(path, x: torch.Tensor, grey: bool = False, **options):
    arr = (x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    im = Image.fromarray(arr).convert("L") if grey else Image.fromarray(arr)
    im.save(path, format="JPEG", **options)
    return path


CUSTOM = [[int(v) for v in np.random.default_rng(0).integers(2, 40, 64)],
          [int(v) for v in np.random.default_rng(1).integers(3, 60, 64)]]  # fmt: skip  # not a scaled IJG table


@pytest.mark.parametrize(
    "case, options, grey",
    [("custom tables, 4:2:0", dict(qtables=CUSTOM, subsampling=2), False),
     ("quality 40, 4:4:4", dict(quality=40, subsampling=0), False),
     ("quality 40, 4:2:2", dict(quality=40, subsampling=1), False),
     ("greyscale", dict(quality=40), True)],
)  # fmt: skip
def test_a_files_own_tables_and_layout_are_its_degradation(tmp_path, case, options, grey):
    """``jpeg_settings`` reads the tables and chroma layout a file was written with; the codec built from them
    decodes as Pillow's libjpeg does (measured here: 41.6-47.0 dB; bound 39 dB)."""
    from ddrm.tasks import jpeg_settings

    x = read_image(EXAMPLE_IMAGE)[:, :96, :120]
    path = saved(tmp_path / "f.jpg", x, grey, **options)
    settings = jpeg_settings(path)
    assert (
        settings["quality"] is None and settings["subsampling"] == {False: settings["subsampling"], True: "grey"}[grey]
    )
    op = build_operator("jpeg", tuple(x.shape), dtype=torch.float64, **settings)
    ours = op.compress(x[None].double())[0].float()
    theirs = read_image(path)
    assert ours.shape == theirs.shape == ((1,) if grey else (3,)) + tuple(x.shape[1:])
    assert psnr(ours, theirs) > 39, case
    if not grey:
        quality_tables = quantisation_tables(40)
        assert torch.equal(settings["tables"][0], quality_tables[0]) == ("quality" in str(options))


def test_a_jpeg_is_known_by_its_content_not_its_name(tmp_path):
    """A JPEG saved as ``.jfif`` (or renamed by an upload) brings its own tables; a PNG named ``.jpg`` is no JPEG:
    ``jpeg`` refuses it, ``jpegQF`` takes the quality given for its decoded pixels."""
    from ddrm.tasks import is_jpeg, jpeg_params, jpeg_settings

    x = read_image(EXAMPLE_IMAGE)[:, :64, :64]
    saved(tmp_path / "a.jfif", x, qtables=CUSTOM, subsampling=0)
    shutil.copy(tmp_path / "a.jfif", tmp_path / "a.jpg")
    own = jpeg_params(tmp_path / "a.jfif", {})
    assert is_jpeg(tmp_path / "a.jfif") and own["subsampling"] == "4:4:4"
    assert torch.equal(own["tables"], jpeg_settings(tmp_path / "a.jpg")["tables"])
    with pytest.raises(DDRMError, match="restore it with --task jpeg"):
        jpeg_params(tmp_path / "a.jfif", {"quality": 10})
    Image.fromarray((x.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "p.jpg", format="PNG")
    assert not is_jpeg(tmp_path / "p.jpg") and not is_jpeg(tmp_path / "missing.jpg")
    assert jpeg_params(tmp_path / "p.jpg", {"quality": 10}) == {"quality": 10}
    with pytest.raises(DDRMError, match="reads the quantisation tables of a JPEG file"):
        jpeg_params(tmp_path / "p.jpg", {})
    with Image.open(tmp_path / "a.jpg") as im:
        assert is_jpeg(im)


def test_a_jpeg_with_a_table_per_plane_and_one_outside_the_model(tmp_path):
    """A JPEG that quantises Cr with a third table of its own (Pillow gives each plane its table when given three) is
    modelled with it: the codec built from the file's settings decodes as Pillow's libjpeg does (measured on three
    crops, 4:4:4 and 4:2:0, 1 and 2 threads: 42.3 to 44.7 dB; here 42.34 and 43.77; bound 39 as for the other
    layouts), and 8.2 to 9.6 dB lower with Cb's table used for Cr, the model before, silently. A JPEG that stores its R, G, B planes without the YCbCr transform (Adobe's marker; Pillow's
    ``keep_rgb``) is refused by name."""
    from ddrm.tasks import jpeg_params, jpeg_settings

    x = read_image(EXAMPLE_IMAGE)[:, :96, :120]
    luma, cb, cr = ([int(v) for v in np.random.default_rng(s).integers(lo, hi, 64)] for s, lo, hi in
                    ((0, 2, 20), (1, 3, 30), (2, 40, 90)))  # fmt: skip
    for sampling in (0, 2):
        path = saved(tmp_path / f"three{sampling}.jpg", x, qtables=[luma, cb, cr], subsampling=sampling)
        settings = jpeg_settings(path)
        assert settings["tables"].shape == (3, 8, 8) and settings["tables"][2].flatten().tolist() == cr
        ours = build_operator("jpeg", tuple(x.shape), dtype=torch.float64, **settings).compress(x[None].double())[0]
        cb_for_cr = {**settings, "tables": settings["tables"][:2]}
        before = build_operator("jpeg", tuple(x.shape), dtype=torch.float64, **cb_for_cr).compress(x[None].double())[0]
        theirs = read_image(path)
        assert psnr(ours.float(), theirs) > 39 and psnr(ours.float(), theirs) > psnr(before.float(), theirs) + 5
    with pytest.raises(DDRMError, match="restore it with --task jpeg"):  # no libjpeg quality has these tables
        jpeg_params(tmp_path / "three2.jpg", {"quality": 50})
    saved(tmp_path / "two.jpg", x, qtables=[luma, cb], subsampling=0)
    assert jpeg_settings(tmp_path / "two.jpg")["tables"].shape == (2, 8, 8)
    saved(tmp_path / "rgb.jpg", x, keep_rgb=True, quality=80)
    with pytest.raises(DDRMError, match="without the YCbCr transform"):
        jpeg_settings(tmp_path / "rgb.jpg")
    res = run(
        "restore", str(tmp_path / "rgb.jpg"), "--task", "jpeg", "--prior", "gaussian", "-o", str(tmp_path / "o.png")
    )
    assert res.returncode == 2 and "YCbCr transform" in res.stderr and "Traceback" not in res.stderr


def test_a_phone_jpeg_with_a_second_picture_is_a_jpeg(tmp_path):
    """A phone's JPEG that carries a second picture (an HDR gain map, a depth map: the Multi-Picture Format, which
    Pillow opens as "MPO") is restored as the JPEG of its first picture: its tables, chroma layout, pixels and
    restoration are the plain JPEG's (before, --task jpeg refused it, "this chroma layout is not supported", and the
    web page called it no JPEG); it is one image, not an animation."""
    from ddrm.tasks import is_jpeg, jpeg_settings

    x = (read_image(EXAMPLE_IMAGE)[:, :64, :64].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    photo, gain_map = Image.fromarray(x), Image.fromarray(x[::2, ::2].copy())
    files = {"mpo": tmp_path / "mpo" / "photo.jpg", "plain": tmp_path / "plain" / "photo.jpg"}  # one name: one noise
    for f in files.values():
        f.parent.mkdir()
    photo.save(files["mpo"], format="MPO", save_all=True, append_images=[gain_map], quality=80)
    photo.save(files["plain"], quality=80)
    with Image.open(files["mpo"]) as im:
        assert im.format == "MPO" and im.n_frames == 2 and is_jpeg(im)
    assert is_jpeg(files["mpo"])
    mpo, plain = jpeg_settings(files["mpo"]), jpeg_settings(files["plain"])
    assert mpo["subsampling"] == plain["subsampling"] == "4:2:0" and torch.equal(mpo["tables"], plain["tables"])
    assert torch.equal(read_image(files["mpo"]), read_image(files["plain"]))
    for name, f in files.items():
        assert run("restore", str(f), "--task", "jpeg", "--prior", "gaussian", "--steps", "3", "-o",
                   str(tmp_path / f"{name}.png"), "--quiet").returncode == 0  # fmt: skip
    assert torch.equal(read_image(tmp_path / "mpo.png"), read_image(tmp_path / "plain.png"))


def test_restore_takes_the_files_own_tables_and_refuses_a_wrong_quality(tmp_path):
    x = read_image(EXAMPLE_IMAGE)[:, 64:128, 64:128]
    saved(tmp_path / "fine.jpg", x, qtables=CUSTOM, subsampling=2)
    saved(tmp_path / "grey.jpg", x, grey=True, quality=30)
    for name in ("fine", "grey"):
        assert run("restore", str(tmp_path / f"{name}.jpg"), "--task", "jpeg", "--prior", "gaussian", "--steps", "3", "-o",
            str(tmp_path / f"{name}.png"), "--quiet").returncode == 0  # fmt: skip
        assert read_image(tmp_path / f"{name}.png").shape == ({"fine": 3, "grey": 1}[name], 64, 64)  # a grey file: grey
    res = run("restore", str(tmp_path / "fine.jpg"), "--task", "jpeg10", "-o", str(tmp_path / "w.png"))
    assert res.returncode == 2 and "restore it with --task jpeg" in res.stderr and not (tmp_path / "w.png").exists()
    res = run("restore", str(tmp_path / "fine.png"), "--task", "jpeg", "-o", str(tmp_path / "v.png"))
    assert res.returncode == 2 and "reads the quantisation tables of a JPEG file" in res.stderr
    # the library's one call takes an opened JPEG and reads its tables too
    import ddrm

    prior = GaussianPrior.stationary((3, 64, 64), variance=0.25, length=2.0, mean=torch.zeros(3, 64, 64))
    with Image.open(tmp_path / "fine.jpg") as im:
        out, info = ddrm.restore(im, "jpeg", prior=prior, steps=3, details=True)
    assert out.size == (64, 64) and info.sigma_y == (0.0,)


def test_a_grey_result_is_the_grey_its_measurement_sees():
    """A greyscale photo's result is written as its grey (``TaskSpec.frame``), the grey its operator measures: a
    greyscale JPEG's luma (JFIF's weights, not the channels' mean), the channels' mean for the other tasks
    (``on_grey``: the grey repeated into the channels is measured as the colour image is)."""
    from ddrm.tasks import spec_for_measurement

    g = torch.Generator().manual_seed(0)
    jpeg = spec_for_measurement("jpeg", {"quality": 30, "subsampling": "grey"}, (1, 16, 24))
    others = [spec_for_measurement(name, params, (1, 16, 24)) for name, params in
              (("denoise", {}), ("sr_bicubic", {"factor": 2}), ("deblur_gauss", {"boundary": "circular"}))]  # fmt: skip
    for spec in (jpeg, *others):
        x = torch.rand(2, *spec.image_shape, generator=g, dtype=torch.float64)
        grey = spec.frame(x)
        assert spec.measures_grey and grey.shape == (2, *spec.output_shape) == (2, 1, *x.shape[-2:])
        if spec.name == "jpeg":  # the luma the file quantises (before its rounding to 8 bits and its steps)
            torch.testing.assert_close(grey, rgb_to_ycbcr(x * 255)[:, :1] / 255, atol=1e-12, rtol=0)
            assert (grey - x.mean(1, keepdim=True)).abs().max() > 0.05
        else:
            op = spec.operator().double()
            torch.testing.assert_close(op.H(grey.expand(-1, 3, -1, -1)), op.H(x), atol=1e-12, rtol=0)
    colour = spec_for_measurement("jpeg", {"quality": 30}, (3, 16, 24))
    x = torch.rand(1, 3, 16, 24, generator=g)
    assert not colour.measures_grey and torch.equal(colour.frame(x), x)
