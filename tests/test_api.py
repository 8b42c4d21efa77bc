"""The one-call public API (``ddrm.restore``) and the top-level names: each kind of image in, the same kind out,
[0, 1] units throughout, the same numbers as the pipeline's core, one error base for what a user can get wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import ddrm
from ddrm.errors import DDRMError, InputError, SolverError, TaskError
from ddrm.pipeline import image_generator

SHAPE = (3, 16, 16)


def gaussian() -> ddrm.GaussianPrior:
    return ddrm.GaussianPrior.stationary(SHAPE, variance=0.25, length=2.0, mean=torch.zeros(SHAPE))


def test_top_level_names():
    for name in ("restore", "load_prior", "build_operator", "OPERATORS", "SAMPLERS", "Operator", "LinearOperator",
                 "SVDOperator", "Prior", "GaussianPrior", "ddrm", "DDRMError"):  # fmt: skip
        assert getattr(ddrm, name) is not None, name
    assert issubclass(TaskError, ddrm.DDRMError) and issubclass(ddrm.DDRMError, ValueError)
    with pytest.raises(AttributeError):
        ddrm.no_such_name  # noqa: B018


def test_an_analytic_prior_and_an_operator_built_with_defaults_work_together():
    """The README's first snippet used to crash (a float64 prior against a float32 operator)."""
    op = ddrm.build_operator("sr", SHAPE, factor=4)
    prior = ddrm.GaussianPrior.stationary(SHAPE)
    g = torch.Generator().manual_seed(0)
    x = prior.sample(1, g)
    assert x.dtype == next(op.buffers(), torch.zeros(())).dtype == torch.float32
    y = op.measure(x, 0.1, g)
    out = ddrm.ddrm(prior, op, y, 0.1, steps=5, generator=g)
    assert out.shape == x.shape and out.dtype == torch.float32


def test_sigma_y_is_in_image_units_and_the_numbers_are_the_pipelines():
    """``restore(sigma_y=s)`` on [0, 1] images equals the sampler run in [-1, 1] units with ``2 s``."""
    prior, s = gaussian(), 0.05
    g = torch.Generator().manual_seed(1)
    x01 = (prior.sample(1, g)[0] + 1) / 2
    op = ddrm.build_operator("sr", SHAPE, factor=2)
    y01 = op.measure(x01[None], s, g)[0]
    got = ddrm.restore(y01, "sr2", sigma_y=s, prior=prior, steps=6, seed=3)
    want = ddrm.SAMPLERS["ddrm"].run(prior, op, op.to_model_range(y01[None]), 2 * s, steps=6,
                                     generator=[image_generator(3, "image 0")])  # fmt: skip
    torch.testing.assert_close(got, ((want[0] + 1) / 2).clamp(0, 1), atol=0, rtol=0)
    assert got.shape == SHAPE


def test_each_kind_of_image_comes_back_as_the_same_kind():
    prior = gaussian()
    t = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    out = ddrm.restore(t, "sr2", sigma_y=0.05, prior=prior, steps=3)
    assert isinstance(out, torch.Tensor) and out.shape == (1, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    assert torch.equal(ddrm.restore(t[0], "sr2", sigma_y=0.05, prior=prior, steps=3), out[0])  # same seed, same image
    arr = (t[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    a = ddrm.restore(arr, "sr2", sigma_y=0.05, prior=prior, steps=3)
    assert isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.shape == (16, 16, 3)
    f = ddrm.restore(arr.astype(np.float32) / 255, "sr2", sigma_y=0.05, prior=prior, steps=3)
    assert f.dtype == np.float32 and f.shape == (16, 16, 3) and np.abs(f * 255 - a).max() <= 0.5 + 1e-3
    im = ddrm.restore(Image.fromarray(arr), "sr2", sigma_y=0.05, prior=prior, steps=3)
    assert isinstance(im, Image.Image) and im.size == (16, 16) and im.mode == "RGB"
    grey = Image.fromarray(arr).convert("L").resize((16, 16))
    colour = ddrm.restore(grey, "color", sigma_y=0.0, prior=prior, steps=3)
    assert colour.mode == "RGB" and colour.size == (16, 16)
    g2 = ddrm.restore(np.asarray(grey), "color", sigma_y=0.0, prior=prior, steps=3)
    assert g2.shape == (16, 16, 3)


def test_a_greyscale_photo_comes_back_grey_in_the_channels_it_came_in():
    """A grey photo (one channel, or three equal ones) is restored as the grey of the image measured and comes back
    grey: one channel as one, three equal channels as three equal ones, the same image either way; a batch that mixes
    a grey and a colour photo is restored with the colour model for both (one model per call)."""
    prior = gaussian()
    g = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(3))
    one = ddrm.restore(g, "denoise", sigma_y=0.05, prior=prior, steps=4)
    three, res = ddrm.restore(g.expand(3, -1, -1), "denoise", sigma_y=0.05, prior=prior, steps=4, details=True)
    assert one.shape == (1, 16, 16) and three.shape == (3, 16, 16) and res.images.shape == (1, 1, 16, 16)
    assert torch.equal(three[0], three[1]) and torch.equal(three[1], three[2])
    assert torch.allclose(three[:1], one, atol=1e-5)
    arr = ddrm.restore((g[0].numpy() * 255).astype(np.uint8), "denoise", sigma_y=0.05, prior=prior, steps=4)
    assert arr.shape == (16, 16) and arr.dtype == np.uint8
    colour = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(4))
    both, res = ddrm.restore(torch.stack([g.expand(3, -1, -1), colour]), "denoise", sigma_y=0.05, prior=prior,
                             steps=4, details=True)  # fmt: skip
    assert both.shape == res.images.shape == (2, 3, 16, 16)  # restored in colour, not expanded from a grey result


def test_a_blurred_grey_photos_kernel_is_estimated_from_its_grey_in_every_channel(monkeypatch):
    """Blind deblurring of a grey photo: the colour estimator gets the grey in every channel and sqrt(3) times the
    noise level (the grey's one noise, repeated, is sqrt(3) times the noise of the channels' grey coordinate: told
    the level itself, the estimate was below the blurry photo in 6 of 12 training photos under a 13 px Gaussian, in 0
    of 12 told sqrt(3) times it); the result is the grey, the kernel one, the residual against the grey measurement."""
    import ddrm.pipeline.batch as batch

    seen = []

    def spy(prior, solver, y01, sigma_y, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        seen.append((y01.clone(), sigma_y))
        return restore_blind(prior, solver, y01, sigma_y, *args, **kwargs)

    restore_blind = batch.restore_blind
    monkeypatch.setattr(batch, "restore_blind", spy)
    y = torch.rand(1, 14, 14, generator=torch.Generator().manual_seed(5))  # a valid blur's frame: 16 px restored
    out, res = ddrm.restore(y, "deblur_blind", sigma_y=0.02, prior=gaussian(), steps=4, task_params={"size": 3},
                            details=True)  # fmt: skip
    ((given, level),) = seen
    assert given.shape == (1, 3, 14, 14) and torch.equal(given[0, 0], y[0]) and torch.equal(given[0, 2], y[0])
    assert level == pytest.approx(0.02 * 3**0.5) and res.sigma_y == (0.02,)
    assert out.shape == (1, 14, 14) and res.kernels.shape == (1, 3, 3) and res.residual.shape == (1,)


def test_masks_kernels_blind_and_the_details(monkeypatch):
    prior = gaussian()
    x = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(4))
    mask = torch.rand(16, 16, generator=torch.Generator().manual_seed(5)) > 0.5
    out = ddrm.restore(x * mask, "inpaint", sigma_y=0.0, mask=mask.float(), prior=prior, steps=4)
    torch.testing.assert_close(out[:, mask], x[:, mask], atol=1e-4, rtol=0)  # noiseless: the observed pixels kept
    k = torch.full((3, 3), 1 / 9)
    assert ddrm.restore(x, "deblur_motion", sigma_y=0.01, kernel=k, prior=prior, steps=3,
                        task_params={"boundary": "circular"}).shape == x.shape  # fmt: skip
    with pytest.raises(TaskError, match="restores 18x18 \\(a blur's valid part"):  # a photo's blur: 2 px more
        ddrm.restore(x, "deblur_motion", sigma_y=0.01, kernel=k, prior=prior, steps=3)
    img, res = ddrm.restore(x, "deblur_blind", sigma_y=0.01, task_params={"size": 5, "model": "full",
                            "boundary": "circular"}, prior=prior, steps=4, details=True)  # fmt: skip
    assert img.shape == x.shape and res.kernels.shape == (1, 5, 5)
    assert abs(float(res.kernels.sum()) - 1) < 1e-5 and float(res.kernels.min()) >= 0
    shaken = x[:, :12, :12]  # a photo's camera shake: restored on 16 x 16 beyond the frame, by DiffPIR
    with pytest.warns(UserWarning, match=r"under a quarter of the 20 it is made for.*--steps 20\)"):  # held: 20 steps
        img, res = ddrm.restore(shaken, "deblur_blind", sigma_y=0.01, task_params={"size": 5, "model": "full"},
                                prior=prior, steps=4, details=True)  # fmt: skip
    assert img.shape == shaken.shape and res.kernels.shape == (1, 5, 5)  # DDRM would refuse the valid part
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ddrm.restore(shaken, "deblur_blind", sigma_y=0.01, task_params={"size": 5, "model": "full"}, prior=prior,
                     steps=20, samples=1)  # fmt: skip
    said = [str(w.message) for w in seen if "the default size" in str(w.message) or "under a quarter" in str(w.message)]
    assert not said, said  # the size given, the steps it is made for: nothing to say
    photo = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(6))  # room for the default 21 px
    wide = ddrm.GaussianPrior.stationary((3, 44, 44), variance=0.25, length=2.0, mean=torch.zeros(3, 44, 44))

    def stop(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("the restoration began")

    monkeypatch.setattr("ddrm.pipeline.api.restore_batch", stop)  # the line comes before any work
    with (
        pytest.warns(UserWarning, match=r"estimates a 21 px kernel \(the default size\).*give the shake's extent"),
        pytest.raises(RuntimeError, match="the restoration began"),
    ):
        ddrm.restore(photo, "deblur_blind", sigma_y=0.01, task_params={"model": "full"}, prior=wide, steps=20)


def test_what_a_user_can_get_wrong_is_one_ddrm_error():
    prior, y = gaussian(), torch.rand(3, 8, 8)
    cases = [
        (dict(task="sr2"), InputError, "too small to estimate its noise"),  # sigma_y auto on an 8 px image
        (dict(task="sr2", sigma_y=2.0), InputError, "must lie in"),
        (dict(task="banana", sigma_y=0.1), TaskError, "unknown task"),
        (dict(task="sr2", sigma_y=0.1, solver="nope"), SolverError, "unknown solver"),
        (dict(task="sr2", sigma_y=0.1, solver_args={"eta": 5.0}), SolverError, "must lie in"),
        (dict(task="inpaint", sigma_y=0.1), TaskError, "needs a mask"),
        (dict(task="sr2", sigma_y=0.1, task_params={"size": 3}), TaskError, "does not apply"),
    ]
    for kwargs, kind, phrase in cases:
        with pytest.raises(kind, match=phrase):
            ddrm.restore(y, prior=prior, **kwargs)
    with pytest.raises(InputError, match="takes a torch.Tensor"):
        ddrm.restore([[0.5]], "denoise", sigma_y=0.1, prior=prior)
    with pytest.raises(DDRMError, match="NaN"):
        ddrm.restore(torch.full((3, 8, 8), float("nan")), "denoise", sigma_y=0.1, prior=prior)


def test_the_mean_of_samples_and_the_consistency_residual():
    """``samples`` draws in one batch, sample 0 being the plain restoration; the mean's spread and the consistency
    residual come with ``details``; the mean of a Gaussian posterior's samples is closer to the truth than one."""
    prior = gaussian()
    g = torch.Generator().manual_seed(6)
    x01 = ((prior.sample(2, g) + 1) / 2).clamp(0, 1)
    op = ddrm.build_operator("inpaint", SHAPE, generator=torch.Generator().manual_seed(1))
    y01 = op.measure(x01, 0.05, g)
    one = ddrm.restore(y01, "inpaint", sigma_y=0.05, mask=op.mask[0, 0].float(), prior=prior, steps=8)
    first = ddrm.restore(y01, "inpaint", sigma_y=0.05, mask=op.mask[0, 0].float(), prior=prior, steps=8, samples=4,
                         estimate="sample")  # fmt: skip
    torch.testing.assert_close(first, one, atol=1e-6, rtol=0)
    mean, res = ddrm.restore(y01, "inpaint", sigma_y=0.05, mask=op.mask[0, 0].float(), prior=prior, steps=8,
                             samples=4, details=True)  # fmt: skip
    assert res.estimate == "mean" and res.samples == 4 and res.std.shape == x01.shape and (res.std > 0).any()
    mse = lambda a: (a - x01).pow(2).mean().item()  # noqa: E731
    assert mse(mean) < mse(one)
    assert res.residual.shape == (2,) and ((0.5 < res.residual / 0.05) & (res.residual / 0.05 < 2)).all()


def test_a_clean_photo_is_measured_as_its_channels_say():
    """``clean_photo_task`` (``ddrm degrade`` and the demo): a colour photo as it is; a greyscale one, or a grey photo
    stored as colour, as the grey of an image with colours (a greyscale JPEG for jpeg), its grey in every channel; a
    grey photo's colourisation and any other channel count refused in one line naming the photo."""
    from ddrm.tasks import clean_photo_task

    rgb, grey = torch.rand(3, 8, 12), torch.rand(1, 8, 12)
    params, x = clean_photo_task("sr_bicubic2", {"factor": 2}, rgb)
    assert params == {"factor": 2} and x is rgb
    params, x = clean_photo_task("sr_bicubic2", {"factor": 2}, grey)
    assert params == {"factor": 2, "grey": True} and x.shape == (3, 8, 12) and torch.equal(x[2], grey[0])
    assert clean_photo_task("jpeg", {"quality": 10}, grey)[0] == {"quality": 10, "subsampling": "grey"}
    # a grey photo stored as colour (channels within 2/255, as ddrm restore reads one) is a grey photo too
    stored = (grey + torch.tensor([0.0, 1.5 / 255, -1.5 / 255])[:, None, None]).clamp(0, 1)
    params, x = clean_photo_task("sr_bicubic2", {}, stored)
    assert params == {"grey": True} and torch.allclose(x[0], stored.mean(0)) and torch.equal(x[0], x[1])
    tinted = stored.clone()
    tinted[0, 0, 0] += 6 / 255  # one pixel with a tint: a colour photo
    assert clean_photo_task("sr_bicubic2", {}, tinted) == ({}, tinted)
    with pytest.raises(TaskError, match=r"channels equal within 2/255\) has no colours"):
        clean_photo_task("color", {}, stored)
    with pytest.raises(TaskError, match="no colours"):
        clean_photo_task("color", {}, grey)
    with pytest.raises(InputError, match=r"^p\.png: expected an RGB or greyscale photo, got 4 channel"):
        clean_photo_task("denoise", {}, torch.rand(4, 8, 12), "p.png")
    with pytest.raises(InputError, match=r"got an array of shape \(8, 12\)"):
        clean_photo_task("denoise", {}, torch.rand(8, 12))
