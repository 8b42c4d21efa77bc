"""Blind deblurring of photos blurred as a camera blurs them: the valid part of the blur of a larger crop (the border
saw the scene beyond the frame), restored by ``ddrm.restore(y, "deblur_blind")`` with the valid model (the default
for an image without a sidecar) and with the circular one (the only model before), against the blurry photo and
non-blind DDRM with the true kernel (valid boundary). Held-out photos, 128 px frames, separable kernels of 9-25 px
(the valid blind model is separable), sigma_y 0.01 and 0.02 (true value given), built-in prior, DDRM 20 steps.

    python benchmarks/blind_real.py          # writes benchmarks/results/blind_real.json
    python benchmarks/blind_real.py --motion # writes benchmarks/results/blind_real_motion.json

``--offered-only``: only the offered blind model (separable, valid) against the blurry photo and the true kernel, on
another photo set (``--heldout data/photos/train``: the training photos, many of them low in texture)::

    python benchmarks/blind_real.py --offered-only --heldout data/photos/train \
        --out benchmarks/results/blind_real_train.json

``--large``: the offered model on kernels of 21-31 px (Gaussian, anisotropic, box), the top of #27's 9-31 px range,
on the held-out photos, against the blurry photo and the true kernel::

    python benchmarks/blind_real.py --large  # writes benchmarks/results/blind_real_large.json

``--seed N`` (0): another draw of the measurement noise and of the solvers' noise, for the spread of the outcomes::

    python benchmarks/blind_real.py --offered-only --seed 1 --out benchmarks/results/blind_real_seed1.json

``--narrow F``: ``deblur_blind`` restores a second time, non-blind, with its estimate narrowed by ``F`` in (0, 1]
(``ddrm.pipeline.blind.restore_blind``'s ``narrow``), in the offered-model and motion rows; ``--draws N``: the
kernel estimated under N draws of the solver's noise, one kept (``restore_blind``'s ``draws``), in every blind row;
without it one draw (the task's default is two since the tables were made: each file records its command).

The other sets with two kernel draws (the task's default), beside their one-draw files::

    python benchmarks/blind_real.py --large --draws 2 --out benchmarks/results/blind_draws2_large.json
    python benchmarks/blind_real.py --motion --draws 2 --out benchmarks/results/blind_draws2_motion.json
    python benchmarks/blind_real.py --offered-only --draws 2 --heldout data/photos/train \
        --out benchmarks/results/blind_draws2_train.json

and the training photos' one-draw run again on the machine that made their two-draw file (``blind_real_train.json``
came from a CPU whose rounding differs: its true-kernel figures agree to 1e-5 dB, its blind ones differ by more than
1 dB on 40 of the 120 rows, as the kernel estimation amplifies rounding as it does a draw of noise)::

    python benchmarks/blind_real.py --offered-only --heldout data/photos/train \
        --out benchmarks/results/blind_draws1_train.json

``--samples N``: the offered model's one sample against the mean of N samples with the same kernel estimate
(``ddrm.restore``'s ``samples`` for ``deblur_blind``: the kernel estimated once, the second run drawing N samples), and
the true kernel's one sample against its mean of N, on the held-out photos at sigma_y 0.01 with the default two
draws::

    python benchmarks/blind_real.py --samples 4 --draws 2 --levels 0.01 --out benchmarks/results/blind_samples4.json

The true kernel's restoration of camera shake at DiffPIR's recommended 100 steps (the motion files above make it at
``--steps``, the blind rows' 20), without the blind rows, for the distance the blind model leaves::

    python benchmarks/blind_real.py --motion --true-only --true-steps 100 \
        --out benchmarks/results/blind_motion_true100.json

The true kernel's mean of 4 samples beside its one sample at the blind rows' 20 steps (the held estimate's default is
the mean of 4: the like-for-like distance; ``--samples N`` with ``--true-only``)::

    python benchmarks/blind_real.py --motion --true-only --samples 4 \
        --out benchmarks/results/blind_motion_true_samples4.json

``--full-kernel``: the camera-shake rows with a full kernel and a valid boundary, the model that can represent
shake, its estimate refined by the chain (DiffPIR at ``--steps``; made when the tasks offered the full model with a
circular boundary only: the task now holds the classical estimate instead, ``--shake``), started coarse to fine and
started at the true kernel::

    python benchmarks/blind_real.py --full-kernel --draws 2 --levels 0.01 --out benchmarks/results/blind_motion_full.json

``--sizes N[,N...]``: the offered model given other kernel sizes than the blur's (a user does not know it; the
task's default is 21) beside the true size and the true kernel, on the separable 9-25 px kernels, one sample each
with ``--draws`` draws::

    python benchmarks/blind_real.py --sizes 21,31 --draws 2 --levels 0.01  # writes benchmarks/results/blind_sizes.json

``--shake``: camera shake with the full model as ``deblur_blind`` offers it for a photo (``model="full"``, valid
boundary: the classical estimate held, its error taken as noise, DiffPIR), on the held-out photos; the table joins
the offered separable model and the true kernel from ``blind_draws2_motion.json`` and ``blind_motion_true100.json``::

    python benchmarks/blind_real.py --shake  # writes benchmarks/results/blind_shake.json
    python benchmarks/blind_real.py --shake --steps 100 --out benchmarks/results/blind_shake_steps100.json
    python benchmarks/blind_real.py --shake --heldout data/photos/train --out benchmarks/results/blind_shake_train.json

The image is one sample (``samples=1``), as the task's default was when these files were made; its default now is the
mean of ``HELD_SAMPLES`` (4), which ``--shake --samples 4`` measures.

``--shake --samples N``: the same, the image one sample against the mean of N with the same held estimate (as
``--samples N`` gives it; the first sample is the one-sample image, the mean of 4 the task's default)::

    python benchmarks/blind_real.py --shake --samples 4  # writes benchmarks/results/blind_shake_samples4.json

``--shake --samples N --shake-sizes N[,N...]``: the same on camera shakes of other sizes (``motion_kernel(n, 0.5)``
seeded by ``n``; #27 asks for 9-31 px, the tables above stop at 21), with the true kernel's one sample and mean of N
made beside them (no other file holds these shakes)::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 31  # writes blind_shake_samples4_31px.json

and the same shake on 256 px frames (the scene resized to twice the pixels), one noise level (about 14 min a row on 2
threads)::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 31 --size 256 --levels 0.01 \
        --out benchmarks/results/blind_shake_samples4_31px_256.json

The 21 and 31 px shakes again with the ridge at the coarser scales of the classical full guess (``L0_COARSE_RIDGE``,
the default for shakes of 21 px and up since commit bdff18d; the 9-21 px and 31 px files above were made without it)::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 21,31 \
        --out benchmarks/results/blind_ridge_shake_samples4.json

The 9-31 px shakes with each classical full fit cleaned as Pan et al. clean theirs (``clean_kernel``, the default
since commit d65d4b9; the files above were made without it), their true kernel left to those files::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --no-true-kernel \
        --out benchmarks/results/blind_cleanup_shake_samples4.json

``--shake --samples N --shake-sizes N[,N...] --true-held``: the true shake through the route itself (held, the
allowance, no refits), one sample and the mean of N, no blind run: the like-for-like reference of the route's
estimate, beside the non-blind true kernel of the files above (table ``blind_true_held``)::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.01 --true-held

``--shake --samples N --sizes S[,S...]``: the route given kernel sizes other than the shake's (a user who does not
know it: ``--kernel-size`` is 21 unless told), one sample and the mean of N, against the route at the shake's own size
and the true kernel from the files above (``blind_shake_given_samples4.json``, table ``blind_shake_given``)::

    python benchmarks/blind_real.py --shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01

and again with the kernel's refits (``HELD_REFITS``, the default since commit 6f18e49; table ``blind_refits_given``,
against the route with them at the shake's own size)::

    python benchmarks/blind_real.py --shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01 \
        --out benchmarks/results/blind_refits_shake_given_samples4.json

The 9-31 px shakes with the classical estimate made from the photo's contrast stretched (the held route's default at
commit a181013, reverted at fba5a8f: not kept; table ``blind_stretch``), run at that commit::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.01 --no-true-kernel \
        --out benchmarks/results/blind_stretch_shake_samples4.json

``--kernel-fit``: what limits a full kernel's estimate on camera shake, the data or the image it is fitted to: the
estimator's fit to the true scene (no smoothing, and its own) against the classical guess from the photo alone (full
and separable), each kernel's error, and the photo restored with the scene's fit and with the full guess held fixed
(``deblur_motion``, DiffPIR at ``--steps``, as the true kernel's column of ``blind_draws2_motion.json``)::

    python benchmarks/blind_real.py --kernel-fit --levels 0.01 --out benchmarks/results/blind_motion_fit.json

The held-out sets again with each factor of the estimate held to one peak (``restore_blind``'s ``unimodal``), made at
commit 6774dc8, where it was the default (it is not since: ``docs/benchmarks.md``, "Factors held to one peak")::

    python benchmarks/blind_real.py --offered-only --draws 2 --seed N --out benchmarks/results/blind_unimodal_seedN.json
    python benchmarks/blind_real.py --large --draws 2 --out benchmarks/results/blind_unimodal_large.json

The sets with two draws again with the classical first guess (``restore_blind``'s ``pyramid="l0"``: the default for
a photo's separable blur since commit a86d0d0; the files above were made with the diffusion pyramid)::

    python benchmarks/blind_real.py --offered-only --draws 2 --seed N --out benchmarks/results/blind_l0_seedN.json
    python benchmarks/blind_real.py --large --draws 2 --out benchmarks/results/blind_l0_large.json
    python benchmarks/blind_real.py --motion --draws 2 --out benchmarks/results/blind_l0_motion.json
    python benchmarks/blind_real.py --offered-only --draws 2 --heldout data/photos/train \
        --out benchmarks/results/blind_l0_train.json

The same with the classical guess's factors held to one peak (``L0_UNIMODAL``, the default since commit 0865557),
``--out benchmarks/results/blind_l0u_*.json`` (``train``, ``large``, ``seedN``).

``--motion``: camera-shake kernels (``motion_kernel(size, 0.5)``, 9-21 px), which the offered blind model (separable)
cannot represent: what a user with a shaken photo gets from ``deblur_blind`` against the blurry photo and against
``deblur_motion`` with the true kernel (DiffPIR, valid boundary: the default for an own image).

``--extent W``: whether the classical estimate at a window of W px (``l0_kernel``, full model: the route's kernel
when no size is given, W = 21) tells a shake's extent, so that the size could be guessed rather than asked for: the
side of the smallest centred window holding each estimate's support (and the mass in its outer two rings) under the
shakes of ``--shake-sizes`` (9-31 px unless told) against the true kernel's; no restoration, no prior::

    python benchmarks/blind_real.py --extent 21 --out benchmarks/results/blind_shake_extent21.json

``--exposure E``: the scenes times E before their blur (an under-exposed shot, the noise unchanged). The held route on
the held-out photos at 0.3 of their exposure, before the contrast floor (``L0_CONTRAST``, commit be009e5, the true
kernel made beside it) and with it::

    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 9,15,21 --levels 0.01 --exposure 0.3 \
        --out benchmarks/results/blind_dark_shake_samples4.json
    python benchmarks/blind_real.py --shake --samples 4 --shake-sizes 9,15,21 --levels 0.01 --exposure 0.3 \
        --no-true-kernel --out benchmarks/results/blind_dark_raised_shake_samples4.json

The true kernel on the same dim photos at DiffPIR's own 100 steps (the files above make it at the route's 20)::

    python benchmarks/blind_real.py --motion --true-only --true-steps 100 --levels 0.01 --exposure 0.3 \
        --out benchmarks/results/blind_dark_true100.json

``--contrast E,..``: each photo's measured contrast (``ddrm.pipeline.blind.contrast``) under every shake of
``--shake-sizes`` (9-31 px unless told) and level at each exposure E, and whether the held route raises it to
``L0_CONTRAST``; no restoration, no prior::

    python benchmarks/blind_real.py --contrast 1,0.3 --shake-sizes 9,15,21,31 \
        --out benchmarks/results/blind_shake_contrast.json

``--fixed-point``: where the classical estimate's error comes from, on the shakes of ``--shake-sizes`` (9-31 px
unless told): the kernel error of the estimate as the held route makes it (``l0_kernel``, full, the contrast floor),
of the same from the photo blurred without noise (still rounded to 8 bits), and of ``l0_kernel``'s alternation at the
full scale started at the true kernel itself (``start``): one alternation at each weight of ``FIXED_POINT_WEIGHTS``,
and the full scale's own schedule (``L0_WEIGHT`` decaying over ``L0_ITERATIONS``); no restoration, no prior::

    python benchmarks/blind_real.py --fixed-point --levels 0.01 --out benchmarks/results/blind_shake_fixed_point.json

``--estimators W``: the two classical estimates of a photo's shake, without restoration: ``l0_kernel`` (full, the
contrast floor: the held route's before ``TV_FROM``) and ``tv_kernel`` (Perrone & Favaro 2014, from the photo with the
same floor), at the window W (``own``: each shake's own size), their kernel errors and seconds, on the shakes of
``--shake-sizes`` (9-31 px unless told); no prior::

    python benchmarks/blind_real.py --estimators own --levels 0.01 --heldout data/photos/train \
        --out benchmarks/results/blind_shake_estimators_train.json

``--tv-fixed-point``: whether the TV energy keeps the true shake: ``tv_kernel``'s finest scale started at the true
kernel itself (``start``: its steps on the image under it, then as many alternating ones), its kernel error and
seconds, on the shakes of ``--shake-sizes`` (9-31 px unless told), from the photo with the route's contrast floor;
the estimate from the pyramid is ``--estimators own``'s file, joined by the summary; no prior::

    python benchmarks/blind_real.py --tv-fixed-point --levels 0.01 --heldout data/photos/train \
        --out benchmarks/results/blind_tv_fixed_point_train.json

PSNR in the measurement's frame; kernel error: relative L2 distance to the true kernel, both centred.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from grey_photos import grey_of, tensor  # benchmarks/grey_photos.py, beside this script
from heldout import photo_arguments, photo_files  # benchmarks/heldout.py, beside this script
from provenance import command_line, show, write_result  # benchmarks/provenance.py, beside this script
from real_boundaries import blur_valid  # the same camera-like blur
from summaries import (
    blind_motion_fit_table,
    blind_motion_full_table,
    blind_motion_steps_table,
    blind_motion_true_table,
    blind_offered_table,
    blind_real_motion_table,
    blind_real_table,
    blind_samples_table,
    blind_shake_contrast_table,
    blind_shake_estimators_table,
    blind_shake_extent_table,
    blind_shake_fixed_point_table,
    blind_shake_given_table,
    blind_shake_photos_table,
    blind_shake_samples_photos_table,
    blind_shake_samples_table,
    blind_shake_sizes_table,
    blind_shake_table,
    blind_sizes_table,
    blind_true_held_table,
    blind_tv_fixed_point_table,
)

import ddrm
from ddrm.bench.data import prepare
from ddrm.checkpoints import load_prior
from ddrm.io import read_image
from ddrm.metrics import psnr
from ddrm.operators import gaussian_kernel_1d, motion_kernel, on_grey, separable_blur, uniform_kernel_1d
from ddrm.pipeline import image_generator
from ddrm.pipeline.batch import sample_generators
from ddrm.pipeline.blind import (
    L0_CONTRAST,
    SMOOTH_GRADIENT,
    clean_kernel,
    contrast,
    estimate_full,
    kernel_error,
    l0_kernel,
    raise_contrast,
    recentre,
    restore_blind,
)
from ddrm.pipeline.tv_kernel import tv_kernel
from ddrm.samplers import SAMPLERS

ROOT = Path(__file__).resolve().parent.parent
SHAKE_SIZES = (9, 15, 21)  # the camera shakes of every motion table unless --shake-sizes names others
EXTENT_SHAKES = (9, 15, 21, 31)  # --extent's shakes unless --shake-sizes names others


def kernels() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """family -> the separable kernel's row and column factors."""
    return {
        "Gaussian 13 px, std 2": (gaussian_kernel_1d(2.0, 6), gaussian_kernel_1d(2.0, 6)),
        "anisotropic Gaussian 15 px, std 1 / 3": (gaussian_kernel_1d(1.0, 7), gaussian_kernel_1d(3.0, 7)),
        "box 9 px": (uniform_kernel_1d(9), uniform_kernel_1d(9)),
        "Gaussian 25 px, std 4": (gaussian_kernel_1d(4.0, 12), gaussian_kernel_1d(4.0, 12)),
        "box 15 px": (uniform_kernel_1d(15), uniform_kernel_1d(15)),
    }


def large_kernels() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """family -> the row and column factors of a separable kernel of 21-31 px (``--large``)."""
    return {
        "Gaussian 31 px, std 5": (gaussian_kernel_1d(5.0, 15), gaussian_kernel_1d(5.0, 15)),
        "anisotropic Gaussian 31 px, std 2 / 6": (gaussian_kernel_1d(2.0, 15), gaussian_kernel_1d(6.0, 15)),
        "box 21 px": (uniform_kernel_1d(21), uniform_kernel_1d(21)),
        "box 31 px": (uniform_kernel_1d(31), uniform_kernel_1d(31)),
    }


def motion_kernels(sizes: tuple[int, ...] = SHAKE_SIZES) -> dict[str, torch.Tensor]:
    """family -> a camera-shake kernel of each size (seeded by its size: the same kernel on every photo)."""
    return {f"motion {n} px": motion_kernel(n, 0.5, torch.Generator().manual_seed(n)) for n in sizes}


def scene_of(args, photo: Path, n: int) -> torch.Tensor:  # noqa: ANN001
    """The scene a valid blur of ``n`` taps sees for ``photo``: the photo cropped larger than the frame by ``n - 1``."""
    return prepare(read_image(photo), args.size + n - 1, "center-crop")


def blurred(args, files, family: str, k: torch.Tensor, grey: bool = False):  # noqa: ANN001, ANN201
    """Each level and photo under kernel ``k``: ``(seed, y, truth, row)`` with the row's identity and the blurry
    photo's PSNR filled in (the scene cropped larger by the kernel, its valid blur, the frame it saw); ``grey``: the
    scene turned grey first, by Pillow's luma (``grey_photos.grey_of``), one channel; ``--exposure E``: the scene
    times E before its blur (an under-exposed shot; the noise stays sigma_y), the frame scored against it."""
    n = k.shape[0]
    c = (n - 1) // 2
    exposure = getattr(args, "exposure", 1.0)  # kernel_width.py, grey_blind.py have no --exposure
    for level in (float(v) for v in args.levels.split(",")):
        for i, f in enumerate(files):
            seed = args.seed + i
            scene = tensor(grey_of(scene_of(args, f, n))) if grey else scene_of(args, f, n)
            scene = scene * exposure if exposure != 1 else scene
            y = blur_valid(scene, k, level, seed)
            truth = scene[:, c : c + args.size, c : c + args.size]
            yield seed, y, truth, {"kernel": family, "sigma_y": level, "image": f.stem, "blurry": psnr(y, truth)}


def shake_cases(args, files, sizes: tuple[int, ...], part: tuple[int, int] = (0, 1)):  # noqa: ANN001, ANN201
    """:func:`blurred`'s cases under each camera shake of ``sizes`` (:func:`motion_kernels`) in turn, those whose
    index is ``part[0]`` modulo ``part[1]`` (``--part i/n``): ``(k, seed, y, truth, row)``."""
    index = -1
    for family, k in motion_kernels(sizes).items():
        for seed, y, truth, row in blurred(args, files, family, k):
            index += 1
            if index % part[1] == part[0]:
                yield k, seed, y, truth, row


def true_kernel_into(row: dict, y, truth, a: torch.Tensor, b: torch.Tensor, prior, args, seed: int,  # noqa: ANN001
                     key: str = "true kernel") -> None:  # fmt: skip
    """``row[key]``: non-blind DDRM with the separable kernel ``a b^T`` (the true one; valid boundary), cropped to
    the frame; with ``--samples N`` > 1 also ``row[key + ", mean of N"]``, the mean of N samples (the first is the
    one-sample image). A one-channel ``y`` (a grey photo): the blur of the image's grey (``on_grey``), scored on the
    result's grey."""
    n, samples = a.numel(), getattr(args, "samples", 1)  # kernel_width.py, grey_blind.py have no --samples
    c = (n - 1) // 2
    op = separable_blur((y.shape[0], y.shape[1] + n - 1, y.shape[2] + n - 1), a, b, boundary="valid")
    op = on_grey(op) if y.shape[0] == 1 else op
    gens = sample_generators([image_generator(seed, row["image"])], samples)
    with torch.no_grad():
        x = SAMPLERS["ddrm"].run(prior, op, op.to_model_range(y[None]).repeat(samples, 1, 1, 1), 2 * row["sigma_y"],
                                 steps=args.steps, task="deblur_gauss", generator=gens)  # fmt: skip
    x = ((x + 1) / 2).clamp(0, 1)[:, :, c : c + args.size, c : c + args.size]
    x = x.mean(1, keepdim=True) if y.shape[0] == 1 else x
    row[key] = psnr(x[0], truth)
    if samples > 1:
        row[f"{key}, mean of {samples}"] = psnr(x.mean(0), truth)


def blind_into(row: dict, key: str, y, truth, k: torch.Tensor, prior, args, seed: int, **task_params) -> None:  # noqa: ANN001
    """``ddrm.restore(y, "deblur_blind", samples=1)`` with ``task_params``: its PSNR into ``row[key]``, its kernel's
    error against ``k`` into ``row[key + " kernel error"]``. One sample, as every file made with it measured (the
    held estimate's default is the mean of several now: ``--shake --samples N`` measures it)."""
    out, info = ddrm.restore(y, "deblur_blind", sigma_y=row["sigma_y"], steps=args.steps, prior=prior, seed=seed,
                             task_params=task_params, samples=1, details=True)  # fmt: skip
    row[key] = psnr(out, truth)
    row[f"{key} kernel error"] = kernel_error(info.kernels[0], k)


def samples_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """The offered blind model's one sample against the mean of ``--samples`` N with the same estimate, and the
    true kernel's likewise: ``restore_blind`` as ``ddrm.restore(y, "deblur_blind", samples=N)`` runs it, all N samples
    kept (the first is ``ddrm.restore``'s one-sample image: checked on the first row)."""
    rows, n = [], args.samples
    for family, (a, b) in kernels().items():
        k = torch.outer(a, b)
        for seed, y, truth, row in blurred(args, files, family, k):
            x, est = restore_blind(prior, SAMPLERS["ddrm"], y[None], row["sigma_y"], a.numel(), boundary="valid",
                                   narrow=1.0, draws=args.draws, samples=n, solver_args={"steps": args.steps},
                                   generator=[image_generator(seed, "image 0")])  # fmt: skip
            c = (a.numel() - 1) // 2
            x = x[:, :, c : c + args.size, c : c + args.size]
            if not rows:  # the first sample is the library's one-sample result
                one = ddrm.restore(y, "deblur_blind", sigma_y=row["sigma_y"], steps=args.steps, prior=prior, seed=seed,
                                   task_params={"size": a.numel(), "draws": args.draws})  # fmt: skip
                assert torch.equal(one, x[0]), "restore_blind's first sample is not ddrm.restore's image"
            row["blind, valid"], row[f"blind, valid, mean of {n}"] = psnr(x[0], truth), psnr(x.mean(0), truth)
            row["blind, valid kernel error"] = kernel_error(est, k)
            true_kernel_into(row, y, truth, a, b, prior, args, seed)
            rows.append(row)
            show(row)
    return rows


def motion_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """The offered blind model (separable, valid) on camera shake, against the true kernel's restoration
    (``deblur_motion``, ``--true-steps`` steps); with ``--true-only`` the true kernel's alone, and with ``--samples
    N`` its mean of N samples beside its one sample (``ddrm.restore(samples=N)``: the held estimate's default is a
    mean of 4, this is the true kernel's like for like)."""
    rows = []
    for family, k in motion_kernels().items():
        for seed, y, truth, row in blurred(args, files, family, k):
            if not args.true_only:
                blind_into(row, "blind, separable", y, truth, k, prior, args, seed, size=k.shape[0],
                           narrow=args.narrow, draws=args.draws)  # fmt: skip
            true_motion_into(row, y, truth, k, prior, args, seed)
            rows.append(row)
            show(row)
    return rows


def true_motion_into(row: dict, y, truth, k: torch.Tensor, prior, args, seed: int) -> None:  # noqa: ANN001
    """``row["true kernel"]``: ``deblur_motion`` with the true shake ``k`` (DiffPIR, valid boundary, ``--true-steps``),
    one sample; with ``--samples N`` > 1 also ``row["true kernel, mean of N"]``, ``ddrm.restore(samples=N)``."""
    for m in (1, args.samples) if args.samples > 1 else (1,):
        out = ddrm.restore(y, "deblur_motion", kernel=k.float(), sigma_y=row["sigma_y"], samples=m,
                           steps=args.true_steps or args.steps, prior=prior, seed=seed)  # fmt: skip
        row["true kernel" if m == 1 else f"true kernel, mean of {m}"] = psnr(out, truth)


def full_kernel_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """Camera shake with the model that can represent it: a full kernel with a valid boundary refined by the chain
    (``restore_blind(refine=True)`` directly, DiffPIR at ``--steps``, ``--draws`` draws, the second run; the task
    holds the classical estimate instead, ``--shake``), started coarse to fine and started at the true kernel (one
    draw): whether the estimation keeps a kernel that is already right."""
    rows = []
    for family, k in motion_kernels().items():
        n, c = k.shape[0], (k.shape[0] - 1) // 2
        for seed, y, truth, row in blurred(args, files, family, k):
            for key, start, draws in (
                ("blind, full", {}, args.draws),
                ("full, from the true kernel", {"start_kernel": k}, 1),
            ):
                x, est = restore_blind(prior, SAMPLERS["diffpir"], y[None], row["sigma_y"], n, "full", boundary="valid",
                                       narrow=1.0, draws=draws, refine=True, solver_args={"steps": args.steps},
                                       generator=[image_generator(seed, "image 0")], **start)  # fmt: skip
                row[key] = psnr(x[0, :, c : c + args.size, c : c + args.size], truth)
                row[f"{key} kernel error"] = kernel_error(est, k)
            rows.append(row)
            show(row)
    return rows


def kernel_fit_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """Camera shake: what limits a full kernel's estimate, the data or the image it is fitted to. The fit the
    estimator makes (``estimate_full``, valid, on gradients) to the true scene itself, without smoothing and with the
    estimator's (``SMOOTH_GRADIENT``), against the classical guess from the measurement alone (``l0_kernel``, full and
    separable: the L0 latent image); and ``deblur_motion`` (DiffPIR, ``--steps``, the true kernel's command) with the
    scene's fit and with the full guess held fixed."""
    rows, photos = [], {f.stem: f for f in files}
    for family, k in motion_kernels().items():
        n = k.shape[0]
        for seed, y, truth, row in blurred(args, files, family, k):
            scene = scene_of(args, photos[row["image"]], n)
            fits = {
                "scene fit": recentre(estimate_full(scene, y, n, smooth=0.0, boundary="valid")),
                "scene fit, smoothed": recentre(estimate_full(scene, y, n, smooth=SMOOTH_GRADIENT, boundary="valid")),
                "classical guess": l0_kernel(y[None], n, "full", boundary="valid"),
                "classical guess, separable": torch.outer(*l0_kernel(y[None], n, "separable", boundary="valid")),
            }
            for key, est in fits.items():
                row[f"{key} kernel error"] = kernel_error(est, k)
            for key in ("scene fit", "classical guess"):
                out = ddrm.restore(y, "deblur_motion", kernel=fits[key].float(), sigma_y=row["sigma_y"],
                                   steps=args.steps, prior=prior, seed=seed)  # fmt: skip
                row[key] = psnr(out, truth)
            rows.append(row)
            show(row)
    return rows


def shake_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """Camera shake with the full model as ``deblur_blind`` offers it for a photo (``model="full"``, valid boundary:
    the classical estimate held, its error taken as noise, DiffPIR at ``--steps``): PSNR and kernel error; the
    blurry photo's PSNR to join the other shake files by. With ``--shake-sizes`` the shakes of those sizes, and the
    true kernel's one sample and mean of N made in the same row (not with ``--no-true-kernel``)."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or SHAKE_SIZES).items():
        for seed, y, truth, row in blurred(args, files, family, k):
            if args.samples == 1:
                blind_into(row, "blind, full", y, truth, k, prior, args, seed, size=k.shape[0], model="full")
            else:
                shake_samples_into(row, y, truth, k, prior, args, seed, check=not rows)
            if args.shake_sizes and not args.no_true_kernel:  # no other file holds these shakes' true kernel
                true_motion_into(row, y, truth, k, prior, args, seed)
            rows.append(row)
            show(row)
    return rows


def shake_samples_into(row: dict, y, truth, k: torch.Tensor, prior, args, seed: int, check: bool,  # noqa: ANN001
                       size: int | None = None) -> None:  # fmt: skip
    """``--shake --samples N``: the held estimate's image as ``ddrm.restore(y, "deblur_blind", samples=N)`` draws it
    (``restore_blind(samples=N)``, all N kept): the first sample and the mean of N (``ddrm.restore``'s result to
    float32 rounding: checked when ``check``). Files made before the kernel's refits (``HELD_REFITS``) checked the
    first sample against ``ddrm.restore``'s one-sample image instead, which it then was; with refits the kernel is
    fitted to the samples drawn, so one sample's run has its own. ``size``: the kernel size the route is given instead
    of the shake's own (columns ``blind, full, size S...``). ``--allowance``: the image runs at that allowance
    instead of the route's (:func:`~ddrm.pipeline.blind.held_allowance`; no check: the library takes no other)."""
    n, m = size or k.shape[0], args.samples
    c, name = (n - 1) // 2, "blind, full" if size is None else f"blind, full, size {size}"
    x, est = restore_blind(prior, SAMPLERS["diffpir"], y[None], row["sigma_y"], n, "full", boundary="valid",
                           narrow=1.0, samples=m, solver_args={"steps": args.steps}, kernel_noise=args.allowance,
                           generator=[image_generator(seed, "image 0")])  # fmt: skip
    x = x[:, :, c : c + args.size, c : c + args.size]
    if check and args.allowance is None:  # the mean is the library's result (which takes no other allowance)
        mean = ddrm.restore(y, "deblur_blind", sigma_y=row["sigma_y"], steps=args.steps, prior=prior, seed=seed,
                            task_params={"size": n, "model": "full"}, samples=m)  # fmt: skip
        # to float32 rounding: the network's batched convolutions round as a single image's do not (6e-7 in one
        # denoiser call here), which DiffPIR's steps carry on
        assert float((mean - x.mean(0)).abs().max()) < 1e-3, "restore_blind's mean is not ddrm.restore's image"
    row[name], row[f"{name}, mean of {m}"] = psnr(x[0], truth), psnr(x.mean(0), truth)
    row[f"{name} kernel error"] = kernel_error(est, k)


def true_held_rows(args, files, prior) -> list[dict]:  # noqa: ANN001
    """``--shake --samples N --true-held``: the true shake through the route itself (``restore_blind`` with the true
    kernel as ``start_kernel``, no refits: the route's allowance, :func:`~ddrm.pipeline.blind.held_allowance`
    (:data:`~ddrm.pipeline.blind.KERNEL_NOISE` before it), or ``--allowance``; DiffPIR at ``--steps``, N samples
    under the route's noise draws), its one sample and mean of N: the like-for-like reference of the route's estimate,
    beside the non-blind true kernel (``deblur_motion`` at the photo's noise, the other files' "true kernel"). No
    blind run."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or SHAKE_SIZES).items():
        n, m = k.shape[0], args.samples
        c = (n - 1) // 2
        for seed, y, truth, row in blurred(args, files, family, k):
            x, est = restore_blind(prior, SAMPLERS["diffpir"], y[None], row["sigma_y"], n, "full", boundary="valid",
                                   narrow=1.0, samples=m, refits=0, start_kernel=k.double(),
                                   solver_args={"steps": args.steps}, kernel_noise=args.allowance,
                                   generator=[image_generator(seed, "image 0")])  # fmt: skip
            assert torch.equal(est, k.double()), "the held kernel is not the true one"
            x = x[:, :, c : c + args.size, c : c + args.size]
            row["true kernel, held"], row[f"true kernel, held, mean of {m}"] = psnr(x[0], truth), psnr(x.mean(0), truth)
            rows.append(row)
            show(row)
    return rows


def shake_given_rows(args, files, prior, sizes: tuple[int, ...]) -> list[dict]:  # noqa: ANN001
    """``--shake --samples N --sizes S,..``: the camera-shake route given the kernel sizes ``sizes`` instead of the
    shake's own (a user who does not know it: ``--kernel-size``, 21 px unless told), one sample and the mean of N,
    and the kernel error; no true kernel nor own size made (the files that hold these shakes have them)."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or SHAKE_SIZES).items():
        for seed, y, truth, row in blurred(args, files, family, k):
            for n in sizes:
                shake_samples_into(row, y, truth, k, prior, args, seed, check=not rows, size=n)
            rows.append(row)
            show(row)
    return rows


def offered_rows(args, files, prior, families: dict) -> list[dict]:  # noqa: ANN001
    """The offered blind model (separable, valid) on the separable kernels ``families`` (name -> factors), against
    the blurry photo and the true kernel."""
    rows = []
    for family, (a, b) in families.items():
        k = torch.outer(a, b)
        for seed, y, truth, row in blurred(args, files, family, k):
            blind_into(row, "blind, valid", y, truth, k, prior, args, seed, size=a.numel(), narrow=args.narrow,
                       draws=args.draws)  # fmt: skip
            true_kernel_into(row, y, truth, a, b, prior, args, seed)
            rows.append(row)
            show(row)
    return rows


def sizes_rows(args, files, prior, sizes: tuple[int, ...]) -> list[dict]:  # noqa: ANN001
    """The offered blind model (separable, valid) at the blur's own size (``blind, valid``) and given each kernel size
    of ``sizes`` instead (``blind, size N``), on the separable 9-25 px kernels, against the blurry photo and the
    true kernel: PSNR and kernel error."""
    rows = []
    for family, (a, b) in kernels().items():
        k = torch.outer(a, b)
        for seed, y, truth, row in blurred(args, files, family, k):
            for key, n in (("blind, valid", a.numel()), *((f"blind, size {n}", n) for n in sizes)):
                blind_into(row, key, y, truth, k, prior, args, seed, size=n, draws=args.draws)
            true_kernel_into(row, y, truth, a, b, prior, args, seed)
            rows.append(row)
            show(row)
    return rows


def odd_sizes(ap, flag: str, text: str) -> tuple[int, ...]:  # noqa: ANN001
    """``text`` read as comma-separated odd kernel sizes of 3 or more, else ``ap.error`` naming ``flag`` (exit 2)."""
    sizes = tuple(int(v) for v in text.split(",") if v.strip().isdigit())
    if len(sizes) != len(text.split(",")) or any(n < 3 or n % 2 == 0 for n in sizes):
        ap.error(f"{flag}: odd kernel sizes of 3 or more, comma-separated, got {text!r}")
    return sizes


def extent_of(k: torch.Tensor) -> int:
    """The side of the smallest window about ``k``'s middle tap (odd sides) that holds every nonzero entry."""
    taps = (k > 0).nonzero() - torch.tensor([k.shape[0] // 2, k.shape[1] // 2])
    return 2 * int(taps.abs().max()) + 1


def outer_mass(k: torch.Tensor, rings: int = 2) -> float:
    """The mass of ``k`` (odd sides) in its outer ``rings`` rings of taps (Chebyshev distance from the middle tap)."""
    h, w = k.shape
    rows, cols = torch.arange(h) - h // 2, torch.arange(w) - w // 2
    ring = torch.maximum(rows[:, None].abs(), cols[None, :].abs())
    return float(k[ring > min(h, w) // 2 - rings].sum())


def extent_rows(args, files, window: int) -> list[dict]:  # noqa: ANN001
    """Each shake, level and photo: the classical full estimate at ``window`` px from the photo alone (no prior),
    its extent, whether it fills the window, its outer two rings' mass and its error, beside the true kernel's
    extent."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or EXTENT_SHAKES).items():
        for _, y, _, row in blurred(args, files, family, k):
            est = l0_kernel(y[None], window, "full", boundary="valid")
            row.update({"window": window, "true extent": extent_of(k), "extent": extent_of(est),
                        "outer mass": outer_mass(est), "kernel error": kernel_error(est, k)})  # fmt: skip
            rows.append(row)
            show(row)
    return rows


def estimators_rows(args, files, window: int | None) -> list[dict]:  # noqa: ANN001
    """Each shake, level and photo: the L0 and the TV estimate of its full kernel at ``window`` px (``None``: the
    shake's own size) from the photo alone, both from the photo with the held route's contrast floor; their kernel
    errors, extents (the TV estimate's cleaned first) and outer two rings' mass (as ``--extent`` reads them), the
    seconds each took, and the true kernel's extent."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or EXTENT_SHAKES).items():
        n = window or k.shape[0]
        for _, y, _, row in blurred(args, files, family, k):
            row.update({"window": n, "true extent": extent_of(k)})
            t0 = time.perf_counter()
            est = l0_kernel(y[None], n, "full", boundary="valid", min_contrast=L0_CONTRAST)
            t1 = time.perf_counter()
            row["l0"], row["l0 seconds"] = kernel_error(est, k), t1 - t0
            row["l0 extent"], row["l0 outer mass"] = extent_of(est), outer_mass(est)
            est = recentre(tv_kernel(raise_contrast(y[None], L0_CONTRAST), n))
            row["tv"], row["tv seconds"] = kernel_error(est, k), time.perf_counter() - t1
            # the extent read after Pan's cleanup (the L0 estimate is cleaned already): the raw TV estimate keeps
            # faint taps over the whole window
            row["tv extent"], row["tv outer mass"] = extent_of(clean_kernel(est)), outer_mass(est)
            rows.append(row)
            show(row)
    return rows


def tv_fixed_point_rows(args, files) -> list[dict]:  # noqa: ANN001
    """Each shake, level and photo: the kernel error of ``tv_kernel``'s finest scale started at the true kernel (from
    the photo with the route's contrast floor, as the route's TV estimate is made) and the seconds it took."""
    rows = []
    for family, k in motion_kernels(args.shake_sizes or EXTENT_SHAKES).items():
        n = k.shape[0]
        for _, y, _, row in blurred(args, files, family, k):
            t0 = time.perf_counter()
            est = recentre(tv_kernel(raise_contrast(y[None], L0_CONTRAST), n, start=k.double()))
            row.update({"window": n, "tv from the true kernel": kernel_error(est, k)})
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            show(row)
    return rows


# ``--fixed-point``: the L0 weights of the one alternation from the true kernel (the full scale's own schedule starts
# at ``L0_WEIGHT``, 1e-2, and ends at 6.8e-3; ``L0_WEIGHT_MIN`` is 1e-4)
FIXED_POINT_WEIGHTS = (1e-2, 1e-3, 1e-4)


def fixed_point_rows(args, files) -> list[dict]:  # noqa: ANN001
    """Each shake, level and photo: the kernel error of the classical estimate as the held route makes it, of the
    same from the noise-free blur, and of ``l0_kernel``'s full-scale alternation from the true kernel (one alternation
    per weight of :data:`FIXED_POINT_WEIGHTS`, and the full scale's schedule)."""
    rows, photos = [], {f.stem: f for f in files}
    for family, k in motion_kernels(args.shake_sizes or EXTENT_SHAKES).items():
        n, truth = k.shape[0], k.double()
        for seed, y, _, row in blurred(args, files, family, k):
            clean = blur_valid(scene_of(args, photos[row["image"]], n) * args.exposure, k, 0.0, seed)  # as blurred's
            route = {"boundary": "valid", "min_contrast": L0_CONTRAST}
            row["estimate"] = kernel_error(l0_kernel(y[None], n, "full", **route), k)
            row["estimate, no noise"] = kernel_error(l0_kernel(clean[None], n, "full", **route), k)
            for w in FIXED_POINT_WEIGHTS:
                est = l0_kernel(y[None], n, "full", **route, start=truth, weight=w, iterations=1)
                row[f"from the true kernel, weight {w:g}"] = kernel_error(est, k)
            est = l0_kernel(y[None], n, "full", **route, start=truth)
            row["from the true kernel, the full scale's schedule"] = kernel_error(est, k)
            rows.append(row)
            show(row)
    return rows


def contrast_rows(args, files, exposures: list[float]) -> list[dict]:  # noqa: ANN001
    """Each exposure, shake, level and photo: the measurement's contrast and whether the held route raises it to
    :data:`~ddrm.pipeline.blind.L0_CONTRAST` before its classical estimate."""
    rows = []
    for exposure in exposures:
        args.exposure = exposure
        for family, k in motion_kernels(args.shake_sizes or EXTENT_SHAKES).items():
            for _, y, _, row in blurred(args, files, family, k):
                c = contrast(y)
                row.update({"exposure": exposure, "contrast": c, "raised": c < L0_CONTRAST})
                rows.append(row)
                show(row)
    return rows


def main() -> None:
    ap = photo_arguments(__doc__, size=128, steps=20)
    ap.add_argument("--levels", default="0.01,0.02")
    ap.add_argument("--motion", action="store_true", help="camera-shake kernels (blind_real_motion.json)")
    ap.add_argument("--offered-only", action="store_true", help="the offered model, the blurry photo, the true kernel")
    ap.add_argument(
        "--large", action="store_true", help="--offered-only on kernels of 21-31 px (blind_real_large.json)"
    )
    ap.add_argument(
        "--narrow", type=float, default=None, help="deblur_blind's narrow (a second run with the estimate narrowed)"
    )
    ap.add_argument(
        "--draws", type=int, default=1, help="deblur_blind's draws (the kernel estimated that many times, one kept)"
    )
    ap.add_argument(
        "--samples", type=int, default=1, help="one sample against the mean of N, the same estimate (blind_samples)"
    )
    ap.add_argument(
        "--true-steps", type=int, default=None, help="--motion: the true kernel's steps (DiffPIR; default --steps)"
    )
    ap.add_argument("--true-only", action="store_true", help="--motion: the blurry photo and the true kernel alone")
    ap.add_argument("--full-kernel", action="store_true", help="camera shake, full-kernel valid model (DiffPIR)")
    ap.add_argument("--kernel-fit", action="store_true", help="camera shake: the full fit to the scene and the guess")
    ap.add_argument("--shake", action="store_true", help="camera shake, the full model as deblur_blind offers it")
    ap.add_argument("--sizes", default=None, help="the offered model given these kernel sizes (blind_sizes.json)")
    ap.add_argument("--shake-sizes", default=None, help="--shake --samples N: camera shakes of these sizes instead")
    ap.add_argument(
        "--no-true-kernel", action="store_true", help="--shake-sizes: no true kernel made (another file holds it)"
    )
    ap.add_argument(
        "--true-held", action="store_true", help="--shake-sizes: the true shake through the route itself, no blind run"
    )
    ap.add_argument(
        "--extent", type=int, default=None, help="camera shake: the classical estimate's extent at this window (px)"
    )
    ap.add_argument("--exposure", type=float, default=1.0, help="the scenes times this before the blur (under 1: dim)")
    ap.add_argument(
        "--contrast", default=None, help="exposures: each photo's contrast under each shake, no restoration"
    )
    ap.add_argument(
        "--fixed-point", action="store_true", help="camera shake: the classical estimate's error and its sources"
    )
    ap.add_argument(
        "--estimators", default=None, help="camera shake: the L0 and TV estimates at this window (own: the shake's)"
    )
    ap.add_argument(
        "--tv-fixed-point", action="store_true", help="camera shake: the TV estimate started at the true kernel"
    )
    ap.add_argument(
        "--allowance", type=float, default=None,
        help="--shake --samples N: the kernel's noise allowance instead of the route's (held_allowance)",
    )  # fmt: skip
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if (args.true_only or args.true_steps is not None) and not args.motion:
        ap.error("--true-only and --true-steps go with --motion")
    if args.full_kernel and args.narrow is not None:
        ap.error("--full-kernel restores with the estimate itself (narrow 1)")
    if args.shake and (args.narrow is not None or args.draws != 1):
        ap.error("--shake runs deblur_blind's full model as offered: --narrow and --draws do not apply")
    if args.motion and args.samples > 1 and not args.true_only:
        ap.error("--motion --samples N goes with --true-only (the true kernel's mean of N)")
    if args.kernel_fit and (args.narrow is not None or args.draws != 1 or args.samples != 1):
        ap.error("--kernel-fit makes no blind run: --narrow, --draws and --samples do not apply")
    if args.sizes is not None:
        sizes = odd_sizes(ap, "--sizes", args.sizes)
        if args.shake and args.samples == 1:
            ap.error("--shake --sizes goes with --samples N (the route's default, the mean of N)")
        if args.narrow is not None or (args.samples != 1 and not args.shake):
            ap.error("--sizes runs the offered model's one sample with the estimate itself: --narrow and --samples do "
                     "not apply")  # fmt: skip
    if args.extent is not None:
        odd_sizes(ap, "--extent", str(args.extent))
        if args.shake or args.motion or args.sizes or args.samples != 1 or args.narrow is not None or args.draws != 1:
            ap.error("--extent makes no restoration: it goes with --shake-sizes, --levels and the photo options alone")
    if args.fixed_point and (args.shake or args.motion or args.sizes or args.samples != 1 or args.narrow is not None
                             or args.draws != 1 or args.extent is not None or args.contrast is not None):  # fmt: skip
        ap.error("--fixed-point makes no restoration: it goes with --shake-sizes, --levels and the photo options alone")
    if args.estimators is not None:
        if args.estimators != "own":
            odd_sizes(ap, "--estimators", args.estimators)
        if args.shake or args.motion or args.sizes or args.samples != 1 or args.narrow is not None or args.draws != 1:
            ap.error("--estimators makes no restoration: it goes with --shake-sizes, --levels and the photo options")
    if args.tv_fixed_point and (args.shake or args.motion or args.sizes or args.samples != 1 or args.narrow is not None
                                or args.draws != 1 or args.extent is not None or args.contrast is not None
                                or args.fixed_point or args.estimators is not None):  # fmt: skip
        ap.error(
            "--tv-fixed-point makes no restoration: it goes with --shake-sizes, --levels and the photo options alone"
        )
    if args.shake_sizes is not None:
        analyses = (args.extent is not None or args.contrast is not None or args.fixed_point or args.estimators
                    or args.tv_fixed_point)  # no run  # fmt: skip
        if not (args.shake and args.samples > 1) and not analyses:
            ap.error("--shake-sizes goes with --shake --samples N (the route's default, the mean of N), --extent, "
                     "--contrast, --fixed-point, --tv-fixed-point or --estimators")  # fmt: skip
        args.shake_sizes = odd_sizes(ap, "--shake-sizes", args.shake_sizes)
    if args.true_held and (args.shake_sizes is None or args.no_true_kernel or args.sizes is not None):
        ap.error("--true-held goes with --shake --samples N --shake-sizes (and no --sizes, --no-true-kernel)")
    if args.allowance is not None and not (args.shake and args.samples > 1):
        ap.error("--allowance goes with --shake --samples N (the route's image runs)")
    if args.allowance is not None and not args.allowance >= 0:
        ap.error(f"--allowance must be >= 0, got {args.allowance}")
    if args.no_true_kernel and args.shake_sizes is None:
        ap.error("--no-true-kernel goes with --shake-sizes (the other shake runs make no true kernel)")
    exposures = [args.exposure] if args.contrast is None else [float(v) for v in args.contrast.split(",")]
    if not all(0 < e <= 1 for e in exposures):
        ap.error("--exposure and --contrast are in (0, 1]: the share of the scene's light the shot holds")
    files = photo_files(args)
    if args.contrast is not None:
        out = args.out or "benchmarks/results/blind_shake_contrast.json"
        rows = contrast_rows(args, files, exposures)
        out = write_result(out, command_line(), rows, size=args.size, photos=args.heldout,
                           restores="no: the measurement's contrast alone, the prior unused")  # fmt: skip
        print(blind_shake_contrast_table(out))
        return
    if args.estimators is not None:
        window = None if args.estimators == "own" else int(args.estimators)
        out = args.out or f"benchmarks/results/blind_shake_estimators_{args.estimators}.json"
        rows = estimators_rows(args, files, window)
        out = write_result(out, command_line(), rows, size=args.size, photos=args.heldout,
                           restores="no: the classical estimates alone, the prior unused")  # fmt: skip
        print(blind_shake_estimators_table(out))
        return
    if args.tv_fixed_point:
        out = args.out or "benchmarks/results/blind_tv_fixed_point.json"
        rows = tv_fixed_point_rows(args, files)
        out = write_result(out, command_line(), rows, size=args.size, photos=args.heldout,
                           restores="no: the TV estimate from the true kernel alone, the prior unused")  # fmt: skip
        print(blind_tv_fixed_point_table(out))
        return
    if args.fixed_point:
        out = args.out or "benchmarks/results/blind_shake_fixed_point.json"
        rows = fixed_point_rows(args, files)
        out = write_result(out, command_line(), rows, size=args.size, photos=args.heldout,
                           restores="no: the classical estimate alone, the prior unused")  # fmt: skip
        print(blind_shake_fixed_point_table(out))
        return
    if args.extent is not None:
        out = args.out or f"benchmarks/results/blind_shake_extent{args.extent}.json"
        rows = extent_rows(args, files, args.extent)
        out = write_result(out, command_line(), rows, size=args.size, photos=args.heldout,
                           restores="no: the classical estimate alone, the prior unused")  # fmt: skip
        print(blind_shake_extent_table(out))
        return
    if args.true_held:
        out = args.out or f"benchmarks/results/blind_shake_true_held_samples{args.samples}.json"
        rows = true_held_rows(args, files, load_prior(args.prior, args.checkpoint))
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout)
        print(blind_true_held_table(out))
        return
    if args.sizes is not None and args.shake:
        out = args.out or f"benchmarks/results/blind_shake_given_samples{args.samples}.json"
        rows = shake_given_rows(args, files, load_prior(args.prior, args.checkpoint), sizes)
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout)
        print(blind_shake_given_table(out))
        return
    if args.sizes is not None:
        out = args.out or "benchmarks/results/blind_sizes.json"
        rows = sizes_rows(args, files, load_prior(args.prior, args.checkpoint), sizes)
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout)
        print(blind_sizes_table(out))
        return
    if args.samples > 1 and not (args.shake or args.true_only):
        out = args.out or f"benchmarks/results/blind_samples{args.samples}.json"
        rows = samples_rows(args, files, load_prior(args.prior, args.checkpoint))
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout)
        print(blind_samples_table(out))
        return
    if args.offered_only or args.large:
        families = large_kernels() if args.large else kernels()
        out = args.out or f"benchmarks/results/blind_real_{'large' if args.large else 'train'}.json"
        rows = offered_rows(args, files, load_prior(args.prior, args.checkpoint), families)
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps, photos=args.heldout)
        print(blind_offered_table(out))
        return
    shake = {  # the camera-shake sets beside the offered model: flag -> chosen, rows, default file, table
        "--kernel-fit": (args.kernel_fit, kernel_fit_rows, "blind_motion_fit", blind_motion_fit_table),
        "--full-kernel": (args.full_kernel, full_kernel_rows, "blind_motion_full", blind_motion_full_table),
        "--shake": (args.shake, shake_rows, "blind_shake", blind_shake_table),
    }
    if args.shake and args.samples > 1:  # one sample against the mean of N, the same held estimate
        shake["--shake"] = (True, shake_rows, f"blind_shake_samples{args.samples}", blind_shake_samples_table)
    if args.shake_sizes:  # other shakes, their true kernel made beside them
        name = f"blind_shake_samples{args.samples}_{'_'.join(map(str, args.shake_sizes))}px"
        shake["--shake"] = (True, shake_rows, name, lambda path: blind_shake_sizes_table((path,)))
    for chosen, make_rows, name, table in shake.values():
        if chosen:
            out = args.out or f"benchmarks/results/{name}.json"
            rows = make_rows(args, files, load_prior(args.prior, args.checkpoint))
            out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps,
                               photos=args.heldout)  # fmt: skip
            other_photos = args.heldout != ap.get_default("heldout")
            if other_photos and name.startswith("blind_shake") and not args.shake_sizes:  # no true kernel to join
                table = blind_shake_samples_photos_table if args.samples > 1 else blind_shake_photos_table
            if args.no_true_kernel:  # no true kernel beside the shakes
                table = blind_shake_samples_photos_table
            print(table(out))
            return
    if args.motion:
        out = args.out or str(ROOT / "benchmarks" / "results" / "blind_real_motion.json")
        rows = motion_rows(args, files, load_prior(args.prior, args.checkpoint))
        out = write_result(out, command_line(), rows, args.prior, size=args.size, steps=args.steps,
                           true_steps=args.true_steps or args.steps, photos=args.heldout)  # fmt: skip
        joins = (args.heldout, args.size, args.exposure) == (ap.get_default("heldout"), ap.get_default("size"), 1.0)
        if args.true_only and args.samples > 1 and joins:  # joined to the held-out shake files: the same photos, size
            print(blind_shake_samples_table(true_samples=out))
        elif args.true_only and joins and (out.parent / "blind_draws2_motion.json").exists():
            print(blind_motion_steps_table(out))  # beside the offered model's two draws, the same cases
        else:
            print(blind_motion_true_table(out) if args.true_only else blind_real_motion_table(out))
        return
    args.out = args.out or str(ROOT / "benchmarks" / "results" / "blind_real.json")
    prior, rows = load_prior(args.prior, args.checkpoint), []
    for family, (a, b) in kernels().items():
        k, n = torch.outer(a, b), a.numel()
        for seed, y, truth, row in blurred(args, files, family, k):
            for boundary in ("valid", "circular"):
                blind_into(row, f"blind, {boundary}", y, truth, k, prior, args, seed, size=n, boundary=boundary,
                           draws=args.draws)  # fmt: skip
            true_kernel_into(row, y, truth, a, b, prior, args, seed)
            rows.append(row)
            show(row)
    out = write_result(
        args.out,
        command_line(),
        rows,
        args.prior,
        size=args.size,
        steps=args.steps,
        photos=args.heldout,
    )
    print(blind_real_table(out))


if __name__ == "__main__":
    main()
