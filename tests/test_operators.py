"""One property test for every registered operator, against dense matrices and independent references."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from ddrm.errors import TaskError
from ddrm.operators import (
    GREY_OWN,
    JPEG,
    OPERATORS,
    BlockSuperResolution,
    CircularConvolution,
    DenseOperator,
    Inpainting,
    Kronecker,
    LinearOperator,
    Operator,
    SpatiallyVaryingBlur,
    SVDOperator,
    bicubic_super_resolution,
    build_operator,
    colorization,
    compose,
    conv_matrix_1d,
    ddrm_anisotropic_kernels,
    fwht,
    grid_weights,
    motion_kernel,
    separable_blur,
)

DT = torch.float64
SHAPE = (3, 8, 12)
SHAPES = {"cs": (3, 8, 16)}  # Walsh-Hadamard needs H*W a power of two
PARAMS = {"sr": {"factor": 4}, "sr_bicubic": {"factor": 2}, "deblur_motion": {"size": 5}, "deblur_varying": {"size": 5}}
# every operator also as the measurement of a greyscale photo (``grey=True``: on one channel, of the channels' mean)
GREY = [n for n in OPERATORS if n not in GREY_OWN]


def colour_and_grey(names):
    """``names`` as they are and, where they take it, as a greyscale photo's measurement."""
    return [(n, False) for n in names] + [pytest.param(n, True, id=f"{n}-grey") for n in names if n in GREY]


def make(name: str, shape=None, **params):
    shape = shape or SHAPES.get(name, SHAPE)
    g = torch.Generator().manual_seed(0)
    return build_operator(name, shape, generator=g, dtype=DT, **{**PARAMS.get(name, {}), **params})


@pytest.mark.parametrize("name", GREY)
def test_a_greyscale_photos_measurement_is_the_one_channel_operator_on_the_grey(name):
    """``grey=True`` against its definition, densely: the operator built for one channel (the same parameters and
    random choices) applied to the mean of the image's channels; the valid boundary too (no SVD: conjugate
    gradients), and the tasks with a grey measurement of their own refuse it."""
    for params in ({}, {"boundary": "valid"}) if "boundary" in OPERATORS[name].params else ({},):
        op = make(name, shape=(3, 16, 16) if params else None, grey=True, **params)
        _, h, w = op.input_shape
        one = make(name, shape=(1, h, w), **params)
        n1 = one.n
        want = dense(one.H, n1, one.input_shape).repeat(1, 3) / 3  # (m, 3 h w): each channel weighs a third
        torch.testing.assert_close(dense(op.H, op.n, op.input_shape), want, atol=1e-12, rtol=0)
        assert type(op).__name__ == ("OnGreySVD" if isinstance(one, SVDOperator) else "OnGrey")
    for name in GREY_OWN:
        with pytest.raises(TaskError, match="own grey measurement"):
            make(name, shape=(3, 16, 16), grey=True)


def dense(fn, n_in: int, in_shape) -> torch.Tensor:
    """Columns fn(e_i): the dense matrix of a linear map."""
    eye = torch.eye(n_in, dtype=DT).reshape(n_in, *in_shape)
    return fn(eye).reshape(n_in, -1).T


def matrices(op):
    n, m = op.n, op.m
    Hm = dense(op.H, n, op.input_shape)
    Vm = dense(op.V, n, (n,))  # n x n
    Vtm = dense(op.Vt, n, op.input_shape)
    Um = dense(op.U, n, (n,))  # m x n (columns of unmeasured coordinates are zero)
    Utm = dense(op.Ut, m, op.measurement_shape)  # n x m
    s = op.singulars()
    assert s.shape in ((1, n),)
    return Hm, Vm, Vtm, Um, Utm, s[0]


ALL = sorted(n for n, spec in OPERATORS.items() if spec.contract is SVDOperator)  # with an SVD
LINEAR = sorted(n for n, spec in OPERATORS.items() if issubclass(spec.contract, LinearOperator))  # with or without


@pytest.mark.parametrize(("name", "grey"), colour_and_grey(sorted(OPERATORS)))
def test_every_registered_operator_keeps_its_contract(name, grey):
    """A build is an instance of its registry contract; a measurement of a [0, 1] image converts to the measurement of
    the same image in [-1, 1] (``to_model_range``), the conversion every front end relies on."""
    spec = OPERATORS[name]
    op = make(name, shape=SHAPES.get(name, (3, 16, 16)) if name == "jpeg" else None, grey=grey)
    assert isinstance(op, spec.contract) and isinstance(op, Operator)
    assert spec.contract in (SVDOperator, LinearOperator) or not issubclass(spec.contract, LinearOperator)
    x01 = torch.rand(2, *op.input_shape, generator=torch.Generator().manual_seed(3), dtype=DT)
    want = op.H(2 * x01 - 1)
    got = op.to_model_range(op.measure(x01, 0.0))
    tol = 2 / 255 + 1e-9 if isinstance(op, JPEG) else 1e-9  # JPEG: 8-bit rounding of the decoded image
    assert (got - want).abs().max().item() <= tol


@pytest.mark.parametrize(("name", "grey"), colour_and_grey(ALL))
def test_svd_contract(name, grey):
    op = make(name, grey=grey)
    n, m = op.n, op.m
    Hm, Vm, Vtm, Um, Utm, s = matrices(op)
    measured = Utm.abs().sum(1) > 0  # spectral coordinates that U reads
    assert int(measured.sum()) == m
    # V is orthogonal and V^T is its transpose
    torch.testing.assert_close(Vm.T @ Vm, torch.eye(n, dtype=DT), atol=1e-10, rtol=0)
    torch.testing.assert_close(Vtm, Vm.T, atol=1e-10, rtol=0)
    # U is orthogonal on the measured coordinates, ignores the others; U^T is its transpose
    torch.testing.assert_close(Um @ Um.T, torch.eye(m, dtype=DT), atol=1e-10, rtol=0)
    assert Um[:, ~measured].abs().max().item() == 0 if (~measured).any() else True
    torch.testing.assert_close(Utm, Um.T, atol=1e-10, rtol=0)
    # singular values: non-negative, zero where unmeasured
    assert (s >= 0).all() and (s[~measured] == 0).all()
    # H = U diag(s) V^T
    torch.testing.assert_close(Hm, Um @ torch.diag(s) @ Vm.T, atol=1e-5, rtol=0)
    # the singular values agree with a dense SVD
    ref = torch.linalg.svdvals(Hm)
    torch.testing.assert_close(torch.sort(s, descending=True).values[: ref.numel()], ref, atol=1e-8, rtol=0)


@pytest.mark.parametrize(("name", "grey"), colour_and_grey(LINEAR))
def test_adjoint_pinv_prox(name, grey):
    """For every linear operator, with an SVD (exact formulas) or without (conjugate gradients)."""
    op = make(name, grey=grey)
    if not isinstance(op, SVDOperator):
        op.cg_iters, op.cg_tol = 2000, 1e-12
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, *op.input_shape, generator=g, dtype=DT)
    y = torch.randn(2, *op.measurement_shape, generator=g, dtype=DT)
    # <Hx, y> = <x, H^T y>
    lhs = (op.H(x) * y).sum()
    rhs = (x * op.Ht(y)).sum()
    assert abs(lhs - rhs) < 1e-9 * (1 + abs(lhs))
    Hm = dense(op.H, op.n, op.input_shape)
    # pinv(H x) is the projection of x onto the row space of H; a grey measurement's dense matrix (its three channel
    # blocks, a third each) is resolved less exactly by a dense SVD near deblur_aniso's smallest singular values (1.7e-8
    # and 3.7e-8 of the largest), so the comparison cuts there at 1e-6
    rtol = 1e-6 if grey else 1e-8
    Hp = torch.linalg.pinv(Hm, rtol=rtol)
    proj = (Hp @ Hm @ x.reshape(2, -1).T).T
    cut = {"cutoff": rtol} if isinstance(op, SVDOperator) else {}  # without an SVD: CG at cg_tol
    got = op.pinv(op.H(x), **cut).reshape(2, -1)
    torch.testing.assert_close(got, proj, atol=1e-6, rtol=0)
    # pinv(y) matches the dense pseudo-inverse
    torch.testing.assert_close(op.pinv(y, **cut).reshape(2, -1), (Hp @ y.reshape(2, -1).T).T, atol=1e-6, rtol=1e-6)
    # prox: argmin ||y - Hx||^2 + rho ||x - z||^2 from a dense solve
    z = torch.randn(2, *op.input_shape, generator=g, dtype=DT)
    rho = 0.3
    A = Hm.T @ Hm + rho * torch.eye(op.n, dtype=DT)
    b = Hm.T @ y.reshape(2, -1).T + rho * z.reshape(2, -1).T
    torch.testing.assert_close(op.prox(y, z, rho).reshape(2, -1), torch.linalg.solve(A, b).T, atol=1e-8, rtol=0)
    # float32 works too (a copy moved with Module.to keeps every buffer meaningful)
    op32 = copy.deepcopy(op).to(torch.float32)
    methods = (("H", x), ("Ht", y)) + ((("Vt", x), ("Ut", y)) if isinstance(op, SVDOperator) else ())
    for method, arg in methods:
        before = arg.clone()
        got = getattr(op32, method)(arg.float()).double()
        want = getattr(op, method)(arg)
        torch.testing.assert_close(got, want, atol=1e-4 * (1 + want.abs().max().item()), rtol=0)
        assert torch.equal(arg, before)  # inputs are never modified


# ------------------------------------------------------------ operators without an SVD
def _kernel_grid(rows=2, cols=2, size=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([motion_kernel(size, 0.5, g) for _ in range(rows * cols)]).reshape(rows, cols, size, size)


def test_varying_blur_is_a_sum_of_circular_convolutions_of_masked_images():
    kernels = _kernel_grid(2, 3)
    op = SpatiallyVaryingBlur.from_grid(SHAPE, kernels, dtype=DT)
    weights = grid_weights(SHAPE[1], SHAPE[2], 2, 3)
    x = _img()
    want = sum(
        CircularConvolution(SHAPE, kernels[r, c], dtype=DT).H(x * weights[3 * r + c])
        for r in range(2)
        for c in range(3)
    )
    torch.testing.assert_close(op.H(x), want, atol=1e-12, rtol=0)
    # one kernel everywhere is a plain circular convolution, whatever the masks
    same = SpatiallyVaryingBlur.from_grid(SHAPE, kernels[:1, :1].expand(3, 4, 5, 5), dtype=DT)
    torch.testing.assert_close(same.H(x), CircularConvolution(SHAPE, kernels[0, 0], dtype=DT).H(x), atol=1e-12, rtol=0)
    # a point source gets the kernels weighted by the masks at its pixel
    point = torch.zeros(1, *SHAPE, dtype=DT)
    point[0, :, 4, 5] = 1
    psf = torch.roll(op.H(point)[0, 0], shifts=(2 - 4, 2 - 5), dims=(0, 1))[:5, :5]
    torch.testing.assert_close(psf, op.kernel_at(4, 5), atol=1e-12, rtol=0)


def test_grid_weights_are_smooth_masks_summing_to_one():
    w = grid_weights(40, 60, 3, 4)
    assert w.shape == (12, 40, 60) and (w >= 0).all()
    torch.testing.assert_close(w.sum(0), torch.ones(40, 60, dtype=w.dtype), atol=1e-12, rtol=0)
    # one at each region's centre, and no jump between neighbouring pixels larger than one grid spacing allows
    assert w[0, 6, 7].item() == pytest.approx(1.0) and w[5, 22 - 2, 22].item() > 1 - 1 / (40 / 3)
    steps = max(w.diff(dim=1).abs().max().item(), w.diff(dim=2).abs().max().item())
    assert steps <= 1 / min(40 / 3, 60 / 4) + 1e-12  # linear ramps between neighbouring centres
    with pytest.raises(ValueError, match="sum to one"):
        SpatiallyVaryingBlur(SHAPE, torch.ones(2, 3, 3) / 9, torch.full((2, 8, 12), 0.4, dtype=DT))


def test_cg_pseudo_inverse_is_the_minimum_norm_solution_of_a_singular_operator():
    """Box kernels of even width null some frequencies: H^T H is singular; CG from zero (or a warm start in the range
    of H^T) still gives the minimum-norm least-squares solution, per batch item and per-sample rho."""
    box = torch.full((2, 2, 2, 2), 0.25, dtype=DT)
    box[1, 1] = torch.tensor([[0.5, 0.5], [0.0, 0.0]], dtype=DT)
    op = SpatiallyVaryingBlur.from_grid(SHAPE, box, dtype=DT)
    op.cg_iters, op.cg_tol = 3000, 1e-13
    Hm = dense(op.H, op.n, SHAPE)
    assert torch.linalg.matrix_rank(Hm).item() < op.n
    y = _img(seed=5)
    Hp = torch.linalg.pinv(Hm, rtol=1e-10)
    want = (Hp @ y.reshape(2, -1).T).T
    torch.testing.assert_close(op.pinv(y).reshape(2, -1), want, atol=1e-7, rtol=0)
    start = op.Ht(_img(seed=6))  # in the range of H^T
    torch.testing.assert_close(op.pinv(y, x0=start).reshape(2, -1), want, atol=1e-7, rtol=0)
    # prox with a per-sample rho, one of them zero (the projection of z onto {H x = H x_true})
    z, x_true = _img(seed=7), _img(seed=8)
    yc = op.H(x_true)
    rho = torch.tensor([0.0, 0.2], dtype=DT)
    got = op.prox(yc, z, rho)
    proj = z[0].reshape(-1) + Hp @ (yc[0].reshape(-1) - Hm @ z[0].reshape(-1))
    torch.testing.assert_close(got[0].reshape(-1), proj, atol=1e-7, rtol=0)
    A = Hm.T @ Hm + 0.2 * torch.eye(op.n, dtype=DT)
    torch.testing.assert_close(
        got[1].reshape(-1), torch.linalg.solve(A, Hm.T @ yc[1].reshape(-1) + 0.2 * z[1].reshape(-1)), atol=1e-8, rtol=0
    )
    # the same contract on an operator with an SVD gives its exact formulas
    svd = CircularConvolution(SHAPE, torch.full((2, 2), 0.25, dtype=DT), dtype=DT)
    generic = LinearOperator.pinv(svd, y)  # the CG path, on the same H
    torch.testing.assert_close(generic, svd.pinv(y, cutoff=1e-10), atol=1e-6, rtol=0)


def test_only_solvers_for_any_linear_operator_take_one_without_an_svd():
    from ddrm.samplers import SAMPLERS

    op = make("deblur_varying")
    takers = {n for n, s in SAMPLERS.items() if s.accepts(op)}
    assert {"dps", "diffpir", "ddnm", "pigdm"} <= takers and "ddrm" not in takers
    y = op.H(_img(b=1))
    with pytest.raises(ValueError, match=r"solver ddrm does not support the deblur_varying task.*only H and H\^T; use"):
        SAMPLERS["ddrm"](None, op, y, 0.0)


# ------------------------------------------------------------ independent references
def _img(shape=SHAPE, b=2, seed=3):
    return torch.randn(b, *shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


def test_block_sr_is_avg_pool():
    x = _img()
    for r in (2, 4):
        op = BlockSuperResolution(SHAPE, r, dtype=DT)
        torch.testing.assert_close(op.H(x), F.avg_pool2d(x, r), atol=1e-12, rtol=0)


def test_bicubic_matches_antialiased_interpolate():
    x = _img((3, 16, 24))
    for r in (2, 4):
        op = bicubic_super_resolution((3, 16, 24), r, dtype=DT)
        ref = F.interpolate(x, size=(16 // r, 24 // r), mode="bicubic", antialias=True, align_corners=False)
        torch.testing.assert_close(op.H(x), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["deblur_uni", "deblur_gauss", "deblur_aniso"])
def test_separable_blur_is_zero_padded_convolution(name):
    x = _img()
    op = make(name)
    rows, cols = {
        "deblur_uni": (torch.full((9,), 1 / 9, dtype=DT),) * 2,
        "deblur_gauss": (torch.exp(-0.5 * (torch.arange(-2, 3, dtype=DT) / 10) ** 2),) * 2,
        "deblur_aniso": tuple(k for k in ddrm_anisotropic_kernels()),
    }[name]
    k2 = torch.outer(rows / rows.sum(), cols / cols.sum())
    assert k2.shape[0] == rows.numel()  # every tap is kept (the official code drops the last one)
    ref = scipy.ndimage.convolve(x.numpy(), k2.numpy()[None, None], mode="constant", cval=0.0)
    torch.testing.assert_close(op.H(x), torch.from_numpy(ref), atol=1e-10, rtol=0)
    # and the singular values are ordered with their vectors: per-pixel, not per-channel
    torch.testing.assert_close(op.pinv(op.H(x)), op.V(op.Vt(op.pinv(op.H(x)))), atol=1e-9, rtol=0)


def test_anisotropic_kernels_follow_ddrm():
    rows, cols = ddrm_anisotropic_kernels()
    assert rows.numel() == cols.numel() == 9
    torch.testing.assert_close(
        rows,
        torch.exp(-0.5 * torch.arange(-4, 5, dtype=DT) ** 2)
        / torch.exp(-0.5 * torch.arange(-4, 5, dtype=DT) ** 2).sum(),
    )
    assert cols.max() / cols.min() < 1.05  # std 20 over 9 taps is nearly flat


def test_circular_convolution_matches_wrap_convolve():
    x = _img()
    k = motion_kernel(5, 0.7, torch.Generator().manual_seed(4))
    k[0, 0] += 0.3  # make it clearly asymmetric
    k = k / k.sum()
    op = CircularConvolution(SHAPE, k, dtype=DT)
    ref = scipy.ndimage.convolve(x.numpy(), k.numpy()[None, None], mode="wrap")
    torch.testing.assert_close(op.H(x), torch.from_numpy(ref), atol=1e-10, rtol=0)
    # even-sized kernels and odd image sizes work too
    k4 = torch.rand(4, 3, generator=torch.Generator().manual_seed(5), dtype=DT)
    op = CircularConvolution((2, 7, 9), k4, dtype=DT)
    x = _img((2, 7, 9))
    ref = np.real(
        np.fft.ifft2(
            np.fft.fft2(x.numpy()) * np.fft.fft2(np.roll(np.pad(k4.numpy(), ((0, 3), (0, 6))), (-2, -1), (0, 1)))
        )
    )
    torch.testing.assert_close(op.H(x), torch.from_numpy(ref), atol=1e-10, rtol=0)
    Hm, Vm, Vtm, Um, Utm, s = matrices(op)
    torch.testing.assert_close(Vm.T @ Vm, torch.eye(op.n, dtype=DT), atol=1e-10, rtol=0)
    torch.testing.assert_close(Hm, Um @ torch.diag(s) @ Vm.T, atol=1e-10, rtol=0)


def test_colorization_is_channel_mean():
    x = _img()
    op = colorization(SHAPE, dtype=DT)
    torch.testing.assert_close(op.H(x), x.mean(1, keepdim=True), atol=1e-12, rtol=0)


def test_inpainting_per_sample_masks_and_setup_speed():
    import time

    g = torch.Generator().manual_seed(0)
    masks = torch.rand(2, 1, 8, 12, generator=g) > 0.5
    op = Inpainting(SHAPE, masks, dtype=DT)
    x = _img()
    torch.testing.assert_close(op.H(x), x * masks, atol=0, rtol=0)
    assert op.singulars().shape == (2, op.n)
    y = op.measure(x, 0.1, torch.Generator().manual_seed(1))
    assert (y[~masks.expand_as(y)] == 0).all()  # missing pixels carry no noise
    # a 256x256 random mask operator is built in well under 10 ms (measured in benchmarks/)
    t0 = time.perf_counter()
    build_operator("inpaint", (3, 256, 256), generator=g)
    assert time.perf_counter() - t0 < 1.0


def test_cs_is_permuted_walsh_hadamard():
    x = _img((3, 8, 16))
    op = make("cs", ratio=2)
    n = 8 * 16
    had = torch.tensor(scipy.linalg.hadamard(n), dtype=DT) / math.sqrt(n)
    ref = (x.reshape(2, 3, n)[..., op.perm] @ had.T)[..., : n // 2]
    torch.testing.assert_close(op.H(x), ref, atol=1e-12, rtol=0)
    v = torch.randn(5, 64, dtype=DT)
    torch.testing.assert_close(fwht(fwht(v)), v, atol=1e-12, rtol=0)


def test_compose_separable():
    shape = (3, 16, 24)
    x = _img(shape)
    blur = separable_blur(shape, torch.tensor([0.25, 0.5, 0.25], dtype=DT), dtype=DT)
    sr = BlockSuperResolution(shape, 2, dtype=DT)
    op = compose(sr, blur)
    assert isinstance(op, Kronecker)
    torch.testing.assert_close(op.H(x), sr.H(blur.H(x)), atol=1e-12, rtol=0)
    gray_small = compose(colorization(sr.measurement_shape, dtype=DT), sr)
    torch.testing.assert_close(gray_small.H(x), F.avg_pool2d(x, 2).mean(1, keepdim=True), atol=1e-12, rtol=0)
    with pytest.raises(ValueError):
        compose(
            Inpainting(shape, torch.ones(16, 24, dtype=torch.bool)), CircularConvolution(shape, torch.ones(3, 3) / 9)
        )


def test_dense_operator_and_errors():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 2 * 3 * 2, generator=g, dtype=DT)
    op = DenseOperator(A, (2, 3, 2))
    x = torch.randn(4, 2, 3, 2, generator=g, dtype=DT)
    torch.testing.assert_close(op.H(x), x.reshape(4, -1) @ A.T, atol=1e-12, rtol=0)
    with pytest.raises(ValueError):
        DenseOperator(torch.randn(20, 12), (2, 3, 2))
    with pytest.raises(ValueError, match="divide"):
        BlockSuperResolution((3, 10, 12), 4)
    with pytest.raises(ValueError, match="power of two"):
        build_operator("cs", (3, 8, 12))
    with pytest.raises(ValueError, match="odd"):
        conv_matrix_1d(torch.ones(4) / 4, 10)
    with pytest.raises(ValueError, match="unknown operator"):
        build_operator("sr5", (3, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        BlockSuperResolution((3, 8, 8), 2).H(torch.zeros(1, 3, 8, 12))


def test_metrics_match_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    from ddrm.metrics import psnr, ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 40, 50, generator=g)
    b = (a + 0.1 * torch.randn(3, 40, 50, generator=g)).clamp(0, 1)
    ref = skm.structural_similarity(
        a.double().numpy(),
        b.double().numpy(),
        channel_axis=0,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert abs(ssim(b, a) - ref) < 1e-6
    assert abs(psnr(b, a) - skm.peak_signal_noise_ratio(a.double().numpy(), b.double().numpy(), data_range=1.0)) < 1e-9
