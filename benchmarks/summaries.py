"""The tables docs/benchmarks.md quotes, rendered from the committed result files (``tests/test_docs.py`` checks the
page against them, so a table and its file never disagree).

    python benchmarks/summaries.py                # prints every table
    python benchmarks/summaries.py --write        # renders them into the pages, after <!-- table: NAME -->
    ddrm bench noise_sweep -o runs/noise_sweep && cp runs/noise_sweep/rows.jsonl benchmarks/results/noise_sweep.jsonl
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def record_of(path: Path) -> dict[str, Any]:
    """A result file's record: its rows and what made them (command, prior, commit, torch, device, options)."""
    return json.loads(path.read_text())


def rows_of(path: Path) -> list[dict]:
    """The rows of a result file."""
    return record_of(path)["rows"]


SIGMAS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
TASKS = {"denoise": "denoising", "sr_bicubic4": "SR x4 (bicubic)", "deblur_gauss": "Gaussian deblurring",
         "inpaint": "inpainting 50 %"}  # fmt: skip
AUTO, UNIFORM, MEAN = "ddrm (noise-aware grid)", "ddrm (uniform grid)", "ddrm mean of 4"


def _groups(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    """The rows grouped by the values of ``keys``, in the order they first appear."""
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        out[tuple(r.get(k) for k in keys)].append(r)
    return out


def _cells(path: Path) -> dict[tuple, dict[str, dict]]:
    cells: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        cells[(r["task"], r["sigma_y"], r["method"])][r["image"]] = r
    return cells


def noise_sweep_table(path: Path = RESULTS / "noise_sweep.jsonl") -> str:
    """Per task and sigma_y: the input, the one-call MMSE (denoising), DDRM on the paper's grid and on the
    noise-aware one, the mean of 4 samples; mean PSNR over the photos, and the worst photo of the noise-aware grid
    against the input and against the paper's grid."""
    cells = _cells(path)
    out = ["| task | sigma_y | input | MMSE (1 call) | DDRM, paper grid | DDRM, noise-aware grid | mean of 4 | "
           "worst photo vs input | worst photo vs paper grid |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for task, label in TASKS.items():
        for s in SIGMAS:
            inp = cells.get((task, s, "bicubic" if task == "sr_bicubic4" else "measurement"), {})
            auto, uni = cells[(task, s, AUTO)], cells[(task, s, UNIFORM)]
            mean = lambda c: f"{np.mean([r['psnr'] for r in c.values()]):.2f}" if c else "-"  # noqa: E731
            worst_in = min(auto[i]["psnr"] - inp[i]["psnr"] for i in auto)
            worst_uni = min(auto[i]["psnr"] - uni[i]["psnr"] for i in auto)
            out.append(f"| {label} | {s:g} | {mean(inp)} | {mean(cells.get((task, s, 'mmse'), {}))} | {mean(uni)} | "
                       f"{mean(auto)} | {mean(cells.get((task, s, MEAN), {}))} | {worst_in:+.2f} | {worst_uni:+.2f} |")  # fmt: skip
    return "\n".join(out)


def sample_vs_mean_table(path: Path = RESULTS / "noise_sweep.jsonl") -> str:
    """SR x4 (bicubic): one sample against the mean of 4 and bicubic upsampling, with the network calls and seconds
    per image (2-core CPU, 128 px)."""
    cells = _cells(path)
    out = ["| sigma_y | bicubic | one sample | mean of 4 | mean of 4 - bicubic (worst photo) | NFE (one / mean) | "
           "s per image (one / mean) |", "|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for s in SIGMAS:
        b, one, m4 = (cells[("sr_bicubic4", s, k)] for k in ("bicubic", AUTO, MEAN))
        avg = lambda c, k="psnr": np.mean([r[k] for r in c.values()])  # noqa: E731
        gain = [m4[i]["psnr"] - b[i]["psnr"] for i in m4]
        nfe = f"{next(iter(one.values()))['nfe']} / {next(iter(m4.values()))['nfe']}"
        out.append(f"| {s:g} | {avg(b):.2f} | {avg(one):.2f} | {avg(m4):.2f} | {np.mean(gain):+.2f} ({min(gain):+.2f}) "
                   f"| {nfe} | {avg(one, 'seconds'):.1f} / {avg(m4, 'seconds'):.1f} |")  # fmt: skip
    return "\n".join(out)


def real_degradations_table(path: Path = RESULTS / "real_degradations.json") -> str:
    """Photos degraded as users' are: noise in an 8-bit file, Pillow's bicubic 4x reduction."""
    rows = rows_of(path)
    out = ["| degradation | sigma_y | input | DDRM (one sample) | MMSE (1 call) | mean of 4 | DDRM - input, worst photo | "
           "mean of 4 - input, worst photo |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (task, s), rs in _groups(rows, "task", "sigma_y").items():
        avg = lambda k: f"{np.mean([r[k] for r in rs]):.2f}" if k in rs[0] else "-"  # noqa: E731
        what = "noise, 8-bit PNG" if task == "denoise" else "Pillow bicubic 4x (SR x4)"
        level = f"{s:g}" if s is not None else f"estimated ({np.mean([r['sigma_y estimated'] for r in rs]):.4f})"
        worst = min(r["ddrm"] - r["input"] for r in rs)
        mean4 = f"{min(r['ddrm mean of 4'] - r['input'] for r in rs):+.2f}" if "ddrm mean of 4" in rs[0] else "-"
        out.append(f"| {what} | {level} | {avg('input')} | {avg('ddrm')} | {avg('mmse')} | {avg('ddrm mean of 4')} | "
                   f"{worst:+.2f} | {mean4} |")  # fmt: skip
    return "\n".join(out)


def noise_estimation_table(path: Path = RESULTS / "noise_estimation.json") -> str:
    """The estimate's bias and rms error (PCA and MAD) per task and level, and DDRM with the estimate against DDRM
    with the true level."""
    rows = rows_of(path)
    out = ["| task | true sigma_y | PCA: bias / rms | MAD: bias / rms | DDRM, true | DDRM, estimated | worst photo |",
           "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (task, s), rs in _groups(rows, "task", "sigma_y").items():
        cells = []
        for m in ("pca", "mad"):
            err = np.array([r[m] - s for r in rs])
            cells.append(f"{err.mean():+.4f} / {np.sqrt((err**2).mean()):.4f}")
        true, est = np.mean([r["psnr true"] for r in rs]), np.mean([r["psnr estimated"] for r in rs])
        worst = min(r["psnr estimated"] - r["psnr true"] for r in rs)
        out.append(
            f"| {TASKS.get(task, task)} | {s:g} | {cells[0]} | {cells[1]} | {true:.2f} | {est:.2f} | {worst:+.2f} |"
        )
    return "\n".join(out)


def grey_photos_table(path: Path = RESULTS / "grey_photos.json") -> str:
    """Greyscale photos: the input, the grey measurement (noise estimated, and true), three equal channels (a grey
    photo saved as RGB, as ``ddrm.restore`` reads it) and the same channels with the colour model (its reading before),
    mean PSNR of the result's grey; the worst photo against the input; and the noise estimates' bias and rms error
    (weak-texture patches, the default; all patches; three equal channels)."""
    rows = rows_of(path)
    out = ["| task | sigma_y | input | grey (default) | grey, true sigma_y | three equal channels | as colour "
           "(before) | grey - input: worst photo | noise estimate, bias / rms: weak-texture / all patches / three "
           "channels |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (task, s), rs in _groups(rows, "task", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        worst = min(r["grey"] - r["input"] for r in rs)
        errs = []
        for k in ("sigma_y estimated", "sigma_y all patches", "sigma_y three channels"):
            e = np.array([r[k] - s for r in rs])
            errs.append(f"{e.mean():+.4f} / {np.sqrt((e**2).mean()):.4f}")
        label = "SR x4 (Pillow bicubic)" if task == "sr_bicubic4" else "denoising"
        out.append(f"| {label} | {s:g} | {avg('input'):.2f} | {avg('grey'):.2f} | {avg('grey, true sigma_y'):.2f} | "
                   f"{avg('three equal channels'):.2f} | {avg('as colour'):.2f} | {worst:+.2f} | "
                   f"{' / '.join(errs)} |")  # fmt: skip
    return "\n".join(out)


def grey_figures(path: Path = RESULTS / "grey_photos.json") -> dict[str, Any]:
    """The figures docs/benchmarks.md quotes for greyscale photos: per denoising level the grey default's gain over the
    input and over the colour model on three equal channels; the largest difference between three equal channels and
    the grey file; its rows below the input (photo, level, loss, and the loss with the true level); for SR its gain
    over bicubic, rows below it and worst, and what the true level adds."""
    rows = rows_of(path)
    den = [r for r in rows if r["task"] == "denoise"]
    sr = [r for r in rows if r["task"] == "sr_bicubic4"]
    mean = lambda rs, a, b: float(np.mean([r[a] - r[b] for r in rs]))  # noqa: E731
    levels = _groups(den, "sigma_y").items()
    return {
        "gain": {s: mean(rs, "grey", "input") for (s,), rs in levels},
        "over colour": {s: mean(rs, "grey", "as colour") for (s,), rs in levels},
        "colour above": sum(r["as colour"] > r["grey"] for r in den),
        "three vs grey": max(abs(r["three equal channels"] - r["grey"]) for r in rows),
        "denoise rows": len(den),
        "below": [
            (r["image"], r["sigma_y"], r["grey"] - r["input"], r["grey, true sigma_y"] - r["input"])
            for r in den
            if r["grey"] < r["input"]
        ],
        "true gap": mean(den, "grey, true sigma_y", "grey"),
        "sr gain": mean(sr, "grey", "input"),
        "sr over colour": mean(sr, "grey", "as colour"),
        "sr below": sum(r["grey"] < r["input"] for r in sr),
        "sr rows": len(sr),
        "sr worst": min(r["grey"] - r["input"] for r in sr),
        "sr true gap": mean(sr, "grey, true sigma_y", "grey"),
        "sr bias": float(np.mean([r["sigma_y estimated"] for r in sr])),
        "sr bias all": float(np.mean([r["sigma_y all patches"] for r in sr])),
    }


def grey_blind_table(path: Path = RESULTS / "grey_blind.json") -> str:
    """Blind deblurring of greyscale photos, per kernel and sigma_y: the blurry photo, the blind model and the true
    kernel (mean PSNR), the kernel's error, the blind model against the blurry photo (mean, worst) and the rows below
    it; a last row over all."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | photos | blurry | deblur_blind | true kernel | kernel error | blind - blurry: mean / "
           "worst | below blurry |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    groups = [*_groups(rows, "kernel", "sigma_y").items(), (("all", None), rows)]
    for (family, s), rs in groups:
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        gain = [r["blind"] - r["blurry"] for r in rs]
        below = sum(g < 0 for g in gain)
        level = "" if s is None else f"{s:g}"
        out.append(f"| {family} | {level} | {len(rs)} | {avg('blurry'):.2f} | {avg('blind'):.2f} | "
                   f"{avg('true kernel'):.2f} | {avg('blind kernel error'):.2f} | {np.mean(gain):+.2f} / "
                   f"{min(gain):+.2f} | {below} |")  # fmt: skip
    return "\n".join(out)


def grey_blind_figures(path: Path = RESULTS / "grey_blind.json") -> dict[str, Any]:
    """The figures docs/benchmarks.md quotes for blind deblurring of greyscale photos: the rows, the blind model's
    mean gain over the blurry photo, the rows below it and the worst (gain, photo, kernel, sigma_y), and its mean
    distance below the true kernel."""
    rows = rows_of(path)
    worst = min(rows, key=lambda r: r["blind"] - r["blurry"])
    return {
        "rows": len(rows),
        "gain": float(np.mean([r["blind"] - r["blurry"] for r in rows])),
        "below": sum(r["blind"] < r["blurry"] for r in rows),
        "worst": (worst["blind"] - worst["blurry"], worst["image"], worst["kernel"], worst["sigma_y"]),
        "true gap": float(np.mean([r["true kernel"] - r["blind"] for r in rows])),
    }


def real_boundaries_table(path: Path = RESULTS / "real_boundaries.json") -> str:
    """Per kernel family and sigma_y: the blurry photo, the synthetic boundary models and the valid one (mean PSNR in
    the measurement's frame), and the valid model's worst photo against the blurry input and the synthetic model."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | photos | blurry | synthetic boundary (DDRM) | valid boundary (default) | "
           "valid - blurry, worst photo | valid - synthetic, worst photo |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        synth = next(k for k in rs[0] if k.startswith("ddrm, ") and not k.endswith("residual"))
        valid = "valid boundary (default)"
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        worst_in = min(r[valid] - r["blurry"] for r in rs)
        worst_syn = min(r[valid] - r[synth] for r in rs)
        out.append(f"| {family} | {s:g} | {len(rs)} | {avg('blurry'):.2f} | {avg(synth):.2f} ({synth.split(', ')[1]}) | "
                   f"{avg(valid):.2f} | {worst_in:+.2f} | {worst_syn:+.2f} |")  # fmt: skip
    return "\n".join(out)


def consistency_table(path: Path = RESULTS / "noise_sweep.jsonl") -> str:
    """The consistency residual ``||y - H x|| / sqrt(m)`` of DDRM's default results over the ratio to sigma_y, per task:
    the range the warnings' bounds are set from (``ddrm.pipeline.batch``: 0.5x - 1/255 and 2x + 2/255)."""
    cells = _cells(path)
    out = ["| task | residual / sigma_y: min | median | max | at sigma_y (min / max) |", "|---|---:|---:|---:|---|"]
    for task, label in TASKS.items():
        pairs = [(r["consistency"] / s, s) for s in SIGMAS for r in cells[(task, s, AUTO)].values()]
        ratios = np.array([p[0] for p in pairs])
        lo, hi = pairs[int(ratios.argmin())][1], pairs[int(ratios.argmax())][1]
        out.append(f"| {label} | {ratios.min():.2f} | {np.median(ratios):.2f} | {ratios.max():.2f} | {lo:g} / {hi:g} |")
    return "\n".join(out)


def blind_real_table(path: Path = RESULTS / "blind_real.json") -> str:
    """Per kernel and sigma_y: the blurry photo, blind DDRM with the circular and the valid model, DDRM with the true
    kernel (mean PSNR), the kernel errors, and the valid model's worst photo against the blurry input."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | blurry | blind, circular | blind, valid (default) | true kernel | kernel error "
           "(circular / valid) | valid - blurry, worst photo |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        worst = min(r["blind, valid"] - r["blurry"] for r in rs)
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, circular'):.2f} | "
                   f"{avg('blind, valid'):.2f} | {avg('true kernel'):.2f} | "
                   f"{avg('blind, circular kernel error'):.2f} / {avg('blind, valid kernel error'):.2f} | "
                   f"{worst:+.2f} |")  # fmt: skip
    return "\n".join(out)


def blind_real_motion_table(path: Path = RESULTS / "blind_real_motion.json") -> str:
    """Per motion kernel and sigma_y: the blurry photo, the offered blind model (separable, valid), ``deblur_motion``
    with the true kernel (mean PSNR), the kernel error, the worst photo and the count below the blurry photo."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | blurry | blind, separable (offered) | true kernel | kernel error | blind - blurry, "
           "worst photo | photos below blurry |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        gains = [r["blind, separable"] - r["blurry"] for r in rs]
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, separable'):.2f} | "
                   f"{avg('true kernel'):.2f} | {avg('blind, separable kernel error'):.2f} | {min(gains):+.2f} | "
                   f"{sum(g < 0 for g in gains)} of {len(gains)} |")  # fmt: skip
    return "\n".join(out)


def motion_steps_rows(path: Path = RESULTS / "blind_motion_true100.json") -> tuple[list[dict], str]:
    """The camera-shake rows of ``blind_draws2_motion.json`` (the offered model, two draws; the true kernel at the
    blind rows' 20 steps) with the true kernel at the steps of ``path`` (``--motion --true-only --true-steps N``,
    the same cases, the same blurry photos) beside it, and that column's key, ``"true kernel, N steps"``."""
    record = record_of(path)
    blind, true = rows_of(path.parent / "blind_draws2_motion.json"), record["rows"]
    same_cases(blind, true)
    assert max(abs(a["blurry"] - b["blurry"]) for a, b in zip(blind, true)) < 1e-9, "other blurry photos"
    key = f"true kernel, {record['true_steps']} steps"
    return [{**a, key: b["true kernel"]} for a, b in zip(blind, true)], key


def motion_steps_figures(path: Path = RESULTS / "blind_motion_true100.json") -> dict[str, Any]:
    """The camera-shake figures the prose quotes: the true kernel's at each step count (:func:`_row_figures`'s keys,
    ``"blind, separable"`` as the blind model) and the true kernel's mean gain from the extra steps."""
    rows, key = motion_steps_rows(path)
    at_more = [{**r, "true kernel": r[key]} for r in rows]
    return {"steps": int(key.split()[2]), "at 20": _row_figures(rows, "blind, separable"),
            "at more": _row_figures(at_more, "blind, separable"),
            "more steps gain": float(np.mean([r[key] - r["true kernel"] for r in rows])),
            "more steps least": min(r[key] - r["true kernel"] for r in rows)}  # fmt: skip


def blind_motion_steps_table(path: Path = RESULTS / "blind_motion_true100.json") -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the offered blind model (two draws) and the true kernel
    at 20 steps and at DiffPIR's recommended count (mean PSNR), and the photos below the blurry one for each."""
    rows, more = motion_steps_rows(path)
    out = [f"| kernel | sigma_y | blurry | blind, separable (offered) | true kernel, 20 steps | {more} | below blurry: "
           f"blind / true kernel at 20 / at {more.split()[2]} |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        below = [sum(r[k] < r["blurry"] for r in rs) for k in ("blind, separable", "true kernel", more)]
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, separable'):.2f} | "
                   f"{avg('true kernel'):.2f} | {avg(more):.2f} | {' / '.join(map(str, below))} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def blind_motion_true_table(path: Path) -> str:
    """The true kernel alone on camera shake (``--motion --true-only``) where there is no blind file to join (other
    photos, another size, or a file written elsewhere): per kernel and sigma_y the blurry photo and the true kernel's
    restorations (mean PSNR: its one sample, and its mean of N where run) and the photos below the blurry one."""
    rows = rows_of(path)
    keys = [k for k in rows[0] if k.startswith("true kernel")]
    out = [f"| kernel | sigma_y | blurry | {' | '.join(keys)} | below blurry: {' / '.join(keys)} |",
           "|---|---:|---:|" + "---:|" * (len(keys) + 1)]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        means = " | ".join(f"{np.mean([r[k] for r in rs]):.2f}" for k in keys)
        below = " / ".join(str(sum(r[k] < r["blurry"] for r in rs)) for k in keys)
        out.append(f"| {family} | {s:g} | {np.mean([r['blurry'] for r in rs]):.2f} | {means} | {below} of {len(rs)} |")
    return "\n".join(out)


def _matched(rows: list[dict], others: list[dict]) -> list[dict]:
    """For each of ``rows``, the row of ``others`` of the same case (kernel, sigma_y, photo), checked to be of the
    same blurry photo (its PSNR to 1e-9): how result files made by different commands are put side by side."""
    by_case = {(r["kernel"], r["sigma_y"], r["image"]): r for r in others}
    out = []
    for r in rows:
        other = by_case[(r["kernel"], r["sigma_y"], r["image"])]
        assert abs(other["blurry"] - r["blurry"]) < 1e-9, "other blurry photos"
        out.append(other)
    return out


def motion_full_rows(path: Path = RESULTS / "blind_motion_full.json") -> list[dict]:
    """The full-kernel rows of ``path`` (``--full-kernel``) with, for the same cases, the offered model (two draws)
    and the true kernel at 20 steps from ``blind_draws2_motion.json`` and at 100 from ``blind_motion_true100.json``."""
    full = rows_of(path)
    steps = motion_steps_rows(path.parent / "blind_motion_true100.json")[0]
    return [{**other, **r} for r, other in zip(full, _matched(full, steps))]


def motion_full_figures(path: Path = RESULTS / "blind_motion_full.json") -> dict[str, Any]:
    """The figures the full-kernel prose quotes: per model (the offered separable one, the full one, the full one
    started at the true kernel) the rows below the blurry photo, the mean and worst change against it and the mean
    distance below the true kernel held fixed; the full models' mean kernel errors; the fixed true kernel's mean gain."""
    rows = motion_full_rows(path)
    out: dict[str, Any] = {
        "rows": len(rows),
        "true mean": float(np.mean([r["true kernel"] - r["blurry"] for r in rows])),
    }
    for key in ("blind, separable", "blind, full", "full, from the true kernel"):
        f = _row_figures(rows, key)
        out[key] = {k: f[k] for k in ("below", "mean", "worst", "gap")}
    for key in ("blind, full", "full, from the true kernel"):
        out[key]["kernel error"] = float(np.mean([r[f"{key} kernel error"] for r in rows]))
    return out


def blind_motion_full_table(path: Path = RESULTS / "blind_motion_full.json") -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the offered (separable) and the full-kernel blind
    models, the full one started at the true kernel, and the true kernel held fixed at 20 steps (mean PSNR), the full
    models' kernel errors and the photos below the blurry one."""
    rows = motion_full_rows(path)
    out = ["| kernel | sigma_y | blurry | blind, separable (offered) | blind, full | full, from the true kernel | "
           "true kernel, fixed | kernel error: full / from the true kernel | below blurry: separable / full / from "
           "the true kernel |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        keys = ("blind, separable", "blind, full", "full, from the true kernel")
        below = [sum(r[k] < r["blurry"] for r in rs) for k in keys]
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {' | '.join(f'{avg(k):.2f}' for k in keys)} | "
                   f"{avg('true kernel'):.2f} | {avg('blind, full kernel error'):.2f} / "
                   f"{avg('full, from the true kernel kernel error'):.2f} | {' / '.join(map(str, below))} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def shake_rows(path: Path = RESULTS / "blind_shake.json") -> list[dict]:
    """The rows of ``path`` (``--shake``: the full model as offered) with, for the same cases, the offered separable
    model (two draws) and the true kernel at 20 steps from ``blind_draws2_motion.json`` and at 100 steps
    (``"true kernel, 100 steps"``) from ``blind_motion_true100.json``."""
    rows = rows_of(path)
    two = _matched(rows, rows_of(path.parent / "blind_draws2_motion.json"))
    hundred = _matched(rows, rows_of(path.parent / "blind_motion_true100.json"))
    return [{**t, **r, "true kernel, 100 steps": h["true kernel"]} for r, t, h in zip(rows, two, hundred)]


def shake_figures(path: Path = RESULTS / "blind_shake.json") -> dict[str, Any]:
    """The figures the shake prose quotes: :func:`_row_figures` of the full model and of the separable one (against
    the true kernel at 20 steps), the full model's distance below the true kernel at 100 steps, its kernel error
    (median, least, largest) and the rows where it beats the separable model."""
    rows = shake_rows(path)
    e = [r["blind, full kernel error"] for r in rows]
    return {"full": _row_figures(rows, "blind, full"), "separable": _row_figures(rows, "blind, separable"),
            "gap 100": float(np.mean([r["true kernel, 100 steps"] - r["blind, full"] for r in rows])),
            "error": {"median": float(np.median(e)), "least": min(e), "largest": max(e)},
            "beats separable": sum(r["blind, full"] > r["blind, separable"] for r in rows)}  # fmt: skip


def blind_shake_table(path: Path = RESULTS / "blind_shake.json") -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the offered separable model, the full model as offered
    for a photo, the true kernel at 20 and 100 steps (mean PSNR), the full model's kernel error, its mean change and
    worst photo against the blurry one, and the photos below the blurry one."""
    out = ["| kernel | sigma_y | blurry | blind, separable | blind, full (classical, held) | true kernel, 20 / 100 "
           "steps | kernel error, full | full - blurry: mean / worst | below blurry: separable / full |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(shake_rows(path), "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        gains = [r["blind, full"] - r["blurry"] for r in rs]
        below = [sum(r[k] < r["blurry"] for r in rs) for k in ("blind, separable", "blind, full")]
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, separable'):.2f} | "
                   f"{avg('blind, full'):.2f} | {avg('true kernel'):.2f} / {avg('true kernel, 100 steps'):.2f} | "
                   f"{avg('blind, full kernel error'):.2f} | {np.mean(gains):+.2f} / {min(gains):+.2f} | "
                   f"{below[0]} / {below[1]} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def shake_samples_rows(
    path: Path = RESULTS / "blind_shake_samples4.json", true_samples: Path = RESULTS / "blind_motion_true_samples4.json"
) -> tuple[list[dict], int]:
    """The rows of ``path`` (``--shake --samples N``: one sample and the mean of N with the same held estimate) with
    the true kernel at 20 and 100 steps for the same cases (:func:`shake_rows`'s) and the true kernel's own mean of N
    at 20 steps (``"true kernel, mean"``, from ``true_samples``: ``--motion --true-only --samples N``, whose one sample
    is checked to be :func:`shake_rows`'s to 1e-6 dB), and N."""
    rows = rows_of(path)
    key, n = _samples_key(rows)
    true = _matched(rows, rows_of(true_samples))
    out = []
    for r, t, m in zip(rows, _matched(rows, shake_rows()), true):
        assert abs(m["true kernel"] - t["true kernel"]) < 1e-6, "another true kernel's one sample"
        out.append({**t, **r, "blind, full, mean": r[key], "true kernel, mean": m[f"true kernel, mean of {n}"]})
    return out, n


def _samples_key(rows: list[dict], column: str = "blind, full") -> tuple[str, int]:
    """The mean-of-N column of a ``--shake --samples N`` file's rows (of ``column``), and N."""
    key = next(k for k in rows[0] if k.startswith(f"{column}, mean of "))
    return key, int(key.rsplit(" ", 1)[1])


def _worst_and_below(rs: list[dict], key: str) -> tuple[dict, list[int]]:
    """A shake group's row furthest below the blurry photo in column ``key``, and how many rows lie below the blurry
    photo with one sample and in ``key``."""
    worst = min(rs, key=lambda r: r[key] - r["blurry"])
    return worst, [sum(r[k] < r["blurry"] for r in rs) for k in ("blind, full", key)]


def _samples_cells(rs: list[dict], key: str, photo: bool = False) -> str:
    """A shake group's cells for the mean of samples (column ``key``): its change against one sample (mean / least),
    against the blurry photo (mean / worst, with the worst's photo when ``photo``) and the rows below the blurry
    photo with one sample and with the mean."""
    change = [r[key] - r["blind, full"] for r in rs]
    worst, below = _worst_and_below(rs, key)
    named = f" ({worst['image']})" if photo else ""
    return (f"{np.mean(change):+.2f} / {min(change):+.2f} | {np.mean([r[key] - r['blurry'] for r in rs]):+.2f} / "
            f"{worst[key] - worst['blurry']:+.2f}{named} | {below[0]} / {below[1]} of {len(rs)} |")  # fmt: skip


def shake_samples_figures(path: Path = RESULTS / "blind_shake_samples4.json") -> dict[str, Any]:
    """The figures the prose on the mean of samples quotes: :func:`_row_figures` of one sample and of the mean
    (against the true kernel at 20 steps), the mean's distance below the true kernel at 100 steps, and its change
    from one sample (mean, least, rows better)."""
    rows, n = shake_samples_rows(path)
    change = [r["blind, full, mean"] - r["blind, full"] for r in rows]
    return {"samples": n, "one": _row_figures(rows, "blind, full"), "mean": _row_figures(rows, "blind, full, mean"),
            "gap 100": float(np.mean([r["true kernel, 100 steps"] - r["blind, full, mean"] for r in rows])),
            "change": float(np.mean(change)), "least": min(change), "better": sum(c > 0 for c in change),
            "true gain": [r["true kernel, mean"] - r["true kernel"] for r in rows],
            "gap mean": _row_figures(rows, "blind, full, mean", "true kernel, mean")}  # fmt: skip


def blind_shake_samples_table(
    path: Path = RESULTS / "blind_shake_samples4.json", true_samples: Path = RESULTS / "blind_motion_true_samples4.json"
) -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the full model's one sample and mean of N (the same
    held estimate), the true kernel's one sample and mean of N at 20 steps and its one sample at 100 (mean PSNR), the
    mean's change against one sample and against the blurry photo (mean / worst), and the photos below the blurry
    one."""
    rows, n = shake_samples_rows(path, true_samples)
    out = [f"| kernel | sigma_y | blurry | one sample | mean of {n} | true kernel, 20 steps: one / mean of {n} | true "
           f"kernel, 100 steps | mean - one sample: mean / least | mean of {n} - blurry: mean / worst | below blurry: "
           "one / mean |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, full'):.2f} | "
                   f"{avg('blind, full, mean'):.2f} | {avg('true kernel'):.2f} / {avg('true kernel, mean'):.2f} | "
                   f"{avg('true kernel, 100 steps'):.2f} | {_samples_cells(rs, 'blind, full, mean')}")  # fmt: skip
    return "\n".join(out)


def blind_shake_samples_photos_table(path: Path = RESULTS / "blind_shake_samples4_train.json") -> str:
    """:func:`blind_shake_samples_table` for another photo set (``--shake --samples N --heldout DIR``, no true
    kernel made): per shake and sigma_y the blurry photo, one sample, the mean of N, the mean's change against one
    sample and against the blurry photo (mean / worst, its photo), and the photos below the blurry one."""
    rows = rows_of(path)
    key, _ = _samples_key(rows)
    out = [f"| kernel | sigma_y | blurry | one sample | {key.removeprefix('blind, full, ')} | mean - one sample: "
           "mean / least | mean - blurry: mean / worst (photo) | below blurry: one / mean |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, full'):.2f} | {avg(key):.2f} | "
                   f"{_samples_cells(rs, key, photo=True)}")  # fmt: skip
    return "\n".join(out)


def _shake_size_figures(rows: list[dict], key: str, n: int) -> dict[str, Any]:
    """Of ``--shake --samples N --shake-sizes ...`` rows (``key, n`` their :func:`_samples_key`): :func:`_row_figures`
    of one sample and of the mean of N (against the true kernel's one sample and mean of N), and the kernel errors'
    median and range."""
    e = [r["blind, full kernel error"] for r in rows]
    return {"samples": n, "one": _row_figures(rows, "blind, full"),
            "mean": _row_figures(rows, key, f"true kernel, mean of {n}"),
            "error": {"median": float(np.median(e)), "least": min(e), "largest": max(e)}}  # fmt: skip


def shake_sizes_figures(path: Path = RESULTS / "blind_shake_samples4_31px.json") -> dict[str, Any]:
    """The figures the prose on other shake sizes quotes: :func:`_shake_size_figures` of ``path``, and the mean of N
    against the true kernel's mean of N over these rows and ``blind_shake_samples4.json``'s (9-21 px) together
    (``"all"``)."""
    rows = rows_of(path)
    key, n = _samples_key(rows)
    small, _ = shake_samples_rows()
    both = [{**r, "mean": r[key], "true mean": r[f"true kernel, mean of {n}"]} for r in rows]
    both += [{**r, "mean": r["blind, full, mean"], "true mean": r["true kernel, mean"]} for r in small]
    return {**_shake_size_figures(rows, key, n), "all": _row_figures(both, "mean", "true mean")}


SHAKE_FRAMES = (RESULTS / "blind_shake_samples4_31px.json", RESULTS / "blind_shake_samples4_31px_256.json")


def blind_shake_sizes_table(paths: tuple[Path, ...] = SHAKE_FRAMES) -> str:
    """Per frame size, camera shake and sigma_y of ``--shake --samples N --shake-sizes ...`` files (the true kernel
    made beside it; N the same in all): the blurry photo, the full model's one sample and mean of N, the true kernel's
    one sample and mean of N (mean PSNR), the estimate's kernel error, the mean of N's change against the blurry photo
    (mean / worst, its photo), its distance below the true kernel's mean of N, and the photos below the blurry one."""
    records = [record_of(p) for p in paths]
    key, n = _samples_key(records[0]["rows"])
    out = [f"| frame | kernel | sigma_y | blurry | one sample | mean of {n} | true kernel: one / mean of {n} | kernel "
           f"error | mean of {n} - blurry: mean / worst (photo) | true kernel's mean - mean of {n} | below blurry: one "
           "/ mean |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for record in records:
        assert _samples_key(record["rows"]) == (key, n), "another number of samples"
        for (family, s), rs in _groups(record["rows"], "kernel", "sigma_y").items():
            avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
            worst, below = _worst_and_below(rs, key)
            out.append(f"| {record['size']} px | {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, full'):.2f} | "
                       f"{avg(key):.2f} | {avg('true kernel'):.2f} / {avg(f'true kernel, mean of {n}'):.2f} | "
                       f"{avg('blind, full kernel error'):.2f} | {avg(key) - avg('blurry'):+.2f} / "
                       f"{worst[key] - worst['blurry']:+.2f} ({worst['image']}) | "
                       f"{avg(f'true kernel, mean of {n}') - avg(key):.2f} | {below[0]} / {below[1]} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def shake_frames_figures(paths: tuple[Path, ...] = SHAKE_FRAMES, level: float = 0.01) -> dict[int, dict[str, Any]]:
    """frame size -> :func:`_shake_size_figures` of a file's rows at sigma_y ``level``, with ``"photos"``: photo ->
    (kernel error, the mean of N's change against the blurry photo): the same shake on frames of other sizes."""
    out = {}
    for p in paths:
        record = record_of(p)
        rows = [r for r in record["rows"] if r["sigma_y"] == level]
        key, n = _samples_key(rows)
        photos = {r["image"]: (r["blind, full kernel error"], r[key] - r["blurry"]) for r in rows}
        out[record["size"]] = {**_shake_size_figures(rows, key, n), "photos": photos}
    return out


# the ridge at the coarser scales of a large shake's classical guess (``L0_COARSE_RIDGE``, the default since commit
# bdff18d): ``blind_real.py --shake --samples 4 --shake-sizes 21,31 --out blind_ridge_shake_samples4.json`` against
# the same shakes' rows made before it (the 21 px rows of the 9-21 px file, the 31 px file)
RIDGE_BEFORE = (RESULTS / "blind_shake_samples4.json", RESULTS / "blind_shake_samples4_31px.json")
RIDGE_AFTER = RESULTS / "blind_ridge_shake_samples4.json"


def _by_shake(pair: tuple[list, list]) -> dict[str, tuple[list, list]]:
    """Two lists of the same cases (without and with a change) split by shake, in the order the shakes first
    appear, with ``"all"``: both lists whole."""
    shakes = dict.fromkeys(r["kernel"] for r in pair[1])
    return {**{s: tuple([r for r in rows if r["kernel"] == s] for rows in pair) for s in shakes}, "all": pair}


def ridge_pairs(before: tuple[Path, ...] = RIDGE_BEFORE, after: Path = RIDGE_AFTER) -> dict[str, tuple[list, list]]:
    """shake -> its rows without the coarse ridge and with it (the same cases in the same order, asserted), each
    with the mean of N as ``"mean"`` and the true kernel's mean of N (made beside the second file: the first 9-21 px
    file has none) as ``"true mean"``; ``"all"``: every row."""
    new = rows_of(after)
    key, n = _samples_key(new)
    shakes = {r["kernel"] for r in new}
    old = [r for p in before for r in rows_of(p) if r["kernel"] in shakes]
    old.sort(key=lambda r: int(r["kernel"].split()[1]))  # the shakes in the second file's order (stable)
    same_cases(old, new)
    true = [r[f"true kernel, mean of {n}"] for r in new]
    pair = tuple([{**r, "mean": r[key], "true mean": t} for r, t in zip(rows, true)] for rows in (old, new))
    return _by_shake(pair)


def _pair_figures(pairs: dict[str, tuple[list, list]]) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> ``"without"`` and ``"with"`` (a change to the route): :func:`_row_figures` of the
    mean of N against the true kernel's mean of N, with the kernel errors' median as ``"error"``; and ``"better"``:
    rows the change raises."""
    out = {}
    for label, (old, new) in pairs.items():
        out[label] = {name: {**_row_figures(rows, "mean", "true mean"),
                             "error": float(np.median([r["blind, full kernel error"] for r in rows]))}
                      for name, rows in (("without", old), ("with", new))}  # fmt: skip
        out[label]["better"] = sum(b["mean"] > a["mean"] for a, b in zip(old, new))
    return out


def ridge_figures(before: tuple[Path, ...] = RIDGE_BEFORE, after: Path = RIDGE_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the route without the coarse ridge and with it (:func:`ridge_pairs`)."""
    return _pair_figures(ridge_pairs(before, after))


def route_rows(after: Path = RIDGE_AFTER) -> list[dict]:
    """The route as offered today over the shakes of 9-31 px, given each shake's own size: the 9 and 15 px rows of
    ``blind_shake_samples4.json`` (under 21 px the ridge changes nothing) and ``after``'s, each with its mean of N as
    ``"mean"`` and the true kernel's mean of N as ``"true mean"``."""
    small, _ = shake_samples_rows()
    new = ridge_pairs(after=after)["all"][1]
    shakes = {r["kernel"] for r in new}
    return [{**r, "mean": r["blind, full, mean"], "true mean": r["true kernel, mean"]} for r in small
            if r["kernel"] not in shakes] + new  # fmt: skip


def ridge_route_figures(after: Path = RIDGE_AFTER) -> dict[str, float]:
    """:func:`_row_figures` of :func:`route_rows`' mean of N against the true kernel's mean of N."""
    return _row_figures(route_rows(after), "mean", "true mean")


# the camera-shake route given a kernel size other than the shake's (a user who does not know it: ``--kernel-size``,
# 21 px unless told): ``blind_real.py --shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01``
SHAKE_GIVEN = RESULTS / "blind_shake_given_samples4.json"


def given_size_rows(
    path: Path | tuple[Path, ...] = SHAKE_GIVEN, own: list[dict] | None = None
) -> tuple[dict[str, list[dict]], tuple[int, ...]]:
    """shake (and ``"all"``) -> the rows of ``path`` (``--shake --samples N --sizes S,..``; several files: their rows
    in turn), each with the route at the shake's own size (``own``, :func:`route_rows` unless told; the same case
    checked by its blurry photo) as ``"mean"``, ``"true mean"`` and ``"blind, full kernel error"``, and the mean of N
    given size S as ``"given S"``; and the sizes."""
    rows = _rows_of_files(path)
    sizes = tuple(int(k.rsplit(" ", 1)[1]) for k in rows[0] if re.fullmatch(r"blind, full, size \d+", k))
    n = int(next(k for k in rows[0] if re.fullmatch(r"blind, full, size \d+, mean of \d+", k)).rsplit(" ", 1)[1])
    own = _matched(rows, route_rows() if own is None else own)
    joined = [{**r, **{k: o[k] for k in ("mean", "true mean", "blind, full kernel error")},
               **{f"given {s}": r[f"blind, full, size {s}, mean of {n}"] for s in sizes}}
              for r, o in zip(rows, own)]  # fmt: skip
    groups = {
        family: [r for r in joined if r["kernel"] == family] for family in dict.fromkeys(r["kernel"] for r in rows)
    }
    return {**groups, "all": joined}, sizes


def given_size_figures(
    path: Path | tuple[Path, ...] = SHAKE_GIVEN, own: list[dict] | None = None
) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> ``"own"`` and ``"given S"``: :func:`_row_figures` of the mean of N against the true
    kernel's mean of N with the kernel errors' median as ``"error"``; ``"change S"``: given S minus the own size
    (``"mean"``, ``"worst"``, ``"raised"``: rows it raises, ``"photo"``: the worst's)."""
    groups, sizes = given_size_rows(path, own)
    out = {}
    for label, rows in groups.items():
        f = {"own": {**_row_figures(rows, "mean", "true mean"),
                     "error": float(np.median([r["blind, full kernel error"] for r in rows]))}}  # fmt: skip
        for s in sizes:
            f[f"given {s}"] = {
                **_row_figures(rows, f"given {s}", "true mean"),
                "error": float(np.median([r[f"blind, full, size {s} kernel error"] for r in rows])),
            }
            d = [r[f"given {s}"] - r["mean"] for r in rows]
            worst = int(np.argmin(d))
            f[f"change {s}"] = {"mean": float(np.mean(d)), "worst": d[worst], "raised": sum(v > 0 for v in d),
                                "photo": rows[worst]["image"]}  # fmt: skip
        out[label] = f
    return out


def blind_shake_given_table(path: Path = SHAKE_GIVEN, own: list[dict] | None = None) -> str:
    """Per shake (and all): the rows, the route's mean of N at the shake's own size and given each size of ``path``
    (below the blurry photo / mean and worst change against it / distance below the true kernel's mean of N / median
    kernel error), and each given size's change against the own size (mean / worst, the rows it raises); ``own``: the
    route's rows at the shake's own size (:func:`given_size_rows`)."""
    figures = given_size_figures(path, own)
    sizes = [int(k.removeprefix("given ")) for k in figures["all"] if k.startswith("given ")]
    head = "".join(
        f" given {s} px: the same | given {s} - own size: mean / worst (photo) / rows raised |" for s in sizes
    )
    out = [f"| shake | rows | own size: below blurry / mean / worst / below the true kernel / kernel error |{head}",
           "|---|---:|---|" + "---|---|" * len(sizes)]  # fmt: skip
    cell = lambda g: f"{g['below']} / {g['mean']:+.2f} / {g['worst']:+.2f} / {g['gap']:.2f} / {g['error']:.2f}"  # noqa: E731
    for label, f in figures.items():
        given = "".join(f" {cell(f[f'given {s}'])} | {f[f'change {s}']['mean']:+.2f} / {f[f'change {s}']['worst']:+.2f} "
                        f"({f[f'change {s}']['photo']}) / {f[f'change {s}']['raised']} |" for s in sizes)  # fmt: skip
        out.append(f"| {label} | {f['own']['rows']} | {cell(f['own'])} |{given}")
    return "\n".join(out)


def _pair_table(
    figures: dict[str, dict[str, Any]], change: str, everything: str, labels: tuple[str, str] | None = None
) -> str:
    """Per shake (and all, named ``everything``; and any other group ``figures`` holds, by its own name): the rows,
    the route's mean of N without ``change`` and with it (below the blurry photo / mean and worst change against it /
    distance below the true kernel's mean of N / median kernel error), and the rows it raises (:func:`_pair_figures`);
    ``labels``: the two columns' names instead of "without ``change``" and "with it"."""
    without, with_it = labels or (f"without {change}", "with it")
    out = [f"| shake | rows | {without}: below blurry / mean / worst / below the true kernel / kernel error | "
           f"{with_it}: the same | rows it raises |", "|---|---:|---|---|---:|"]  # fmt: skip
    for label, f in figures.items():
        cells = [f"{g['below']} / {g['mean']:+.2f} / {g['worst']:+.2f} / {g['gap']:.2f} / {g['error']:.2f}"
                 for g in (f["without"], f["with"])]  # fmt: skip
        name = everything if label == "all" else label
        out.append(f"| {name} | {f['with']['rows']} | {cells[0]} | {cells[1]} | {f['better']} |")
    return "\n".join(out)


def blind_ridge_table(before: tuple[Path, ...] = RIDGE_BEFORE, after: Path = RIDGE_AFTER) -> str:
    """:func:`_pair_table` of the route without the coarse ridge and with it, on the 21 and 31 px shakes."""
    return _pair_table(ridge_figures(before, after), "the ridge", "motion 21 and 31 px")


# each classical full fit cleaned as Pan et al. clean theirs (``clean_kernel``, the default since commit d65d4b9):
# ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --no-true-kernel --out
# blind_cleanup_shake_samples4.json`` against the route before it (:func:`route_rows`, the same cases)
CLEANUP_AFTER = RESULTS / "blind_cleanup_shake_samples4.json"


def _paired(after: Path | tuple[Path, ...], before: list[dict]) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> ``before``'s rows for ``after``'s cases (matched by case, checked by the blurry photo)
    and ``after``'s, each of ``after``'s with its mean of N as ``"mean"`` and the matched row's ``"true mean"`` (the
    route's later files make no true-kernel runs of their own); several files: their rows in turn."""
    new = _rows_of_files(after)
    key, _ = _samples_key(new)
    old = _matched(new, before)
    return _by_shake((old, [{**r, "mean": r[key], "true mean": o["true mean"]} for r, o in zip(new, old)]))


def cleanup_pairs(after: Path = CLEANUP_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route's rows before the cleanup (:func:`route_rows`) and ``after``'s for the
    same cases (matched by case, checked by the blurry photo), each with the mean of N as ``"mean"`` and the true
    kernel's mean of N (from the rows before: ``after`` makes none) as ``"true mean"``."""
    return _paired(after, route_rows())


def cleanup_figures(after: Path = CLEANUP_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the route without the kernel cleanup and with it (:func:`cleanup_pairs`), and per
    sigma_y (``"all, sigma_y S"``)."""
    pairs = cleanup_pairs(after)
    old, new = pairs["all"]
    for s in dict.fromkeys(r["sigma_y"] for r in new):
        pairs[f"all, sigma_y {s:g}"] = tuple([r for r in rows if r["sigma_y"] == s] for rows in (old, new))
    return _pair_figures(pairs)


def blind_cleanup_table(after: Path = CLEANUP_AFTER) -> str:
    """:func:`_pair_table` of the route without the kernel cleanup and with it, on the 9-31 px shakes."""
    return _pair_table(cleanup_figures(after), "the cleanup", "motion 9-31 px")


# the route given 21 px with the cleanup: ``blind_real.py --shake --samples 4 --sizes 21 --shake-sizes 9,15,31
# --levels 0.01 --out blind_cleanup_shake_given_samples4.json``, against the route with it at the shake's own size
CLEANUP_GIVEN = RESULTS / "blind_cleanup_shake_given_samples4.json"


def cleanup_given_figures(path: Path = CLEANUP_GIVEN) -> dict[str, dict[str, Any]]:
    """:func:`given_size_figures` of the route with the kernel cleanup (given 21 px and at the shake's own size)."""
    return given_size_figures(path, cleanup_pairs()["all"][1])


def blind_cleanup_given_table(path: Path = CLEANUP_GIVEN) -> str:
    """:func:`blind_shake_given_table` of the route with the kernel cleanup."""
    return blind_shake_given_table(path, cleanup_pairs()["all"][1])


# the held kernel fitted again to its restored samples' mean (``HELD_REFITS``, the default since commit 6f18e49):
# ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.01 --no-true-kernel --out
# blind_refits_shake_samples4.json`` against the route with the cleanup alone (:func:`cleanup_pairs`, the same cases)
REFITS_AFTER = RESULTS / "blind_refits_shake_samples4.json"


def refits_pairs(after: Path = REFITS_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route's rows without the refits (the cleanup's, :func:`cleanup_pairs`) and
    ``after``'s for the same cases (matched by case, checked by the blurry photo), each with the mean of N as
    ``"mean"`` and the true kernel's mean of N (from the rows before) as ``"true mean"``."""
    return _paired(after, cleanup_pairs()["all"][1])


def refits_figures(after: Path = REFITS_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the route without the kernel's refits and with them (:func:`refits_pairs`)."""
    return _pair_figures(refits_pairs(after))


def blind_refits_table(after: Path = REFITS_AFTER) -> str:
    """:func:`_pair_table` of the route without the kernel's refits and with them, on the 9-31 px shakes."""
    return _pair_table(refits_figures(after), "the refits", "motion 9-31 px")


# the same at sigma_y 0.02: ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.02
# --no-true-kernel --out blind_refits_shake_samples4_sigma02.json``
REFITS_AFTER_02 = RESULTS / "blind_refits_shake_samples4_sigma02.json"


def blind_refits_02_table(after: Path = REFITS_AFTER_02) -> str:
    """:func:`blind_refits_table` of the rows at sigma_y 0.02."""
    return blind_refits_table(after)


# the route with its refits given 21 px (the default size): ``blind_real.py --shake --samples 4 --sizes 21
# --shake-sizes 9,15,31 --levels 0.01 --out blind_refits_shake_given_samples4.json``, against the route with them at
# the shake's own size (``REFITS_AFTER``, the same cases)
REFITS_GIVEN = RESULTS / "blind_refits_shake_given_samples4.json"


def refits_given_figures(path: Path = REFITS_GIVEN) -> dict[str, dict[str, Any]]:
    """:func:`given_size_figures` of the route with the kernel's refits (given 21 px and at the shake's own size)."""
    return given_size_figures(path, refits_pairs()["all"][1])


def blind_refits_given_table(path: Path = REFITS_GIVEN) -> str:
    """:func:`blind_shake_given_table` of the route with the kernel's refits."""
    return blind_shake_given_table(path, refits_pairs()["all"][1])


# the classical estimate made from the photo with its contrast stretched (the held route's default at commit a181013,
# reverted at fba5a8f): ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.01 --no-true-kernel --out
# blind_stretch_shake_samples4.json`` against the route with its refits (:func:`refits_pairs`, the same cases)
STRETCH_AFTER = RESULTS / "blind_stretch_shake_samples4.json"


def stretch_pairs(after: Path = STRETCH_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route's rows without the stretch (the refits', :func:`refits_pairs`) and
    ``after``'s for the same cases, as :func:`refits_pairs` pairs its own."""
    return _paired(after, refits_pairs()["all"][1])


def stretch_figures(after: Path = STRETCH_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the route without the contrast stretch and with it (:func:`stretch_pairs`)."""
    return _pair_figures(stretch_pairs(after))


def blind_stretch_table(after: Path = STRETCH_AFTER) -> str:
    """:func:`_pair_table` of the route without the contrast stretch and with it, on the 9-31 px shakes."""
    return _pair_table(stretch_figures(after), "the stretch", "motion 9-31 px")


# the camera-shake route with the TV estimate from ``TV_FROM`` px (commit 3f9eebd), one file per shake (three
# processes): ``blind_real.py --shake --samples 4 --shake-sizes S --levels 0.01 --no-true-kernel --out
# blind_tv_shake_samples4_Spx.json`` for S = 15, 21, 31, against the route with the L0 estimate and its refits
# (:func:`refits_pairs`, the same cases); under ``TV_FROM`` the route is unchanged
TV_AFTER = tuple(RESULTS / f"blind_tv_shake_samples4_{s}px.json" for s in (15, 21, 31))


def tv_pairs(after: tuple[Path, ...] = TV_AFTER, before: Path = REFITS_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route's rows with the L0 estimate (``before``'s, :func:`refits_pairs`) and
    ``after``'s with the TV estimate for the same cases, as :func:`refits_pairs` pairs its own."""
    return _paired(after, refits_pairs(before)["all"][1])


def tv_route_rows(after: tuple[Path, ...] = TV_AFTER, before: Path = REFITS_AFTER) -> list[dict]:
    """The route as it now is over the 9-31 px shakes: ``before``'s rows (the refits') for the shakes ``after`` does
    not hold (under ``TV_FROM``, where the route still starts from the L0 estimate) and ``after``'s for the others."""
    new = tv_pairs(after, before)["all"][1]
    shakes = {r["kernel"] for r in new}
    return [r for r in refits_pairs(before)["all"][1] if r["kernel"] not in shakes] + new


def tv_figures(after: tuple[Path, ...] = TV_AFTER, before: Path = REFITS_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of :func:`tv_pairs`; ``"motion 9-31 px"``: the route over every shake before (the
    refits') and now (:func:`tv_route_rows`), the same figures; at sigma_y 0.01 (where the true kernel was held by the
    route), with the route's distance below the true kernel held by the route before and after (``"gap held"``, from
    :func:`true_held_rows`)."""
    pairs, old, now = tv_pairs(after, before), refits_pairs(before)["all"][1], tv_route_rows(after, before)
    out = {**_pair_figures(pairs), "motion 9-31 px": _pair_figures({"all": (old, _matched(old, now))})["all"]}
    if {r["sigma_y"] for r in old} != {0.01}:
        return out
    held = {"without": true_held_rows(route=old), "with": true_held_rows(route=now)}
    for label, f in out.items():
        shakes = {r["kernel"] for r in pairs["all"][1]} if label == "all" else {label}
        for name, rows in held.items():  # (every shake for the route over 9-31 px)
            gaps = [r["held"] - r["route"] for r in rows if label == "motion 9-31 px" or r["kernel"] in shakes]
            f[name]["gap held"] = float(np.mean(gaps))
    return out


def blind_tv_table(after: tuple[Path, ...] = TV_AFTER, before: Path = REFITS_AFTER) -> str:
    """:func:`_pair_table` of the route with the L0 estimate and with the TV one from ``TV_FROM`` px: each shake it
    changes, those together, and the route over every shake of 9-31 px."""
    return _pair_table(tv_figures(after, before), "TV", "motion 15-31 px", labels=("L0 estimate", "TV estimate"))


# the same at sigma_y 0.02 (commit 240bfb5): ``blind_real.py --shake --samples 4 --shake-sizes S --levels 0.02
# --no-true-kernel --out blind_tv_shake_samples4_sigma02_Spx.json`` for S = 15, 21, 31, against the route with the L0
# estimate and its refits at 0.02 (``REFITS_AFTER_02``, the same cases)
TV_AFTER_02 = tuple(RESULTS / f"blind_tv_shake_samples4_sigma02_{s}px.json" for s in (15, 21, 31))


def blind_tv_02_table(after: tuple[Path, ...] = TV_AFTER_02, before: Path = REFITS_AFTER_02) -> str:
    """:func:`blind_tv_table` of the rows at sigma_y 0.02."""
    return blind_tv_table(after, before)


# the route with the TV estimate given 21 px (the default size, a window of ``TV_FROM`` px or more: the TV estimate
# under every shake), commit 240bfb5, one file per shake: ``blind_real.py --shake --samples 4 --sizes 21
# --shake-sizes S --levels 0.01 --out blind_tv_shake_given_samples4_Spx.json`` for S = 9, 15, 31, against the route
# with the L0 estimate given 21 px (``REFITS_GIVEN``, the same cases)
TV_GIVEN = tuple(RESULTS / f"blind_tv_shake_given_samples4_{s}px.json" for s in (9, 15, 31))


def _given_as_route(path: Path | tuple[Path, ...], own: list[dict]) -> list[dict]:
    """:func:`given_size_rows`' rows of ``path`` (one given size) as the route's rows: the mean of N given the size as
    ``"mean"`` and its kernel error as ``"blind, full kernel error"``, the true kernel's mean of N from ``own``."""
    groups, sizes = given_size_rows(path, own)
    (size,) = sizes
    return [{**r, "mean": r[f"given {size}"], "blind, full kernel error": r[f"blind, full, size {size} kernel error"]}
            for r in groups["all"]]  # fmt: skip


def tv_given_pairs(after: tuple[Path, ...] = TV_GIVEN, before: Path = REFITS_GIVEN) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route given the size with the L0 estimate (``before``, with its refits) and with
    the TV one (``after``), the same cases, each as :func:`_given_as_route` makes it."""
    new = _given_as_route(after, tv_route_rows())
    return _by_shake((_matched(new, _given_as_route(before, refits_pairs()["all"][1])), new))


def tv_given_figures(after: tuple[Path, ...] = TV_GIVEN, before: Path = REFITS_GIVEN) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of :func:`tv_given_pairs`; ``"own"``: :func:`given_size_figures` of the route with the
    TV estimate (given the size and at the shake's own size)."""
    return {**_pair_figures(tv_given_pairs(after, before)), "own": given_size_figures(after, tv_route_rows())}


def blind_tv_given_table(after: tuple[Path, ...] = TV_GIVEN, before: Path = REFITS_GIVEN) -> str:
    """:func:`_pair_table` of the route given 21 px with the L0 estimate and with the TV one, per shake and all."""
    labels = ("given 21 px, L0 estimate", "given 21 px, TV estimate")
    return _pair_table(_pair_figures(tv_given_pairs(after, before)), "TV", "motion 9-31 px", labels=labels)


# the classical estimate the mean of its estimates from the photo's eight flips and transposes (the held route's
# default at commit 8e195a8, reverted at 48375a0): ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31
# --levels 0.01 --no-true-kernel --out blind_dihedral_shake_samples4.json`` against the route with its refits
# (:func:`refits_pairs`, the same cases)
DIHEDRAL_AFTER = RESULTS / "blind_dihedral_shake_samples4.json"


def dihedral_pairs(after: Path = DIHEDRAL_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the route's rows with the plain classical estimate (the refits', :func:`refits_pairs`)
    and ``after``'s with the mean over the photo's flips for the same cases, as :func:`refits_pairs` pairs its own."""
    return _paired(after, refits_pairs()["all"][1])


def dihedral_figures(after: Path = DIHEDRAL_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of :func:`dihedral_pairs`, and the route's distance below the true kernel held by the
    route, before and after (``"gap held"``, :func:`true_held_figures`)."""
    out = _pair_figures(dihedral_pairs(after))
    before, now = true_held_figures(), true_held_figures(after=after)
    for label, f in out.items():
        f["without"]["gap held"], f["with"]["gap held"] = before[label]["gap held"], now[label]["gap held"]
    return out


def blind_dihedral_table(after: Path = DIHEDRAL_AFTER) -> str:
    """:func:`_pair_table` of the route with the plain classical estimate and with the mean over the photo's flips,
    on the 9-31 px shakes."""
    return _pair_table(dihedral_figures(after), "the flips", "motion 9-31 px")


# a collapsed classical estimate made again with the L0 weight carried across scales (``held_kernel``'s fallback,
# where the size is named: the route at the shake's own size at commit 97cab1a, reverted at e5e367b): ``blind_real.py
# --shake --samples 4 --shake-sizes 9,15,21,31 --levels L --no-true-kernel --join FILE`` against the route with its
# refits (FILE: the rows the fallback leaves alone are FILE's), at sigma_y 0.01 and 0.02
FALLBACK_AFTER = RESULTS / "blind_fallback_shake_samples4.json"
FALLBACK_AFTER_02 = RESULTS / "blind_fallback_shake_samples4_sigma02.json"


def fallback_figures(after: Path = FALLBACK_AFTER, before: Path = REFITS_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the route with its refits (``before``) and with the fallback (``after``), with the
    rows it fired on (``"fired"``), those it lowers (``"worse"``) and, at sigma_y 0.01 (where the true kernel was held
    by the route), the distance below the true kernel held by the route before and after (``"gap held"``); ``"rows"``:
    the fired rows (photo, the first estimate's participation, kernel error and mean of N over the blurry photo before
    and after)."""
    pairs = _paired(after, refits_pairs(before)["all"][1])
    out = _pair_figures(pairs)
    held = {r["sigma_y"] for r in rows_of(after)} == {0.01}
    before_held, now_held = (true_held_figures(after=before), true_held_figures(after=after)) if held else ({}, {})
    for label, (old, new) in pairs.items():
        f = out[label]
        f["fired"] = sum(r["blind, full fallback"] for r in new)
        f["worse"] = sum(b["mean"] < a["mean"] for a, b in zip(old, new))
        f["rows"] = [{"kernel": b["kernel"], "image": b["image"], "participation": b["blind, full participation"],
                      "error before": a["blind, full kernel error"], "error after": b["blind, full kernel error"],
                      "before": a["mean"] - a["blurry"], "after": b["mean"] - b["blurry"]}
                     for a, b in zip(old, new) if b["blind, full fallback"]]  # fmt: skip
        if held:
            f["without"]["gap held"] = before_held[label]["gap held"]
            f["with"]["gap held"] = now_held[label]["gap held"]
    return out


def blind_fallback_table(after: Path = FALLBACK_AFTER, before: Path = REFITS_AFTER) -> str:
    """Per shake (and all): the rows, those the fallback fired on, the route's mean of N without it and with it (below
    the blurry photo / mean and worst change against it / distance below the true kernel's mean of N / median kernel
    error), and the rows it raises / lowers (:func:`fallback_figures`)."""
    out = ["| shake | rows | fallback fired | without it: below blurry / mean / worst / below the true kernel / kernel "
           "error | with it: the same | rows it raises / lowers |", "|---|---:|---:|---|---|---:|"]  # fmt: skip
    for label, f in fallback_figures(after, before).items():
        cells = [f"{g['below']} / {g['mean']:+.2f} / {g['worst']:+.2f} / {g['gap']:.2f} / {g['error']:.2f}"
                 for g in (f["without"], f["with"])]  # fmt: skip
        name = "motion 9-31 px" if label == "all" else label
        out.append(f"| {name} | {f['with']['rows']} | {f['fired']} | {cells[0]} | {cells[1]} | {f['better']} / "
                   f"{f['worse']} |")  # fmt: skip
    return "\n".join(out)


def blind_fallback_rows_table(after: Path = FALLBACK_AFTER, before: Path = REFITS_AFTER) -> str:
    """The rows the fallback fired on: the shake, the photo, the first estimate's participation (under the size),
    the kernel error before and after, and the mean of N over the blurry photo before and after."""
    out = ["| shake | photo | first estimate's taps (participation) | kernel error: before / after | over the blurry "
           "photo: before / after |", "|---|---|---:|---|---|"]  # fmt: skip
    for r in fallback_figures(after, before)["all"]["rows"]:
        out.append(f"| {r['kernel']} | {r['image']} | {r['participation']:.1f} | {r['error before']:.2f} / "
                   f"{r['error after']:.2f} | {r['before']:+.2f} / {r['after']:+.2f} |")  # fmt: skip
    return "\n".join(out)


def blind_fallback_02_table(after: Path = FALLBACK_AFTER_02, before: Path = REFITS_AFTER_02) -> str:
    """:func:`blind_fallback_table` of the rows at sigma_y 0.02."""
    return blind_fallback_table(after, before)


def blind_fallback_rows_02_table(after: Path = FALLBACK_AFTER_02, before: Path = REFITS_AFTER_02) -> str:
    """:func:`blind_fallback_rows_table` of the rows at sigma_y 0.02."""
    return blind_fallback_rows_table(after, before)


# camera shake in an under-exposed photo: the held-out scenes at 0.3 of their exposure (``--exposure 0.3``), 9-21 px
# shakes, sigma_y 0.01: the route before the contrast floor (``L0_CONTRAST``, commit be009e5, its true kernel made
# beside it) and with it (commit 9b9aa6a, ``--no-true-kernel``), both ``blind_real.py --shake --samples 4
# --shake-sizes 9,15,21 --levels 0.01 --exposure 0.3``
DARK_BEFORE = RESULTS / "blind_dark_shake_samples4.json"
DARK_AFTER = RESULTS / "blind_dark_raised_shake_samples4.json"


def dark_pairs(before: Path = DARK_BEFORE, after: Path = DARK_AFTER) -> dict[str, tuple[list, list]]:
    """shake (and ``"all"``) -> the dim photos' rows without the contrast floor and with it (matched by case,
    checked by the blurry photo), each with the mean of N as ``"mean"`` and the true kernel's mean of N (made beside
    ``before``) as ``"true mean"``."""
    rows = rows_of(before)
    key, n = _samples_key(rows)
    return _paired(after, [{**r, "mean": r[key], "true mean": r[f"true kernel, mean of {n}"]} for r in rows])


def dark_figures(before: Path = DARK_BEFORE, after: Path = DARK_AFTER) -> dict[str, dict[str, Any]]:
    """:func:`_pair_figures` of the dim photos' route without the contrast floor and with it (:func:`dark_pairs`)."""
    return _pair_figures(dark_pairs(before, after))


def blind_dark_table(before: Path = DARK_BEFORE, after: Path = DARK_AFTER) -> str:
    """:func:`_pair_table` of the dim photos' route without the contrast floor and with it, on the 9-21 px shakes."""
    return _pair_table(dark_figures(before, after), "the floor", "motion 9-21 px")


# the true kernel on the same dim photos at DiffPIR's own 100 steps (one sample): ``blind_real.py --motion --true-only
# --true-steps 100 --levels 0.01 --exposure 0.3 --out blind_dark_true100.json``
DARK_TRUE100 = RESULTS / "blind_dark_true100.json"


def dark_true100_figures(path: Path = DARK_TRUE100) -> dict[str, Any]:
    """The dim photos' true kernel at 100 steps (``path``, matched by case to :func:`dark_pairs`' rows, checked by the
    blurry photo) against the blurry photo: rows, below it, mean and worst change, and the worst's photo and shake
    (the 20-step true kernel and the route are :func:`dark_figures`')."""
    rows = _matched(dark_pairs()["all"][0], rows_of(path))
    gains = [r["true kernel"] - r["blurry"] for r in rows]
    worst = min(range(len(gains)), key=gains.__getitem__)
    return {"rows": len(rows), "below": sum(g < 0 for g in gains), "mean": float(np.mean(gains)),
            "worst": gains[worst], "photo": rows[worst]["image"], "kernel": rows[worst]["kernel"]}  # fmt: skip


def blind_dark_true100_table(path: Path = DARK_TRUE100) -> str:
    """:func:`blind_motion_true_table` of the dim photos' true kernel at 100 steps."""
    return blind_motion_true_table(path)


# each held-out photo's contrast under the shakes of 9-31 px at its own exposure and at 0.3 of it:
# ``blind_real.py --contrast 1,0.3 --shake-sizes 9,15,21,31``
SHAKE_CONTRAST = RESULTS / "blind_shake_contrast.json"


def contrast_figures(path: Path = SHAKE_CONTRAST) -> dict[float, dict[str, Any]]:
    """exposure -> the rows, those the held route raises (``"raised"``), and the lowest and highest contrast with the
    lowest's photo, shake and sigma_y."""
    out = {}
    for (exposure,), rs in _groups(rows_of(path), "exposure").items():
        low, high = min(rs, key=lambda r: r["contrast"]), max(rs, key=lambda r: r["contrast"])
        out[exposure] = {"rows": len(rs), "raised": sum(r["raised"] for r in rs), "least": low["contrast"],
                         "most": high["contrast"], "photo": low["image"], "kernel": low["kernel"],
                         "sigma_y": low["sigma_y"]}  # fmt: skip
    return out


def blind_shake_contrast_table(path: Path = SHAKE_CONTRAST) -> str:
    """Per exposure: the rows (photos x shakes x levels), the contrast's range (its lowest row) and the rows the held
    route raises to ``L0_CONTRAST``."""
    out = ["| exposure | rows | contrast: least (photo, shake, sigma_y) / most | raised to the floor |",
           "|---:|---:|---|---:|"]  # fmt: skip
    for exposure, f in contrast_figures(path).items():
        out.append(f"| {exposure:g} | {f['rows']} | {f['least']:.3f} ({f['photo']}, {f['kernel']}, {f['sigma_y']:g}) / "
                   f"{f['most']:.3f} | {f['raised']} |")  # fmt: skip
    return "\n".join(out)


# the true shake through the route itself (the allowance, DiffPIR 20 steps, mean of 4, no refits): the like-for-like
# reference of the route's estimate, ``blind_real.py --shake --samples 4 --shake-sizes 9,15,21,31 --levels 0.01
# --true-held``, beside the route with its refits (``REFITS_AFTER``) and the non-blind true kernel's mean of 4
TRUE_HELD = RESULTS / "blind_shake_true_held_samples4.json"


def _shake_groups(rows: list[dict]) -> dict[str, list[dict]]:
    """The rows by shake (:func:`_groups` on ``kernel``, in the order they first appear), and ``"all"``: every row."""
    return {**{shake: rs for (shake,), rs in _groups(rows, "kernel").items()}, "all": rows}


def _refit_rounds(rows: list[dict]) -> int:
    """The refit rounds a sweep's rows hold (its columns ``const rR``)."""
    return max(int(k.split(" r")[1]) for k in rows[0] if re.fullmatch(r"const r\d+", k))


def true_held_rows(path: Path = TRUE_HELD, after: Path = REFITS_AFTER, route: list[dict] | None = None) -> list[dict]:
    """``path``'s rows (the true kernel held by the route) joined to the route with its refits on the same cases
    (matched, checked by the blurry photo): each with the route's mean of N (``"route"``), the non-blind true kernel's
    (``"true"``), the held true kernel's (``"held"``) and the route's kernel error (``"error"``). ``route``: the
    route's rows (with ``"mean"`` and ``"true mean"``) instead of ``after``'s."""
    held = rows_of(path)
    key, _ = _samples_key(held, "true kernel, held")
    route = _matched(held, refits_pairs(after)["all"][1] if route is None else route)
    return [{**r, "route": o["mean"], "true": o["true mean"], "held": r[key], "error": o["blind, full kernel error"]}
            for r, o in zip(held, route)]  # fmt: skip


def true_held_figures(
    path: Path = TRUE_HELD, after: Path = REFITS_AFTER, route: list[dict] | None = None
) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> over the blurry photo on average: the route's mean of N (``"route"``, with its refits),
    the non-blind true kernel's mean of N (``"true"``) and the true kernel held by the route (``"held"``); the rows
    each falls below the blurry photo in (``"... below"``); the route's distance below each reference (``"gap
    true"``, ``"gap held"``); and the rows where the held true kernel beats the non-blind one (``"held wins"``).
    ``route``: :func:`true_held_rows`'."""
    joined = true_held_rows(path, after, route)
    out = {}
    for label, rows in _shake_groups(joined).items():
        f: dict[str, Any] = {"rows": len(rows)}
        for name in ("route", "true", "held"):
            f[name] = float(np.mean([r[name] - r["blurry"] for r in rows]))
            f[f"{name} below"] = sum(r[name] < r["blurry"] for r in rows)
        f["gap true"], f["gap held"] = f["true"] - f["route"], f["held"] - f["route"]
        f["held wins"] = sum(r["held"] > r["true"] for r in rows)
        out[label] = f
    return out


def blind_true_held_table(path: Path = TRUE_HELD, after: Path = REFITS_AFTER) -> str:
    """Per shake (and all): over the blurry photo on average (rows below it) the route with its refits, the
    non-blind true kernel and the true kernel held by the route, each a mean of N; the route's distance below each
    (:func:`true_held_figures`)."""
    out = ["| shake | rows | the route | true kernel, non-blind | true kernel, held by the route | route below the "
           "non-blind / the held true kernel | held beats non-blind |", "|---|---:|---:|---:|---:|---|---:|"]  # fmt: skip
    for label, f in true_held_figures(path, after).items():
        cells = " | ".join(f"{f[n]:+.2f} ({f[n + ' below']})" for n in ("route", "true", "held"))
        name = "motion 9-31 px" if label == "all" else label
        out.append(f"| {name} | {f['rows']} | {cells} | {f['gap true']:.2f} / {f['gap held']:.2f} | {f['held wins']} |")
    return "\n".join(out)


# the bins of the route's kernel error the distance to the true kernel is split by (lower bound, label)
GAP_BINS = ((0.0, "under 0.5"), (0.5, "0.5 to 1"), (1.0, "1 or more"))


def _error_bins(rows: list[dict], key: str) -> dict[str, list[dict]]:
    """Each label of :data:`GAP_BINS` -> the rows whose ``key`` (a kernel error) lies in its bin, then ``"all"``."""
    bounds = [b for b, _ in GAP_BINS] + [math.inf]
    bins = {label: [r for r in rows if lo <= r[key] < hi] for (lo, label), hi in zip(GAP_BINS, bounds[1:])}
    return {**bins, "all": rows}


def gap_parts_figures(path: Path = TRUE_HELD, after: Path = REFITS_AFTER) -> dict[str, dict[str, Any]]:
    """The route's distance below the non-blind true kernel (mean of N each) on the rows of :func:`true_held_figures`,
    per bin of the route's kernel error (:data:`GAP_BINS`, and ``"all"``), split into the allowance's part (the
    non-blind true kernel over the true kernel held by the route) and the estimate's (the held true kernel over the
    route): ``"rows"``, ``"photos"``, the median kernel error, the three over the blurry photo on average, the
    distance and its parts on average, and ``"share"``: the bin's rows' distances summed over all rows (the bins'
    shares add up to the mean distance)."""
    joined = [{"image": r["image"], "error": r["error"], **{n: r[n] - r["blurry"] for n in ("route", "held", "true")}}
              for r in true_held_rows(path, after)]  # fmt: skip
    out = {}
    for label, rows in _error_bins(joined, "error").items():
        f: dict[str, Any] = {"rows": len(rows), "photos": sorted({r["image"] for r in rows})}
        f["error"] = float(np.median([r["error"] for r in rows]))
        for name in ("route", "held", "true"):
            f[name] = float(np.mean([r[name] for r in rows]))
        f["gap"], f["allowance"], f["estimate"] = f["true"] - f["route"], f["true"] - f["held"], f["held"] - f["route"]
        f["share"] = float(sum(r["true"] - r["route"] for r in rows) / len(joined))
        out[label] = f
    return out


def blind_gap_parts_table(path: Path = TRUE_HELD, after: Path = REFITS_AFTER) -> str:
    """Per bin of the route's kernel error (and all): its rows and photos, the median error, the route, the true
    kernel held by the route and the non-blind true kernel over the blurry photo, and the route's distance below the
    non-blind true kernel split into the allowance's and the estimate's parts (:func:`gap_parts_figures`)."""
    out = ["| kernel error | rows | photos | median error | the route | true kernel, held | true kernel, non-blind | "
           "below the non-blind: all = the allowance + the estimate | share of the mean distance |",
           "|---|---:|---|---:|---:|---:|---:|---|---:|"]  # fmt: skip
    for label, f in gap_parts_figures(path, after).items():
        out.append(f"| {label} | {f['rows']} | {', '.join(f['photos'])} | "
                   f"{f['error']:.2f} | {f['route']:+.2f} | {f['held']:+.2f} | {f['true']:+.2f} | {f['gap']:.2f} = "
                   f"{f['allowance']:.2f} + {f['estimate']:.2f} | {f['share']:.2f} |")  # fmt: skip
    return "\n".join(out)


# the refits run further and made otherwise, on the training photos, on a lent GPU (``blind_refit_sweep.py``): the
# allowance in the refit rounds (and the true kernel through the route at several allowances), and other refits
REFIT_SCHEDULES = RESULTS / "blind_refit_schedules_train.json"
REFIT_FITS = RESULTS / "blind_refit_fits_train.json"
SCHEDULE_NAMES = {"const": "0.05 held (the route)", "g0.7": "0.05 x 0.7^r", "g0.5": "0.05 x 0.5^r",
                  "resid": "the residual's excess over sigma_y"}  # fmt: skip
FIT_NAMES = {"const": "the route's fit", "damp": "averaged with the kernel before", "lam10": "ten times the ridge",
             "smooth4": "four times the smoothing"}  # fmt: skip


def refit_column(rows: list[dict], key: str) -> dict[str, Any]:
    """Column ``key`` of a refit sweep's rows against the blurry photo: the mean change, the rows below it, the worst
    change, and the median kernel error of the round (``None`` for a column without one)."""
    d = [r[key] - r["blurry"] for r in rows]
    errors = [r[f"{key} kerr"] for r in rows if f"{key} kerr" in r]
    return {"mean": float(np.mean(d)), "below": sum(v < 0 for v in d), "worst": min(d),
            "error": float(np.median(errors)) if errors else None}  # fmt: skip


def refit_schedule_figures(path: Path = REFIT_SCHEDULES) -> dict[str, Any]:
    """schedule -> round -> :func:`refit_column` (round 0 is every schedule's start); ``"true"``: sigma_y (and
    ``"all"``) -> allowance -> the true kernel through the route; ``"rows"``."""
    rows = rows_of(path)
    rounds = _refit_rounds(rows)
    out: dict[str, Any] = {"rows": len(rows)}
    for name in SCHEDULE_NAMES:
        out[name] = {0: refit_column(rows, "r0"), **{r: refit_column(rows, f"{name} r{r}") for r in
                                                      range(1, rounds + 1)}}  # fmt: skip
    levels = {s: [r for r in rows if r["sigma_y"] == s] for s in sorted({r["sigma_y"] for r in rows})}
    allowances = [k.removeprefix("true ") for k in rows[0] if k.startswith("true ")]
    out["true"] = {label: {"rows": len(rs), "route r0": refit_column(rs, "r0"), "route r2": refit_column(rs, "const r2"),
                           **{a: refit_column(rs, f"true {a}") for a in allowances}}
                   for label, rs in {**levels, "all": rows}.items()}  # fmt: skip
    return out


def blind_refit_schedules_table(path: Path = REFIT_SCHEDULES) -> str:
    """Per allowance schedule in the refit rounds: each round's mean over the blurry photo (rows below it), and the
    route's (0.05 held) median kernel error per round (:func:`refit_schedule_figures`)."""
    f = refit_schedule_figures(path)
    rounds = list(f["const"])
    out = [f"| allowance in the refit rounds | {' | '.join(f'round {r}' for r in rounds)} |",
           "|---|" + "---:|" * len(rounds)]  # fmt: skip
    for name, label in SCHEDULE_NAMES.items():
        out.append(f"| {label} | " + " | ".join(f"{c['mean']:+.2f} ({c['below']})" for c in f[name].values()) + " |")
    out.append("| kernel error (median), 0.05 held | " + " | ".join(f"{c['error']:.2f}" for c in f["const"].values())
               + " |")  # fmt: skip
    return "\n".join(out)


def blind_refit_true_table(path: Path = REFIT_SCHEDULES) -> str:
    """Per sigma_y (and all): the true kernel through the route at each allowance (0: the non-blind run at the
    photo's noise) beside the route's estimate before and after its two refits: mean over the blurry photo (rows
    below it)."""
    f = refit_schedule_figures(path)["true"]
    allowances = [a for a in f["all"] if a not in ("rows", "route r0", "route r2")]
    head = " | ".join(f"true kernel, allowance {a}" for a in allowances)
    out = [f"| sigma_y | rows | estimate, round 0 | estimate, 2 refits | {head} |", "|---|---:|" + "---:|" * (
        2 + len(allowances))]  # fmt: skip
    for label, g in f.items():
        cells = " | ".join(f"{g[k]['mean']:+.2f} ({g[k]['below']})" for k in ("route r0", "route r2", *allowances))
        out.append(f"| {label if label == 'all' else f'{label:g}'} | {g['rows']} | {cells} |")
    return "\n".join(out)


def refit_fit_figures(path: Path = REFIT_FITS) -> dict[str, Any]:
    """refit -> shake (and ``"all"``) -> round -> :func:`refit_column`; round 0 under ``"start"``."""
    rows = rows_of(path)
    groups, rounds = _shake_groups(rows), _refit_rounds(rows)
    out: dict[str, Any] = {"start": {g: refit_column(rs, "r0") for g, rs in groups.items()}, "rows": len(rows)}
    for name in FIT_NAMES:
        out[name] = {g: {r: refit_column(rs, f"{name} r{r}") for r in range(1, rounds + 1)} for g, rs in groups.items()}
    return out


def blind_refit_fits_table(path: Path = REFIT_FITS) -> str:
    """Per refit: over all shakes each round's mean over the blurry photo (rows below it / worst) and median kernel
    error, and the last round's mean per shake; round 0 (the classical estimate) first."""
    f = refit_fit_figures(path)
    shakes = [g for g in f["start"] if g != "all"]
    last = max(f["const"]["all"])
    cell = lambda c: f"{c['mean']:+.2f} ({c['below']} / {c['worst']:+.2f}) / {c['error']:.2f}"  # noqa: E731
    out = ["| refit | " + " | ".join(f"round {r}: over blurry (below / worst) / kernel error" for r in range(last + 1))
           + " | " + " | ".join(f"round {last}, {s}" for s in shakes) + " |",
           "|---|" + "---|" * (last + 1) + "---:|" * len(shakes)]  # fmt: skip
    out.append("| none (the classical estimate) | " + cell(f["start"]["all"]) + " |" + " |" * last + " "
               + " | ".join(f"{f['start'][s]['mean']:+.2f}" for s in shakes) + " |")  # fmt: skip
    for name, label in FIT_NAMES.items():
        out.append(f"| {label} | {cell(f['start']['all'])} | "
                   + " | ".join(cell(f[name]["all"][r]) for r in range(1, last + 1)) + " | "
                   + " | ".join(f"{f[name][s][last]['mean']:+.2f}" for s in shakes) + " |")  # fmt: skip
    return "\n".join(out)


# round 0 of the route at a smaller allowance, on the training photos (``blind_refit_sweep.py --variants allowances``)
REFIT_ALLOWANCES = RESULTS / "blind_refit_allowances_train.json"


def _allowance_pair(group: list[dict], base: str, small: str) -> dict[str, Any]:
    """Columns ``base`` (the route's allowance) and ``small`` (a smaller one) over ``group``'s rows: each over the
    blurry photo on average, the rows below it at each, the change (mean, least, most), the rows it raises, and
    ``"best"``: the mean change were each row given the better of the two (an allowance chosen with the truth)."""
    change = [r[small] - r[base] for r in group]
    return {"rows": len(group), "route": float(np.mean([r[base] - r["blurry"] for r in group])),
            "small": float(np.mean([r[small] - r["blurry"] for r in group])),
            "route below": sum(r[base] < r["blurry"] for r in group),
            "small below": sum(r[small] < r["blurry"] for r in group),
            "change": float(np.mean(change)), "least": min(change), "most": max(change),
            "raised": sum(c > 0 for c in change), "best": float(np.mean([max(c, 0.0) for c in change]))}  # fmt: skip


def _pair_cells(g: dict[str, Any]) -> str:
    """A table row's cells for :func:`_allowance_pair`'s figures ``g``: its rows, each column over the blurry photo
    (rows below it), and the change (least / most)."""
    return (f"{g['rows']} | {g['route']:+.2f} ({g['route below']}) | {g['small']:+.2f} ({g['small below']}) | "
            f"{g['change']:+.2f} ({g['least']:+.2f} / {g['most']:+.2f})")  # fmt: skip


def round0_allowance_figures(path: Path = REFIT_ALLOWANCES) -> dict[str, dict[str, Any]]:
    """Per bin of the classical estimate's kernel error (:data:`GAP_BINS`, and ``"all"``): :func:`_allowance_pair`
    of the classical estimate restored at the route's allowance (``"route"``) and at the smaller one (``"small"``),
    with ``"allowance"``, the smaller one."""
    rows = rows_of(path)
    (small,) = [k for k in rows[0] if k.startswith("r0 0")]
    return {label: {**_allowance_pair(group, "r0", small), "allowance": float(small.split()[1])}
            for label, group in _error_bins(rows, "r0 kerr").items()}  # fmt: skip


def blind_round0_allowance_table(path: Path = REFIT_ALLOWANCES) -> str:
    """Per bin of the classical estimate's kernel error (and all): its rows, the estimate restored at the route's
    allowance and at the smaller one over the blurry photo (rows below it), the change (mean, range, rows raised) and
    the mean change with the better of the two per row (:func:`round0_allowance_figures`)."""
    f = round0_allowance_figures(path)
    small = f["all"]["allowance"]
    out = [f"| kernel error | rows | allowance 0.05 (the route) | allowance {small:g} | change: mean (least / most) | "
           "rows raised | the better of the two per row |", "|---|---:|---:|---:|---|---:|---:|"]  # fmt: skip
    for label, g in f.items():
        out.append(f"| {label} | {_pair_cells(g)} | {g['raised']} | {g['best']:+.2f} |")
    return "\n".join(out)


# the allowance chosen again for the route's own first guess (the TV estimate from TV_FROM taps), round 0 and the
# route's two refits at each allowance, on the training photos (``blind_refit_sweep.py --variants route``)
REFIT_ROUTE = RESULTS / "blind_refit_route_train.json"


def route_allowance_figures(path: Path = REFIT_ROUTE) -> dict[str, dict[str, Any]]:
    """Per shake, per bin of the first guess's kernel error (:data:`GAP_BINS`) and ``"all"``: ``"r0"`` and
    ``"r2"``, :func:`_allowance_pair` of round 0 and of the route's last refit (``const rR`` against ``half rR``) at
    the route's allowance and the smaller one; ``"allowance"``, the smaller one; ``"error"``, the median kernel error
    of the first guess and of the last refit at each."""
    rows = rows_of(path)
    (small,) = [k for k in rows[0] if k.startswith("r0 0")]
    last = _refit_rounds(rows)
    groups = {**{s: g for s, g in _shake_groups(rows).items() if s != "all"}, **_error_bins(rows, "r0 kerr")}
    return {label: {"r0": _allowance_pair(g, "r0", small), "r2": _allowance_pair(g, f"const r{last}", f"half r{last}"),
                    "allowance": float(small.split()[1]), "rounds": last,
                    "error": {k: float(np.median([r[f"{k} kerr"] for r in g]))
                              for k in ("r0", f"const r{last}", f"half r{last}")}}
            for label, g in groups.items() if g}  # fmt: skip


def blind_route_allowance_table(path: Path = REFIT_ROUTE) -> str:
    """Per shake, per bin of the first guess's kernel error and all: round 0 and the route's refits at the route's
    allowance and at the smaller one over the blurry photo (rows below it), the change (rows raised), and the change
    were each row given the better of the two (:func:`route_allowance_figures`)."""
    f = route_allowance_figures(path)
    a, n = f["all"]["allowance"], f["all"]["rounds"]
    out = [f"| rows | count | round 0: allowance 0.05 / {a:g} | change (raised) | {n} refits: allowance 0.05 (the "
           f"route) / {a:g} | change (raised) | the better of the two per row | kernel error after {n} refits, "
           f"median: 0.05 / {a:g} |", "|---|---:|---|---|---|---|---:|---|"]  # fmt: skip
    for label, g in f.items():
        cells = [f"{g[r]['route']:+.2f} ({g[r]['route below']}) / {g[r]['small']:+.2f} ({g[r]['small below']}) | "
                 f"{g[r]['change']:+.2f} ({g[r]['raised']})" for r in ("r0", "r2")]  # fmt: skip
        e = g["error"]
        out.append(f"| {label if label.startswith(('motion', 'all')) else f'first guess {label} off'} | "
                   f"{g['r0']['rows']} | {cells[0]} | {cells[1]} | {g['r2']['best']:+.2f} | "
                   f"{e[f'const r{n}']:.2f} / {e[f'half r{n}']:.2f} |")  # fmt: skip
    return "\n".join(out)


# the same under the 9 px shake at sigma_y 0.02 (``--levels 0.02 --shake-sizes 9 --workers 1 --out
# blind_refit_route_train_9px_sigma02.json``)
REFIT_ROUTE_02 = RESULTS / "blind_refit_route_train_9px_sigma02.json"


def blind_route_allowance_02_table(path: Path = REFIT_ROUTE_02) -> str:
    """:func:`blind_route_allowance_table` of the 9 px rows at sigma_y 0.02."""
    return blind_route_allowance_table(path)


# the route's refits fitted to all its samples at once (EM's second moment) instead of their mean, on the training
# photos (``blind_refit_sweep.py --variants joint``), against the route's own rows in ``REFIT_ROUTE``
REFIT_JOINT = RESULTS / "blind_refit_joint_train.json"


def joint_refit_rows(path: Path = REFIT_JOINT, route: Path = REFIT_ROUTE) -> list[dict]:
    """``path``'s rows joined to ``route``'s on the same cases (matched by shake and photo, checked by the blurry
    photo and by round 0, which both make alike): each with ``"route"`` (the route's last refit at the allowance the
    joint rows ran at, the library's: ``half rR`` under 15 taps at sigma_y 0.01, else ``const rR``), ``"joint"`` (the
    refits fitted to all samples) and the kernel errors after them (``"route kerr"``, ``"joint kerr"``)."""
    theirs = {(r["kernel"], r["image"]): r for r in rows_of(route)}
    rows = rows_of(path)
    last = max(int(k.split(" r")[1]) for k in rows[0] if re.fullmatch(r"joint r\d+", k))
    out = []
    for r in rows:
        q = theirs[(r["kernel"], r["image"])]
        col = next(f"{v} r{last}" for v in ("const", "half") if q[f"{v} r1 noise"] == r["joint r1 noise"])
        # the route's round 0 at that allowance (``r0 0.025`` beside ``half rR``)
        start = "r0" if col.startswith("const") else f"r0 {r['joint r1 noise']}"
        assert abs(q["blurry"] - r["blurry"]) < 1e-9 and abs(q[start] - r["r0"]) < 1e-9, (r["kernel"], r["image"])
        out.append({"kernel": r["kernel"], "image": r["image"], "blurry": r["blurry"], "route": q[col],
                    "joint": r[f"joint r{last}"], "route kerr": q[f"{col} kerr"],
                    "joint kerr": r[f"joint r{last} kerr"]})  # fmt: skip
    return sorted(out, key=lambda r: (int(r["kernel"].split()[1]), r["image"]))


def joint_refit_figures(path: Path = REFIT_JOINT, route: Path = REFIT_ROUTE) -> dict[str, dict[str, Any]]:
    """Per shake, the 15-31 px shakes together and ``"all"``: :func:`_allowance_pair` of the route (``"route"``)
    and the refits fitted to all samples (``"small"``) over :func:`joint_refit_rows`, with ``"error"``, the median
    kernel error after the refits of each."""
    rows = joint_refit_rows(path, route)
    groups = {**{s: g for s, g in _shake_groups(rows).items() if s != "all"},
              "motion 15-31 px": [r for r in rows if r["kernel"] != "motion 9 px"], "all": rows}  # fmt: skip
    return {label: {**_allowance_pair(g, "route", "joint"),
                    "error": {k: float(np.median([r[f"{k} kerr"] for r in g])) for k in ("route", "joint")}}
            for label, g in groups.items() if g}  # fmt: skip


def blind_refit_joint_table(path: Path = REFIT_JOINT, route: Path = REFIT_ROUTE) -> str:
    """Per shake and all: the route's two refits fitted to the samples' mean (the route) and to all samples, over the
    blurry photo (rows below it), the change (rows raised) and the median kernel error after them
    (:func:`joint_refit_figures`)."""
    f = joint_refit_figures(path, route)
    out = ["| shake | rows | refits fitted to the mean (the route) | fitted to all 4 samples | change: mean (least / most) "
           "| rows raised | kernel error after the refits, median: the mean's / all samples' |",
           "|---|---:|---:|---:|---|---:|---|"]  # fmt: skip
    for label, g in f.items():
        out.append(f"| {label} | {_pair_cells(g)} | {g['raised']} | {g['error']['route']:.2f} / "
                   f"{g['error']['joint']:.2f} |")  # fmt: skip
    return "\n".join(out)


# the 9 px shake's route (the L0 estimate) on the held-out photos at half the allowance, the size the training photos
# favoured (``REFIT_ROUTE``): ``blind_real.py --shake --samples 4 --shake-sizes 9 --levels 0.01,0.02 --no-true-kernel
# --allowance 0.025 --out blind_allowance025_shake_samples4_9px.json``, against the route (``REFITS_AFTER`` and
# ``REFITS_AFTER_02``, the same cases)
ALLOWANCE_9 = RESULTS / "blind_allowance025_shake_samples4_9px.json"


def allowance_pairs(after: Path = ALLOWANCE_9) -> dict[str, tuple[list, list]]:
    """``"motion 9 px, sigma_y S"`` per sigma_y, and ``"all"`` -> the route's rows at the allowance 0.05 and
    ``after``'s for the same cases, as :func:`refits_pairs` pairs its own (the true kernel's mean of N from the
    route's rows)."""
    before = [r for p in (REFITS_AFTER, REFITS_AFTER_02) for r in refits_pairs(p)["all"][1]]
    old, new = _paired(after, before)["all"]
    levels = dict.fromkeys(r["sigma_y"] for r in new)
    return {**{f"motion 9 px, sigma_y {s:g}": ([o for o in old if o["sigma_y"] == s],
                                                [n for n in new if n["sigma_y"] == s]) for s in levels},
            "all": (old, new)}  # fmt: skip


def allowance_route_figures(after: Path = ALLOWANCE_9) -> dict[str, Any]:
    """:func:`_pair_figures` (its ``"all"``) of the route over the 9-31 px shakes at sigma_y 0.01 (:func:`tv_route_rows`:
    the TV estimate from ``TV_FROM`` px) at the allowance 0.05 throughout, and with ``after``'s rows (half the
    allowance, where :func:`~ddrm.pipeline.blind.held_allowance` now gives it) in place of its own at 0.01."""
    small = allowance_pairs(after)["motion 9 px, sigma_y 0.01"][1]
    old = tv_route_rows(TV_AFTER, REFITS_AFTER)
    swapped = {(r["kernel"], r["image"]): r for r in small}
    now = [swapped.get((r["kernel"], r["image"]), r) for r in old]
    assert sum(n is not o for n, o in zip(now, old)) == len(swapped) == 6
    return _pair_figures({"all": (old, now)})["all"]


# the 9 px shake at sigma_y 0.01 through the route as the library runs it since held_allowance (commit 8da3370):
# ``blind_real.py --shake --samples 4 --shake-sizes 9 --levels 0.01 --no-true-kernel --out
# blind_halved_shake_samples4_9px.json`` (no --allowance: its default), and the true kernel held by it (``--true-held``,
# ``blind_halved_true_held_samples4_9px.json``)
HALVED_ROUTE = RESULTS / "blind_halved_shake_samples4_9px.json"
HALVED_TRUE = RESULTS / "blind_halved_true_held_samples4_9px.json"


def halved_true_held_figures(path: Path = HALVED_TRUE) -> dict[str, dict[str, Any]]:
    """The 9 px shake at sigma_y 0.01: :func:`true_held_figures` before (``"before"``: the allowance 0.05, the route
    and the true kernel held by it) and now (``"now"``: ``path``'s true kernel held at the library's default, with
    the route at half the allowance, :func:`allowance_pairs`)."""
    now = true_held_figures(path, route=allowance_pairs()["motion 9 px, sigma_y 0.01"][1])
    return {"before": true_held_figures()["motion 9 px"], "now": now["motion 9 px"]}


def blind_allowance_9_table(after: Path = ALLOWANCE_9) -> str:
    """:func:`_pair_table` of the 9 px shake's route at the route's allowance and at the smaller one, per sigma_y."""
    return _pair_table(_pair_figures(allowance_pairs(after)), "", "motion 9 px, both levels",
                       labels=("allowance 0.05 (the route)", "allowance 0.025"))  # fmt: skip


# whether the classical estimate at the default window tells a shake's extent (a size guessed, not asked for):
# ``blind_real.py --extent 21 --out blind_shake_extent21.json`` (no restoration), and on the training photos
# (``--heldout data/photos/train --out blind_shake_extent21_train.json``)
SHAKE_EXTENT = RESULTS / "blind_shake_extent21.json"
SHAKE_EXTENT_TRAIN = RESULTS / "blind_shake_extent21_train.json"


def extent_figures(path: Path = SHAKE_EXTENT, rows: list[dict] | None = None) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> the rows, the window, the true extent (``None`` over several shakes), the estimates'
    extent (median, least, most), how many fill the window, lie within 2 px of the true extent or under half of it,
    and the medians of their outer two rings' mass and of their kernel error; of ``rows`` (with ``path``'s columns)
    in place of ``path``'s where given."""
    rows = rows_of(path) if rows is None else rows
    groups = {s: [r for r in rows if r["kernel"] == s] for s in dict.fromkeys(r["kernel"] for r in rows)}
    out = {}
    for label, rs in {**groups, "all": rows}.items():
        ext, true = [r["extent"] for r in rs], {r["true extent"] for r in rs}
        out[label] = {
            "rows": len(rs),
            "window": rs[0]["window"],
            "true": true.pop() if len(true) == 1 else None,
            "median": float(np.median(ext)),
            "least": min(ext),
            "most": max(ext),
            "fills": sum(r["extent"] == r["window"] for r in rs),
            "near": sum(abs(r["extent"] - r["true extent"]) <= 2 for r in rs),
            "collapsed": sum(r["extent"] < r["true extent"] / 2 for r in rs),
            "outer": float(np.median([r["outer mass"] for r in rs])),
            "error": float(np.median([r["kernel error"] for r in rs])),
        }
    return out


def blind_shake_extent_table(path: Path = SHAKE_EXTENT) -> str:
    """Per shake (and all): the true extent against the classical estimate's at the window (:func:`extent_figures`)."""
    figures = extent_figures(path)
    w = figures["all"]["window"]
    out = [f"| shake | rows | true extent | estimate's extent: median (least-most) | fills the {w} px window | within 2 "
           "px of the true extent | under half the true extent | outer two rings' mass: median | kernel error: "
           "median |", "|---|---:|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, f in figures.items():
        true = "-" if f["true"] is None else f"{f['true']} px"
        out.append(f"| {label} | {f['rows']} | {true} | {f['median']:g} px ({f['least']}-{f['most']}) | {f['fills']} | "
                   f"{f['near']} | {f['collapsed']} | {f['outer']:.3f} | {f['error']:.2f} |")  # fmt: skip
    return "\n".join(out)


# where the classical estimate's error comes from: ``blind_real.py --fixed-point --levels 0.01`` (no restoration)
SHAKE_FIXED_POINT = RESULTS / "blind_shake_fixed_point.json"
FIXED_POINT_COLUMNS = {  # the row's key -> the table's column
    "estimate": "estimate",
    "estimate, no noise": "estimate, no noise",
    "from the true kernel, weight 0.01": "from the true kernel: one alternation, weight 1e-2",
    "from the true kernel, weight 0.001": "1e-3",
    "from the true kernel, weight 0.0001": "1e-4",
    "from the true kernel, the full scale's schedule": "the full scale's schedule",
}


def fixed_point_figures(path: Path = SHAKE_FIXED_POINT) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> the rows and, per column of :data:`FIXED_POINT_COLUMNS`, the kernel errors' mean and
    median, and on how many rows the estimate without noise is nearer the true kernel than with it."""
    out = {}
    for label, rs in _shake_groups(rows_of(path)).items():
        f: dict[str, Any] = {"rows": len(rs)}
        for key in FIXED_POINT_COLUMNS:
            f[key] = {"mean": float(np.mean([r[key] for r in rs])), "median": float(np.median([r[key] for r in rs]))}
        f["nearer without noise"] = sum(r["estimate, no noise"] < r["estimate"] for r in rs)
        out[label] = f
    return out


def blind_shake_fixed_point_table(path: Path = SHAKE_FIXED_POINT) -> str:
    """Per shake (and all): the kernel errors (mean / median) of :func:`fixed_point_figures`' columns."""
    out = ["| shake | rows | " + " | ".join(f"{c}: mean / median" if i == 0 else c
                                              for i, c in enumerate(FIXED_POINT_COLUMNS.values())) + " |",
           "|---|---:|" + "---:|" * len(FIXED_POINT_COLUMNS)]  # fmt: skip
    for label, f in fixed_point_figures(path).items():
        cells = [f"{f[key]['mean']:.2f} / {f[key]['median']:.2f}" for key in FIXED_POINT_COLUMNS]
        out.append(f"| {label} | {f['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


SHAKE_ESTIMATORS_TRAIN = RESULTS / "blind_shake_estimators_train.json"


def _rows_of_files(paths: Path | tuple[Path, ...]) -> list[dict]:
    """The rows of a result file, or of several in turn."""
    return [r for p in (paths if isinstance(paths, tuple) else (paths,)) for r in rows_of(p)]


def estimators_figures(path: Path | tuple[Path, ...] = SHAKE_ESTIMATORS_TRAIN) -> dict[str, dict[str, Any]]:
    """shake (and ``"all"``) -> the rows, the window, each estimate's kernel errors (mean, median) and mean seconds,
    and on how many rows the TV estimate is nearer the true kernel than the L0 one (several files: their rows in
    turn)."""
    out = {}
    for label, group in _shake_groups(_rows_of_files(path)).items():
        windows = {r["window"] for r in group}
        out[label] = {"rows": len(group), "window": windows.pop() if len(windows) == 1 else None,
                      "tv nearer": sum(r["tv"] < r["l0"] for r in group)}  # fmt: skip
        for name in ("l0", "tv"):
            errors = [r[name] for r in group]
            out[label][name] = {"mean": float(np.mean(errors)), "median": float(np.median(errors)),
                                "seconds": float(np.mean([r[f"{name} seconds"] for r in group]))}  # fmt: skip
    return out


def blind_shake_estimators_table(path: Path | tuple[Path, ...] = SHAKE_ESTIMATORS_TRAIN) -> str:
    """Per shake (and all): the window, the L0 and TV estimates' kernel errors (mean / median), the rows where the TV
    one is nearer the true kernel, and each estimate's mean seconds."""
    out = ["| shake | rows | window | kernel error, L0: mean / median | TV: mean / median | TV nearer | seconds: L0 / "
           "TV |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, f in estimators_figures(path).items():
        window = "own" if f["window"] is None else f"{f['window']} px"
        out.append(f"| {label} | {f['rows']} | {window} | {f['l0']['mean']:.2f} / {f['l0']['median']:.2f} | "
                   f"{f['tv']['mean']:.2f} / {f['tv']['median']:.2f} | {f['tv nearer']} | "
                   f"{f['l0']['seconds']:.0f} / {f['tv']['seconds']:.0f} |")  # fmt: skip
    return "\n".join(out)


def blind_shake_estimators21_train_table(path: Path = RESULTS / "blind_shake_estimators21_train.json") -> str:
    """:func:`blind_shake_estimators_table` of the estimates at the default 21 px window under a 9 px shake."""
    return blind_shake_estimators_table(path)


def blind_shake_extent_train_table(path: Path = SHAKE_EXTENT_TRAIN) -> str:
    """:func:`blind_shake_extent_table` of the training photos' file."""
    return blind_shake_extent_table(path)


# both estimates in the default 21 px window under every shake, on the training photos, with their extents (commit
# 26c839a, two processes): ``blind_real.py --estimators 21 --shake-sizes 9,15 --levels 0.01 --heldout
# data/photos/train --out blind_tv_extent21_train_9_15px.json`` and the same for 21,31
TV_EXTENT21_TRAIN = tuple(RESULTS / f"blind_tv_extent21_train_{s}px.json" for s in ("9_15", "21_31"))


def blind_tv_window21_train_table(paths: tuple[Path, ...] = TV_EXTENT21_TRAIN) -> str:
    """:func:`blind_shake_estimators_table` of both estimates in the 21 px window under every shake."""
    return blind_shake_estimators_table(paths)


def tv_extent_figures(paths: tuple[Path, ...] = TV_EXTENT21_TRAIN) -> dict[str, dict[str, dict[str, Any]]]:
    """``"l0"`` and ``"tv"`` -> :func:`extent_figures` of that estimate's extent, outer two rings' mass and kernel
    error in ``paths``' rows."""
    rows = _rows_of_files(paths)
    return {name: extent_figures(rows=[{**r, "extent": r[f"{name} extent"], "outer mass": r[f"{name} outer mass"],
                                        "kernel error": r[name]} for r in rows])
            for name in ("l0", "tv")}  # fmt: skip


def blind_tv_extent21_train_table(paths: tuple[Path, ...] = TV_EXTENT21_TRAIN) -> str:
    """Per shake (and all): the true extent, and each estimate's in the 21 px window (median and range), the rows it
    fills the window in and the median of its outer two rings' mass (:func:`tv_extent_figures`)."""
    figures = tv_extent_figures(paths)
    out = ["| shake | rows | true extent | L0 estimate: extent, median (least-most) / fills the window / outer two rings' "
           "mass | TV estimate (its extent after the cleanup): the same |", "|---|---:|---:|---|---|"]  # fmt: skip
    cell = lambda f: f"{f['median']:g} px ({f['least']}-{f['most']}) / {f['fills']} / {f['outer']:.3f}"  # noqa: E731
    for label, f in figures["l0"].items():
        true = "-" if f["true"] is None else f"{f['true']} px"
        out.append(f"| {label} | {f['rows']} | {true} | {cell(f)} | {cell(figures['tv'][label])} |")
    return "\n".join(out)


# the window widened where the TV first guess fills the default one, through the route on the training photos (two
# processes): ``blind_widen.py --part 0/2 --out blind_widen_train_part0.json`` and ``--part 1/2`` into ``..._part1``
WIDEN = tuple(RESULTS / f"blind_widen_train_part{i}.json" for i in (0, 1))


def widen_rows(paths: tuple[Path, ...] = WIDEN) -> list[dict]:
    """The rows of ``paths`` (each shake and photo once) by shake, smallest first, then photo; ``"route"`` and
    ``"wide"`` (the route given the window and the wider size, where the rule fired) and their kernel errors."""
    record = record_of(paths[0])
    assert all(record_of(p)[k] == record[k] for p in paths for k in ("window", "widen_to", "mass", "commit"))
    rows = sorted(_rows_of_files(paths), key=lambda r: (int(r["kernel"].split()[1]), r["image"]))
    assert len({(r["kernel"], r["image"]) for r in rows}) == len(rows), "a case twice"
    names = {"route": f"route {record['window']}", "wide": f"route {record['widen_to']}"}
    return [{**r, **{k: r[v] for k, v in names.items() if v in r},
             **{f"{k} kerr": r[f"{v} kernel error"] for k, v in names.items() if v in r}} for r in rows]  # fmt: skip


def widen_figures(paths: tuple[Path, ...] = WIDEN) -> dict[str, dict[str, Any]]:
    """Per shake and ``"all"``: the rows, those the rule widens (``"widened"``) and, over them, :func:`_allowance_pair`
    of the route given the window (``"route"``) and given the wider size (``"small"``: here the wider one), with
    ``"error"``, the median kernel error after each."""
    out = {}
    for label, group in _shake_groups(widen_rows(paths)).items():
        fired = [r for r in group if r["widened"]]
        out[label] = {"all rows": len(group), "widened": len(fired)}
        if fired:
            out[label].update(_allowance_pair(fired, "route", "wide"))
            out[label]["error"] = {k: float(np.median([r[f"{k} kerr"] for r in fired])) for k in ("route", "wide")}
    return out


def blind_widen_table(paths: tuple[Path, ...] = WIDEN) -> str:
    """Per shake and all: the rows, those the rule widens, and over those the route given the window and given the
    wider size over the blurry photo (rows below it), the change (least / most), the rows raised and the median
    kernel errors (:func:`widen_figures`)."""
    record = record_of(paths[0])
    w, wide = record["window"], record["widen_to"]
    out = [f"| shake | rows | widened | given {w} px | given {wide} px | change: mean (least / most) | rows raised | "
           f"kernel error, median: {w} / {wide} px |", "|---|---:|---:|---:|---:|---|---:|---|"]  # fmt: skip
    for label, g in widen_figures(paths).items():
        if not g["widened"]:
            out.append(f"| {label} | {g['all rows']} | 0 | - | - | - | - | - |")
            continue
        out.append(f"| {label} | {g['all rows']} | {_pair_cells(g)} | {g['raised']} | "  # (its rows: the widened)
                   f"{g['error']['route']:.2f} / {g['error']['wide']:.2f} |")  # fmt: skip
    return "\n".join(out)


# a marginal-likelihood (MAP_k) first guess on the rows of ``--estimators own`` (two processes):
# ``blind_mapk.py --part 0/2 --out blind_mapk_train_part0.json`` and ``--part 1/2`` into ``..._part1``
MAPK = tuple(RESULTS / f"blind_mapk_train_part{i}.json" for i in (0, 1))


def mapk_rows(paths: tuple[Path, ...] = MAPK, estimators: Path = SHAKE_ESTIMATORS_TRAIN) -> list[dict]:
    """The rows of ``paths`` (each shake and photo once, by shake, smallest first, then photo) with the TV and L0
    estimates' kernel errors (``"tv"``, ``"l0"``) and the TV estimate's seconds of the same case in ``estimators``
    (the same photo, seed and noise: checked by the blurry photo's PSNR)."""
    record = record_of(paths[0])
    assert all(record_of(p)[k] == record[k] for p in paths for k in ("commit", "mixture", "photos"))
    theirs = {(r["kernel"], r["image"], r["sigma_y"]): r for r in rows_of(estimators)}
    rows = sorted(_rows_of_files(paths), key=lambda r: (int(r["kernel"].split()[1]), r["image"]))
    assert len({(r["kernel"], r["image"]) for r in rows}) == len(rows), "a case twice"
    out = []
    for r in rows:
        t = theirs[(r["kernel"], r["image"], r["sigma_y"])]
        assert abs(t["blurry"] - r["blurry"]) < 1e-9, "another case than the estimators' one"
        assert t["window"] == int(r["kernel"].split()[1]), "the estimators' file at another window"
        out.append({**r, "tv": t["tv"], "l0": t["l0"], "tv seconds": t["tv seconds"]})
    return out


def mapk_figures(paths: tuple[Path, ...] = MAPK) -> dict[str, dict[str, Any]]:
    """Per shake and ``"all"``: the rows; the kernel errors (mean, median) of the TV, L0 and MAP_k estimates and of
    MAP_k started at the true kernel (``"truth"``); the rows where MAP_k is nearer than TV and than L0, and where its
    kernel's sum was rescued (``blind_mapk.RESCUE``); the mean seconds of the TV and MAP_k estimates."""
    out = {}
    for label, group in _shake_groups(mapk_rows(paths)).items():
        f = {"rows": len(group), "nearer tv": sum(r["mapk"] < r["tv"] for r in group),
             "nearer l0": sum(r["mapk"] < r["l0"] for r in group), "rescued": sum(r["rescues"] > 0 for r in group),
             "seconds": {k: float(np.mean([r[f"{k} seconds"] for r in group])) for k in ("tv", "mapk")}}  # fmt: skip
        for name, key in (("tv", "tv"), ("l0", "l0"), ("mapk", "mapk"), ("truth", "mapk from truth")):
            errors = [r[key] for r in group]
            f[name] = {"mean": float(np.mean(errors)), "median": float(np.median(errors))}
        out[label] = f
    return out


def blind_mapk_table(paths: tuple[Path, ...] = MAPK) -> str:
    """Per shake and all: the kernel errors (mean / median) of the TV, L0 and MAP_k estimates, the rows where MAP_k
    is nearer than TV, MAP_k's error started at the true kernel, the rows rescued and the seconds
    (:func:`mapk_figures`)."""
    out = ["| shake | rows | kernel error, TV: mean / median | L0 | MAP_k | MAP_k nearer than TV | MAP_k started at the "
           "true kernel | rows rescued | seconds: TV / MAP_k |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    cell = lambda e: f"{e['mean']:.2f} / {e['median']:.2f}"  # noqa: E731
    for label, f in mapk_figures(paths).items():
        out.append(f"| {label} | {f['rows']} | {cell(f['tv'])} | {cell(f['l0'])} | {cell(f['mapk'])} | "
                   f"{f['nearer tv']} | {cell(f['truth'])} | {f['rescued']} | {f['seconds']['tv']:.0f} / "
                   f"{f['seconds']['mapk']:.0f} |")  # fmt: skip
    return "\n".join(out)


# the classical estimates of the same shakes in frames of 256 px (the same photos' centre squares at twice the pixels;
# one process per shake): ``blind_real.py --estimators own --shake-sizes 15 --levels 0.01 --heldout data/photos/train
# --size 256 --out blind_shake_estimators256_train_15px.json`` and the same for 21
FRAMES256 = tuple(RESULTS / f"blind_shake_estimators256_train_{s}px.json" for s in (15, 21))


def _with_estimates(rows: list[dict], estimators: Path, suffix: str = "", same_frame: bool = False) -> list[dict]:
    """``rows`` (one per shake, photo and noise level), each with the L0 and TV kernel errors of the same case in the
    ``estimators`` file (``blind_real.py --estimators``) as ``"l0" + suffix`` and ``"tv" + suffix``; the windows must
    agree, and with ``same_frame`` the blurry photos' PSNR too (the same measurement)."""
    key = lambda r: (r["kernel"], r["image"], r["sigma_y"])  # noqa: E731
    theirs = {key(r): r for r in rows_of(estimators)}
    assert len({key(r) for r in rows}) == len(rows), "a case twice"
    assert all(theirs[key(r)]["window"] == r["window"] for r in rows), "another window than the estimators'"
    assert not same_frame or all(abs(theirs[key(r)]["blurry"] - r["blurry"]) < 1e-9 for r in rows), "other cases"
    return [{**r, f"l0{suffix}": theirs[key(r)]["l0"], f"tv{suffix}": theirs[key(r)]["tv"]} for r in rows]


def frames_rows(paths: tuple[Path, ...] = FRAMES256, small: Path = SHAKE_ESTIMATORS_TRAIN) -> list[dict]:
    """The rows of ``paths`` (frames of 256 px), each with the L0 and TV kernel errors of the same shake, photo and
    noise level in ``small``'s 128 px frames (``"l0 128"``, ``"tv 128"``)."""
    assert all(record_of(p)["size"] == 256 for p in paths) and record_of(small)["size"] == 128
    rows = _with_estimates(_rows_of_files(paths), small, " 128")
    assert all(r["window"] == int(r["kernel"].split()[1]) for r in rows), "another window than the shake's"
    return rows


def frames_figures(paths: tuple[Path, ...] = FRAMES256) -> dict[str, dict[str, Any]]:
    """Per shake and ``"all"``: the rows; the mean kernel errors of the L0 and TV estimates in 128 and 256 px frames;
    the rows where each estimate is nearer in the larger frame, and where the L0 one is nearer than the TV one there;
    the mean seconds of each estimate in the larger frame."""
    out = {}
    for label, group in _shake_groups(frames_rows(paths)).items():
        f = {"rows": len(group), "l0 nearer than tv": sum(r["l0"] < r["tv"] for r in group)}
        for name in ("l0", "tv"):
            f[name] = {"128": float(np.mean([r[f"{name} 128"] for r in group])),
                       "256": float(np.mean([r[name] for r in group])),
                       "nearer": sum(r[name] < r[f"{name} 128"] for r in group),
                       "seconds": float(np.mean([r[f"{name} seconds"] for r in group]))}  # fmt: skip
        out[label] = f
    return out


def blind_frames256_table(paths: tuple[Path, ...] = FRAMES256) -> str:
    """Per shake and all: the L0 and TV estimates' mean kernel errors in 128 and 256 px frames, the rows where each
    is nearer in the larger frame, the rows where L0 is nearer than TV there, and the seconds (:func:`frames_figures`)."""
    out = ["| shake | rows | kernel error, L0: 128 px / 256 px | TV: 128 px / 256 px | nearer at 256 px: L0 / TV | "
           "L0 nearer than TV at 256 px | seconds at 256 px: L0 / TV |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, f in frames_figures(paths).items():
        l0, tv = f["l0"], f["tv"]
        out.append(f"| {label} | {f['rows']} | {l0['128']:.2f} / {l0['256']:.2f} | {tv['128']:.2f} / {tv['256']:.2f} | "
                   f"{l0['nearer']} / {tv['nearer']} | {f['l0 nearer than tv']} | {l0['seconds']:.0f} / "
                   f"{tv['seconds']:.0f} |")  # fmt: skip
    return "\n".join(out)


# whether the TV energy keeps the true shake: ``blind_real.py --tv-fixed-point --levels 0.01 --heldout
# data/photos/train`` (no restoration), joined to the pyramid's estimates of the same cases (SHAKE_ESTIMATORS_TRAIN)
TV_FIXED_POINT = RESULTS / "blind_tv_fixed_point_train.json"


def tv_fixed_point_rows(path: Path = TV_FIXED_POINT, pyramid: Path = SHAKE_ESTIMATORS_TRAIN) -> list[dict]:
    """The rows of ``path`` (the TV estimate's finest scale started at the true kernel), each with the L0 and TV
    kernel errors of the same shake, photo and noise level from ``pyramid`` (``"l0"``, ``"tv"``)."""
    assert (
        record_of(path)["size"] == record_of(pyramid)["size"]
        and record_of(path)["photos"] == record_of(pyramid)["photos"]
    )
    return _with_estimates(rows_of(path), pyramid, same_frame=True)


def tv_fixed_point_figures(path: Path = TV_FIXED_POINT) -> dict[str, dict[str, Any]]:
    """Per shake and ``"all"``: the rows; the kernel errors (mean, median) of the TV estimate from the pyramid and
    from the true kernel; the rows where the start at the true kernel ends nearer, where it ends under 0.5 and under
    0.25 (the pyramid's own counts beside), and its mean seconds."""
    out = {}
    for label, group in _shake_groups(tv_fixed_point_rows(path)).items():
        f: dict[str, Any] = {"rows": len(group), "seconds": float(np.mean([r["seconds"] for r in group]))}
        for key, name in (("tv", "pyramid"), ("tv from the true kernel", "truth")):
            errors = [r[key] for r in group]
            f[name] = {"mean": float(np.mean(errors)), "median": float(np.median(errors)),
                       "under 0.5": sum(e < 0.5 for e in errors), "under 0.25": sum(e < 0.25 for e in errors)}  # fmt: skip
        f["nearer"] = sum(r["tv from the true kernel"] < r["tv"] for r in group)
        out[label] = f
    return out


def blind_tv_fixed_point_table(path: Path = TV_FIXED_POINT) -> str:
    """Per shake and all: the TV estimate's kernel errors from the pyramid and from the true kernel, the rows where
    the latter is nearer, the rows under 0.5 and 0.25 each way, and the seconds (:func:`tv_fixed_point_figures`)."""
    out = ["| shake | rows | kernel error, TV from the pyramid: mean / median | from the true kernel: mean / median | "
           "nearer from the true kernel | under 0.5: pyramid / true kernel | under 0.25: the same | seconds from the "
           "true kernel |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, f in tv_fixed_point_figures(path).items():
        a, b = f["pyramid"], f["truth"]
        out.append(f"| {label} | {f['rows']} | {a['mean']:.2f} / {a['median']:.2f} | {b['mean']:.2f} / "
                   f"{b['median']:.2f} | {f['nearer']} | {a['under 0.5']} / {b['under 0.5']} | {a['under 0.25']} / "
                   f"{b['under 0.25']} | {f['seconds']:.0f} |")  # fmt: skip
    return "\n".join(out)


def shake_steps_rows(path: Path = RESULTS / "blind_shake_steps100.json") -> list[dict]:
    """:func:`shake_rows` (the full model at 20 steps, ``blind_shake.json``) with the full model at the steps of
    ``path`` (``--shake --steps 100``: DiffPIR's own count, a user's default) as ``"blind, full, more steps"``."""
    rows = shake_rows(path.parent / "blind_shake.json")
    out = []
    for r, other in zip(rows, _matched(rows, rows_of(path))):
        assert abs(other["blind, full kernel error"] - r["blind, full kernel error"]) < 1e-9, "other estimates"
        out.append({**r, "blind, full, more steps": other["blind, full"]})
    return out


def shake_steps_figures(path: Path = RESULTS / "blind_shake_steps100.json") -> dict[str, Any]:
    """The figures the prose on the full model's steps quotes: its change against the blurry photo at the more steps
    (mean, worst, rows below), the distance below the true kernel at 100 steps, and the change from 20 steps."""
    rows = shake_steps_rows(path)
    gains = [r["blind, full, more steps"] - r["blurry"] for r in rows]
    change = [r["blind, full, more steps"] - r["blind, full"] for r in rows]
    return {"rows": len(rows), "mean": float(np.mean(gains)), "worst": min(gains), "below": sum(g < 0 for g in gains),
            "gap 100": float(np.mean([r["true kernel, 100 steps"] - r["blind, full, more steps"] for r in rows])),
            "change": float(np.mean(change)), "improved": sum(c > 0 for c in change)}  # fmt: skip


def blind_shake_steps_table(path: Path = RESULTS / "blind_shake_steps100.json") -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the full model at 20 and at 100 steps, the true kernel at
    100 steps (mean PSNR) and the photos below the blurry one at 20 and 100 steps."""
    out = ["| kernel | sigma_y | blurry | blind, full: 20 steps | 100 steps | true kernel, 100 steps | below blurry: 20 / "
           "100 steps |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(shake_steps_rows(path), "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        below = [sum(r[k] < r["blurry"] for r in rs) for k in ("blind, full", "blind, full, more steps")]
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, full'):.2f} | "
                   f"{avg('blind, full, more steps'):.2f} | {avg('true kernel, 100 steps'):.2f} | {below[0]} / "
                   f"{below[1]} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def blind_shake_photos_table(path: Path = RESULTS / "blind_shake_train.json") -> str:
    """:func:`blind_shake_table` for another photo set (``--shake --heldout DIR``: the training photos), which has no
    separable or true-kernel files to join: per camera-shake kernel and sigma_y the blurry photo, the full model and
    its kernel error (means), its mean change and worst photo against the blurry one, the photos below it."""
    out = ["| kernel | sigma_y | blurry | blind, full (classical, held) | kernel error | full - blurry: mean / worst "
           "(photo) | below blurry |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows_of(path), "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        worst = min(rs, key=lambda r: r["blind, full"] - r["blurry"])
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, full'):.2f} | "
                   f"{avg('blind, full kernel error'):.2f} | {avg('blind, full') - avg('blurry'):+.2f} / "
                   f"{worst['blind, full'] - worst['blurry']:+.2f} ({worst['image']}) | "
                   f"{sum(r['blind, full'] < r['blurry'] for r in rs)} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def motion_fit_rows(path: Path = RESULTS / "blind_motion_fit.json") -> list[dict]:
    """The rows of ``path`` (``--kernel-fit``) with, for the same cases, the offered model (two draws) and the true
    kernel at 20 steps from ``blind_draws2_motion.json``."""
    rows = rows_of(path)
    return [{**other, **r} for r, other in zip(rows, _matched(rows, rows_of(path.parent / "blind_draws2_motion.json")))]


FIT_ERRORS = ("scene fit", "scene fit, smoothed", "classical guess", "classical guess, separable")


def motion_fit_figures(path: Path = RESULTS / "blind_motion_fit.json") -> dict[str, Any]:
    """The figures the kernel-fit prose quotes: each fit's kernel error (median, least, largest) and, for the scene's
    fit and the full classical guess held fixed, :func:`_row_figures`."""
    rows = motion_fit_rows(path)
    out: dict[str, Any] = {"rows": len(rows)}
    for key in FIT_ERRORS:
        e = [r[f"{key} kernel error"] for r in rows]
        out[key] = {"median": float(np.median(e)), "least": min(e), "largest": max(e)}
    for key in ("scene fit", "classical guess"):
        out[key].update(_row_figures(rows, key))
    return out


def blind_motion_fit_table(path: Path = RESULTS / "blind_motion_fit.json") -> str:
    """Per camera-shake kernel and sigma_y: the blurry photo, the true kernel, the full kernel fitted to the true scene
    and the full classical guess, each held fixed (mean PSNR), the mean kernel errors of the fits, and the photos
    below the blurry one."""
    rows = motion_fit_rows(path)
    out = ["| kernel | sigma_y | blurry | true kernel | fit to the scene | classical guess (full) | kernel error: fit to the "
           "scene / smoothed / classical guess, full / separable | below blurry: true kernel / fit to the scene / "
           "classical guess |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        below = [sum(r[k] < r["blurry"] for r in rs) for k in ("true kernel", "scene fit", "classical guess")]
        errors = " / ".join(f"{avg(f'{k} kernel error'):.2f}" for k in FIT_ERRORS)
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('true kernel'):.2f} | {avg('scene fit'):.2f} | "
                   f"{avg('classical guess'):.2f} | {errors} | {' / '.join(map(str, below))} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


def blind_offered_table(path: Path = RESULTS / "blind_real_train.json") -> str:
    """Per kernel and sigma_y: the blurry photo, the offered blind model and DDRM with the true kernel (mean PSNR), the
    kernel error, the blind model's mean and worst change against the blurry photo, and the counts below it."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | blurry | blind, valid (offered) | true kernel | kernel error | blind - blurry, mean | "
           "worst photo | below blurry: blind / true kernel |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        gains = [r["blind, valid"] - r["blurry"] for r in rs]
        worst = min(zip(gains, (r["image"] for r in rs)))
        true_below = sum(r["true kernel"] < r["blurry"] for r in rs)
        out.append(f"| {family} | {s:g} | {avg('blurry'):.2f} | {avg('blind, valid'):.2f} | {avg('true kernel'):.2f} | "
                   f"{avg('blind, valid kernel error'):.2f} | {np.mean(gains):+.2f} | {worst[0]:+.2f} ({worst[1]}) | "
                   f"{sum(g < 0 for g in gains)} / {true_below} of {len(gains)} |")  # fmt: skip
    return "\n".join(out)


def blind_figures(path: Path, key: str) -> dict[str, float]:
    """The figures the blind-deblurring prose quotes from one result file: rows, rows below the blurry photo, the
    blind model's (``key``) mean and worst change against it, its mean distance below the true kernel, and the true
    kernel's mean and least change and its rows below the blurry photo."""
    return _row_figures(rows_of(path), key)


def _row_figures(rows: list[dict], key: str, true_key: str = "true kernel") -> dict[str, float]:
    """:func:`blind_figures` of rows already read (against the column ``true_key``)."""
    gains = [r[key] - r["blurry"] for r in rows]
    true = [r[true_key] - r["blurry"] for r in rows]
    return {"rows": len(rows), "below": sum(g < 0 for g in gains), "mean": float(np.mean(gains)), "worst": min(gains),
            "gap": float(np.mean(true) - np.mean(gains)), "true mean": float(np.mean(true)), "true least": min(true),
            "true below": sum(t < 0 for t in true)}  # fmt: skip


def seed_files(results: Path = RESULTS) -> dict[int, Path]:
    """seed -> the held-out offered-model result file made with it: ``blind_real.json`` (seed 0, its valid column) and
    ``blind_real_seed{N}.json`` (``blind_real.py --offered-only --seed N``)."""
    files = {int(p.stem.removeprefix("blind_real_seed")): p for p in results.glob("blind_real_seed*.json")}
    return {0: results / "blind_real.json", **dict(sorted(files.items()))}


def _seed_cases(files: dict[int, Path]) -> dict[tuple, list[float]]:
    """(kernel, sigma_y, photo) -> the offered model's change against the blurry photo under each draw."""
    cases: dict[tuple, list[float]] = {}
    for f in files.values():
        for r in rows_of(f):
            cases.setdefault((r["kernel"], r["sigma_y"], r["image"]), []).append(r["blind, valid"] - r["blurry"])
    return cases


def seed_figures(results: Path = RESULTS) -> dict[str, Any]:
    """The offered model on the held-out photos over every draw of :func:`seed_files`: draws, restorations and those
    below the blurry photo, cases (photo, kernel, sigma_y) below it in one draw or more and in every one, the mean
    change, the worst one and its case, and the mean distance below the true kernel."""
    files = seed_files(results)
    cases = _seed_cases(files)
    gains = [g for v in cases.values() for g in v]
    case, worst = min(cases.items(), key=lambda kv: min(kv[1]))
    return {"draws": len(files), "restorations": len(gains), "below": sum(g < 0 for g in gains), "cases": len(cases),
            "some": sum(min(v) < 0 for v in cases.values()), "every": sum(max(v) < 0 for v in cases.values()),
            "mean": float(np.mean(gains)), "worst": min(worst), "worst case": case,
            "gap": float(np.mean([blind_figures(f, "blind, valid")["gap"] for f in files.values()]))}  # fmt: skip


def _case(kernel: str, sigma_y: float, image: str) -> str:
    return f"{image}, {kernel.split(',')[0]}, {sigma_y:g}"


def blind_seeds_table(path: Path = RESULTS / "blind_real_seed1.json") -> str:
    """The offered blind model on the held-out photos (9-25 px) under each draw of the noise (``--seed``): rows below
    the blurry photo (all, and per kernel family over both noise levels), mean and worst change against it, mean
    distance below the true kernel; then the same over all draws (:func:`seed_figures`)."""
    files = seed_files(path.parent)
    families = [f for (f,) in _groups(rows_of(files[0]), "kernel")]
    short = " / ".join(f.split(",")[0] for f in families)
    out = [f"| seed | rows | below blurry | below blurry, per kernel ({short}) | mean change | worst (photo, kernel, "
           "sigma_y) | below the true kernel |", "|---|---:|---:|---|---:|---|---:|"]  # fmt: skip
    for seed, f in files.items():
        rows, fig = rows_of(f), blind_figures(f, "blind, valid")
        per = " / ".join(str(sum(r["blind, valid"] < r["blurry"] for r in rows if r["kernel"] == k)) for k in families)
        r = min(rows, key=lambda r: r["blind, valid"] - r["blurry"])
        out.append(f"| {seed} | {fig['rows']} | {fig['below']} | {per} | {fig['mean']:+.2f} | {fig['worst']:+.2f} "
                   f"({_case(r['kernel'], r['sigma_y'], r['image'])}) | {fig['gap']:.2f} |")  # fmt: skip
    a = seed_figures(path.parent)
    out.append(f"| all {a['draws']} | {a['restorations']} | {a['below']} | cases: {a['some']} of {a['cases']} below in "
               f"one draw or more, {a['every']} in every one | {a['mean']:+.2f} | {a['worst']:+.2f} "
               f"({_case(*a['worst case'])}) | {a['gap']:.2f} |")  # fmt: skip
    return "\n".join(out)


def draws_files(results: Path = RESULTS) -> dict[int, tuple[Path, Path]]:
    """seed -> the held-out offered-model result file with one kernel draw (:func:`seed_files`) and the one made with
    two (``blind_real.py --offered-only --draws 2 --seed N``: ``blind_draws2_seed{N}.json``)."""
    one = seed_files(results)
    two = {int(p.stem.removeprefix("blind_draws2_seed")): p for p in results.glob("blind_draws2_seed*.json")}
    return {seed: (one[seed], two[seed]) for seed in sorted(two)}


def draws_figures(results: Path = RESULTS) -> dict[str, Any]:
    """Over every seed of :func:`draws_files`: seeds, the offered model's figures with one kernel draw and with two
    (rows, below the blurry photo, mean and worst change against it, mean distance below the true kernel), and the
    rows whose image the second draw changed."""
    files = draws_files(results)
    loaded = [[rows_of(f) for f in pair] for pair in files.values()]
    kept = sum(_kept(a, b, "blind, valid") for a, b in loaded)
    return {"seeds": len(files), "one": _row_figures([r for a, _ in loaded for r in a], "blind, valid"),
            "two": _row_figures([r for _, b in loaded for r in b], "blind, valid"), "kept": kept}  # fmt: skip


def _draws_cells(c: dict) -> str:
    """One side of a draws table: below the blurry photo / mean / worst change / mean distance below the true kernel."""
    return f"{c['below']} / {c['mean']:+.2f} / {c['worst']:+.2f} / {c['gap']:.2f}"


def same_cases(one: list[dict], two: list[dict]) -> None:
    """Asserts two blind result files' rows are the same cases (kernel, sigma_y, photo) in the same order."""
    cases = [[(r["kernel"], r["sigma_y"], r["image"]) for r in rows] for rows in (one, two)]
    assert cases[0] == cases[1], "the two files hold different rows"


def machine_apart(there: list[dict], here: list[dict], key: str) -> list[float]:
    """The same blind command's rows made on two machines: asserts they are the same cases and that DDRM with the true
    kernel agrees to 0.00001 dB, and returns how far apart each blind result (``key``) came out, dB."""
    same_cases(there, here)
    assert max(abs(a["true kernel"] - b["true kernel"]) for a, b in zip(there, here)) < 1e-5, "another computation"
    return [abs(a[key] - b[key]) for a, b in zip(there, here)]


def _kept(one: list[dict], two: list[dict], key: str) -> int:
    """The rows (the same cases in the same order) whose image two draws changed: the second draw was kept."""
    same_cases(one, two)
    return sum(r[key] != s[key] for r, s in zip(one, two))


def blind_draws_table(path: Path = RESULTS / "blind_draws2_seed0.json") -> str:
    """Per draw of the noise (``--seed``): the offered blind model with one kernel draw against two (the image that
    departs least from the photo kept): rows below the blurry photo, mean and worst change against it, mean distance
    below the true kernel, and the rows whose image the second draw changed; then all seeds together."""
    out = ["| seed | rows | one draw: below blurry / mean / worst / below the true kernel | two draws: the same | "
           "rows where the second draw was kept |", "|---|---:|---|---|---:|"]  # fmt: skip
    for seed, (one, two) in draws_files(path.parent).items():
        a, b = rows_of(one), rows_of(two)
        one_fig, two_fig = _row_figures(a, "blind, valid"), _row_figures(b, "blind, valid")
        out.append(f"| {seed} | {len(a)} | {_draws_cells(one_fig)} | {_draws_cells(two_fig)} | "
                   f"{_kept(a, b, 'blind, valid')} |")  # fmt: skip
    f = draws_figures(path.parent)
    out.append(f"| all {f['seeds']} | {f['one']['rows']} | {_draws_cells(f['one'])} | {_draws_cells(f['two'])} | "
               f"{f['kept']} |")  # fmt: skip
    return "\n".join(out)


# the other photo sets' blind result files made with one kernel draw (``blind_real.py`` without ``--draws``) and with
# two (``--draws 2``, the default since the held-out seeds above), and the offered model's result key
DRAWS_SETS = {
    "held-out photos, 21-31 px": ("blind_real_large", "blind_draws2_large", "blind, valid"),
    "held-out photos, camera shake 9-21 px": ("blind_real_motion", "blind_draws2_motion", "blind, separable"),
    # the training pair made on one machine: ``blind_real_train`` came from a CPU whose rounding moves the estimates
    "training photos, 9-25 px": ("blind_draws1_train", "blind_draws2_train", "blind, valid"),
}


def draws_set_figures(label: str, results: Path = RESULTS) -> dict[str, Any] | None:
    """The set ``label`` of :data:`DRAWS_SETS` with one kernel draw and with two (:func:`_row_figures` each) and the
    rows where the second draw was kept; ``None`` while its two-draw file is not made."""
    one, two, key = DRAWS_SETS[label]
    if not (results / f"{two}.json").is_file():
        return None
    a, b = (rows_of(results / f"{name}.json") for name in (one, two))
    return {"one": _row_figures(a, key), "two": _row_figures(b, key), "kept": _kept(a, b, key)}


def blind_draws_sets_table(path: Path = RESULTS / "blind_draws2_large.json") -> str:
    """Per photo set of :data:`DRAWS_SETS` (those made both ways): the offered blind model with one kernel draw
    against two, in :func:`blind_draws_table`'s columns."""
    out = ["| photos, kernels | rows | one draw: below blurry / mean / worst / below the true kernel | two draws: the "
           "same | rows where the second draw was kept |", "|---|---:|---|---|---:|"]  # fmt: skip
    for label in DRAWS_SETS:
        f = draws_set_figures(label, path.parent)
        if f is not None:
            out.append(f"| {label} | {f['one']['rows']} | {_draws_cells(f['one'])} | {_draws_cells(f['two'])} | "
                       f"{f['kept']} |")  # fmt: skip
    return "\n".join(out)


# the offered model's result files made before the factors were held to one peak (two kernel draws, the default) and
# the same commands after (``blind_real.py ... --out blind_unimodal_*.json``), per photo set; the held-out 9-25 px
# seeds are also pooled
UNIMODAL_SEEDS = {f"held-out photos, 9-25 px, seed {n}": (f"blind_draws2_seed{n}", f"blind_unimodal_seed{n}")
                  for n in range(3)}  # fmt: skip
UNIMODAL_SETS = {**UNIMODAL_SEEDS, "held-out photos, 21-31 px": ("blind_draws2_large", "blind_unimodal_large")}
# likewise the classical first guess (``pyramid="l0"``, the default since; ``blind_real.py ... --out blind_l0_*.json``)
# against the diffusion pyramid's two-draw files
L0_SEEDS = {f"held-out photos, 9-25 px, seed {n}": (f"blind_draws2_seed{n}", f"blind_l0_seed{n}") for n in range(3)}
L0_SETS = {
    **L0_SEEDS,
    "held-out photos, 21-31 px": ("blind_draws2_large", "blind_l0_large"),
    "held-out photos, camera shake 9-21 px": ("blind_draws2_motion", "blind_l0_motion"),
    "training photos, 9-25 px": ("blind_draws2_train", "blind_l0_train"),
}
# likewise the classical first guess with each factor held to one peak (``L0_UNIMODAL``, the default since commit
# 0865557; ``blind_real.py ... --out blind_l0u_*.json``) against its plain factors' files above
L0U_SEEDS = {f"held-out photos, 9-25 px, seed {n}": (f"blind_l0_seed{n}", f"blind_l0u_seed{n}") for n in range(3)}
L0U_SETS = {
    **L0U_SEEDS,
    "held-out photos, 21-31 px": ("blind_l0_large", "blind_l0u_large"),
    "held-out photos, camera shake 9-21 px": ("blind_l0_motion", "blind_l0u_motion"),
    "training photos, 9-25 px": ("blind_l0_train", "blind_l0u_train"),
}


def variant_pairs(
    sets: dict[str, tuple[str, str]], results: Path = RESULTS
) -> dict[str, tuple[list[dict], list[dict]]]:
    """label -> the rows of a pair of result files of ``sets`` (before, after a change), for the sets whose second
    file is made (asserted to hold the same cases in the same order). Each file's distance below the true kernel is
    to its own true-kernel column: a change to the blind estimate leaves it, but pairs made on different CPUs differ
    where DDRM with the true kernel amplifies rounding (the 21-31 px boxes, near-zero singular values: up to 0.15 dB;
    the other kernels under 0.00001)."""
    out = {}
    for label, (before, after) in sets.items():
        if (results / f"{after}.json").is_file():
            a, b = rows_of(results / f"{before}.json"), rows_of(results / f"{after}.json")
            same_cases(a, b)
            out[label] = (a, b)
    return out


def unimodal_pairs(results: Path = RESULTS) -> dict[str, tuple[list[dict], list[dict]]]:
    """:func:`variant_pairs` of :data:`UNIMODAL_SETS`."""
    return variant_pairs(UNIMODAL_SETS, results)


def _blind_key(rows: list[dict]) -> str:
    """The blind column of a result file's rows: the offered model's (``blind, separable`` in the camera-shake ones)."""
    return "blind, valid" if "blind, valid" in rows[0] else "blind, separable"


def variant_figures(sets: dict[str, tuple[str, str]], seeds: dict, names: tuple[str, str],
                    results: Path = RESULTS) -> dict[str, Any]:  # fmt: skip
    """Per set of :func:`variant_pairs` and over the held-out 9-25 px ``seeds`` together (``"held-out photos, 9-25
    px, all N seeds"``): each side's :func:`_row_figures` under ``names`` (before, after), and the rows each leaves
    below the blurry photo that the other does not (``"rescued"``: below before only; ``"new losses"``)."""
    pairs = variant_pairs(sets, results)
    pooled = [v for k, v in pairs.items() if k in seeds]
    if len(pooled) > 1:
        pairs[f"held-out photos, 9-25 px, all {len(pooled)} seeds"] = tuple(
            [r for pair in pooled for r in pair[i]] for i in range(2)
        )
    out = {}
    for label, (a, b) in pairs.items():
        key = _blind_key(a)
        lost = sum(r[key] < r["blurry"] <= s[key] for r, s in zip(a, b))
        new = sum(s[key] < s["blurry"] <= r[key] for r, s in zip(a, b))
        out[label] = {names[0]: _row_figures(a, key), names[1]: _row_figures(b, key), "rescued": lost,
                      "new losses": new}  # fmt: skip
    return out


def unimodal_figures(results: Path = RESULTS) -> dict[str, Any]:
    """:func:`variant_figures` of the plain factors (``"plain"``) against the unimodal ones (``"unimodal"``)."""
    return variant_figures(UNIMODAL_SETS, UNIMODAL_SEEDS, ("plain", "unimodal"), results)


def l0_figures(results: Path = RESULTS) -> dict[str, Any]:
    """:func:`variant_figures` of the diffusion pyramid's first guess (``"chain"``) against the classical one
    (``"l0"``)."""
    return variant_figures(L0_SETS, L0_SEEDS, ("chain", "l0"), results)


def l0u_figures(results: Path = RESULTS) -> dict[str, Any]:
    """:func:`variant_figures` of the classical first guess with plain factors (``"plain"``) against the one with
    factors held to one peak (``"unimodal"``)."""
    return variant_figures(L0U_SETS, L0U_SEEDS, ("plain", "unimodal"), results)


def variant_families(sets: dict[str, tuple[str, str]], names: tuple[str, str],
                     results: Path = RESULTS) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per kernel family over the pairs of ``sets``: each side's mean change against the blurry photo (``names``)
    and mean kernel error (``"NAME error"``)."""
    out: dict[str, dict[str, list[float]]] = {}
    for a, b in variant_pairs(sets, results).values():
        key = _blind_key(a)
        for r, s in zip(a, b):
            f = out.setdefault(r["kernel"], {m: [] for n in names for m in (n, f"{n} error")})
            for name, row in zip(names, (r, s)):
                f[name].append(row[key] - row["blurry"])
                f[f"{name} error"].append(row[f"{key} kernel error"])
    return {k: {m: float(np.mean(v)) for m, v in f.items()} for k, f in out.items()}


def unimodal_families(results: Path = RESULTS) -> dict[str, dict[str, float]]:
    """Per kernel family over the held-out 9-25 px seeds of :func:`unimodal_pairs`: the plain and the unimodal
    factors' mean change against the blurry photo and mean kernel error."""
    return variant_families(UNIMODAL_SEEDS, ("plain", "unimodal"), results)


def l0_families(results: Path = RESULTS) -> dict[str, dict[str, float]]:
    """Per kernel family over the held-out 9-25 px seeds: the diffusion pyramid's and the classical first guess's
    mean change against the blurry photo and mean kernel error."""
    return variant_families(L0_SEEDS, ("chain", "l0"), results)


def _variant_table(figures: dict[str, Any], names: tuple[str, str], columns: tuple[str, str, str]) -> str:
    """Per photo set of :func:`variant_figures`' ``figures``: rows, each side's (``names``: before, after) rows below
    the blurry photo / mean and worst change against it / mean distance below the true kernel, and the rows each
    leaves below the blurry photo that the other lifts above it; ``columns`` heads the before, after and last cells."""
    before, after, last = columns
    out = [f"| photos, kernels | rows | {before}: below blurry / mean / worst / below the true kernel | {after}: the "
           f"same | {last} |", "|---|---:|---|---|---:|"]  # fmt: skip
    for label, f in figures.items():
        out.append(f"| {label} | {f[names[0]]['rows']} | {_draws_cells(f[names[0]])} | {_draws_cells(f[names[1]])} | "
                   f"{f['rescued']} / {f['new losses']} |")  # fmt: skip
    return "\n".join(out)


def blind_l0_table(path: Path = RESULTS / "blind_l0_seed0.json") -> str:
    """Per photo set: the offered blind model (two kernel draws) with the diffusion pyramid's first guess against the
    classical one (:data:`L0_SETS`), in :func:`blind_unimodal_table`'s columns."""
    return _variant_table(l0_figures(path.parent), ("chain", "l0"), (
        "diffusion pyramid", "classical (L0) first guess", "below with the pyramid only / with L0 only"))  # fmt: skip


# the files of the blind default as it stands (the classical guess held to one peak, two draws, the second run) on
# the held-out photos: the three draws of the 9-25 px set, the 21-31 px set, camera shake
DEFAULT_BLIND_FILES = (*(f"blind_l0u_seed{n}" for n in range(3)), "blind_l0u_large", "blind_l0u_motion")


def default_blind_rows(results: Path = RESULTS) -> list[dict]:
    """The rows of :data:`DEFAULT_BLIND_FILES`, the blind column under one name (``"blind"``; the camera-shake file
    calls it ``blind, separable``)."""
    out = []
    for name in DEFAULT_BLIND_FILES:
        rows = rows_of(results / f"{name}.json")
        key = _blind_key(rows)
        out += [{**r, "blind": r[key], "blind kernel error": r[f"{key} kernel error"]} for r in rows]
    return out


def default_blind_families(results: Path = RESULTS) -> dict[tuple[str, float], dict[str, float]]:
    """(kernel family, sigma_y) -> over :func:`default_blind_rows`: the blind result's mean distance below the true
    kernel (``"gap"``, dB) and its mean kernel error (``"kernel error"``)."""
    return {g: {"gap": float(np.mean([r["true kernel"] - r["blind"] for r in rs])),
                "kernel error": float(np.mean([r["blind kernel error"] for r in rs]))}
            for g, rs in _groups(default_blind_rows(results), "kernel", "sigma_y").items()}  # fmt: skip


def blind_default_table(path: Path = RESULTS / "blind_l0u_seed0.json") -> str:
    """Per kernel family and sigma_y over :data:`DEFAULT_BLIND_FILES` (every draw of the noise pooled): restorations,
    the blurry photo, ``deblur_blind`` as offered and the true kernel (mean PSNR), the kernel error, the blind result's
    mean and worst change against the blurry photo, and the counts below it (blind / true kernel)."""
    out = ["| kernel | sigma_y | restorations | blurry | deblur_blind | true kernel | kernel error | "
           "deblur_blind - blurry: mean / worst | below blurry: deblur_blind / true kernel |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(default_blind_rows(path.parent), "kernel", "sigma_y").items():
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        gains = [r["blind"] - r["blurry"] for r in rs]
        true_below = sum(r["true kernel"] < r["blurry"] for r in rs)
        out.append(f"| {family} | {s:g} | {len(rs)} | {avg('blurry'):.2f} | {avg('blind'):.2f} | "
                   f"{avg('true kernel'):.2f} | {avg('blind kernel error'):.2f} | {np.mean(gains):+.2f} / "
                   f"{min(gains):+.2f} | {sum(g < 0 for g in gains)} / {true_below} |")  # fmt: skip
    return "\n".join(out)


def blind_l0u_table(path: Path = RESULTS / "blind_l0u_train.json") -> str:
    """Per photo set: the classical first guess with plain factors against factors held to one peak
    (:data:`L0U_SETS`), in :func:`blind_unimodal_table`'s columns."""
    return _variant_table(l0u_figures(path.parent), ("plain", "unimodal"), (
        "classical guess, plain factors", "factors held to one peak", "below with plain only / with one peak only"
    ))  # fmt: skip


def blind_unimodal_table(path: Path = RESULTS / "blind_unimodal_seed0.json") -> str:
    """Per photo set: the offered blind model (two kernel draws) with plain factors against unimodal ones: rows below
    the blurry photo, mean and worst change against it, mean distance below the true kernel, and the rows each
    leaves below the blurry photo that the other lifts above it."""
    return _variant_table(unimodal_figures(path.parent), ("plain", "unimodal"), (
        "plain factors", "unimodal factors", "below with plain only / with unimodal only"))  # fmt: skip


# the steps of ``blind_fit_steps.py``'s table (20 steps; the estimator's default first update is step 6, start 0.3)
FIT_STEPS_SHOWN = (0, 3, 6, 9, 12, 15, 17, 18, 19)


def blind_fit_steps_figures(path: Path = RESULTS / "blind_fit_steps.json") -> dict[str, Any]:
    """The kernel fitted to each step's ``x0`` of a chain that has the true kernel (``blind_fit_steps.py``): per step
    (and ``"scene"``, the fit to the scene itself) over all rows: ``x0``'s mean PSNR, the mean kernel error, the
    median of the factors' spread over the true ones, the share of factors fitted more than 1.2 times as wide; and
    per kernel family and step, that median spread."""
    rows = rows_of(path)

    def pooled(fits: list[dict]) -> dict[str, float]:
        spreads = [s for f in fits for s in f["spread"]]
        return {"kernel error": float(np.mean([f["kernel error"] for f in fits])),
                "spread": float(np.median(spreads)), "wide": float(np.mean([s > 1.2 for s in spreads]))}  # fmt: skip

    steps = {i: [r["steps"][i] for r in rows] for i in range(len(rows[0]["steps"]))}
    scene = [{"kernel error": r["scene kernel error"], "spread": r["scene spread"]} for r in rows]
    out: dict[str, Any] = {"rows": len(rows), "scene": pooled(scene)}
    out["steps"] = {i: {"psnr": float(np.mean([f["psnr"] for f in fits])), **pooled(fits)} for i, fits in steps.items()}
    out["families"] = {
        family: {i: float(np.median([s for r in rs for s in r["steps"][i]["spread"]])) for i in steps}
        | {"scene": float(np.median([s for r in rs for s in r["scene spread"]]))}
        for (family,), rs in _groups(rows, "kernel").items()
    }
    return out


def blind_fit_steps_table(path: Path = RESULTS / "blind_fit_steps.json") -> str:
    """:func:`blind_fit_steps_figures` at the steps of :data:`FIT_STEPS_SHOWN` the file has, and for the scene."""
    f = blind_fit_steps_figures(path)
    out = ["| fitted to | x0 PSNR | kernel error | factor spread / true (median) | factors > 1.2x as wide |",
           "|---|---:|---:|---:|---:|"]  # fmt: skip
    for i in (i for i in FIT_STEPS_SHOWN if i in f["steps"]):  # a run with --steps other than 20 has others
        s = f["steps"][i]
        out.append(f"| x0 at step {i} | {s['psnr']:.2f} | {s['kernel error']:.2f} | {s['spread']:.2f} | "
                   f"{100 * s['wide']:.0f} % |")  # fmt: skip
    s = f["scene"]
    out.append(f"| the scene | | {s['kernel error']:.2f} | {s['spread']:.2f} | {100 * s['wide']:.0f} % |")
    return "\n".join(out)


def samples_figures(path: Path = RESULTS / "blind_samples4.json") -> dict[str, Any]:
    """The offered blind model's one sample against the mean of N with the same kernel estimate
    (``blind_real.py --samples N``): :func:`_row_figures` of each (the gap against the true kernel's one sample), the
    mean's gap against the true kernel's mean of N, and the mean gains of the mean over one sample, blind and with the
    true kernel."""
    rows = rows_of(path)
    n = int(path.stem.removeprefix("blind_samples"))
    key, mean_key, true_mean = "blind, valid", f"blind, valid, mean of {n}", f"true kernel, mean of {n}"
    mean = _row_figures(rows, mean_key)
    mean["gap to the mean"] = float(np.mean([r[true_mean] - r[mean_key] for r in rows]))
    return {"samples": n, "one": _row_figures(rows, key), "mean": mean,
            "blind gain": float(np.mean([r[mean_key] - r[key] for r in rows])),
            "least blind gain": min(r[mean_key] - r[key] for r in rows),
            "true gain": float(np.mean([r[true_mean] - r["true kernel"] for r in rows]))}  # fmt: skip


def blind_samples_table(path: Path = RESULTS / "blind_samples4.json") -> str:
    """The offered blind model's one sample against the mean of N with the same kernel estimate
    (:func:`samples_figures`): rows below the blurry photo, mean and worst change against it, mean distance below the
    true kernel's one sample, and below its mean of N."""
    f = samples_figures(path)
    n = f["samples"]
    out = [f"| result | rows | below blurry / mean / worst / below the true kernel (one sample) | below the true "
           f"kernel's mean of {n} |", "|---|---:|---|---:|"]  # fmt: skip
    out.append(f"| one sample (the default) | {f['one']['rows']} | {_draws_cells(f['one'])} | |")
    out.append(f"| mean of {n} (`--samples {n}`) | {f['mean']['rows']} | {_draws_cells(f['mean'])} | "
               f"{f['mean']['gap to the mean']:.2f} |")  # fmt: skip
    return "\n".join(out)


def blind_large_table(path: Path = RESULTS / "blind_real_large.json") -> str:
    """The offered blind model on kernels of 21-31 px (``blind_real.py --large``), in :func:`blind_offered_table`'s
    columns."""
    return blind_offered_table(path)


# the blind result files made before the default image became the second run (the estimating run's own image), each
# beside its counterpart, the result key of the offered model, and the rows' label
SECOND_RUN_SETS = {
    "held-out photos, 9-25 px": ("blind_real", "blind, valid"),
    "held-out photos, 21-31 px": ("blind_real_large", "blind, valid"),
    "held-out photos, camera shake 9-21 px": ("blind_real_motion", "blind, separable"),
    "training photos, 9-25 px": ("blind_real_train", "blind, valid"),
}


def second_run_files(name: str, results: Path = RESULTS) -> tuple[Path, Path]:
    """The result file ``name`` of :data:`SECOND_RUN_SETS` made with the estimating run's image, and the one made with
    the second run."""
    return results / f"{name.replace('blind_real', 'blind_real_chain')}.json", results / f"{name}.json"


def blind_second_run_table(path: Path = RESULTS / "blind_real_chain.json") -> str:
    """Per photo set: the offered blind model's image from the estimating run (``blind_real_chain*.json``) against the
    default second run with the final estimate (``blind_real*.json``): mean and worst change against the blurry photo,
    the rows below it, the mean distance below the true kernel, and the rows (paired) the second run improves."""
    out = ["| photos, kernels | rows | estimating run: mean / worst / below blurry / below true kernel | second run "
           "(default): the same | rows the second run improves |", "|---|---:|---|---|---:|"]  # fmt: skip
    for label, (name, key) in SECOND_RUN_SETS.items():
        chain, second = second_run_files(name, path.parent)
        cells = []
        for f in (chain, second):
            fig = blind_figures(f, key)
            cells.append(f"{fig['mean']:+.2f} / {fig['worst']:+.2f} / {fig['below']} / {fig['gap']:.2f}")
        rows = {f: {(r["kernel"], r["sigma_y"], r["image"]): r[key] for r in rows_of(f)}
                for f in (chain, second)}  # fmt: skip
        assert rows[chain].keys() == rows[second].keys(), f"{name}: the two files hold different rows"
        better = sum(rows[second][c] > rows[chain][c] for c in rows[chain])
        out.append(f"| {label} | {len(rows[chain])} | {cells[0]} | {cells[1]} | {better} |")
    return "\n".join(out)


def kernel_width_table(path: Path = RESULTS / "kernel_width.json") -> str:
    """Per kernel and width factor: DDRM's mean PSNR with the kernel's spread scaled, its mean and worst change against
    the blurry photo and the photos below it."""
    rows = rows_of(path)
    out = ["| kernel | sigma_y | kernel width used | PSNR | - blurry, mean | worst photo | photos below blurry |",
           "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for (family, s), rs in _groups(rows, "kernel", "sigma_y").items():
        for key in (k for k in rs[0] if k.startswith("width x")):
            gains = [r[key] - r["blurry"] for r in rs]
            worst = min(zip(gains, (r["image"] for r in rs)))
            out.append(f"| {family} | {s:g} | {key.removeprefix('width ')} | {np.mean([r[key] for r in rs]):.2f} | "
                       f"{np.mean(gains):+.2f} | {worst[0]:+.2f} ({worst[1]}) | {sum(g < 0 for g in gains)} of "
                       f"{len(gains)} |")  # fmt: skip
    return "\n".join(out)


def memory_guard_table(path: Path = RESULTS / "memory_guard.json") -> str:
    """The memory guard's estimate against the measured peak growth of a 20-step DDRM restore, per prior and size."""
    rows = rows_of(path)
    out = ["| prior | side (px) | estimate (MiB) | measured peak growth (MiB) | estimate / measured |",
           "|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        mib = r["measured"] / 2**20
        ratio = f"{r['estimate'] / r['measured']:.2f}" if mib >= 16 else "- (below the allocator's reuse)"
        out.append(f"| {r['prior']} | {r['side']} | {r['estimate'] / 2**20:.0f} | {mib:.0f} | {ratio} |")
    return "\n".join(out)


def latent_solvers_table(path: Path = RESULTS / "latent_solvers.json") -> str:
    """The latent solvers on the tiny SD-type pipeline: seconds per step, network evaluations, the peak's growth
    against the memory guard's estimate, and the residual over the unconditional sample's."""
    rows = rows_of(path)
    out = ["| solver | side (px) | steps | NFE | s / step | peak growth (MiB) | guard estimate (MiB) | residual / "
           "unconditional |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        out.append(f"| {r['solver']} | {r['side']} | {r['steps']} | {r['nfe']} | {r['seconds_per_step']:.3f} | "
                   f"{r['measured'] / 2**20:.0f} | {r['estimate'] / 2**20:.0f} | {r['residual_ratio']:.2f} |")  # fmt: skip
    return "\n".join(out)


def moved_rows(results: Path = RESULTS) -> tuple[list[dict], list[dict]]:
    """The rows of the image put back in place, before (made at 4be5301) and after (faf2c6a), the same cases in the
    same order: sigma_y 0.01 (``blind_unmoved_seed0.json``, ``blind_moved_seed0.json``), then 0.02 (the same names
    ending ``_level002``)."""
    pairs = [[rows_of(results / f"blind_{side}_seed0{level}.json") for side in ("unmoved", "moved")]
             for level in ("", "_level002")]  # fmt: skip
    return [r for b, _ in pairs for r in b], [r for _, a in pairs for r in a]


def blind_moved_table(path: Path = RESULTS / "blind_moved_seed0.json") -> str:
    """The offered blind model (two kernel draws) with its image put back where the photo is (moved by the
    estimate's fraction of a pixel off centre: ``kernel_offset``, ``move_image``; commit faf2c6a on) against the same
    command at the commit before (4be5301; :func:`moved_rows`; ``blind_l0u_seed0.json`` was made before 7f59dea
    changed the unimodal solve's rounding, and its estimates differ), per kernel and noise level and over all rows:
    the mean PSNR, the rows below the blurry photo, the mean distance below the true kernel."""
    before, after = moved_rows(path.parent)
    same_cases(before, after)
    # the same computation up to the move: DDRM with the true kernel and the estimates agree to the digit
    key = "blind, valid"
    for field in ("true kernel", f"{key} kernel error"):
        assert max(abs(a[field] - b[field]) for a, b in zip(before, after)) < 1e-9, f"another computation: {field}"
    out = ["| kernel | sigma_y | restorations | blurry | before | moved | true kernel | moved - before: mean / least "
           "| below blurry: before / moved | below the true kernel: before / moved |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    groups: dict[tuple, list[int]] = {}
    families = list(dict.fromkeys(r["kernel"] for r in after))  # in the files' order, each kernel's levels together
    for i, r in sorted(enumerate(after), key=lambda e: (families.index(e[1]["kernel"]), e[1]["sigma_y"])):
        groups.setdefault((r["kernel"], r["sigma_y"]), []).append(i)
    for (kernel, level), idx in [*groups.items(), (("all", ""), list(range(len(after))))]:
        b, a = [before[i] for i in idx], [after[i] for i in idx]
        fb, fa = _row_figures(b, key), _row_figures(a, key)
        change = [y[key] - x[key] for x, y in zip(b, a)]
        out.append(f"| {kernel} | {level} | {len(idx)} | {np.mean([r['blurry'] for r in a]):.2f} | "
                   f"{np.mean([r[key] for r in b]):.2f} | {np.mean([r[key] for r in a]):.2f} | "
                   f"{np.mean([r['true kernel'] for r in a]):.2f} | {np.mean(change):+.2f} / {min(change):+.2f} | "
                   f"{fb['below']} / {fa['below']} | {fb['gap']:.2f} / {fa['gap']:.2f} |")  # fmt: skip
    return "\n".join(out)


def _size_keys(rows: list[dict]) -> list[str]:
    """The columns of ``blind_real.py --sizes`` rows made at a size given instead of the blur's (``blind, size N``)."""
    return [k for k in rows[0] if k.startswith("blind, size ") and not k.endswith("kernel error")]


def sizes_figures(path: Path = RESULTS / "blind_sizes.json") -> dict[str, Any]:
    """The figures the prose quotes from ``blind_sizes.json``: the rows, and at the blur's own size those below the
    blurry photo, the mean gain and the distance below the true kernel; per size given (``"21"``...) its
    :func:`_row_figures`, its mean and least change against the blur's size (``change``, ``least``) and its mean change
    per kernel family; and (``apart``) how far the blur's-size column lies from ``blind_moved_seed0.json``'s, the same
    command at faf2c6a on another machine, and the true kernel's from that file's."""
    rows = rows_of(path)
    own = _row_figures(rows, "blind, valid")
    out: dict[str, Any] = {"rows": len(rows), "below": own["below"], "gap": own["gap"], "mean": own["mean"]}
    for k in _size_keys(rows):
        d = [r[k] - r["blind, valid"] for r in rows]
        family = {f: float(np.mean([r[k] - r["blind, valid"] for r in rs]))
                  for (f,), rs in _groups(rows, "kernel").items()}  # fmt: skip
        out[k.removeprefix("blind, size ")] = {**_row_figures(rows, k), "change": float(np.mean(d)), "least": min(d),
                                               "family": family}  # fmt: skip
    earlier = path.parent / "blind_moved_seed0.json"
    if earlier.is_file():
        then = _matched(rows, rows_of(earlier))
        apart = [abs(r["blind, valid"] - t["blind, valid"]) for r, t in zip(rows, then)]
        out["apart"] = {"mean": float(np.mean(apart)), "largest": max(apart),
                        "true kernel": max(abs(r["true kernel"] - t["true kernel"]) for r, t in zip(rows, then))}  # fmt: skip
    return out


def blind_sizes_table(path: Path = RESULTS / "blind_sizes.json") -> str:
    """The offered blind model given other kernel sizes than the blur's (``blind_real.py --sizes``), per kernel and
    over all rows: mean PSNR at the true size and at each size given, the true kernel's, the kernel errors,
    each size's mean and worst change against the true size, and the rows below the blurry photo."""
    rows = rows_of(path)
    keys = ["blind, valid", *_size_keys(rows)]
    names = ["true size", *(k.removeprefix("blind, ") for k in keys[1:])]
    out = [
        f"| kernel | sigma_y | restorations | blurry | {' | '.join(names)} | true kernel | kernel error: "
        f"{' / '.join(names)} | {' | '.join(f'{n} - true size: mean / worst' for n in names[1:])} | "
        f"below blurry: {' / '.join(names)} |",
        "|---|---:|---:|---:|" + "---:|" * (2 * len(names) + 2),
    ]
    for (family, s), rs in [*_groups(rows, "kernel", "sigma_y").items(), (("all", ""), rows)]:
        avg = lambda k: np.mean([r[k] for r in rs])  # noqa: E731
        changes = []
        for k in keys[1:]:
            d = [r[k] - r["blind, valid"] for r in rs]
            changes.append(f"{np.mean(d):+.2f} / {min(d):+.2f}")
        below = " / ".join(str(sum(r[k] < r["blurry"] for r in rs)) for k in keys)
        psnrs = " | ".join(f"{avg(k):.2f}" for k in keys)
        errors = " / ".join(f"{avg(f'{k} kernel error'):.2f}" for k in keys)
        level = s if s == "" else f"{s:g}"
        out.append(f"| {family} | {level} | {len(rs)} | {avg('blurry'):.2f} | {psnrs} | {avg('true kernel'):.2f} | "
                   f"{errors} | {' | '.join(changes)} | {below} of {len(rs)} |")  # fmt: skip
    return "\n".join(out)


# ----------------------------------------------------------------------------- GPU throughput (benchmarks/gpu.py)
GPU = RESULTS / "gpu_h200.json"  # every part, at the commit before the per-call synchronisation was removed
GPU_DDPM_COMPILE = RESULTS / "gpu_h200_ddpm_compile.json"  # the synchronisation count after it; DDPM compiled
GPU_ADM_GRAPHS = RESULTS / "gpu_h200_adm_cudagraphs.json"  # ADM compiled with CUDA graphs (reduce-overhead)
GPU_FILES = (GPU, GPU_DDPM_COMPILE, GPU_ADM_GRAPHS)
MATMUL_BF16_TFLOPS = 790  # the H200's bf16 matrix product rate measured on these machines (the device tool's notes)
GPU_NAMES = {"adm-imagenet256-uncond": "ADM ImageNet 256", "ddpm-celebahq256": "DDPM CelebA-HQ 256"}


def _gpu_rows(paths: tuple[Path, ...] = GPU_FILES) -> list[dict[str, Any]]:
    """The measured rows of the GPU result files (rows skipped by the run's budget or failed left out)."""
    keep = ("flops", "sync", "fixtures", "pipeline")
    return [r for p in paths for r in record_of(p)["rows"] if "images_per_s" in r or r["part"] in keep]


def _gpu_configs(rows: list[dict[str, Any]], preset: str) -> dict[str, dict[int, dict[str, Any]]]:
    """DDRM's rows of one network by configuration (precision, weights, layout, compilation), then batch."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        if r.get("preset") != preset or r.get("solver") != "ddrm" or r["part"] not in ("ddrm", "compile"):
            continue
        if r["part"] == "compile":  # the first run's rows say True: torch.compile's default mode
            mode = "default" if r["compile"] is True else r["compile"]
            name = f"{r['dtype']}, compiled" + (", CUDA graphs (reduce-overhead)" if mode == "reduce-overhead" else "")
        else:
            name = r["dtype"] + (", weights cast" if r["cast_weights"] else "")
            name += ", channels-last" if r["channels_last"] else ""
        out.setdefault(name, {})[r["batch"]] = r
    return out


def gpu_ddrm_table(paths: tuple[Path, ...] = GPU_FILES) -> str:
    """DDRM at 20 steps per network and configuration: images per second and peak memory at each batch, and the
    counted TFLOP/s at the largest batch measured (its share of the measured bf16 matrix rate)."""
    rows = _gpu_rows(paths)
    batches = sorted({r["batch"] for r in rows if r["part"] == "ddrm"})
    head = " | ".join(f"batch {b}: img/s / peak GiB" for b in batches)
    out = [f"| network | precision | {head} | TFLOP/s at the largest batch (share of {MATMUL_BF16_TFLOPS}) |",
           "|---|---|" + "---:|" * len(batches) + "---:|"]  # fmt: skip
    for preset, name in GPU_NAMES.items():
        for config, by_batch in _gpu_configs(rows, preset).items():
            cells = [f"{by_batch[b]['images_per_s']:.2f} / {by_batch[b]['peak_mib'] / 1024:.1f}" if b in by_batch
                     else "-" for b in batches]  # fmt: skip
            top = by_batch[max(by_batch)]["tflops_per_s"]
            out.append(f"| {name} | {config} | {' | '.join(cells)} | {top:.0f} ({top / MATMUL_BF16_TFLOPS:.0%}) |")
    return "\n".join(out)


def gpu_solvers_table(path: Path = GPU) -> str:
    """Every solver on the ADM network in bfloat16 (autocast), 20 steps, batch 1 and 4: images per second, peak
    memory, network evaluations and whether it back-propagates through the network."""
    rows = _gpu_rows((path,))
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        adm = r.get("preset") == "adm-imagenet256-uncond" and r.get("dtype") == "bfloat16"
        plain = r["part"] == "solvers" or (r["part"] == "ddrm" and not r["cast_weights"] and not r["channels_last"])
        if adm and plain and r["batch"] in (1, 4):
            by.setdefault(r["solver"], {})[r["batch"]] = r
    out = ["| solver | network gradient | NFE | batch 1: img/s / peak GiB | batch 4: img/s / peak GiB |",
           "|---|---|---:|---:|---:|"]  # fmt: skip
    for solver, b in by.items():
        grad = "yes" if b[1].get("needs_grad") else "no"
        cells = [f"{b[n]['images_per_s']:.2f} / {b[n]['peak_mib'] / 1024:.1f}" for n in (1, 4)]
        out.append(f"| {solver} | {grad} | {b[1]['nfe']} | {cells[0]} | {cells[1]} |")
    return "\n".join(out)


def gpu_figures(paths: tuple[Path, ...] = GPU_FILES) -> dict[str, Any]:
    """The figures the GPU section quotes, from the result files."""
    rows = _gpu_rows(paths)

    def one(part: str, preset: str, **match: Any) -> dict[str, Any]:
        found = [r for r in rows if r["part"] == part and r.get("preset") == preset
                 and all(r.get(k) == v for k, v in match.items())]  # fmt: skip
        assert found, (part, preset, match)
        return found[0]  # the first file's (a network's FLOPs are counted again by each run)

    adm, ddpm = "adm-imagenet256-uncond", "ddpm-celebahq256"
    plain = {"cast_weights": False, "channels_last": False}
    syncs = [r for r in rows if r["part"] == "sync"]
    fixtures = [r for r in rows if r["part"] == "fixtures"]
    return {
        "adm_gflops": one("flops", adm)["gflops_per_eval"],
        "ddpm_gflops": one("flops", ddpm)["gflops_per_eval"],
        "adm_bf16_16": one("ddrm", adm, dtype="bfloat16", batch=16, **plain),
        "adm_fp32_16": one("ddrm", adm, dtype="float32", batch=16, **plain),
        "adm_bf16_1": one("ddrm", adm, dtype="bfloat16", batch=1, **plain),
        "adm_fp32_1": one("ddrm", adm, dtype="float32", batch=1, **plain),
        "adm_cast_1": one("ddrm", adm, dtype="bfloat16", batch=1, cast_weights=True, channels_last=False),
        "adm_compiled_16": one("compile", adm, batch=16, compile=True),
        "adm_compiled_1": one("compile", adm, batch=1, compile=True),
        "ddpm_compiled_1": one("compile", ddpm, batch=1, compile=True),
        "adm_graphs_1": one("compile", adm, batch=1, compile="reduce-overhead"),
        "ddpm_compiled_16": one("compile", ddpm, batch=16, compile="default"),
        "ddpm_bf16_16": one("ddrm", ddpm, dtype="bfloat16", batch=16, **plain),
        "adm_channels_last_16": one("ddrm", adm, dtype="bfloat16", batch=16, cast_weights=False, channels_last=True),
        "generators": {r["generators"]: r for r in rows if r["part"] == "generators"},
        "fixtures_exact": max(max(r["max_diff_tf32_off"], r["max_diff_lowamp_tf32_off"]) for r in fixtures),
        "fixtures_tf32": max(max(r["max_diff_tf32_on"], r["max_diff_lowamp_tf32_on"]) for r in fixtures),
        "pipeline": {r["task"]: r for r in rows if r["part"] == "pipeline"},
        "sync_before": syncs[0],
        "sync_after": syncs[1],
    }


TABLES = {
    "noise_sweep": noise_sweep_table,
    "consistency": consistency_table,
    "sample_vs_mean": sample_vs_mean_table,
    "real_degradations": real_degradations_table,
    "noise_estimation": noise_estimation_table,
    "grey_photos": grey_photos_table,
    "grey_blind": grey_blind_table,
    "real_boundaries": real_boundaries_table,
    "blind_real": blind_real_table,
    "blind_real_motion": blind_real_motion_table,
    "blind_motion_steps": blind_motion_steps_table,
    "blind_motion_full": blind_motion_full_table,
    "blind_shake": blind_shake_table,
    "blind_shake_steps": blind_shake_steps_table,
    "blind_shake_train": blind_shake_photos_table,
    "blind_shake_samples": blind_shake_samples_table,
    "blind_shake_samples_train": blind_shake_samples_photos_table,
    "blind_motion_fit": blind_motion_fit_table,
    "blind_real_train": blind_offered_table,
    "blind_real_large": blind_large_table,
    "blind_second_run": blind_second_run_table,
    "blind_seeds": blind_seeds_table,
    "blind_draws": blind_draws_table,
    "blind_draws_sets": blind_draws_sets_table,
    "blind_unimodal": blind_unimodal_table,
    "blind_l0": blind_l0_table,
    "blind_l0u": blind_l0u_table,
    "blind_default": blind_default_table,
    "blind_samples": blind_samples_table,
    "blind_moved": blind_moved_table,
    "blind_sizes": blind_sizes_table,
    "blind_shake_sizes": blind_shake_sizes_table,
    "blind_ridge": blind_ridge_table,
    "blind_cleanup": blind_cleanup_table,
    "blind_cleanup_given": blind_cleanup_given_table,
    "blind_refits": blind_refits_table,
    "blind_refits_02": blind_refits_02_table,
    "blind_refits_given": blind_refits_given_table,
    "blind_stretch": blind_stretch_table,
    "blind_dihedral": blind_dihedral_table,
    "blind_fallback": blind_fallback_table,
    "blind_fallback_rows": blind_fallback_rows_table,
    "blind_fallback_02": blind_fallback_02_table,
    "blind_fallback_rows_02": blind_fallback_rows_02_table,
    "blind_dark": blind_dark_table,
    "blind_dark_true100": blind_dark_true100_table,
    "blind_shake_contrast": blind_shake_contrast_table,
    "blind_true_held": blind_true_held_table,
    "blind_shake_estimators_train": blind_shake_estimators_table,
    "blind_shake_estimators21_train": blind_shake_estimators21_train_table,
    "blind_tv": blind_tv_table,
    "blind_tv_02": blind_tv_02_table,
    "blind_tv_given": blind_tv_given_table,
    "blind_tv_window21_train": blind_tv_window21_train_table,
    "blind_tv_extent21_train": blind_tv_extent21_train_table,
    "blind_widen": blind_widen_table,
    "blind_mapk": blind_mapk_table,
    "blind_frames256": blind_frames256_table,
    "blind_gap_parts": blind_gap_parts_table,
    "blind_refit_schedules": blind_refit_schedules_table,
    "blind_refit_true": blind_refit_true_table,
    "blind_refit_fits": blind_refit_fits_table,
    "blind_round0_allowance": blind_round0_allowance_table,
    "blind_route_allowance": blind_route_allowance_table,
    "blind_refit_joint": blind_refit_joint_table,
    "blind_route_allowance_02": blind_route_allowance_02_table,
    "blind_allowance_9": blind_allowance_9_table,
    "blind_shake_extent": blind_shake_extent_table,
    "blind_shake_fixed_point": blind_shake_fixed_point_table,
    "blind_tv_fixed_point": blind_tv_fixed_point_table,
    "blind_shake_extent_train": blind_shake_extent_train_table,
    "blind_shake_given": blind_shake_given_table,
    "blind_fit_steps": blind_fit_steps_table,
    "kernel_width": kernel_width_table,
    "memory_guard": memory_guard_table,
    "latent_solvers": latent_solvers_table,
    "gpu_ddrm": gpu_ddrm_table,
    "gpu_solvers": gpu_solvers_table,
}

MARKER = re.compile(r"<!-- table: (\w+) -->\n\n((?:\|.*\n)+)")


def refresh(page: Path) -> str:
    """``page`` with every table after a ``<!-- table: NAME -->`` marker rendered anew from its result file."""
    return MARKER.sub(lambda m: f"<!-- table: {m.group(1)} -->\n\n{TABLES[m.group(1)]()}\n", page.read_text())


PAGES = [RESULTS.parent.parent / "docs" / "benchmarks.md", RESULTS.parent.parent / "README.md"]

if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:  # refresh the pages' tables in place
        for page in PAGES:
            page.write_text(refresh(page))
    else:
        for name, fn in TABLES.items():
            print(f"{name}:\n{fn()}\n")
