"""The documentation stays true: every Python block of README and docs/ runs, every command-line option is named in
the command-line reference, README's links point at files that exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    """A page's blocks run in order in one namespace (a later block may use an earlier one's names), in a fresh
    folder, as a reader would paste them."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(python_blocks(page)):
        exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)  # noqa: S102


def test_readme_shows_python_and_is_a_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert python_blocks(ROOT / "README.md"), "README shows the one-call Python example"
    assert len(text.splitlines()) <= 170, "README is the front door; the rest belongs in docs/"
    assert "python -m pytest tests" in text  # the test command CI runs


def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_every_command_line_option_is_documented():
    import argparse

    from ddrm.cli import build_parser

    reference = (ROOT / "docs" / "guide" / "command-line.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, p in sub.choices.items():
        assert f"ddrm {name}" in reference, f"subcommand {name} is not in the reference"
        for action in p._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help" and f"`{flag}`" not in reference:
                    missing.append(f"ddrm {name} {flag}")
    assert not missing, f"options missing from docs/guide/command-line.md: {missing}"


def test_docs_pages_are_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")).replace(os.sep, "/") in nav, page


def test_the_figures_quoted_agree_with_their_record():
    """The README figure's numbers, wherever they are quoted, are those of its record (docs/images/demo_sr4.json)."""
    import json

    rec = json.loads((ROOT / "docs" / "images" / "demo_sr4.json").read_text())
    assert rec["weights_sha256"] and rec["commit"] and rec["torch"] and rec["device"]
    quoted = {
        "README.md": f"PSNR {rec['psnr_db']:.2f} dB, SSIM {rec['ssim']:.3f}",
        "docs/index.md": f"({rec['psnr_db']:.2f} dB)",
        "docs/benchmarks.md": f"{rec['psnr_db']:.2f} dB / {rec['ssim']:.3f} SSIM against {rec['psnr_pinv_db']:.2f} dB",
        "docs/getting-started.md": f"restored PSNR {rec['psnr_db']:.2f} dB",
    }
    for page, text in quoted.items():
        assert text in (ROOT / page).read_text(encoding="utf-8"), (page, text)


def _prose(name: str) -> str:
    """docs/``name`` with its whitespace runs made single spaces (figures quoted across line breaks match)."""
    return " ".join((ROOT / "docs" / name).read_text(encoding="utf-8").split())


def _summaries():
    """``benchmarks/summaries.py`` (beside the benchmarks, not a package): the tables and figures from result files."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import summaries
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return summaries


def test_the_tables_quoted_are_rendered_from_their_result_files():
    """Every table after a ``<!-- table: NAME -->`` marker (docs/benchmarks.md, README) is what
    ``benchmarks/summaries.py`` renders from the committed result file, and every result file records how it was made
    (``python benchmarks/summaries.py --write`` refreshes the pages)."""
    import json

    summaries = _summaries()
    seen = set()
    for page in summaries.PAGES:
        text = page.read_text(encoding="utf-8")
        for name, table in summaries.MARKER.findall(text):
            assert table.strip() == summaries.TABLES[name]().strip(), f"{page.name}: table {name} is stale"
            seen.add(name)
    committed = set()
    for name, render in summaries.TABLES.items():  # a table's first default: its result file, or a tuple of them
        files = render.__defaults__[0]
        if all(f.is_file() for f in (files if isinstance(files, tuple) else (files,))):
            committed.add(name)
    assert seen == committed, f"tables of committed results not quoted: {committed - seen}"
    for path in summaries.RESULTS.glob("*.json"):
        record = json.loads(path.read_text())
        if "rows" in record:
            assert all(record.get(k) for k in ("weights_sha256", "commit", "torch", "device")), path.name
    sweep = json.loads((summaries.RESULTS / "noise_sweep.provenance.json").read_text())
    assert all(sweep.get(k) for k in ("weights_sha256", "commit", "torch", "device", "protocol"))


# the same blind command made on two machines (docs/benchmarks.md quotes how far apart they came out)
TWO_MACHINES = ("blind_real_train", "blind_draws1_train")


def test_the_blind_deblurring_figures_quoted_agree_with_their_result_files():
    """The prose around the blind-deblurring tables (docs/benchmarks.md, the real-photos guide) quotes counts, means and
    gaps that the tables do not print; each is computed here from its committed result file."""
    summaries = _summaries()
    text = _prose("benchmarks.md")

    def fig(name: str, key: str = "blind, valid") -> dict:
        return summaries.blind_figures(summaries.RESULTS / f"{name}.json", key)

    held, train, width = fig("blind_real"), fig("blind_real_train"), fig("blind_real_width")
    chain = fig("blind_real_chain")  # the estimating run's image, as blind_real_width.json's is
    seeds = summaries.seed_figures()  # the offered model over several draws of the noise
    draws = summaries.draws_figures()  # one kernel draw against two, over the seeds made both ways
    one, two = draws["one"], draws["two"]
    large, motion = fig("blind_real_large"), fig("blind_real_motion", "blind, separable")
    quoted = [
        f"blurry photo on {held['rows'] - held['below']} of {held['rows']} photos",
        f"(mean {held['mean']:+.2f} dB; the one below",
        f"on average {held['gap']:.2f} dB below DDRM with the true kernel",
        f"below the blurry photo in {train['below']} of {train['rows']} (mean {train['mean']:+.2f} dB, "
        f"worst {train['worst']:+.2f} dB)",
        f"(mean {train['true mean']:+.2f} dB, least {train['true least']:+.2f})",
        f"on average {train['gap']:.2f} dB below the true kernel",
        f"in {width['below']} of {width['rows']} rows instead of {chain['below']}",
        f"Over the {seeds['draws']} draws the offered model is below the blurry photo in {seeds['below']} of "
        f"{seeds['restorations']} restorations (mean {seeds['mean']:+.2f} dB, worst {seeds['worst']:+.2f} dB) and "
        f"{seeds['gap']:.2f} dB below the true kernel on average; {seeds['some']} of the {seeds['cases']} cases",
        f"under one draw or more, {seeds['every']} under every one.",
        f"Over the {draws['seeds']} seeds two draws put {two['below']} of {two['rows']} restorations below the blurry "
        f"photo instead of {one['below']} (mean {two['mean']:+.2f} dB instead of {one['mean']:+.2f}, worst "
        f"{two['worst']:+.2f} dB instead of {one['worst']:+.2f}) and come {two['gap']:.2f} dB below the true kernel on "
        f"average instead of {one['gap']:.2f}",
        f"a mean gain of {width['mean']:+.2f} dB instead of {chain['mean']:+.2f}",
        f"{width['gap']:.2f} dB below the true kernel instead of {chain['gap']:.2f}",
        f"below the blurry photo in {large['below']} of {large['rows']} rows (mean {large['mean']:+.2f} dB; "
        f"worst {large['worst']:+.2f} dB",
        f"on average {large['gap']:.2f} dB below DDRM with the true kernel, which is above the blurry photo on all "
        f"{large['rows']} (mean {large['true mean']:+.2f} dB, least {large['true least']:+.2f})",
        f"below the blurry photo on {motion['below']} of {motion['rows']} (mean {motion['mean']:+.2f} dB, "
        f"worst {motion['worst']:+.2f} dB), where the true kernel gains {motion['true mean']:.2f} dB on average",
    ]
    steps = summaries.motion_steps_figures()  # camera shake: the true kernel at 20 steps and at DiffPIR's 100
    at20, more = steps["at 20"], steps["at more"]
    quoted += [
        f"At {steps['steps']} steps the true kernel is above the blurry photo on all {more['rows']} (mean "
        f"{more['true mean']:+.2f} dB, least {more['true least']:+.2f}), where at 20 steps it was below it on "
        f"{at20['true below']} (mean {at20['true mean']:+.2f} dB, least "
        f"{at20['true least']:+.2f}): {steps['more steps gain']:.2f} dB more on average, at least "
        f"{steps['more steps least']:+.2f} on every photo.",
        f"the offered blind model is {more['gap']:.2f} dB below what the true kernel gives on a shaken photo, not "
        f"{at20['gap']:.2f}",
    ]
    assert more["true below"] == 0 and more["true least"] > 0, (
        "the docs say the true kernel at 100 steps is above the blurry photo on every photo"
    )
    full = summaries.motion_full_figures()  # camera shake with a full kernel, and started at the true kernel
    sep, fk, kept = full["blind, separable"], full["blind, full"], full["full, from the true kernel"]
    assert fk["below"] == full["rows"], "the docs say the full model is below the blurry photo on every photo"
    quoted += [
        f"The full model is below the blurry photo on all {full['rows']} (mean {fk['mean']:+.2f} dB, worst "
        f"{fk['worst']:+.2f} dB), the offered separable one on {sep['below']} (mean {sep['mean']:+.2f} dB)",
        f"the kernel error grows to {kept['kernel error']:.2f} on average and the image comes out {kept['gap']:.2f} dB "
        f"below the same solver with the true kernel held fixed ({kept['mean']:+.2f} dB over the blurry photo instead "
        f"of {full['true mean']:+.2f}, and below it on {kept['below']} of {full['rows']})",
    ]
    fit = summaries.motion_fit_figures()  # the full kernel fitted to the true scene against the classical guess
    scene, smoothed, guess = fit["scene fit"], fit["scene fit, smoothed"], fit["classical guess"]
    assert scene["below"] == 0 and guess["below"] > 0, "the docs say the scene's fit is never below the blurry photo"
    quoted += [
        f"Fitted to the true scene the kernel is {scene['median']:.2f} off (median; {scene['least']:.2f} to "
        f"{scene['largest']:.2f} over the {fit['rows']} photos) and restores as the true kernel does "
        f"({scene['mean']:+.2f} dB over the blurry photo against {scene['true mean']:+.2f}, none below it)",
        f"The estimator's smoothing alone takes the same fit to {smoothed['median']:.2f} off ({smoothed['least']:.2f} "
        f"to {smoothed['largest']:.2f})",
        f"the classical guess is {guess['median']:.2f} off (median; {guess['least']:.2f} to {guess['largest']:.2f}), "
        f"and held fixed it restores at the blurry photo's level ({guess['mean']:+.2f} dB on average, below it on "
        f"{guess['below']} of {fit['rows']}, worst {guess['worst']:+.2f} dB), {guess['gap']:.2f} dB below the true "
        f"kernel; the separable guess the offered model starts from is "
        f"{fit['classical guess, separable']['median']:.2f} off",
    ]
    sets = {label: summaries.draws_set_figures(label) for label in summaries.DRAWS_SETS}  # one kernel draw and two
    for pair in sets.values():
        if pair is not None:
            a, b = pair["one"], pair["two"]
            quoted.append(
                f"two draws put {b['below']} of {b['rows']} restorations below the blurry photo instead of "
                f"{a['below']} (mean {b['mean']:+.2f} dB instead of {a['mean']:+.2f}, worst {b['worst']:+.2f} dB "
                f"instead of {a['worst']:+.2f}) and come {b['gap']:.2f} dB below the true kernel instead of "
                f"{a['gap']:.2f}"
            )
    old, here = (summaries.rows_of(summaries.RESULTS / f"{n}.json") for n in TWO_MACHINES)
    moved = summaries.machine_apart(old, here, "blind, valid")  # the true kernel "agrees to 0.00001 dB"
    quoted.append(  # the same command on two machines
        f"more than 1 dB on {sum(m > 1 for m in moved)} of the {len(moved)} rows (up to {max(moved):.2f} dB; "
        f"{train['below']} below the blurry photo there, {fig('blind_draws1_train')['below']} here)"
    )
    samples = summaries.samples_figures()  # the mean of N samples against one, the same estimates
    m, o, n = samples["mean"], samples["one"], samples["samples"]
    here = summaries.rows_of(summaries.RESULTS / f"blind_samples{n}.json")
    assert m["below"] == o["below"], "the docs say the mean leaves the same rows below the blurry photo"
    quoted += [
        f"The mean of {n} is {samples['blind gain']:+.2f} dB above one sample on average (least "
        f"{samples['least blind gain']:+.2f}), the true kernel's mean of {n} {samples['true gain']:+.2f} dB above its "
        "one sample",
        f"leaves the same {m['below']} of {m['rows']} restorations below the blurry photo (worst {m['worst']:+.2f} dB "
        f"instead of {o['worst']:+.2f}) and comes {m['gap']:.2f} dB below the true kernel's one sample, "
        f"{m['gap to the mean']:.2f} dB below its mean of {n}",
    ]
    levels = {r["sigma_y"] for r in here}
    there = [r for r in summaries.rows_of(summaries.RESULTS / "blind_draws2_seed0.json") if r["sigma_y"] in levels]
    apart = summaries.machine_apart(there, here, "blind, valid")
    quoted.append(  # the same command on another machine
        f"differs by more than 0.1 dB on {sum(a > 0.1 for a in apart)} of {len(apart)} rows and by up to "
        f"{max(apart):.2f} dB ({o['below']} below the blurry photo here, "
        f"{sum(r['blind, valid'] < r['blurry'] for r in there)} there)"
    )
    uni = summaries.unimodal_figures()  # the factors held to one peak, against the plain ones
    seeds3, large3 = uni["held-out photos, 9-25 px, all 3 seeds"], uni["held-out photos, 21-31 px"]
    u, p, lu, lp = seeds3["unimodal"], seeds3["plain"], large3["unimodal"], large3["plain"]
    quoted += [
        f"Over the 3 seeds the unimodal factors leave {u['below']} of {u['rows']} restorations below the blurry photo, "
        f"as the plain ones leave {p['below']}, but with a worst of {u['worst']:+.2f} dB instead of {p['worst']:+.2f}, "
        f"a mean gain of {u['mean']:+.2f} dB instead of {p['mean']:+.2f} and {u['gap']:.2f} dB below the true kernel "
        f"instead of {p['gap']:.2f}",
        f"rows below the blurry photo ({lu['below']} of {lu['rows']} instead of {lp['below']}) at {lu['gap']:.2f} dB "
        f"below the true kernel instead of {lp['gap']:.2f}",
    ]
    assert lu["below"] < lp["below"] and u["worst"] < p["worst"] and u["gap"] > p["gap"], "the docs' comparison"
    families = summaries.unimodal_families()  # "every kernel family gains less, the boxes most, and the kernel
    drop = {k: f["plain"] - f["unimodal"] for k, f in families.items()}  # error grows on every family"
    assert min(drop.values()) > 0 and all(f["unimodal error"] > f["plain error"] for f in families.values())
    assert {k for k, _ in sorted(drop.items(), key=lambda kv: -kv[1])[:2]} == {k for k in drop if k.startswith("box")}
    import inspect
    import math

    from ddrm.pipeline.blind import KernelEstimator

    fits = summaries.blind_fit_steps_figures()  # the kernel fitted to a true-kernel chain's x0 at each step
    wide = {k: f[6] for k, f in fits["families"].items()}  # step 6: the default first update (start 0.3 of 20)
    quoted += [
        f"the scene gives the kernel back to an error of {fits['scene']['kernel error']:.2f}",
        f"median Gaussian factor comes out {wide['Gaussian 13 px, std 2']:.2f} times as wide as the truth (13 px), the "
        f"25 px one {wide['Gaussian 25 px, std 4']:.2f} times, the anisotropic kernel's "
        f"{wide['anisotropic Gaussian 15 px, std 1 / 3']:.2f} times",
    ]
    start = inspect.signature(KernelEstimator).parameters["start"].default
    assert math.ceil(start * 20) == 6 and "(step 6 of 20, `start` 0.3)" in text, "the docs' first update"
    assert all(v <= 1 for k, v in wide.items() if k.startswith("box")), "the boxes cannot widen"
    assert all(v > 1.2 for k, v in wide.items() if not k.startswith("box")), "the Gaussians come out wide"
    late = [fits["steps"][i] for i in (17, 18, 19)]  # "from step 17 on the fit is near the truth"
    assert all(abs(f["spread"] - 1) < 0.05 and f["wide"] < 0.1 for f in late)
    l0 = summaries.l0_figures()  # the classical first guess against the diffusion pyramid's, two draws each
    h, hc = l0["held-out photos, 9-25 px, all 3 seeds"]["l0"], l0["held-out photos, 9-25 px, all 3 seeds"]["chain"]
    quoted.append(
        f"Over the 3 held-out seeds the classical first guess leaves {h['below']} of {h['rows']} restorations below "
        f"the blurry photo instead of {hc['below']} (worst {h['worst']:+.2f} dB instead of {hc['worst']:+.2f}), gains "
        f"{h['mean']:+.2f} dB on average instead of {hc['mean']:+.2f} and comes {h['gap']:.2f} dB below the true "
        f"kernel instead of {hc['gap']:.2f}: within #27's 2 dB on average, not yet above the blurry photo on every row."
    )
    assert h["gap"] < 2 < hc["gap"] and h["below"] > 0, "the docs' reading against #27's targets"
    g, gc = l0["held-out photos, 21-31 px"]["l0"], l0["held-out photos, 21-31 px"]["chain"]
    quoted.append(
        f"On the 21-31 px kernels it leaves {g['below']} of {g['rows']} below the blurry photo instead of "
        f"{gc['below']} (worst {g['worst']:+.2f} dB instead of {gc['worst']:+.2f}), gains {g['mean']:+.2f} dB on "
        f"average instead of {gc['mean']:+.2f} and comes {g['gap']:.2f} dB below the true kernel instead of "
        f"{gc['gap']:.2f}: the large Gaussians gain most, the boxes as before, and the 2 dB target is not met there."
    )
    assert g["gap"] > 2, "the 2 dB target is not met on the large kernels"
    m, mc = l0["held-out photos, camera shake 9-21 px"]["l0"], l0["held-out photos, camera shake 9-21 px"]["chain"]
    quoted.append(
        f"it is below the blurry photo in {m['below']} of {m['rows']} instead of {mc['below']} (mean {m['mean']:+.2f} "
        f"dB instead of {mc['mean']:+.2f}, worst {m['worst']:+.2f} dB instead of {mc['worst']:+.2f}) and "
        f"{m['gap']:.2f} dB below the true kernel instead of {mc['gap']:.2f}: less lost, still lost on most photos."
    )
    assert mc["below"] > m["below"] > m["rows"] / 2 and m["gap"] < mc["gap"], "less lost, still lost on most"
    t, tc = l0["training photos, 9-25 px"]["l0"], l0["training photos, 9-25 px"]["chain"]
    quoted.append(
        f"it leaves {t['below']} of {t['rows']} below the blurry photo instead of {tc['below']} (mean {t['mean']:+.2f} "
        f"dB instead of {tc['mean']:+.2f}, worst {t['worst']:+.2f} dB instead of {tc['worst']:+.2f}) and comes "
        f"{t['gap']:.2f} dB below the true kernel instead of {tc['gap']:.2f}."
    )
    change = {k: f["l0"] - f["chain"] for k, f in summaries.variant_families(
        {"large": summaries.L0_SETS["held-out photos, 21-31 px"]}, ("chain", "l0")).items()}  # fmt: skip
    assert all(v > 0.2 if "Gaussian" in k else abs(v) < 0.05 for k, v in change.items()), change
    fam = {k: f"{f['l0']:+.2f} against {f['chain']:+.2f}" for k, f in summaries.l0_families().items()}
    quoted.append(
        f"anisotropic Gaussian ({fam['anisotropic Gaussian 15 px, std 1 / 3'].replace(' against', ' dB against')}), "
        f"the 9 px box ({fam['box 9 px']}) and the 25 px Gaussian ({fam['Gaussian 25 px, std 4']}) gain more, the "
        f"13 px Gaussian ({fam['Gaussian 13 px, std 2']}) and the 15 px box ({fam['box 15 px']}) less."
    )
    gains_more = {k: f["l0"] > f["chain"] for k, f in summaries.l0_families().items()}
    assert gains_more == {"Gaussian 13 px, std 2": False, "anisotropic Gaussian 15 px, std 1 / 3": True, "box 9 px": True,
                    "Gaussian 25 px, std 4": True, "box 15 px": False}, "the families that gain more / less"  # fmt: skip
    l0u = summaries.l0u_figures()  # the classical guess with plain factors against factors held to one peak
    hu, hp = (
        l0u["held-out photos, 9-25 px, all 3 seeds"]["unimodal"],
        l0u["held-out photos, 9-25 px, all 3 seeds"]["plain"],
    )
    quoted.append(
        f"Over the 3 held-out seeds the factors held to one peak leave {hu['below']} of {hu['rows']} restorations below "
        f"the blurry photo instead of {hp['below']}, gain {hu['mean']:+.2f} dB on average instead of {hp['mean']:+.2f} "
        f"and come {hu['gap']:.2f} dB below the true kernel instead of {hp['gap']:.2f}, but the one row left falls "
        f"further: {hu['worst']:+.2f} dB instead of {hp['worst']:+.2f}"
    )
    per_seed = [l0u[f"held-out photos, 9-25 px, seed {n}"]["unimodal"]["below"] for n in range(3)]
    assert per_seed == [0, 0, 1] and hu["worst"] < hp["worst"] < 0, "the docs' seeds and the deeper worst row"
    l0u_fam = summaries.variant_families(summaries.L0U_SEEDS, ("plain", "unimodal"))
    fam = {k: f"{f['unimodal']:+.2f} against {f['plain']:+.2f}" for k, f in l0u_fam.items()}
    quoted.append(
        f"(the 25 px Gaussian {fam['Gaussian 25 px, std 4'].replace(' against', ' dB against')}, the 15 px box "
        f"{fam['box 15 px']}, the others within 0.05 dB)"
    )
    small = {k: abs(f["unimodal"] - f["plain"]) for k, f in l0u_fam.items()}
    assert all(v < 0.05 for k, v in small.items() if k not in ("Gaussian 25 px, std 4", "box 15 px")), small
    gu, gpl = l0u["held-out photos, 21-31 px"]["unimodal"], l0u["held-out photos, 21-31 px"]["plain"]
    quoted.append(
        f"On the 21-31 px kernels they leave {gu['below']} of {gu['rows']} below the blurry photo as before (worst "
        f"{gu['worst']:+.2f} dB instead of {gpl['worst']:+.2f}), gain {gu['mean']:+.2f} dB on average instead of "
        f"{gpl['mean']:+.2f} and come {gu['gap']:.2f} dB below the true kernel instead of {gpl['gap']:.2f}"
    )
    assert gu["below"] == gpl["below"] and gu["gap"] > 2, "as before; the 2 dB target not met on the large kernels"
    large_fam = summaries.variant_families(
        {"large": summaries.L0U_SETS["held-out photos, 21-31 px"]}, ("plain", "unimodal")
    )
    assert all(f["unimodal"] > f["plain"] for f in large_fam.values()), "every large family gains"
    box = large_fam["box 21 px"]
    quoted.append(f"({box['unimodal error']:.2f} against {box['plain error']:.2f} for the 21 px box)")
    mu, mpl = (
        l0u["held-out photos, camera shake 9-21 px"]["unimodal"],
        l0u["held-out photos, camera shake 9-21 px"]["plain"],
    )
    quoted.append(
        f"{mu['below']} of {mu['rows']} below the blurry photo instead of {mpl['below']} (mean {mu['mean']:+.2f} dB as "
        f"before, {mu['gap']:.2f} dB below the true kernel instead of {mpl['gap']:.2f})."
    )
    assert f"{mu['mean']:+.2f}" == f"{mpl['mean']:+.2f}" and abs(mu["below"] - mpl["below"]) <= 1, "they change little"
    tu, tpl = l0u["training photos, 9-25 px"]["unimodal"], l0u["training photos, 9-25 px"]["plain"]
    quoted.append(
        f"they leave {tu['below']} of {tu['rows']} below the blurry photo instead of {tpl['below']} (mean "
        f"{tu['mean']:+.2f} dB instead of {tpl['mean']:+.2f}, worst {tu['worst']:+.2f} dB instead of {tpl['worst']:+.2f}) "
        f"and come {tu['gap']:.2f} dB below the true kernel instead of {tpl['gap']:.2f}."
    )
    missing = [q for q in quoted if q not in text]
    below = {seed: summaries.blind_figures(f, "blind, valid")["below"] for seed, f in summaries.seed_files().items()}
    assert below[0] == min(below.values()), f"the docs call seed 0 the best draw: {below}"
    for seed, (_, b) in summaries.draws_files().items():  # the tasks guide: fewer below under every seed tried
        assert summaries.blind_figures(b, "blind, valid")["below"] < below[seed] or below[seed] == 0, seed
    guide = _prose("guide/real-photos.md")
    rounded = [  # the guide's summary of the same files, to one decimal
        f"at its default {steps['steps']} steps is above the blurry photo in all {more['rows']} "
        f"({more['true mean']:.1f} dB on average)",
    ]
    missing += [q for q in rounded if q not in guide]
    tasks = _prose("guide/tasks.md")
    across = f"than 1 dB apart on {sum(m > 1 for m in moved)} of {len(moved)} training photos and kernels"
    missing += [] if across in tasks else [across]  # the tasks guide: a seed fixes a blind result per machine
    assert not missing, missing


def test_the_blind_default_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's summary of the blind default (table ``blind_default``) and the real-photos guide's list of
    what to expect quote figures the table does not print; each is computed here from the default's result files."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    sets = {label: pair["unimodal"] for label, pair in summaries.l0u_figures().items()}
    small, large = sets["held-out photos, 9-25 px, all 3 seeds"], sets["held-out photos, 21-31 px"]
    shake, train = sets["held-out photos, camera shake 9-21 px"], sets["training photos, 9-25 px"]
    more = summaries.motion_steps_figures()["at more"]  # the true kernel on the shakes at DiffPIR's 100 steps
    families = summaries.default_blind_families()  # (family, sigma_y) -> distance below the true kernel, kernel error
    gap = {g: f["gap"] for g, f in families.items()}
    error = {g: f["kernel error"] for g, f in families.items()}

    def spread(values: list[float]) -> str:
        return f"{min(values):.2f}-{max(values):.2f}"

    large_boxes = ("box 15 px", "box 21 px", "box 31 px")
    boxes = [g for g in gap if g[0] in large_boxes]
    gaussians = [g for g in gap if "Gaussian" in g[0]]
    shakes = [g for g in gap if g[0].startswith("motion")]
    seed_rows = [r for n in range(3) for r in summaries.rows_of(summaries.RESULTS / f"blind_l0u_seed{n}.json")]  # 9-25
    worst = min((r["blind, valid"] - r["blurry"], r["image"], r["kernel"], r["sigma_y"]) for r in seed_rows)
    assert small["below"] == large["below"] == 1, "the docs name the one row below in each set"
    assert more["true below"] == 0 and train["true below"] == 0, "the docs say the true kernel gains on every one"
    assert max(gap, key=gap.get)[0] == "motion 21 px" and max((gap[g], g[0]) for g in gap if g not in shakes)[1] in (
        large_boxes), "the docs call the boxes the largest distance but for shake"  # fmt: skip
    quoted = [
        f"under the 9-25 px kernels {small['below']} of {small['rows']} restorations is below the blurry photo "
        f"(`{worst[1]}`, {worst[2]}, sigma_y {worst[3]:g}, one draw of three: {worst[0]:+.2f} dB) and the mean is "
        f"{small['gap']:.2f} dB below the true kernel; under 21-31 px {large['below']} of {large['rows']} "
        f"({large['worst']:+.2f} dB) and {large['gap']:.2f} dB.",
        f"The distance is the boxes': {spread([gap[g] for g in boxes])} dB for the 15-31 px boxes",
        f"(kernel errors {spread([error[g] for g in boxes])}), {spread([gap[g] for g in gap if g[0] == 'box 9 px'])} "
        f"dB for the 9 px box, against {spread([gap[g] for g in gaussians])} dB for the Gaussians of every size.",
        f"{shake['below']} of {shake['rows']} below the blurry photo, {shake['gap']:.2f} dB below the true kernel, "
        f"since no separable kernel is a shake (kernel errors {spread([error[g] for g in shakes])}).",
        f"At 20 steps the true kernel itself is below the blurry photo in {shake['true below']} of those "
        f"{shake['rows']}; at `deblur_motion`'s default 100 steps it is above it in all {more['rows']} "
        f"({more['true mean']:+.2f} dB on average",
    ]
    missing = [q for q in quoted if q not in text]
    small_families = {r["kernel"] for r in seed_rows}
    furthest_gap, furthest = max((gap[g], g[0]) for g in gap if g[0] in small_families)
    assert furthest.startswith("box"), "the guide says the 9-25 px boxes are furthest from the true kernel"
    listed = [  # the guide, to one decimal
        f"below the blurry photo in {small['below']} of {small['rows']} restorations (three draws of the noise; worst "
        f"{small['worst']:.1f} dB) and {small['gap']:.1f} dB below the true kernel on average, the most (up to "
        f"{furthest_gap:.1f} dB) for box kernels.",
        f"below the blurry photo in {large['below']} of {large['rows']} (by {-large['worst']:.2f} dB), "
        f"{large['gap']:.1f} dB below the true kernel.",
        f"below the blurry photo in {train['below']} of {train['rows']} cases on the training photos (worst "
        f"{train['worst']:.1f} dB), where DDRM with the true kernel gains on every one.",
        f"the default separable model is below the blurry photo in {shake['below']} of {shake['rows']} cases under 9-21 "
        "px shakes;",
    ]
    missing += [q for q in listed if q not in guide]
    assert not missing, missing


def test_the_blind_second_run_changed_the_image_and_nothing_else():
    """docs/benchmarks.md compares the blind results made with the estimating run's image (``blind_real_chain*``) with
    those made with the second run: the same rows, the same blurry photos, kernel estimates and true-kernel
    restorations, so the difference it quotes is the image's alone."""

    summaries = _summaries()
    for name, key in summaries.SECOND_RUN_SETS.values():
        chain, second = (summaries.rows_of(p) for p in summaries.second_run_files(name))
        fixed = ("kernel", "sigma_y", "image", "blurry", "true kernel", f"{key} kernel error")
        assert [[r[k] for k in fixed] for r in chain] == [[r[k] for k in fixed] for r in second], name
        assert any(a[key] != b[key] for a, b in zip(chain, second)), name


def test_the_blind_move_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for the image put back in place (table
    ``blind_moved``), computed here from its result files, and the difference they quote between the estimates of
    ``blind_l0u_seed0.json`` and today's."""
    import numpy as np

    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    before, after = summaries.moved_rows()
    change = [b["blind, valid"] - a["blind, valid"] for a, b in zip(before, after)]
    mean = sum(change) / len(change)
    gap = [summaries._row_figures(rows, "blind, valid")["gap"] for rows in (before, after)]
    by_family: dict[str, list[float]] = {}
    for r, c in zip(after, change):
        by_family.setdefault(r["kernel"], []).append(c)
    boxes = [c for k, v in by_family.items() if k.startswith("box") for c in v]
    below = [sum(r["blind, valid"] < r["blurry"] for r in rows) for rows in (before, after)]
    earlier = {
        (r["kernel"], r["sigma_y"], r["image"]): r
        for r in summaries.rows_of(summaries.RESULTS / "blind_l0u_seed0.json")
    }
    moved_apart = max(abs(earlier[(r["kernel"], r["sigma_y"], r["image"])]["blind, valid kernel error"]
                          - r["blind, valid kernel error"]) for r in before)  # fmt: skip
    quoted = [
        f"Over the {len(change)} restorations the move adds {mean:.2f} dB on average and improves "
        f"{sum(c > 0 for c in change)} (by up to {max(change):+.2f} dB; the least change {min(change):+.2f} dB)",
        f"the distance below the true kernel goes from {gap[0]:.2f} to {gap[1]:.2f} dB",
        f"+{np.mean(by_family['Gaussian 13 px, std 2']):.2f} dB for the 13 px one, "
        f"+{np.mean(by_family['anisotropic Gaussian 15 px, std 1 / 3']):.2f} for the anisotropic one",
        f"the boxes change by {max(map(abs, boxes)):.2f} dB at most either way",
        f"its estimates differ by up to {moved_apart:.2f} in kernel error",
    ]
    for phrase in quoted:
        assert phrase in text, phrase
    assert below == [0, 0], "the docs say none is below the blurry photo, before or after"
    assert f"that adds {mean:.2f} dB on average" in guide


def test_the_full_shake_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's, the tasks guide's and the real-photos guide's figures for camera shake with the full
    model as offered (tables ``blind_shake``, ``blind_shake_steps``, ``blind_shake_train``), computed here from their
    result files."""
    import numpy as np

    summaries = _summaries()
    text = _prose("benchmarks.md")
    tasks = _prose("guide/tasks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.shake_figures()
    full, sep, err = f["full"], f["separable"], f["error"]
    quoted = [
        f"`--kernel-model full`, offered for photos since, is below the blurry photo in {full['below']} of the "
        f"{full['rows']}",
        f"The full model is below the blurry photo in {full['below']} of {full['rows']} restorations (the separable one "
        f"in {sep['below']}), {full['mean']:+.2f} dB over it on average (separable {sep['mean']:+.2f}), worst "
        f"{full['worst']:+.2f} dB, and better than the separable model on {f['beats separable']} of the {full['rows']}",
        f"It is {full['gap']:.2f} dB below the true kernel at the same 20 steps (the separable model {sep['gap']:.2f}) "
        f"and {f['gap 100']:.2f} dB below the true kernel at 100 steps",
        f"Its kernels are {err['median']:.2f} off (median; {err['least']:.2f} to {err['largest']:.2f})",
    ]
    losses = [r["kernel"] for r in summaries.shake_rows() if r["blind, full"] < r["blurry"]]
    quoted.append(
        f"{sum(k != 'motion 9 px' for k in losses)} of the {len(losses)} losses are under the 15 and 21 px shakes"
    )
    more = summaries.shake_steps_figures()  # the same estimates at DiffPIR's own 100 steps
    quoted.append(
        f"At 100 steps the full model is below the blurry photo in {more['below']} of {more['rows']} (mean "
        f"{more['mean']:+.2f} dB, worst {more['worst']:+.2f} dB), {-more['change']:.2f} dB below its 20-step result on "
        f"average (better on {more['improved']} of {more['rows']}) and {more['gap 100']:.2f} dB below the true kernel at "
        "the same 100 steps"
    )
    assert more["change"] < 0, "the docs say the 100-step results are below the 20-step ones on average"
    from ddrm.pipeline.blind import HELD_STEPS

    quoted.append(f"and {HELD_STEPS} is what the held estimate's run takes without `--steps`")
    train = summaries.rows_of(summaries.RESULTS / "blind_shake_train.json")  # the training photos, same route
    gains = {(r["image"], r["kernel"], r["sigma_y"]): r["blind, full"] - r["blurry"] for r in train}
    worst = min(gains, key=gains.get)
    losers = [k[0] for k, g in gains.items() if g < 0]
    median = float(np.median([r["blind, full kernel error"] for r in train]))
    quoted.append(
        f"It is below the blurry photo in {len(losers)} of {len(train)} (mean {np.mean(list(gains.values())):+.2f} dB, "
        f"worst {gains[worst]:+.2f} dB, `{worst[0]}` under the {worst[1].removeprefix('motion ')} shake at sigma_y "
        f"{worst[2]:g}), most often on `Path` ({losers.count('Path')} of its 6 rows) and `ColdRipple` "
        f"({losers.count('ColdRipple')}), and its kernels are further off (median {median:.2f}, against "
        f"{err['median']:.2f} on the held-out photos)"
    )
    assert sorted(set(losers), key=losers.count)[-2:] == ["ColdRipple", "Path"], "the docs name the most losing"
    assert (
        f"one sample of it (`--samples 1`) in {full['below']} of {full['rows']} ({full['mean']:+.1f} dB on average, "
        f"worst {full['worst']:+.1f} dB, {full['gap']:.1f} dB below the true kernel at the same 20 steps, the route's "
        f"default step count; at DiffPIR's own 100 steps in "
        f"{more['below']} of {more['rows']}; on the training photos, many with few edges, in {len(losers)} of "
        f"{len(train)}:" in guide
    )
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert (
        f"below the blurry photo in {full['below']} of {full['rows']} where the separable model is in {sep['below']}"
        in tasks
    )
    from ddrm.pipeline.blind import KERNEL_NOISE

    assert f"`hypot(sigma_y, {KERNEL_NOISE:g})`" in text and f"`hypot(sigma_y, {KERNEL_NOISE:g})`" in tasks


def test_the_shake_mean_of_samples_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's and the guides' figures for camera shake's mean of several samples (table
    ``blind_shake_samples``), computed here from ``blind_shake_samples4.json`` beside ``blind_shake.json``."""
    import numpy as np

    summaries = _summaries()
    text = _prose("benchmarks.md")
    tasks = _prose("guide/tasks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.shake_samples_figures()
    one, mean, n, rows = f["one"], f["mean"], f["samples"], f["one"]["rows"]
    assert f["better"] == rows, "the docs say the mean is above one sample on every row"
    rs, _ = summaries.shake_samples_rows()
    by_size = {k: np.mean([r["blind, full, mean"] - r["blind, full"] for r in rs if r["kernel"] == k])
               for k in ("motion 9 px", "motion 21 px")}  # fmt: skip
    same = summaries._matched(rs, summaries.rows_of(summaries.RESULTS / "blind_shake.json"))
    agree = max(abs(r["blind, full"] - o["blind, full"]) for r, o in zip(rs, same))
    assert agree < 0.001 and all(
        abs(r["blind, full kernel error"] - o["blind, full kernel error"]) < 1e-9 for r, o in zip(rs, same)
    ), "the docs say the one-sample column is blind_shake.json's made again: the same kernels, within 0.001 dB"
    quoted = [
        f"The mean of {n} is above one sample on all {rows} ({f['change']:+.2f} dB on average, least "
        f"{f['least']:+.2f}): {by_size['motion 9 px']:+.1f} dB under the 9 px shakes, "
        f"{by_size['motion 21 px']:+.1f} under the 21 px ones",
        f"It is below the blurry photo in {mean['below']} of {rows} instead of {one['below']} (worst "
        f"{mean['worst']:+.2f} dB instead of {one['worst']:+.2f}), {mean['mean']:+.2f} dB over it on average, and "
        f"{mean['gap']:.2f} dB below the true kernel's one sample at the same 20 steps (one sample: {one['gap']:.2f}), "
        f"{f['gap 100']:.2f} dB below it at 100 steps",
        f"Four samples cost {_held_nfe(n)} network evaluations, against {_held_nfe(1)} for one",
    ]
    # like for like: the true kernel's own mean of N (blind_motion_true_samples4.json, its one sample checked to be
    # blind_draws2_motion.json's by shake_samples_rows)
    gain, like = f["true gain"], f["gap mean"]
    sizes = {k: np.mean([r["true kernel, mean"] - r["blind, full, mean"] for r in rs if r["kernel"] == k])
             for k in ("motion 9 px", "motion 15 px", "motion 21 px")}  # fmt: skip
    quoted.append(
        f"The true kernel's own mean of {n} is {np.mean(gain):+.2f} dB above its one sample (least {min(gain):+.2f}; "
        f"its one sample is below the blurry photo in {one['true below']} of {rows}, its mean in "
        f"{like['true below']}), so like for like the route's default is {like['gap']:.2f} dB below the true "
        f"kernel's mean of {n} ({', '.join(f'{k.split()[1]} px {v:.2f}' for k, v in sizes.items())})"
    )
    train = summaries.rows_of(summaries.RESULTS / "blind_shake_samples4_train.json")  # the training photos
    key = f"blind, full, mean of {n}"
    made = summaries._matched(train, summaries.rows_of(summaries.RESULTS / "blind_shake_train.json"))
    assert max(abs(r["blind, full"] - o["blind, full"]) for r, o in zip(train, made)) < 0.001, "made again"
    change = [r[key] - r["blind, full"] for r in train]
    one_t, mean_t = ([r[k] - r["blurry"] for r in train] for k in ("blind, full", key))
    worst = min(train, key=lambda r: r[key] - r["blurry"])
    quoted.append(
        f"There the mean of {n} is above one sample on all {len(train)} ({np.mean(change):+.2f} dB on average, least "
        f"{min(change):+.2f}) and below the blurry photo in {sum(g < 0 for g in mean_t)} of {len(train)} instead of "
        f"{sum(g < 0 for g in one_t)} ({np.mean(mean_t):+.2f} dB over it on average instead of {np.mean(one_t):+.2f}; "
        f"worst {min(mean_t):+.2f} dB, `{worst['image']}` under the {worst['kernel'].removeprefix('motion ')} shake, "
        f"instead of {min(one_t):+.2f})"
    )
    assert all(c > 0 for c in change), "the docs say the mean is above one sample on every training row"
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert (
        f"the mean of {n} is {f['change']:.2f} dB above one sample on average and below the blurry photo in "
        f"{mean['below']} of {rows} instead of {one['below']}" in tasks
    )
    assert (
        f"whose result is by default the mean of four samples (`--samples {n}`, {_held_nfe(n)} network evaluations), "
        f"in {mean['below']} of {rows} ({mean['mean']:+.1f} dB on average, {mean['gap']:.1f} dB below the true "
        f"kernel's one sample:" in guide
    )
    assert f"{like['gap']:.1f} dB below the true kernel's own mean of four)" in guide
    assert (
        f"in {mean['below']} with its default mean of {n}, {like['gap']:.2f} dB below the true kernel's own mean"
        in text
    )


def test_the_31_px_shake_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's and the real-photos guide's figures for the route as offered under a 31 px camera shake
    (table ``blind_shake_sizes``), computed here from ``blind_shake_samples4_31px.json`` (and, over 9-31 px, beside
    ``blind_shake_samples4.json``)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.shake_sizes_figures()
    one, mean, err, both = f["one"], f["mean"], f["error"], f["all"]
    rows = mean["rows"]
    quoted = [
        f"The mean of 4 is below the blurry photo in {mean['below']} of {rows} (worst {mean['worst']:+.2f} dB), "
        f"{mean['mean']:+.2f} dB over it on average and {mean['gap']:.2f} dB below the true kernel's own mean of 4, "
        f"which is above the blurry photo on all {rows} (least {mean['true least']:+.2f} dB); one sample is "
        f"{one['gap']:.2f} dB below the true kernel's one sample",
        f"The kernels are {err['median']:.2f} off (median; {err['least']:.2f} to {err['largest']:.2f})",
        f"below the blurry photo in {both['below']} of the {both['rows']} shakes of 9-31 px and {both['gap']:.2f} dB "
        "below the true kernel's mean of 4",
        f"under a 31 px shake, the top of #27's range, in {mean['below']} of {rows} and {mean['gap']:.2f} dB below it",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f["samples"] == 4 and mean["true below"] == 0
    rs = summaries.rows_of(summaries.RESULTS / "blind_shake_samples4_31px.json")
    key, e = "blind, full, mean of 4", "blind, full kernel error"
    losses = [r for r in rs if r[key] < r["blurry"]]
    assert {r["image"] for r in losses} == {"astronaut", "rocket"} and len(losses) == 4, "the losses named"
    largest = sorted(rs, key=lambda r: r[e])[-len(losses) :]
    assert sorted(map(id, losses)) == sorted(map(id, largest)), "the docs say the losses are the largest errors"
    flower = [r for r in rs if r["image"] == "flower"]
    assert f"(`flower`, {flower[0][e]:.2f} and {flower[1][e]:.2f} off)" in text
    gains = sorted(r[key] - r["blurry"] for r in flower)
    assert f"the route gains {gains[0]:.1f}-{gains[1]:.1f} dB" in text
    assert f"in {mean['below']} of {rows} ({mean['gap']:.1f} dB below the true kernel's:" in guide


def test_the_31_px_shake_on_larger_frames_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for the 31 px shake on 256 px frames beside 128 px
    ones (table ``blind_shake_sizes``), computed here from ``blind_shake_samples4_31px_256.json`` and the 128 px
    file's rows at the same sigma_y."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.shake_frames_figures()
    small, large = f[128], f[256]
    m, b = large["mean"], small["mean"]
    assert set(large["photos"]) == set(small["photos"]) and m["rows"] == b["rows"] == 6, "the same six photos"
    nearer = sum(large["photos"][p][0] < small["photos"][p][0] for p in small["photos"])
    higher = sum(large["photos"][p][1] > small["photos"][p][1] for p in small["photos"])
    e, e0 = large["error"], small["error"]
    quoted = [
        f"On the 256 px frames the mean of 4 is below the blurry photo in {m['below']} of {m['rows']} (worst "
        f"{m['worst']:+.2f} dB), {m['mean']:+.2f} dB over it on average and {m['gap']:.2f} dB below the true kernel's "
        f"own mean of 4 (on the 128 px frames, the same six at sigma_y 0.01: {b['below']} of {b['rows']}, "
        f"{b['mean']:+.2f} dB, {b['gap']:.2f} dB)",
        f"The kernels are {e['median']:.2f} off (median; {e['least']:.2f} to {e['largest']:.2f}) against "
        f"{e0['median']:.2f} on the 128 px frames, nearer on {nearer} of 6 photos; the gain over the blurry photo is "
        f"higher on {higher} of 6",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f"on 256 px frames, in {m['below']} of {m['rows']} ({m['gap']:.1f} dB below" in guide
    assert f"and on 256 px frames in {m['below']} of {m['rows']} and {m['gap']:.2f} dB below it." in text, "#27's"
    losses = sorted(p for p, (_, gain) in large["photos"].items() if gain < 0)
    errors = " and ".join(f"{large['photos'][p][0]:.2f}" for p in losses)
    assert losses == ["astronaut", "rocket"] and f"(`astronaut` and `rocket`, {errors} off)" in text
    assert f"the mean of 4 moves by {m['mean'] - b['mean']:+.2f} dB on average" in text


def _change_sentence(figures: dict, shake: str, change: str) -> str:
    """The sentence docs/benchmarks.md says a change to the camera-shake route's rows under ``shake`` in
    (``summaries._pair_figures``: without it and with it)."""
    a, b, n = figures[shake]["without"], figures[shake]["with"], figures[shake]["with"]["rows"]
    return (
        f"Under the {shake.split()[1]} px shake {change} raises {figures[shake]['better']} of {n} rows: below the "
        f"blurry photo in {b['below']} of {n} instead of {a['below']}, {b['mean']:+.2f} dB over it on average instead "
        f"of {a['mean']:+.2f} (worst {b['worst']:+.2f} instead of {a['worst']:+.2f}), {b['gap']:.2f} dB below the true "
        f"kernel's mean of 4 instead of {a['gap']:.2f}; median kernel error {b['error']:.2f} against {a['error']:.2f}"
    )


def test_the_coarse_ridge_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for the ridge at the coarse scales of a large shake's
    classical guess (table ``blind_ridge``), computed here from ``blind_ridge_shake_samples4.json`` against the same
    shakes' rows made without it; its 21 px true kernel is ``blind_motion_true_samples4.json``'s (the same rows and
    seeds, this machine's arithmetic: within 0.001 dB)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.ridge_figures()
    route = summaries.ridge_route_figures()
    quoted = [_change_sentence(f, shake, "the ridge") for shake in ("motion 21 px", "motion 31 px")]
    quoted.append(
        f"the route's default is below the blurry photo in {route['below']} of the {route['rows']} shakes of 9-31 px "
        f"and {route['gap']:.2f} dB below the true kernel's mean of 4"
    )
    old = summaries.shake_sizes_figures()["all"]
    quoted += [
        f"(without it {old['below']} and {old['gap']:.2f}): nearer #27's target, not at it",
        f"the route is below the blurry photo in {route['below']} of {route['rows']} shakes of 9-31 px and "
        f"{route['gap']:.2f} dB below the true kernel's mean of 4;",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f"in {route['below']} of {route['rows']} shakes of 9-31 px ({route['gap']:.1f} dB below" in guide
    old_rows, new_rows = summaries.ridge_pairs()["all"]
    change = {(r["kernel"], r["sigma_y"], r["image"]): b["mean"] - r["mean"] for r, b in zip(old_rows, new_rows)}
    assert min(change, key=change.get) == ("motion 31 px", 0.01, "china") and f"-{-min(change.values()):.2f} dB" in text
    assert {r["image"] for r in new_rows if r["mean"] < r["blurry"]} == {"rocket", "chelsea"}, "the losses named"

    e = "blind, full kernel error"

    def named(photo: str, shake: str) -> list[tuple[float, float, float]]:  # (change, error without, error with)
        return sorted((change[r["kernel"], r["sigma_y"], photo], r[e], b[e]) for r, b in zip(old_rows, new_rows)
                      if (r["image"], r["kernel"]) == (photo, shake))  # fmt: skip

    a21, a31 = named("astronaut", "motion 21 px"), named("astronaut", "motion 31 px")
    errors = [f"{min(x[i] for x in a21):.2f}-{max(x[i] for x in a21):.2f}" for i in (1, 2)]
    assert (
        f"`astronaut` {a21[0][0]:+.1f} to {a21[1][0]:+.1f} dB under the 21 px shake (kernel error {errors[0]} to "
        f"{errors[1]}) and {a31[0][0]:+.1f} to {a31[1][0]:+.1f} under the 31 px one, `coffee` "
        f"{change['motion 21 px', 0.01, 'coffee']:+.1f} under the 21 px shake at sigma_y 0.01"
    ) in text
    rocket = [b[e] for r, b in zip(old_rows, new_rows) if r["image"] == "rocket"]
    assert f"(kernel errors {min(rocket):.2f}-{max(rocket):.2f} with the ridge)" in text
    chelsea = next(b for b in new_rows if (b["kernel"], b["sigma_y"], b["image"]) == ("motion 21 px", 0.01, "chelsea"))
    assert abs(change["motion 21 px", 0.01, "chelsea"]) < 0.005, "unchanged, as the docs say"
    assert f"at sigma_y 0.01 ({chelsea['mean'] - chelsea['blurry']:+.2f} dB, unchanged)" in text
    true = {(r["kernel"], r["sigma_y"], r["image"]): r["true kernel, mean"] for r in summaries.shake_samples_rows()[0]}
    for r in summaries.rows_of(summaries.RIDGE_AFTER):
        if r["kernel"] == "motion 21 px":
            assert abs(r["true kernel, mean of 4"] - true[r["kernel"], r["sigma_y"], r["image"]]) < 1e-3


def test_the_kernel_cleanup_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for Pan et al.'s kernel cleanup (table
    ``blind_cleanup``), computed here from ``blind_cleanup_shake_samples4.json`` against the route's rows without it
    (``summaries.route_rows``: the same cases, checked by the blurry photo); the file's first row is ``ddrm.restore``'s
    one-sample image (checked as it was made)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.cleanup_figures()
    a, b = f["all"]["without"], f["all"]["with"]
    old_rows, new_rows = summaries.cleanup_pairs()["all"]
    assert summaries.record_of(summaries.CLEANUP_AFTER)["commit"].startswith("d65d4b9"), "made at the commit named"
    change = {(r["kernel"], r["sigma_y"], r["image"]): n["mean"] - r["mean"] for r, n in zip(old_rows, new_rows)}
    e = "blind, full kernel error"
    errors = {(r["kernel"], r["sigma_y"], r["image"]): (r[e], n[e]) for r, n in zip(old_rows, new_rows)}
    ranked = sorted(change, key=change.get)
    over = {(r["kernel"], r["sigma_y"], r["image"]): r["mean"] - r["blurry"] for r in new_rows}
    a15, a15b = ("motion 15 px", 0.01, "astronaut"), ("motion 15 px", 0.02, "astronaut")
    c21, c31, ch31 = ("motion 21 px", 0.02, "coffee"), ("motion 31 px", 0.01, "coffee"), ("motion 31 px", 0.02, "china")
    assert ranked[-3:] == [a15b, a15, c21] and ranked[:2] == [c31, ch31], "the changes named are the largest"
    below = sorted((r["kernel"], r["image"]) for r in new_rows if r["mean"] < r["blurry"])
    assert below == [("motion 21 px", "chelsea"), ("motion 21 px", "rocket"), ("motion 31 px", "rocket")]
    assert {r["sigma_y"] for r in new_rows if r["mean"] < r["blurry"]} == {0.01}
    assert max(abs(v) for (k, _, _), v in change.items() if k == "motion 9 px") <= 0.25
    quoted = [_change_sentence(f, shake, "the cleanup") for shake in ("motion 9 px", "motion 15 px", "motion 21 px",
                                                                      "motion 31 px")]  # fmt: skip
    quoted += [
        f"It raises fewer than half the rows ({f['all']['better']} of {a['rows']})",
        f"`astronaut` under the 15 px shake {change[a15]:+.2f} dB at sigma_y 0.01 (the route's one loss under that "
        f"shake, now {over[a15]:+.2f} over the blurry photo) and {change[a15b]:+.2f} at 0.02, `coffee` under the 21 px "
        f"shake at sigma_y 0.02 {change[c21]:+.2f} (kernel error {errors[c21][0]:.2f} to {errors[c21][1]:.2f})",
        f"`coffee` {change[c31]:.2f} dB at sigma_y 0.01 (kernel error {errors[c31][0]:.2f} to {errors[c31][1]:.2f}) "
        f"and `china` {change[ch31]:.2f} at 0.02",
        "Under the 9 px shake, where the guesses were already near the true kernel, nothing moves by more than 0.25 dB",
        f"Over the {a['rows']} rows the route is now below the blurry photo in {b['below']} of {b['rows']} shakes of "
        f"9-31 px",
        f"all at sigma_y 0.01, {b['worst']:.2f} dB at worst) and {b['gap']:.2f} dB below the true kernel's mean of 4, "
        f"against {a['below']} and {a['gap']:.2f} without it",
        f"since each classical fit is cleaned as Pan et al. clean theirs ([Pan et al.'s kernel "
        f"cleanup](#pan-et-als-kernel-cleanup)), in {b['below']} of {b['rows']} and {b['gap']:.2f} dB below it.",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f"cleaned as Pan et al. clean theirs, in {b['below']} of {b['rows']} ({b['gap']:.1f} dB below it" in guide


def test_the_kernel_refits_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's, the real-photos guide's and the refits' comment's figures for the held kernel fitted again
    to its restoration (table ``blind_refits``), computed here from ``blind_refits_shake_samples4.json`` against the
    route's rows with the cleanup alone (``summaries.cleanup_pairs``: the same cases, checked by the blurry photo); the
    file's first row is ``ddrm.restore``'s result (checked as it was made)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    names = (ROOT / "src" / "ddrm" / "tasks" / "names.py").read_text(encoding="utf-8")
    comment = " ".join(w for w in names.split() if w != "#")  # the comment's lines joined
    f = summaries.refits_figures()
    a, b = f["all"]["without"], f["all"]["with"]
    assert summaries.record_of(summaries.REFITS_AFTER)["commit"].startswith("6f18e49"), "made at the commit named"
    old_rows, new_rows = summaries.refits_pairs()["all"]
    assert {r["sigma_y"] for r in new_rows} == {0.01} and len(new_rows) == 24
    below = sorted((r["kernel"], r["image"]) for r in new_rows if r["mean"] < r["blurry"])
    quoted = [_change_sentence(f, shake, "refitting") for shake in ("motion 9 px", "motion 15 px", "motion 21 px",
                                                                     "motion 31 px")]  # fmt: skip
    quoted += [
        f"Over the {b['rows']} rows at sigma_y 0.01 the refits raise {f['all']['better']}: the route is below the "
        f"blurry photo in {b['below']} of {b['rows']} instead of {a['below']} ({b['worst']:+.2f} dB at worst instead "
        f"of {a['worst']:+.2f}), {b['mean']:+.2f} dB over it on average instead of {a['mean']:+.2f}, and {b['gap']:.2f} "
        f"dB below the true kernel's mean of 4 instead of {a['gap']:.2f}",
        f"with the kernel fitted again to its restoration ([the kernel fitted again to its "
        f"restoration](#camera-shake-the-kernel-fitted-again-to-its-restoration)), at sigma_y 0.01, in {b['below']} of "
        f"{b['rows']} and {b['gap']:.2f} dB below it (the cleanup alone: {a['below']} and {a['gap']:.2f});",
    ]
    quoted += [f"`{image}` under the {kernel.split()[1]} px shake" for kernel, image in below]
    errors = [
        (f[k]["without"]["error"], f[k]["with"]["error"]) for k in ("motion 9 px", "motion 15 px", "motion 21 px")
    ]
    assert (
        all(after < before for before, after in errors)
        and f["motion 31 px"]["with"]["error"] > f["motion 31 px"]["without"]["error"]
    ), "not what the docs say of the kernel error"
    quoted.append("The median kernel error falls under the 9-21 px shakes and rises under the 31 px one")
    high = summaries.refits_figures(summaries.REFITS_AFTER_02)
    c, d = high["all"]["without"], high["all"]["with"]
    assert summaries.record_of(summaries.REFITS_AFTER_02)["commit"].startswith("9e84c89")
    assert {r["sigma_y"] for r in summaries.refits_pairs(summaries.REFITS_AFTER_02)["all"][1]} == {0.02}
    assert abs(d["mean"] - c["mean"]) < 0.05 and d["worst"] > c["worst"], "neither gain nor cost; the lowest lifted"
    quoted += [
        f"At sigma_y 0.02 the refits raise {high['all']['better']} of {d['rows']} rows: the route is below the blurry "
        f"photo in {d['below']} of {d['rows']} instead of {c['below']} ({d['worst']:+.2f} dB at worst instead of "
        f"{c['worst']:+.2f}), {d['mean']:+.2f} dB over it on average instead of {c['mean']:+.2f}, and {d['gap']:.2f} dB "
        f"below the true kernel's mean of 4 instead of {c['gap']:.2f}",
        f"at 0.02 in {d['below']} of {d['rows']} and {d['gap']:.2f} dB below it ({c['gap']:.2f} without the refits)",
        f"the estimate is {summaries.true_held_figures()['all']['gap held']:.2f} dB below the true kernel held by the "
        "route at sigma_y 0.01",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert (
        f"fitted again to its restoration, in {b['below']} of {b['rows']} at sigma_y 0.01 ({b['gap']:.1f} dB" in guide
    )
    assert f"and in {d['below']} of {d['rows']} at 0.02 ({d['gap']:.1f} dB below it);" in guide
    assert (
        f"below the blurry photo in {b['below']} instead of {a['below']}, {a['gap']:.2f} -> {b['gap']:.2f} dB below"
        in comment
    )


def test_the_refit_sweep_figures_and_claims_agree_with_their_result_files():
    """docs/benchmarks.md's section on the refits run further and made otherwise (tables ``blind_refit_schedules``,
    ``blind_refit_fits``, ``blind_refit_true``): its figures computed here from ``blind_refit_schedules_train.json`` and
    ``blind_refit_fits_train.json``, and each claim it makes of them asserted from the files."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    f, g = summaries.refit_schedule_figures(), summaries.refit_fit_figures()
    for path in (summaries.REFIT_SCHEDULES, summaries.REFIT_FITS):
        record = summaries.record_of(path)
        assert record["commit"].startswith("80f2c18") and record["photos"] == "data/photos/train", path.name
        assert record["device"].startswith("cuda") and record["command"] in text, path.name
    assert (f["rows"], g["rows"]) == (14, 24), "the cases the section names"
    held, rounds = f["const"], sorted(f["const"])
    others = [name for name in summaries.SCHEDULE_NAMES if name != "const"]
    assert all(held[r]["mean"] > f[o][r]["mean"] for r in rounds[1:] for o in others), "0.05 held best every round"
    assert max(rounds, key=lambda r: held[r]["mean"]) == 2, "two rounds its best"
    assert all(held[a]["error"] < held[b]["error"] for a, b in zip(rounds, rounds[1:])), "the error rises each round"
    assert all(f["g0.5"][r]["mean"] < f["g0.7"][r]["mean"] for r in rounds[1:]), "the faster it falls, the more"
    assert f["resid"][1]["mean"] < held[0]["mean"], "the residual's costs at once"
    fits = {name: g[name]["all"] for name in summaries.FIT_NAMES}
    assert all(abs(fits["lam10"][r]["mean"] - fits["const"][r]["mean"]) <= 0.02 for r in (1, 2)), "ridge within 0.02"
    for name in ("damp", "smooth4"):  # nearer the truth, restored worse, after two rounds
        assert fits[name][2]["error"] < fits["const"][2]["error"] and fits[name][2]["mean"] < fits["const"][2]["mean"]
    true = f["true"]["all"]
    below = {r["image"] for r in summaries.rows_of(summaries.REFIT_SCHEDULES) if r["true 0.0"] < r["blurry"]}
    assert below == {"DarkestHour", "ColdRipple"} and true["0.05"]["mean"] > true["0.0"]["mean"] + 2
    r0, r2, last = held[0], held[2], held[rounds[-1]]
    quoted = [
        f"held at 0.05 the mean over the blurry photo is {r0['mean']:+.2f} dB at round 0, {r2['mean']:+.2f} at round 2 "
        f"and {last['mean']:+.2f} at round {rounds[-1]}, while the median kernel error rises with every round, from "
        f"{r0['error']:.2f} to {last['error']:.2f}",
        f"through the route the true kernel is {true['0.05']['mean']:+.2f} dB over the blurry photo on average and below "
        f"it in {true['0.05']['below']} of {true['rows']}, run non-blind {true['0.0']['mean']:+.2f} dB and below it in "
        f"{true['0.0']['below']}",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_true_kernel_held_by_the_route_figures_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the true shake through the route itself on the held-out photos (table
    ``blind_true_held``), computed here from ``blind_shake_true_held_samples4.json`` joined to the route with its
    refits and the non-blind true kernel's mean of 4 (the same cases, checked by the blurry photo)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.TRUE_HELD)
    assert record["commit"].startswith("9e84c89") and record["command"] in text
    f = summaries.true_held_figures()
    a = f["all"]
    assert a["rows"] == 24 and a["true"] > a["held"], "the non-blind runs the stronger reference on these photos"
    assert a["gap held"] > 2, "still above the 2 dB the issue asks for"
    quoted = (
        f"the route's estimate is {a['gap held']:.2f} dB below the true kernel held by the route on average "
        f"({f['motion 9 px']['gap held']:.2f} under the 9 px shake to {f['motion 31 px']['gap held']:.2f} under the "
        f"31 px one), against {a['gap true']:.2f} below the non-blind runs; the held true kernel is "
        f"{a['true'] - a['held']:.2f} dB below its non-blind run, above it in {a['held wins']} of {a['rows']} rows"
    )
    assert quoted in text, f"docs/benchmarks.md does not quote: {quoted}"


def test_where_the_distance_to_the_true_kernel_lies_figures_agree_with_their_result_files():
    """docs/benchmarks.md's split of the route's distance below the non-blind true kernel (table ``blind_gap_parts``)
    by the route's kernel error, into the allowance's and the estimate's parts, computed here from the same two files
    as ``blind_true_held``; the parts add up to the distance, the shares to the mean, and the arithmetic of what
    mending either cause would leave is recomputed."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    f = summaries.gap_parts_figures()
    near, mid, far, a = f["under 0.5"], f["0.5 to 1"], f["1 or more"], f["all"]
    assert near["rows"] + mid["rows"] + far["rows"] == a["rows"] == 24, "every row in one bin"
    whole = summaries.true_held_figures()["all"]  # the same rows joined by the table above it
    assert (a["gap"], a["estimate"]) == (pytest.approx(whole["gap true"]), pytest.approx(whole["gap held"]))
    assert a["allowance"] == pytest.approx(whole["true"] - whole["held"])
    far_as_mid = near["share"] + mid["share"] + far["rows"] * mid["gap"] / a["rows"]
    budget = 2 - a["allowance"]
    assert near["gap"] > 2 and far_as_mid > 2, "mending either cause alone leaves the 2 dB unmet"
    assert near["estimate"] < budget + 0.1 < mid["estimate"] < far["estimate"], "only the near estimates about fit"
    quoted = [
        f"Where the route's kernel is within 0.5 of the shake ({near['rows']} rows, every photo), the route is "
        f"{near['gap']:.2f} dB below the non-blind true kernel, and {near['allowance']:.2f} dB of that the allowance "
        f"costs the true kernel too: the estimate's own part is {near['estimate']:.2f}.",
        f"Where it is 1 or more off ({far['rows']} rows: {', '.join(f'`{p}`' for p in far['photos'])}), the "
        f"estimate's part is {far['estimate']:.2f} dB; these rows make {far['share']:.2f} dB of the {a['gap']:.2f}.",
        f"Were every row as near as the rows within 0.5 are, the route would be {near['gap']:.2f} dB below; were the "
        f"rows 1 or more off as near as those between 0.5 and 1, {far_as_mid:.2f}.",
        f"Under the fixed allowance ({a['allowance']:.2f} dB on average) the target leaves the estimate {budget:.2f} "
        "dB",
    ]
    assert len(near["photos"]) == 6, "every held-out photo has a row within 0.5"
    for q in quoted:
        assert q in text, f"docs/benchmarks.md does not quote: {q}"


def test_the_round0_allowance_figures_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the classical estimate restored at half the allowance on the training photos
    (table ``blind_round0_allowance``), computed here from ``blind_refit_allowances_train.json``, and the estimate of
    what the same gains would be worth on the held-out rows (their bins from ``blind_gap_parts``)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.REFIT_ALLOWANCES)
    assert record["command"] in text and record["device"].startswith("cpu"), "made on this machine's CPU"
    f = summaries.round0_allowance_figures()
    near, far, a = f["under 0.5"], f["1 or more"], f["all"]
    assert a["rows"] == 24 and a["allowance"] == 0.025
    held = summaries.gap_parts_figures()
    worth = sum(held[b]["rows"] * f[b]["best"] for b in ("under 0.5", "0.5 to 1", "1 or more")) / held["all"]["rows"]
    missing = held["all"]["gap"] - 2
    assert near["raised"] == near["rows"] and far["change"] < 0 < near["change"] and worth < missing / 3
    quoted = [
        f"Half the allowance raises every estimate within 0.5 ({near['rows']} rows, by {near['change']:.2f} dB on "
        f"average) and lowers those 1 or more off (by {-far['change']:.2f}; {far['small below']} rows below the "
        f"blurry photo instead of {far['route below']})",
        f"given the better of the two on every row, as only the truth could choose, round 0 would be "
        f"{a['best']:.2f} dB higher on average",
        f"where {held['under 0.5']['rows']} of the {held['all']['rows']} estimates are within 0.5 and "
        f"{held['0.5 to 1']['rows']} between 0.5 and 1, the same gains would come to about {worth:.2f} dB, against the "
        f"{missing:.2f} dB by which the route misses the 2 dB",
    ]
    for q in quoted:
        assert q in text, f"docs/benchmarks.md does not quote: {q}"


def test_the_contrast_stretch_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the photo's contrast stretched before the classical estimate (table
    ``blind_stretch``, not kept), computed here from ``blind_stretch_shake_samples4.json`` joined to the route with its
    refits on the same cases, and the claims that made it reverted asserted from the files."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.STRETCH_AFTER)
    assert record["commit"].startswith("a181013") and record["command"] in text
    f, pairs = summaries.stretch_figures(), summaries.stretch_pairs()
    a, b, big = f["all"]["without"], f["all"]["with"], f["motion 31 px"]
    old, new = pairs["motion 15 px"]
    (o, n), *_ = [(o, n) for o, n in zip(old, new) if o["image"] == "astronaut"]
    quoted = [
        f"With the stretch the route raises {f['all']['better']} of {b['rows']} rows",
        f"under the 31 px shake {big['with']['mean']:+.2f} dB over the blurry photo on average instead of "
        f"{big['without']['mean']:+.2f}",
        f"`astronaut` under the 15 px shake goes from {o['mean'] - o['blurry']:+.2f} dB over the blurry photo to "
        f"{n['mean'] - n['blurry']:+.2f}, its kernel error from {o['blind, full kernel error']:.2f} to "
        f"{n['blind, full kernel error']:.2f}",
        f"route is below the blurry photo in {b['below']} instead of {a['below']}, {b['mean']:+.2f} dB over it on "
        f"average instead of {a['mean']:+.2f}, and {b['gap']:.2f} dB below the true kernel's mean of 4 instead of "
        f"{a['gap']:.2f}",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert b["below"] > a["below"] and n["mean"] < n["blurry"] < o["mean"] - 5, "a 5 dB gain taken to a loss"
    worst = f["motion 21 px"]
    w = (worst["with"]["worst"], worst["without"]["worst"])
    assert max(w) < 0.1 and abs(w[0] - w[1]) < 0.005, "the rows nearest the blurry photo stay there"


def test_the_contrast_floor_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the held route's contrast floor (``L0_CONTRAST``; tables
    ``blind_shake_contrast``, ``blind_dark`` and ``blind_dark_true100``), computed here from
    ``blind_shake_contrast.json``, the dim photos' pair of files and their true kernel at 100 steps, and the claims
    asserted from them: no held-out photo at its own exposure is raised, every dim row measured is, the route stays
    above the blurry photo, and the 20-step true kernel's losses are its step count's."""
    from ddrm.pipeline.blind import L0_CONTRAST

    summaries = _summaries()
    text = _prose("benchmarks.md")
    before, after = (summaries.record_of(p) for p in (summaries.DARK_BEFORE, summaries.DARK_AFTER))
    assert before["commit"].startswith("be009e5") and after["commit"].startswith("9b9aa6a")
    assert before["command"] in text and after["command"] in text
    c = summaries.contrast_figures()
    assert c[1.0]["raised"] == 0 and c[1.0]["least"] >= L0_CONTRAST
    dim = {(r["kernel"], r["image"]) for r in summaries.rows_of(summaries.SHAKE_CONTRAST)
           if r["exposure"] == 0.3 and r["sigma_y"] == 0.01 and r["raised"]}  # fmt: skip
    f, pairs = summaries.dark_figures(), summaries.dark_pairs()
    old, new = pairs["all"]
    assert {(r["kernel"], r["image"]) for r in new} <= dim, "every dim row measured is raised"
    a, b = f["all"]["without"], f["all"]["with"]
    change = [n["mean"] - o["mean"] for o, n in zip(old, new)]
    gain, loss = (pick(range(len(change)), key=change.__getitem__) for pick in (max, min))
    (co, cn), *_ = [(o, n) for o, n in zip(old, new) if o["kernel"] == "motion 21 px" and o["image"] == "chelsea"]
    true = [o["true mean"] - o["blurry"] for o in old]
    worst_true = min(range(len(true)), key=true.__getitem__)
    g = lambda r: r["mean"] - r["blurry"]  # noqa: E731
    err = lambda r: r["blind, full kernel error"]  # noqa: E731
    quoted = [
        f"at 0.3 of the exposure {c[0.3]['raised']} of {c[0.3]['rows']} rows are, all {b['rows']} rows measured below",
        f"With the floor the route raises {f['all']['better']} of {b['rows']} rows: {b['mean']:+.2f} dB over the "
        f"blurry photo on average instead of {a['mean']:+.2f}, the kernel error's median {b['error']:.2f} instead of "
        f"{a['error']:.2f}, and no row below the blurry photo",
        f"`{old[gain]['image']}` under the {old[gain]['kernel'].split()[1]} px shake, {g(old[gain]):+.2f} -> "
        f"{g(new[gain]):+.2f} dB, its kernel error {err(old[gain]):.2f} -> {err(new[gain]):.2f}",
        f"(kernel error {err(co):.2f} -> {err(cn):.2f})",
        f"loss is `{old[loss]['image']}` under the {old[loss]['kernel'].split()[1]} px shake, {g(old[loss]):+.2f} -> "
        f"{g(new[loss]):+.2f}",
        f"a median kernel error of {f['motion 21 px']['with']['error']:.2f} under the 21 px shake",
        f"below the blurry photo in {a['true below']} of {a['rows']} rows (`{old[worst_true]['image']}` under the "
        f"{old[worst_true]['kernel'].split()[1]} px shake by {-true[worst_true]:.2f} dB)",
    ]
    hundred = summaries.dark_true100_figures()
    record = summaries.record_of(summaries.DARK_TRUE100)
    assert record["commit"].startswith("c9e53e5") and record["command"] in text and record["true_steps"] == 100
    quoted.append(
        f"the true kernel is below the blurry photo in {hundred['below']} of {hundred['rows']} rows (`{hundred['photo']}` "
        f"under the {hundred['kernel'].split()[1]} px shake, {hundred['worst']:+.2f} dB) and {hundred['mean']:+.2f} "
        f"dB over it on average, against the route's {b['mean']:+.2f} with the floor: on dim photos the route "
        f"stays {hundred['mean'] - b['mean']:.2f} dB below the true kernel at its own step count"
    )
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert a["below"] == b["below"] == 0 and b["mean"] > a["mean"] and b["gap"] < 0
    assert err(co) > 6 and abs(g(cn) - g(co)) < 0.1, "the collapse mended, the image barely changed"
    assert a["true below"] > hundred["below"] and hundred["mean"] > b["mean"], "the 20 steps' losses"


def test_the_flips_mean_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the classical estimate averaged over the photo's flips (table
    ``blind_dihedral``; not kept), computed here from ``blind_dihedral_shake_samples4.json`` joined to the route with
    its refits, and the claims asserted from them: most rows move by little, two fall far, and the route ends further
    from the true kernel than without it (why it was reverted)."""
    import ddrm.pipeline.blind as blind

    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.DIHEDRAL_AFTER)
    assert record["commit"].startswith("8e195a8") and record["command"] in text
    assert not hasattr(blind, "L0_DIHEDRAL"), "reverted at 48375a0"
    f = summaries.dihedral_figures()
    pairs = summaries.dihedral_pairs()
    old, new = pairs["all"]
    a, b = f["all"]["without"], f["all"]["with"]
    change = [n["mean"] - o["mean"] for o, n in zip(old, new)]
    order = sorted(range(len(change)), key=change.__getitem__)
    small = sum(abs(c) < 0.2 for c in change)
    wide = [n["mean"] - o["mean"] for o, n in zip(*pairs["motion 31 px"])]
    g = lambda r: r["mean"] - r["blurry"]  # noqa: E731
    err = lambda r: r["blind, full kernel error"]  # noqa: E731
    quoted = [
        f"With the mean the route raises {f['all']['better']} of {b['rows']} rows and moves {small} of them by under "
        f"0.2 dB either way",
        f"(under the 31 px shake it raises {f['motion 31 px']['better']} of 6 photos, by up to {max(wide):.2f} dB)",
    ]
    for i in order[:2]:
        quoted.append(f"`{old[i]['image']}` under the {old[i]['kernel'].split()[1]} px shake from {g(old[i]):+.2f} dB "
                      f"over the blurry photo to {g(new[i]):+.2f} (kernel error {err(old[i]):.2f} -> {err(new[i]):.2f})")  # fmt: skip
    quoted.append(
        f"Over the {b['rows']} rows the route is {b['mean']:+.2f} dB over the blurry photo on average instead of "
        f"{a['mean']:+.2f}, below it in {b['below']} instead of {a['below']}, {b['gap']:.2f} dB below the true kernel's "
        f"mean of 4 instead of {a['gap']:.2f}, and {b['gap held']:.2f} below the true kernel held by the route instead "
        f"of {a['gap held']:.2f}"
    )
    quoted.append(f"(the median over the {b['rows']} rows {b['error']:.2f} against {a['error']:.2f} without it)")
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert change[order[1]] < -1 and small >= len(change) - 6, "most rows barely move, two fall far"
    assert b["mean"] < a["mean"] and b["gap held"] > a["gap held"], "further from the true kernel with it"


def test_the_classical_estimates_error_sources_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's figures on where the classical estimate's error comes from (table
    ``blind_shake_fixed_point``), computed here from ``blind_shake_fixed_point.json``, and the claims asserted from
    them: noise is not the limit, the true kernel nearly holds at a weight of 1e-3 and drifts at the full scale's own
    schedule."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.SHAKE_FIXED_POINT)
    assert record["command"] in text and f"at {record['commit'][:7]}" in text
    rows = summaries.rows_of(summaries.SHAKE_FIXED_POINT)
    f = summaries.fixed_point_figures()
    a, s9 = f["all"], f["motion 9 px"]
    est, clean = a["estimate"], a["estimate, no noise"]
    schedule = "from the true kernel, the full scale's schedule"
    held, sched = a["from the true kernel, weight 0.001"], a[schedule]
    nearer = sum(r["from the true kernel, weight 0.001"] < r["estimate"] for r in rows)
    quoted = [
        f"from the noise-free photo it is {clean['mean']:.2f} off on average against {est['mean']:.2f}, nearer the "
        f"true kernel on {a['nearer without noise']} of {a['rows']} rows",
        f"one alternation at weight 1e-3 leaves it {held['mean']:.2f} off on average (median {held['median']:.2f}, "
        f"nearer than the estimate on all {nearer} rows), where the full scale's own schedule takes it to "
        f"{sched['mean']:.2f} (median {sched['median']:.2f}), and under the 9 px shake to "
        f"{s9[schedule]['mean']:.2f}, about the estimate's own "
        f"{s9['estimate']['mean']:.2f}",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert nearer == a["rows"] and abs(clean["mean"] - est["mean"]) < 0.1, "noise is not the limit"
    assert held["mean"] < sched["mean"] / 2, "the true kernel drifts at the full scale's schedule"
    wide = f["motion 31 px"]
    assert wide["from the true kernel, weight 0.0001"]["mean"] < wide["from the true kernel, weight 0.001"]["mean"]


def test_the_cleanup_given_size_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the route with the kernel cleanup given 21 px
    (table ``blind_cleanup_given``), computed here from ``blind_cleanup_shake_given_samples4.json`` joined to the
    route with the cleanup at the shake's own size (``blind_cleanup_shake_samples4.json``), and the figures without
    the cleanup they are set against."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    f, before = summaries.cleanup_given_figures(), summaries.given_size_figures()
    s9, s15, s31, both = (f[k] for k in ("motion 9 px", "motion 15 px", "motion 31 px", "all"))
    c9, c15, c31 = (g["change 21"] for g in (s9, s15, s31))
    b9 = before["motion 9 px"]
    quoted = [
        f"Given 21 px under the 9 px shake the route is now {-c9['mean']:.2f} dB below its result at the shake's own "
        f"size on average (worst {c9['worst']:+.2f} dB, `{c9['photo']}`) and below the blurry photo in "
        f"{s9['given 21']['below']} of {s9['own']['rows']} (without the cleanup {-b9['change 21']['mean']:.2f} dB "
        f"below, in {b9['given 21']['below']} of {b9['own']['rows']})",
        f"under the 15 px shake the larger size raises {c15['raised']} of {s15['own']['rows']} rows, "
        f"{c15['mean']:+.2f} dB on average (worst {c15['worst']:+.2f})",
        f"it is {-c31['mean']:.2f} dB below (worst {c31['worst']:+.2f} dB, `{c31['photo']}`), below the blurry photo "
        f"in {s31['given 21']['below']} of {s31['own']['rows']} instead of {s31['own']['below']}",
        f"Over the {both['own']['rows']} rows the default size leaves the route below the blurry photo in "
        f"{both['given 21']['below']} instead of {both['own']['below']}, and {both['given 21']['gap']:.2f} dB below "
        f"the true kernel's mean of 4 instead of {both['own']['gap']:.2f}",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert max(-c9["mean"], -both["change 21"]["mean"]) < -c31["mean"], "costs most where the shake is wider"
    record = summaries.record_of(summaries.CLEANUP_GIVEN)
    assert record["commit"].startswith("d65d4b9") and record["command"].endswith(
        "--shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01 --out "
        "benchmarks/results/blind_cleanup_shake_given_samples4.json"
    )


def test_the_refits_given_size_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's, the real-photos guide's and the unsized-shake note's figures for the route with its
    refits (the default) given 21 px (table ``blind_refits_given``), computed here from
    ``blind_refits_shake_given_samples4.json`` joined to the route with the refits at the shake's own size
    (``blind_refits_shake_samples4.json``), and the cleanup's given-size figures they are set against."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f, cleanup = summaries.refits_given_figures(), summaries.cleanup_given_figures()
    s9, s15, s31, both = (f[k] for k in ("motion 9 px", "motion 15 px", "motion 31 px", "all"))
    c9, c15, c31 = (g["change 21"] for g in (s9, s15, s31))
    b9, b31 = (cleanup[k]["change 21"] for k in ("motion 9 px", "motion 31 px"))
    quoted = [
        f"Given 21 px under the 9 px shake the route with its refits is {-c9['mean']:.2f} dB below its result at the "
        f"shake's own size on average (worst {c9['worst']:+.2f} dB, `{c9['photo']}`; with the cleanup alone "
        f"{-b9['mean']:.2f} dB below) and below the blurry photo in {s9['given 21']['below']} of {s9['own']['rows']}",
        f"under the 15 px shake the larger size raises {c15['raised']} of {s15['own']['rows']} rows, "
        f"{c15['mean']:+.2f} dB on average (worst {c15['worst']:+.2f}), its kernel nearer the shake (median kernel "
        f"error {s15['given 21']['error']:.2f} against {s15['own']['error']:.2f})",
        f"it is {-c31['mean']:.2f} dB below (worst {c31['worst']:+.2f} dB, `{c31['photo']}`; with the cleanup alone "
        f"{-b31['mean']:.2f} dB below), below the blurry photo in {s31['given 21']['below']} of {s31['own']['rows']} "
        f"instead of {s31['own']['below']}",
        f"Over the {both['own']['rows']} rows the default size leaves the route below the blurry photo in "
        f"{both['given 21']['below']} instead of {both['own']['below']}, and {both['given 21']['gap']:.2f} dB below "
        f"the true kernel's mean of 4 instead of {both['own']['gap']:.2f}",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert -c9["mean"] < 0.2 < c15["mean"] and -c31["mean"] > -b31["mean"], "little or a gain at or above; more below"
    assert (
        f"under a 9 px shake {-c9['mean']:.1f} dB below, below the blurry photo in {s9['given 21']['below']} of "
        f"{s9['own']['rows']}; under a 15 px shake {c15['mean']:.1f} dB above, under a 31 px one, wider than the "
        f"kernel, {-c31['mean']:.1f} dB below (worst {-c31['worst']:.1f} dB), below the blurry photo in "
        f"{s31['given 21']['below']} of {s31['own']['rows']}"
    ) in guide
    from ddrm.pipeline import unsized_shake_warning

    docstring = " ".join(unsized_shake_warning.__doc__.split())
    assert (
        f"{-c31['mean']:.2f} dB below its own size's result on the held-out photos, worst {-c31['worst']:.2f}"
        in docstring
        and f"(a 9 px shake: {-c9['mean']:.2f} dB; a 15 px one gains {c15['mean']:.2f};" in docstring
    )
    record = summaries.record_of(summaries.REFITS_GIVEN)
    assert record["command"].endswith(
        "--shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01 --out "
        "benchmarks/results/blind_refits_shake_given_samples4.json"
    )
    assert f"--out benchmarks/results/blind_refits_shake_given_samples4.json` (at {record['commit'][:7]};" in text


def _held_nfe(samples: int) -> int:
    """The network evaluations of the held estimate's run with ``samples`` samples (DiffPIR, ``HELD_STEPS``)."""
    from ddrm.pipeline.blind import HELD_STEPS
    from ddrm.samplers import SAMPLERS

    return samples * SAMPLERS["diffpir"].count_nfe(HELD_STEPS, task="deblur_blind")


def test_the_shake_given_size_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for the camera-shake route given 21 px instead of the
    shake's own size (table ``blind_shake_given``), computed here from ``blind_shake_given_samples4.json`` joined to
    the route at the shake's own size; the file's first row is ``ddrm.restore``'s one-sample image (checked as it was
    made), its blurry photos the own-size files' (checked by the join)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.given_size_figures()
    s9, s15, s31, both = (f[k] for k in ("motion 9 px", "motion 15 px", "motion 31 px", "all"))
    c9, c15, c31 = (g["change 21"] for g in (s9, s15, s31))
    assert (c9["photo"], c31["photo"]) == ("coffee", "astronaut") and c9["raised"] == 0
    quoted = [
        f"Given 21 px under the 9 px shake, the route is {-c9['mean']:.2f} dB below its result at the shake's own size "
        f"on average (worst {c9['worst']:+.2f} dB, `coffee`) and below the blurry photo in {s9['given 21']['below']} "
        f"of {s9['own']['rows']} instead of {s9['own']['below']}",
        f"comes out twice as far from it (median kernel error {s9['given 21']['error']:.2f} against "
        f"{s9['own']['error']:.2f})",
        f"the larger size raises {c15['raised']} of {s15['own']['rows']} rows, {c15['mean']:+.2f} dB on average (worst "
        f"{c15['worst']:+.2f})",
        f"it is {-c31['mean']:.2f} dB below (worst {c31['worst']:+.2f} dB, `astronaut`), below the blurry photo in "
        f"{s31['given 21']['below']} of {s31['own']['rows']} instead of {s31['own']['below']}",
        f"Over the {both['own']['rows']} rows the default size leaves the route below the blurry photo in "
        f"{both['given 21']['below']} instead of {both['own']['below']}, and {both['given 21']['gap']:.2f} dB below the "
        f"true kernel's mean of 4 instead of {both['own']['gap']:.2f}",
        f"{-summaries.sizes_figures()['21']['change']:.2f} dB given 21 px);",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert 2 * s9["own"]["error"] < s9["given 21"]["error"] < 2.5 * s9["own"]["error"], "twice as far, as quoted"
    assert (
        f"under a 9 px shake {-c9['mean']:.1f} dB below the result at its own size, below the blurry photo in "
        f"{s9['given 21']['below']} of {s9['own']['rows']} held-out photos; under a 15 px shake {c15['mean']:.1f} dB "
        f"above it, under a 31 px one {-c31['mean']:.1f} dB below ([Benchmarks]"
    ) in guide
    record = summaries.record_of(summaries.SHAKE_GIVEN)
    assert record["command"].endswith("--shake --samples 4 --sizes 21 --shake-sizes 9,15,31 --levels 0.01")
    assert f"`benchmarks/results/blind_shake_given_samples4.json`, made at {record['commit'][:7]}," in text


def test_the_greyscale_photo_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's and the real-photos guide's figures for greyscale photos (table ``grey_photos``), from
    ``grey_photos.json``; a grey photo saved as RGB is the grey file's measurement (its results the same)."""
    f = _summaries().grey_figures()
    text = _prose("benchmarks.md")
    gain, colour = f["gain"], f["over colour"]
    ((photo, level, loss, true_loss),) = f["below"]
    assert f["three vs grey"] < 1e-4, "the docs say within 0.0001 dB of the grey file's on every row"
    quoted = [
        f"+{gain[0.01]:.2f}, +{gain[0.02]:.2f} and +{gain[0.05]:.2f} dB over the noisy photo at 0.01, 0.02 and 0.05, "
        f"below it in {len(f['below'])} of {f['denoise rows']} (`{photo}` at {level:g}, {loss:+.2f} dB, and "
        f"{true_loss:+.2f} dB with the true level",
        f"{f['true gap']:.2f} dB from the true level's result on average",
        f"{colour[0.01]:.2f}, {colour[0.02]:.2f} and {colour[0.05]:.2f} dB below the grey measurement on average "
        f"(above it in {f['colour above']} of {f['denoise rows']} rows), and {f['sr over colour']:.2f} dB on SR",
        f"the grey model is {f['sr gain']:+.2f} dB over bicubic upsampling, below it in {f['sr below']} of "
        f"{f['sr rows']} (worst {f['sr worst']:+.2f} dB)",
        f"still {f['sr bias']:+.3f} on average (all patches: {f['sr bias all']:+.3f}), and the true level adds "
        f"{f['sr true gap']:.2f} dB",
    ]
    for q in quoted:
        assert q in text, q
    span = f"{min(colour.values()):.1f}-{max(colour.values()):.1f} dB below the grey measurement when denoising"
    assert span in _prose("guide/real-photos.md"), span


def test_the_grey_blind_deblurring_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's figures for blind deblurring of greyscale photos (table ``grey_blind``), from
    ``grey_blind.json``."""
    f = _summaries().grey_blind_figures()
    gain, photo, kernel, level = f["worst"]
    quoted = (f"above the blurry photo on {f['rows'] - f['below']} of {f['rows']} (mean {f['gain']:+.2f} dB, least "
              f"{gain:+.2f} dB: `{photo}`, {kernel}, sigma_y {level:g}) and {f['true gap']:.2f} dB below the true "
              f"kernel on average")  # fmt: skip
    assert quoted in _prose("benchmarks.md"), quoted


def test_the_colourisation_noise_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's colourisation noise estimate (table ``noise_estimation``): its bias at level 0 and how far
    DDRM with it is from DDRM with the true level, from ``noise_estimation.json``."""
    import numpy as np

    summaries = _summaries()
    rows = [r for r in summaries.rows_of(summaries.RESULTS / "noise_estimation.json") if r["task"] == "color"]
    clean = [r for r in rows if r["sigma_y"] == 0]
    bias, mad = np.mean([r["pca"] for r in clean]), np.mean([r["mad"] for r in clean])
    far = max(abs(np.mean([r["psnr estimated"] - r["psnr true"] for r in rows if r["sigma_y"] == s]))
              for s in {r["sigma_y"] for r in rows})  # fmt: skip
    assert far < 0.15, "the docs say within 0.15 dB of the true level's at every level"
    quoted = f"{bias:+.4f} at level 0, where all patches gave +0.022 and the MAD gives {mad:+.4f}"
    assert quoted in _prose("benchmarks.md"), quoted


def test_the_kernel_size_figures_quoted_agree_with_their_result_file():
    """docs/benchmarks.md's and the real-photos guide's figures for the offered blind model given other kernel sizes
    than the blur's (table ``blind_sizes``), computed here from ``blind_sizes.json``, and the difference quoted
    between its true-size column and ``blind_moved_seed0.json``'s."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    f = summaries.sizes_figures()
    s21, s31, apart = f["21"], f["31"], f["apart"]
    gaussians = [v for size in (s21, s31) for k, v in size["family"].items() if "Gaussian" in k]
    box9, box15 = (
        [size["family"][k] for size in (s21, s31)] for k in ("box 9 px", "box 15 px")
    )  # fmt: skip
    quoted = [
        f"Given 21 px the result is {-s21['change']:.2f} dB below the one at the blur's size on average (worst "
        f"{s21['least']:+.2f} dB), given 31 px {-s31['change']:.2f} dB (worst {s31['least']:+.2f} dB); below the blurry "
        f"photo in {s21['below']} and {s31['below']} of {f['rows']}",
        f"{s21['gap']:.2f} and {s31['gap']:.2f} dB below the true kernel instead of {f['gap']:.2f}",
        f"within {max(map(abs, gaussians)):.2f} dB on average",
        f"the 9 px box loses {-box9[0]:.2f} dB given 21 px and {-box9[1]:.2f} given 31, the 15 px box {-box15[0]:.2f} "
        f"and {-box15[1]:.2f}",
        f"by {apart['mean']:.2f} dB on average, by {apart['largest']:.2f} dB at most, with the true kernel's "
        "restorations equal to 1e-6 dB",
    ]
    for phrase in quoted:
        assert phrase in text, phrase
    assert f["below"] == 0, "the docs say the blur's own size leaves none below the blurry photo"
    assert apart["true kernel"] < 1e-6, "the docs say the true kernel's restorations are equal to 1e-6 dB"
    rows = summaries.rows_of(summaries.RESULTS / "blind_sizes.json")
    then = summaries.rows_of(summaries.RESULTS / "blind_moved_seed0.json")[0]  # its first case is this file's
    assert (then["kernel"], then["image"]) == (rows[0]["kernel"], rows[0]["image"])
    assert (
        f"this file's first row ({rows[0]['blind, valid']:.2f} dB, the committed file {then['blind, valid']:.2f})"
        in text
    )
    below = [r for r in rows for k in ("blind, size 21", "blind, size 31") if r[k] < r["blurry"]]
    assert below and all(r["kernel"].startswith("box") for r in below), "every row below is a box's"
    assert (
        f"below the blurry photo in {s21['below']} and {s31['below']} of {f['rows']} where the blur's size leaves none"
        in guide
    )
    assert (
        f"(the 9 px box loses {-sum(box9) / 2:.1f} dB; the Gaussians within {max(map(abs, gaussians)):.2f} dB)" in guide
    )
    assert f"{-(s21['change'] + s31['change']) / 2:.1f} dB below the result at the blur's size on average" in guide
    boxes = [r for r in rows if r["kernel"] == "box 9 px"]
    keys = ("blind, valid", "blind, size 21", "blind, size 31")
    errors = [sum(r[f"{k} kernel error"] for r in boxes) / len(boxes) for k in keys]
    assert (
        f"(the 9 px box's kernel error {errors[0]:.2f} at its size, {errors[1]:.2f} and {errors[2]:.2f} given 21 and 31)"
        in text
    )
    from ddrm.operators import gaussian_kernel_1d  # the 25 px Gaussian of blind_real.kernels()

    g = gaussian_kernel_1d(4.0, 12).double()
    beyond = 1 - float(g[2:-2].sum()) ** 2  # outside the central 21 x 21 taps
    assert f"the 25 px Gaussian has {100 * beyond:.1f} % of its mass beyond 21 px" in text


def test_the_shake_extent_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's and the real-photos guide's figures for the classical estimate's extent at the default
    21 px window (tables ``blind_shake_extent`` and ``blind_shake_extent_train``), computed here from
    ``blind_shake_extent21.json`` and ``blind_shake_extent21_train.json``."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    guide = _prose("guide/real-photos.md")
    held, train = summaries.extent_figures(), summaries.extent_figures(summaries.SHAKE_EXTENT_TRAIN)
    h9, h15, h31 = (held[f"motion {n} px"] for n in (9, 15, 31))
    t9, t15, t31 = (train[f"motion {n} px"] for n in (9, 15, 31))
    quoted = [
        f"the estimate fills the window under the 9 px shake in {h9['fills']} of {h9['rows']} and under the 15 px "
        f"shake in {h15['fills']} of {h15['rows']}, and under the 31 px shake, which the window cannot hold, in "
        f"{h31['fills']} of {h31['rows']}.",
        f"On the training photos it fills the window under the 9 px shake in {t9['fills']} of {t9['rows']} and under "
        f"the 15 px shake in {t15['fills']} of {t15['rows']}, and under the 31 px shake in {t31['fills']} of "
        f"{t31['rows']}, where {t31['collapsed']} of {t31['rows']} come out under half the true extent.",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert held["all"]["window"] == train["all"]["window"] == 21
    assert t9["fills"] / t9["rows"] > 1 / 3, "over a third of the 9 px shakes"
    assert t31["rows"] - t31["fills"] == t31["rows"] / 2, "half of the 31 px ones as they were"
    assert (
        f"at 21 px it fills its window under a 9 px shake in {t9['fills']} of {t9['rows']} cases on the training "
        f"photos and under a 31 px one in {t31['fills']} of {t31['rows']}"
    ) in guide


def test_the_gpu_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's GPU figures (section "On a GPU", tables ``gpu_ddrm`` and ``gpu_solvers``), computed here
    from ``gpu_h200.json``, ``gpu_h200_ddpm_compile.json`` and ``gpu_h200_adm_cudagraphs.json``."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    f = summaries.gpu_figures()
    best, peak = f["adm_compiled_16"], summaries.MATMUL_BF16_TFLOPS
    per_eval = f["adm_gflops"] / 1e3  # TFLOP
    asked = 10 * 20 * per_eval
    compiles = [r["warmup_s"] for r in summaries._gpu_rows() if r["part"] == "compile"]
    one = f["adm_bf16_1"]
    solvers = {r["solver"]: r for r in summaries._gpu_rows((summaries.GPU,)) if r["part"] == "solvers"}
    grad = [r["peak_mib"] for r in solvers.values() if r["needs_grad"] and r["batch"] == 4]
    ddrm4 = next(r for r in summaries._gpu_rows((summaries.GPU,)) if r["part"] == "ddrm" and r["batch"] == 4
                 and r["preset"] == "adm-imagenet256-uncond" and r["dtype"] == "bfloat16" and not r["cast_weights"]
                 and not r["channels_last"])  # fmt: skip
    gens, pipe = f["generators"], f["pipeline"]
    quoted = [
        f"{f['adm_gflops']:.0f} GFLOP per evaluation as `torch.utils.flop_counter` counts them, i.e. "
        f"{per_eval / 2:.2f} T multiply-adds",
        f"DDPM CelebA-HQ 256 (113.7M, {f['ddpm_gflops']:.0f} GFLOP)",
        f"The best ADM figure is {best['images_per_s']:.2f} images/s (batch 16, bfloat16, compiled): "
        f"{best['tflops_per_s']:.0f} TFLOP/s, {best['tflops_per_s'] / peak:.0%} of the {peak} TFLOP/s".replace(
            "%", " %"
        ),
        f"at {f['adm_gflops']:.0f} GFLOP it asks for {asked:.0f} TFLOP/s, {asked / peak:.0%} of that".replace(
            "%", " %"
        ),
        f"({f['adm_bf16_16']['images_per_s']:.2f} in bfloat16, {f['adm_fp32_16']['images_per_s']:.2f} in float32 at "
        "batch 16)",
        f"{one['images_per_s']:.2f} images/s in bfloat16 ({one['seconds'] / 20 * 1e3:.0f} ms per evaluation, slower "
        f"than float32's {f['adm_fp32_1']['images_per_s']:.2f}), {f['adm_compiled_1']['images_per_s']:.2f} compiled "
        f"and {f['adm_graphs_1']['images_per_s']:.2f} compiled with CUDA graphs",
        f"Compilation takes {min(compiles):.0f}-{max(compiles):.0f} s per shape",
        f"{f['adm_fp32_1']['peak_mib'] / 1024:.1f} GiB in float32, {one['peak_mib'] / 1024:.1f} GiB in bfloat16 "
        f"autocast (float32 weights plus their bfloat16 copies) and {f['adm_cast_1']['peak_mib'] / 1024:.1f} GiB with",
        f"(ADM {f['adm_channels_last_16']['images_per_s']:.2f} against {f['adm_bf16_16']['images_per_s']:.2f} images/s "
        f"at batch 16)",
        f"reaches {f['ddpm_compiled_16']['images_per_s']:.2f} images/s compiled at batch 16",
        f"cost {gens['cpu']['images_per_s']:.2f} against {gens['device']['images_per_s']:.2f} images/s",
        f"made {f['sync_before']['synchronising_calls']} synchronising calls before",
        f"{f['sync_after']['in_steps_2_to_20']} in steps 2-20 after",
        f"float32 match their recorded outputs to {f['fixtures_exact']:.1e} (the CPU test's bound is 1e-05); with "
        f"cuDNN's TF32 convolutions (PyTorch's default) to {f['fixtures_tf32']:.1e}",
        f"{pipe['denoise']['cpu_psnr']:.2f} / {pipe['denoise']['cuda_psnr']:.2f} dB denoising, "
        f"{pipe['deblur_blind']['cpu_psnr']:.2f} / {pipe['deblur_blind']['cuda_psnr']:.2f} dB blind deblurring, "
        f"{pipe['color']['cpu_psnr']:.2f} / {pipe['color']['cuda_psnr']:.2f} dB colourisation",
        f"their peak memory at batch 4 is {min(grad) / ddrm4['peak_mib']:.1f} times DDRM's",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f["sync_before"]["synchronising_calls"] == 20 * 2 + 5 and f["sync_after"]["in_steps_2_to_20"] == 0
    assert all(r["cuda_finite"] and r["cpu_finite"] for r in pipe.values()) and len(pipe) == 6
    assert f["fixtures_exact"] <= 1e-5, "the tiny fixtures' CPU bound holds on the GPU in exact float32"
    assert max(grad) / ddrm4["peak_mib"] < min(grad) / ddrm4["peak_mib"] + 0.05
    assert best["images_per_s"] < 10, "the docs say the target is not reached"
    measured = [r for r in summaries._gpu_rows() if "images_per_s" in r and r["solver"] == "ddrm"]
    assert all(r["peak_mib"] < 4 * 1024 for r in measured if r["batch"] == 1), "DDRM at batch 1 stays under 4 GiB"
    for preset in summaries.GPU_NAMES:  # "channels-last is slower for both networks", at every batch
        configs = summaries._gpu_configs(summaries._gpu_rows(), preset)
        last, eager = configs["bfloat16, channels-last"], configs["bfloat16"]
        assert all(last[b]["images_per_s"] < eager[b]["images_per_s"] for b in last), preset
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"compilation's cost ({min(compiles):.0f}-{max(compiles):.0f} s per shape: not the default)" in readme


def test_the_collapsed_estimates_fallback_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the collapsed estimate made again with the weight carried (tables
    ``blind_fallback`` and ``blind_fallback_02``; not kept), computed here from ``blind_fallback_shake_samples4.json``
    and its sigma_y 0.02 twin joined to the route with its refits, and the claims asserted from them: at sigma_y 0.01
    it fires only under the 21 and 31 px shakes, on rows the route held just above the blurry photo, and at both
    levels it takes a photo below the blurry one where the route had none (why it was reverted)."""
    import ddrm.pipeline.blind as blind

    summaries = _summaries()
    text = _prose("benchmarks.md")
    for path in (summaries.FALLBACK_AFTER, summaries.FALLBACK_AFTER_02):
        record = summaries.record_of(path)
        assert record["commit"].startswith("97cab1a") and record["command"] in text
    assert not hasattr(blind, "held_kernel") and not hasattr(blind, "L0_FALLBACK_WEIGHT"), "reverted at e5e367b"
    quoted = []
    for level, (path, before) in {
        "0.01": (summaries.FALLBACK_AFTER, summaries.REFITS_AFTER),
        "0.02": (summaries.FALLBACK_AFTER_02, summaries.REFITS_AFTER_02),
    }.items():
        f = summaries.fallback_figures(path, before)
        a, b = f["all"]["without"], f["all"]["with"]
        rows = f["all"]["fired"]
        fired = f["all"]["rows"]
        # the rule as it ran: fired exactly where the first estimate's taps were under the size
        for r in summaries.rows_of(path):
            size = int(r["kernel"].split()[1])
            assert r["blind, full fallback"] == (r["blind, full participation"] < size), r["image"]
        assert {r["kernel"] for r in fired} <= {"motion 15 px", "motion 21 px", "motion 31 px"}
        worst = min(fired, key=lambda r: r["after"] - r["before"])
        best = max(fired, key=lambda r: r["after"] - r["before"])
        nearer = sum(r["error after"] < r["error before"] for r in fired)
        quoted += [
            f"at sigma_y {level} it fired on {rows} of {b['rows']} rows",
            f"nearer the true kernel on {nearer} of the {rows}: `{best['image']}` under the "
            f"{best['kernel'].split()[1]} px shake rose from {best['before']:+.2f} to {best['after']:+.2f} dB",
            f"`{worst['image']}` under the {worst['kernel'].split()[1]} px shake fell from {worst['before']:+.2f} to "
            f"{worst['after']:+.2f} dB",
            f"its kernel error from {worst['error before']:.2f} to {worst['error after']:.2f}",
            f"Over the {b['rows']} rows at {level} the route is {b['mean']:+.2f} dB over the blurry photo on average "
            f"instead of {a['mean']:+.2f}, below it in {b['below']} instead of {a['below']}, {b['gap']:.2f} dB below "
            f"the true kernel's mean of 4 instead of {a['gap']:.2f}",
        ]
        if level == "0.01":  # collapsed estimates, restored just above the blurry photo
            assert {r["kernel"] for r in fired} <= {"motion 21 px", "motion 31 px"}
            assert all(0 < r["before"] < 0.2 for r in fired)
        assert a["below"] == 0 < b["below"] and worst["after"] < 0 < worst["before"], "a photo taken below the blurry"
        assert worst["error after"] < worst["error before"] / 2, "nearer the true kernel by the error, and below"
    f = summaries.fallback_figures()
    quoted.append(f"and {f['all']['with']['gap held']:.2f} below the true kernel held by the route instead of "
                  f"{f['all']['without']['gap held']:.2f}")  # fmt: skip
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def _moved_most(old: list[dict], new: list[dict]) -> list[tuple]:
    """The rows a change to the camera-shake route moves most (its two largest gains, then its largest loss), each as
    (photo, shake's size, the mean of N over the blurry photo before and after, the kernel error before and after);
    asserted to be `coffee` under the 31 px shake, `chelsea` under the 21 px one and `china` under the 15 px one."""
    change = [n["mean"] - o["mean"] for o, n in zip(old, new)]
    order = sorted(range(len(change)), key=change.__getitem__)
    rows = [(old[i]["image"], old[i]["kernel"].split()[1], old[i]["mean"] - old[i]["blurry"],
             new[i]["mean"] - new[i]["blurry"], old[i]["blind, full kernel error"], new[i]["blind, full kernel error"])
            for i in (order[-1], order[-2], order[0])]  # fmt: skip
    assert [r[:2] for r in rows] == [("coffee", "31"), ("chelsea", "21"), ("china", "15")]
    return rows


def test_the_tv_estimate_figures_quoted_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the TV estimate of a camera shake (tables ``blind_shake_estimators_train``,
    ``blind_shake_estimators21_train`` and ``blind_tv``), computed here from the training photos' estimates and the
    held-out route's files joined to the route with the L0 estimate (the same cases); ``TV_FROM`` is where the TV
    estimate began to be nearer the true shake on the training photos."""
    import ddrm.pipeline.blind as blind

    summaries = _summaries()
    text = _prose("benchmarks.md")
    paths = (summaries.SHAKE_ESTIMATORS_TRAIN, summaries.RESULTS / "blind_shake_estimators21_train.json",
             *summaries.TV_AFTER)  # fmt: skip
    for path in paths:
        record = summaries.record_of(path)
        assert record["commit"].startswith("3f9eebd") and record["device"].startswith("cpu"), path.name
    assert "`python benchmarks/blind_real.py --estimators own --levels 0.01 --heldout data/photos/train`" in text
    assert "`python benchmarks/blind_real.py --estimators 21 --shake-sizes 9 --levels 0.01 --heldout" in text
    assert "`python benchmarks/blind_real.py --shake --samples 4 --shake-sizes S --levels 0.01 --no-true-kernel" in text
    train, given = summaries.estimators_figures(), summaries.estimators_figures(paths[1])
    sizes = {label: int(label.split()[1]) for label in train if label != "all"}
    assert all((train[s]["tv"]["mean"] < train[s]["l0"]["mean"]) == (n >= blind.TV_FROM) for s, n in sizes.items())
    f = summaries.tv_figures()
    a, whole = f["all"], f["motion 9-31 px"]
    large = [s for s, n in sizes.items() if n >= blind.TV_FROM]
    nearer = sum(train[s]["tv nearer"] for s in large)
    quoted = [
        f"from {blind.TV_FROM} px on the TV estimate is nearer the true shake on {nearer} of "
        f"{sum(train[s]['rows'] for s in large)} rows",
        f"under the 9 px shake it is further off ({train['motion 9 px']['tv']['mean']:.2f} on average against "
        f"{train['motion 9 px']['l0']['mean']:.2f}, nearer on {train['motion 9 px']['tv nearer']} of "
        f"{train['motion 9 px']['rows']})",
        f"In the default 21 px window under the 9 px shake the TV estimate is {given['all']['tv']['mean']:.2f} off on "
        f"average against the L0 estimate's {given['all']['l0']['mean']:.2f}",
        f"raises {a['better']} of its {a['with']['rows']} rows",
        f"Over the {whole['with']['rows']} rows of 9-31 px the route is now {whole['with']['mean']:+.2f} dB over the "
        f"blurry photo on average instead of {whole['without']['mean']:+.2f}, below it in {whole['with']['below']} "
        f"instead of {whole['without']['below']}, {whole['with']['gap']:.2f} dB below the true kernel's mean of 4 "
        f"instead of {whole['without']['gap']:.2f}, and {whole['with']['gap held']:.2f} below the true kernel held by "
        f"the route instead of {whole['without']['gap held']:.2f}",
    ]
    old, new = summaries.tv_pairs()["all"]
    gain, second, loss = _moved_most(old, new)
    quoted += [
        "`coffee` under the 31 px shake from {2:+.2f} dB over the blurry photo to {3:+.2f} (kernel error {4:.2f} -> "
        "{5:.2f})".format(*gain),
        "`chelsea` under the 21 px shake from {2:+.2f} to {3:+.2f} ({4:.2f} -> {5:.2f})".format(*second),
        "`china` under the 15 px shake, from {2:+.2f} to {3:+.2f} ({4:.2f} -> {5:.2f})".format(*loss),
        f"the estimate's own part of the distance ({whole['with']['gap held']:.2f} dB) is now under it, the "
        f"allowance's ({whole['with']['gap'] - whole['with']['gap held']:.2f} dB",
        f"at sigma_y 0.01 in {whole['with']['below']} of {whole['with']['rows']} and {whole['with']['gap']:.2f} dB below "
        f"the true kernel's mean of 4, {whole['with']['gap held']:.2f} below the true kernel held by the route",
    ]
    rocket = [r["mean"] - r["blurry"] for r in old + new if r["image"] == "rocket"]
    assert 0 < min(rocket) and max(rocket) < 0.5, "rocket stays under 0.5 dB above the blurry photo"
    assert whole["with"]["gap"] > 2 > whole["with"]["gap held"], "the target unmet, the estimate's part under 2 dB"
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_tv_estimate_figures_at_sigma_y_002_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the route with the TV estimate at sigma_y 0.02 (table ``blind_tv_02``),
    computed here from its three files joined to the route with the L0 estimate at 0.02 (the same cases)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    for path in summaries.TV_AFTER_02:
        record = summaries.record_of(path)
        assert record["commit"].startswith("240bfb5") and record["device"].startswith("cpu"), path.name
    assert "`python benchmarks/blind_real.py --shake --samples 4 --shake-sizes S --levels 0.02 --no-true-kernel" in text
    f = summaries.tv_figures(summaries.TV_AFTER_02, summaries.REFITS_AFTER_02)
    a, whole = f["all"], f["motion 9-31 px"]
    assert "gap held" not in whole["with"], "no true kernel held by the route at 0.02"
    gain, second, loss = _moved_most(*summaries.tv_pairs(summaries.TV_AFTER_02, summaries.REFITS_AFTER_02)["all"])
    at_01 = _moved_most(*summaries.tv_pairs()["all"])[2]
    assert all(r[5] > 1.9 * r[4] for r in (at_01, loss)), "china 15 px: twice as far off at both noise levels"
    quoted = [
        f"At the higher noise the TV estimate raises {a['better']} of the {a['with']['rows']} rows",
        f"Over the {whole['with']['rows']} rows of 9-31 px the route is now {whole['with']['mean']:+.2f} dB over the "
        f"blurry photo on average instead of {whole['without']['mean']:+.2f}, below it in {whole['with']['below']} "
        f"instead of {whole['without']['below']}, and {whole['with']['gap']:.2f} dB below the true kernel's mean of 4 "
        f"instead of {whole['without']['gap']:.2f}",
        "`coffee` under the 31 px shake from {2:+.2f} dB over the blurry photo to {3:+.2f}, kernel error {4:.2f} -> "
        "{5:.2f}".format(*gain),
        "`chelsea` under the 21 px shake from {2:+.2f} to {3:+.2f}, {4:.2f} -> {5:.2f}".format(*second),
        "`china` under the 15 px shake (from {2:+.2f} to {3:+.2f}, {4:.2f} -> {5:.2f})".format(*loss),
        f"0.02 in {whole['with']['below']} of {whole['with']['rows']} and {whole['with']['gap']:.2f} dB below the true "
        "kernel's mean of 4.",
    ]
    assert whole["without"]["gap"] < 2 and whole["with"]["gap"] < whole["without"]["gap"], "within 2 dB, nearer"
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_tv_estimate_given_21_px_figures_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the route with the TV estimate given 21 px (table ``blind_tv_given``),
    computed here from its three files joined to the route with the L0 estimate given 21 px (the same cases) and to
    the route at each shake's own size."""
    import ddrm.pipeline.blind as blind

    summaries = _summaries()
    text = _prose("benchmarks.md")
    for path in summaries.TV_GIVEN:
        record = summaries.record_of(path)
        assert record["commit"].startswith("240bfb5") and record["device"].startswith("cpu"), path.name
    assert blind.TV_FROM <= 21, "the 21 px window takes the TV estimate"
    assert "`python benchmarks/blind_real.py --shake --samples 4 --sizes 21 --shake-sizes S --levels 0.01 --out" in text
    f, t = summaries.tv_given_figures(), summaries.tv_figures()
    a, own = f["all"], f["own"]
    cost = lambda s: f[s]["without"]["mean"] - f[s]["with"]["mean"]  # noqa: E731
    w21, o21 = t["motion 21 px"]["with"]["mean"], t["motion 21 px"]["without"]["mean"]
    s15, s31 = f["motion 15 px"], f["motion 31 px"]
    quoted = [
        f"In the 21 px window the TV estimate raises {a['better']} of the {a['with']['rows']} rows",
        f"Under the 9 and 15 px shakes it costs {cost('motion 9 px'):.2f} and {cost('motion 15 px'):.2f} dB on average "
        f"(median kernel error {s15['with']['error']:.2f} against {s15['without']['error']:.2f} under the 15 px shake",
        f"in its own, {t['motion 15 px']['without']['error']:.2f} there",
        f"({s31['with']['mean']:+.2f} on average against {s31['without']['mean']:+.2f}, below it in "
        f"{s31['with']['below']} of {s31['with']['rows']} instead of {s31['without']['below']})",
        f"Over the {a['with']['rows']} rows the route given 21 px is {a['with']['mean']:+.2f} dB over the blurry photo "
        f"instead of {a['without']['mean']:+.2f}, below it in {a['with']['below']} instead of {a['without']['below']}",
        f"({w21:+.2f} against {o21:+.2f},",
        f"gets {(3 * a['with']['mean'] + w21) / 4:+.2f} dB over the blurry photo on average over the four shakes "
        f"instead of {(3 * a['without']['mean'] + o21) / 4:+.2f}",
        f"given 21 px costs {-own['all']['change 21']['mean']:.2f} dB over the {a['with']['rows']} rows "
        f"({-own['motion 31 px']['change 21']['mean']:.2f} under the 31 px shake)",
    ]
    assert all(cost(s) > 0 for s in ("motion 9 px", "motion 15 px")), "it costs under the smaller shakes"
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_tv_estimate_in_the_21_px_window_figures_agree_with_their_result_files():
    """docs/benchmarks.md's figures for both estimates in the default 21 px window on the training photos (tables
    ``blind_tv_window21_train`` and ``blind_tv_extent21_train``): kernel errors, extents and outer rings' mass, and the
    9 px rows the same as ``blind_shake_estimators21_train.json``'s (the estimates deterministic)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    for path in summaries.TV_EXTENT21_TRAIN:
        record = summaries.record_of(path)
        assert record["commit"].startswith("26c839a") and record["device"].startswith("cpu"), path.name
    assert "`python benchmarks/blind_real.py --estimators 21 --shake-sizes 9,15 --levels 0.01 --heldout" in text
    rows = summaries._rows_of_files(summaries.TV_EXTENT21_TRAIN)
    earlier = summaries.rows_of(summaries.RESULTS / "blind_shake_estimators21_train.json")
    nine = [r for r in rows if r["kernel"] == "motion 9 px"]
    assert [(r["image"], r["l0"], r["tv"]) for r in nine] == [(r["image"], r["l0"], r["tv"]) for r in earlier]
    f, own = summaries.estimators_figures(summaries.TV_EXTENT21_TRAIN), summaries.estimators_figures()
    x = summaries.tv_extent_figures()["tv"]
    over = {s: sum(r["tv outer mass"] > 0.1 for r in rows if r["kernel"] == f"motion {s} px") for s in (9, 15, 21, 31)}
    m = lambda s, e: f"{f[f'motion {s} px'][e]['mean']:.2f}"  # noqa: E731
    quoted = [
        f"nearer the true shake on {f['all']['tv nearer']} of {f['all']['rows']} rows (mean kernel error "
        f"{f['all']['tv']['mean']:.2f} against {f['all']['l0']['mean']:.2f}): further off under the 9 px shake "
        f"({m(9, 'tv')} against {m(9, 'l0')},",
        f"about level under the 15 px one ({m(15, 'tv')} against {m(15, 'l0')})",
        f"fills the window under the 9 px shake in {x['motion 9 px']['fills']} of 12 and under the 31 px one in "
        f"{x['motion 31 px']['fills']} of 12",
        f"(median {x['motion 9 px']['outer']:.3f} of its mass under the 9 px shake, {x['motion 31 px']['outer']:.3f} "
        "under the 31 px one)",
        f"over 0.1 of its mass lies there in {over[9]} of 12 rows under the 9 px shake and {over[31]} of 12 under the "
        f"31 px one, and in {over[15]} and {over[21]} of 12 under the 15 and 21 px shakes",
        f"the TV estimate is {m(31, 'tv')} off in the 21 px window and {own['motion 31 px']['tv']['mean']:.2f} in its "
        f"own on these photos, yet on the held-out photos the route given 21 px is "
        f"{-summaries.tv_given_figures()['own']['motion 31 px']['change 21']['mean']:.2f} dB below",
    ]
    assert f["all"]["tv"]["mean"] < f["all"]["l0"]["mean"], "the 21 px window keeps the TV estimate"
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_refits_fitted_to_every_sample_agree_with_their_result_file():
    """docs/benchmarks.md's figures for the refits fitted to all samples at once (table ``blind_refit_joint``),
    computed here from their file joined to the route's own rows (round 0 equal to the route's to the last digit:
    ``summaries.joint_refit_rows`` checks it); the route still fits the mean (what the 9 px rows chose)."""
    import numpy as np

    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.REFIT_JOINT)
    part = "--variants joint --rounds 2 --levels 0.01 --workers 2"
    assert part in record["command"] and part in text and record["device"].startswith("cpu")
    assert f"at commit {record['commit'][:7]}" in text
    f = summaries.joint_refit_figures()
    small, big, a = f["motion 9 px"], f["motion 15-31 px"], f["all"]
    assert small["rows"] == 6 and big["rows"] == 18 and a["rows"] == 24
    rows = {(r["kernel"], r["image"]): r for r in summaries.joint_refit_rows()}
    dark = rows[("motion 9 px", "DarkestHour")]
    first = float(np.median([r["r0 kerr"] for r in summaries.rows_of(summaries.REFIT_JOINT)
                             if r["kernel"] != "motion 9 px"]))  # fmt: skip
    quoted = [
        f"(median kernel error after the refits {big['error']['joint']:.2f} against {big['error']['route']:.2f}), and "
        f"the image gains little for it: {big['change']:+.2f} dB over those {big['rows']} rows, {big['raised']} of them "
        f"raised, from {big['least']:+.2f} to {big['most']:+.2f} dB a row, below the blurry photo in "
        f"{big['route below']} either way",
        f"Under the 9 px shake it costs {-small['change']:.2f} dB ({small['raised']} of {small['rows']} raised)",
        f"`DarkestHour`, kernel error {dark['route kerr']:.2f} -> {dark['joint kerr']:.2f} and "
        f"{dark['route'] - dark['blurry']:+.2f} -> {dark['joint'] - dark['blurry']:+.2f} dB over the blurry photo",
        f"Over all {a['rows']} rows it is {a['change']:+.2f} dB",
        f"under the larger shakes alone ({big['change']:+.2f} dB)",
        f"the TV estimate is {first:.2f} off (median) on these 18 rows before the refits, {big['error']['route']:.2f} "
        f"after those fitted to the mean and {big['error']['joint']:.2f} after those fitted to all samples",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    # not kept: it lowers the 9 px rows and moves the larger shakes' by under a tenth of a dB
    assert small["change"] < 0 and abs(big["change"]) < 0.1 and big["small below"] == big["route below"]
    assert dark["joint kerr"] < dark["route kerr"] and dark["joint"] < dark["route"]


def test_the_allowance_chosen_again_agrees_with_its_result_files_and_the_library():
    """docs/benchmarks.md's figures for the allowance chosen again for the route's own estimates (tables
    ``blind_route_allowance``, ``blind_route_allowance_02`` on the training photos, ``blind_allowance_9`` on the
    held-out ones), computed here from their files; the library's rule (:func:`held_allowance`) is the one the
    training rows chose: half the allowance under ``TV_FROM`` taps at sigma_y 0.01 and not at 0.02 nor from
    ``TV_FROM`` taps, and the guide states it."""
    from ddrm.pipeline.blind import KERNEL_NOISE, SMALL_KERNEL_NOISE, TV_FROM, held_allowance

    summaries = _summaries()
    text, tasks = _prose("benchmarks.md"), _prose("guide/tasks.md")
    for path, part in ((summaries.REFIT_ROUTE, "--variants route --rounds 2 --levels 0.01 --workers 2"),
                       (summaries.REFIT_ROUTE_02, "--levels 0.02 --shake-sizes 9 --workers 1"),
                       (summaries.ALLOWANCE_9, "--shake --samples 4 --shake-sizes 9 --levels 0.01,0.02 --no-true-kernel "
                                               "--allowance 0.025")):  # fmt: skip
        record = summaries.record_of(path)
        assert part in record["command"] and part in text and record["device"].startswith("cpu")
    train, train02 = summaries.route_allowance_figures(), summaries.route_allowance_figures(summaries.REFIT_ROUTE_02)
    small, big, a = train["motion 9 px"]["r2"], [train[f"motion {n} px"]["r2"] for n in (15, 21, 31)], train["all"]
    assert a["allowance"] == SMALL_KERNEL_NOISE and a["rounds"] == 2
    big_change = sum(g["change"] * g["rows"] for g in big) / sum(g["rows"] for g in big)
    more_below = sum(g["small below"] - g["route below"] for g in big)
    g02 = train02["motion 9 px"]["r2"]
    # the rule the training rows chose, and the library's
    assert small["raised"] == small["rows"] and small["small below"] == 0 and big_change < 0 < more_below
    assert g02["change"] < 0 and g02["small below"] > g02["route below"]
    assert held_allowance(9, 0.01) == SMALL_KERNEL_NOISE and held_allowance(9, 0.02) == KERNEL_NOISE
    assert held_allowance(TV_FROM, 0.01) == KERNEL_NOISE
    rows = {(r["kernel"], r["image"]): r for r in summaries.rows_of(summaries.REFIT_ROUTE)}
    dark = rows[("motion 21 px", "DarkestHour")]
    held = summaries._pair_figures(summaries.allowance_pairs())
    h1, h2 = held["motion 9 px, sigma_y 0.01"], held["motion 9 px, sigma_y 0.02"]
    route = summaries.allowance_route_figures()
    quoted = [
        f"Over the 24 rows half the allowance is {a['r2']['change']:+.2f} dB higher but puts {a['r2']['small below']} "
        f"rows below the blurry photo instead of {a['r2']['route below']}",
        f"(median {train['motion 9 px']['error']['const r2']:.2f} after the refits): half the allowance raises all "
        f"{small['rows']} rows there, by {small['change']:.2f} dB on average, none below the blurry photo",
        f"it lowers the mean by {-big_change:.2f} dB and puts {more_below} more of the 18 rows below the blurry photo",
        f"the median kernel error after them rises from {a['error']['const r2']:.2f} to {a['error']['half r2']:.2f} "
        f"over all rows",
        f"(`DarkestHour` under the 21 px shake from {dark['const r2 kerr']:.2f} to {dark['half r2 kerr']:.2f}, "
        f"{dark['const r2'] - dark['blurry']:+.2f} dB over the blurry photo to {dark['half r2'] - dark['blurry']:+.2f})",
        f"half the allowance raises all {h1['better']} held-out rows, {h1['without']['mean']:+.2f} -> "
        f"{h1['with']['mean']:+.2f} dB over the blurry photo, {h1['with']['gap']:.2f} dB below the true kernel's mean of "
        f"4 instead of {h1['without']['gap']:.2f}",
        f"({h2['without']['mean']:+.2f} -> {h2['with']['mean']:+.2f}, {h2['better']} of {h2['with']['rows']} raised)",
        f"route is now {route['with']['mean']:+.2f} dB over the blurry photo (was {route['without']['mean']:+.2f}), "
        f"{route['with']['below']} of {route['with']['rows']} below it, and {route['with']['gap']:.2f} dB below the "
        f"true kernel's mean of 4 (was {route['without']['gap']:.2f})",
        f"With half the allowance under the 9 px shake at 0.01 ([the allowance chosen "
        f"again](#camera-shake-the-allowance-chosen-again)), at 0.01 in {route['with']['below']} of "
        f"{route['with']['rows']} and {route['with']['gap']:.2f} dB below it.",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert h1["better"] == h1["with"]["rows"] and h1["with"]["below"] == 0 and route["with"]["below"] == 0
    assert (
        f"`hypot(sigma_y, {SMALL_KERNEL_NOISE:g})` for a kernel under {TV_FROM} taps in a photo of noise up to 0.01"
        in tasks
    )


def test_the_route_as_the_library_runs_it_reproduces_the_half_allowance_rows():
    """The 9 px shake at sigma_y 0.01 through the route with the library's default allowance (no ``--allowance``,
    made after :func:`held_allowance`) equals the rows made with ``--allowance 0.025`` to float rounding; the true
    kernel held by it (table-free figures in docs/benchmarks.md's "the allowance chosen again") agree with their file."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    route, true = summaries.record_of(summaries.HALVED_ROUTE), summaries.record_of(summaries.HALVED_TRUE)
    for record in (route, true):
        assert record["commit"].startswith("8da3370") and "--allowance" not in record["command"]
    assert route["command"].split(" --out")[0] in text and "--true-held" in true["command"]
    half = summaries.allowance_pairs()["motion 9 px, sigma_y 0.01"][1]
    rows = summaries.rows_of(summaries.HALVED_ROUTE)
    assert len(rows) == len(half) == 6
    for r, h in zip(rows, half):
        assert (r["image"], r["blurry"]) == (h["image"], h["blurry"])
        for key in ("blind, full, mean of 4", "blind, full kernel error"):
            assert abs(r[key] - h[key]) < 1e-9, (r["image"], key)
    f = summaries.halved_true_held_figures()
    before, now = f["before"], f["now"]
    quoted = [
        f"The true kernel held by it (`--true-held`, `blind_halved_true_held_samples4_9px.json`) is {now['held']:+.2f} "
        f"dB over the blurry photo instead of {before['held']:+.2f} at 0.05, above the non-blind true kernel "
        f"({now['true']:+.2f}) in {now['held wins']} of {now['rows']} rows instead of {before['held wins']}",
        f"the allowance's part of the distance is now {now['true'] - now['held']:.2f} dB (was "
        f"{before['true'] - before['held']:.2f}), and the estimate's {now['gap held']:.2f} (was {before['gap held']:.2f})",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"


def test_the_window_widened_where_the_estimate_fills_it_agrees_with_its_result_files():
    """docs/benchmarks.md's figures for the widen rule through the route on the training photos (table
    ``blind_widen``); where both files hold the route at the shake's own size (given 21 px under the 21 px shake, 31 px
    under the 31 px one) it is the refit sweep's route on the same case (``blind_refit_route_train.json``, ``const
    r2``: the same photo, noise and draws); the size is still not guessed (the rule lowers the rows it widens)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    for i, path in enumerate(summaries.WIDEN):
        record = summaries.record_of(path)
        assert (
            f"blind_widen.py --part {i}/2 --out benchmarks/results/blind_widen_train_part{i}.json" in record["command"]
        )
        assert record["device"].startswith("cpu") and f"at commit {record['commit'][:7]}" in text
    assert "`python benchmarks/blind_widen.py --part 0/2 --out benchmarks/results/blind_widen_train_part0.json`" in text
    rows = summaries.widen_rows()
    route = {(r["kernel"], r["image"]): r for r in summaries.rows_of(summaries.REFIT_ROUTE)}
    own = [(r, route[(r["kernel"], r["image"])]) for r in rows if r["widened"] and r["kernel"] != "motion 15 px"]
    same = [(r["route" if r["kernel"] == "motion 21 px" else "wide"], q["const r2"]) for r, q in own]
    assert len(same) >= 4 and all(abs(a - b) < 1e-3 for a, b in same), same
    f = summaries.widen_figures()
    a, s15, s21, s31 = (f[k] for k in ("all", "motion 15 px", "motion 21 px", "motion 31 px"))
    held = [r for r in rows if r["widened"] and r["kernel"] != "motion 31 px"]
    held_change = sum(r["wide"] - r["route"] for r in held) / len(held)
    over_all = sum(r["wide"] - r["route"] for r in rows if r["widened"]) / len(rows)
    worst = min((r for r in held if r["kernel"] == "motion 15 px"), key=lambda r: r["wide"] - r["route"])
    assert worst["wide"] - worst["route"] == s15["least"]
    minutes = [sum(r["seconds"] for r in summaries.rows_of(p)) / 60 for p in summaries.WIDEN]
    quoted = [
        f"fires on {a['widened']} of the {a['all rows']} rows: {s15['widened']}, {s21['widened']} and "
        f"{s31['widened']} of 6 under the 15, 21 and 31 px shakes",
        f"Under the 31 px shake, which the 21 px window cannot hold, the wider window gains {s31['change']:+.2f} dB on "
        f"average ({s31['raised']} of {s31['widened']} raised, {s31['least']:+.2f} to {s31['most']:+.2f} dB a row)",
        f"the 15 and 21 px shakes, which the window holds, it changes the {len(held)} rows it fires on by "
        f"{held_change:+.2f} dB (the 15 px ones by {s15['change']:+.2f}, `{worst['image']}` there by "
        f"{worst['wide'] - worst['route']:+.2f}",
        f"all {a['all rows']} rows, those it leaves as they were among them, {over_all:+.2f} dB",
        f"one CPU core each, {minutes[0]:.0f} and {minutes[1]:.0f} min)",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert over_all < 0 and held_change < 0, "not kept: the rule lowers the rows on average"


def test_the_marginal_likelihood_first_guess_agrees_with_its_result_files():
    """docs/benchmarks.md's figures for the MAP_k first guess (Levin et al. 2011) against the route's classical
    estimates on the same training rows (table ``blind_mapk``); its rows are the estimators table's own cases (the
    blurry photos agree, ``summaries.mapk_rows`` checks); the route's choice stands (MAP_k is further off than the TV
    estimate from 15 px on, on average and on most rows)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    for i, path in enumerate(summaries.MAPK):
        record = summaries.record_of(path)
        assert f"blind_mapk.py --part {i}/2 --out benchmarks/results/blind_mapk_train_part{i}.json" in record["command"]
        assert record["device"].startswith("cpu") and f"at commit {record['commit'][:7]}" in text
    assert "`python benchmarks/blind_mapk.py --part 0/2 --out benchmarks/results/blind_mapk_train_part0.json`" in text
    rows = summaries.mapk_rows()
    assert len(rows) == len(summaries.rows_of(summaries.SHAKE_ESTIMATORS_TRAIN)) == 48
    large = [r for r in rows if r["kernel"] != "motion 9 px"]
    small = [r for r in rows if r["kernel"] == "motion 9 px"]
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
    f = summaries.mapk_figures()
    minutes = [sum(r["mapk seconds"] for r in summaries.rows_of(p)) / 60 for p in summaries.MAPK]
    rescued_photos = {r["image"] for r in rows if r["rescues"]}
    rescued, others = [r for r in large if r["rescues"]], [r for r in large if not r["rescues"]]
    quoted = [
        f"nearer the true shake than the TV estimate on {sum(r['mapk'] < r['tv'] for r in large)} of the {len(large)} "
        f"rows of 15-31 px (mean kernel error {mean(large, 'mapk'):.2f} against {mean(large, 'tv'):.2f})",
        f"nearer than the L0 estimate, the route's first guess under the 9 px shake, on {f['motion 9 px']['nearer l0']} "
        f"of {len(small)} ({mean(small, 'mapk'):.2f} against {mean(small, 'l0'):.2f})",
        f"Started at the true kernel it ends {mean(large, 'mapk from truth'):.2f} off on average under the 15-31 px "
        f"shakes",
        f"this rescued the run on {f['all']['rescued']} of the {len(rows)} rows ({len(rescued_photos)} of the 12 photos",
        f"{mean(rescued, 'mapk'):.2f} against the TV estimate's {mean(rescued, 'tv'):.2f} on the {len(rescued)} rescued "
        f"rows of 15-31 px, {mean(others, 'mapk'):.2f} against {mean(others, 'tv'):.2f} on the other {len(others)}",
        f"The estimates took {minutes[0]:.0f} and {minutes[1]:.0f} min in all",
        f"further than the TV estimate gets from scratch on {sum(r['mapk from truth'] > r['tv'] for r in large)} of "
        f"those {len(large)} rows",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert mean(large, "mapk") > mean(large, "tv") and 2 * sum(r["mapk"] < r["tv"] for r in large) < len(large), (
        "not kept: the TV estimate stays the nearer first guess from 15 px on"
    )


def test_the_larger_frames_agree_with_their_result_files():
    """docs/benchmarks.md's figures for the classical estimates in frames of 256 px (table ``blind_frames256``),
    matched to the estimators table's 128 px rows of the same shakes and photos; the section's reading stands (the
    TV estimate, the route's first guess from 15 px on, comes hardly nearer in the larger frames)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    for path, size in zip(summaries.FRAMES256, (15, 21)):
        record = summaries.record_of(path)
        args = f"--estimators own --shake-sizes {size} --levels 0.01 --heldout data/photos/train --size 256"
        assert args in record["command"]
        assert record["device"].startswith("cpu") and f"at commit {record['commit'][:7]}" in text
    rows = summaries.frames_rows()
    assert len(rows) == 24 and {r["image"] for r in rows} == {r["image"] for r in summaries.rows_of(
        summaries.SHAKE_ESTIMATORS_TRAIN)}  # fmt: skip
    f = summaries.frames_figures()
    move = lambda name, label: f"from {f[label][name]['128']:.2f} to {f[label][name]['256']:.2f} ({label})"  # noqa: E731
    a = f["all"]
    quoted = [
        f"the mean kernel error of the L0 estimate {move('l0', 'motion 15 px')} and {move('l0', 'motion 21 px')}, and "
        f"of the TV estimate {move('tv', 'motion 15 px')} and {move('tv', 'motion 21 px')}",
        f"the L0 estimate {move('l0', 'all')} and the TV estimate {move('tv', 'all')}",
        f"nearer in the larger frame on {a['l0']['nearer']} of the {a['rows']} rows, the TV estimate on "
        f"{a['tv']['nearer']}",
        f"{f['motion 15 px']['tv']['seconds']:.0f} s and {f['motion 21 px']['tv']['seconds']:.0f} s a row",
        f"comes {a['tv']['128'] - a['tv']['256']:.2f} nearer on average with four times as many",
        f"the L0 estimate is the nearer of the two on {a['l0 nearer than tv']} of {a['rows']} "
        f"({f['motion 15 px']['l0 nearer than tv']} of 12 under the 15 px shake, where the two are level on average; "
        f"{f['motion 21 px']['l0 nearer than tv']} of 12 under the 21 px one)",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert abs(f["motion 15 px"]["l0"]["256"] - f["motion 15 px"]["tv"]["256"]) < 0.05, "level under the 15 px shake"
    assert a["tv"]["128"] - a["tv"]["256"] < 0.1, "the TV estimate came much nearer in larger frames: the reading moves"


def test_the_tv_estimate_from_the_true_shake_agrees_with_its_result_file():
    """docs/benchmarks.md's figures for the TV estimate started at the true kernel (table ``blind_tv_fixed_point``),
    joined to the estimators table's rows of the same shakes and photos, and the figures from the route's files the
    section sets them against; the reading stands (the energy keeps a kernel near the true shake that the pyramid
    does not reach)."""
    summaries = _summaries()
    text = _prose("benchmarks.md")
    record = summaries.record_of(summaries.TV_FIXED_POINT)
    assert "--tv-fixed-point --levels 0.01 --heldout data/photos/train" in record["command"]
    assert record["device"].startswith("cpu") and f"(at {record['commit'][:7]}, written" in text
    rows = summaries.tv_fixed_point_rows()
    assert len(rows) == len(summaries.rows_of(summaries.SHAKE_ESTIMATORS_TRAIN)) == 48
    f = summaries.tv_fixed_point_figures()
    large = [r for r in rows if r["window"] >= 15]
    truth = sum(r["tv from the true kernel"] for r in large) / len(large)
    pyramid = sum(r["tv"] for r in large) / len(large)
    under = lambda key, bound: sum(r[key] < bound for r in large)  # noqa: E731
    gap = summaries.gap_parts_figures()["under 0.5"]
    halved = summaries._pair_figures(summaries.allowance_pairs())["motion 9 px, sigma_y 0.01"]["with"]
    held = summaries.fixed_point_figures()["motion 9 px"]["from the true kernel, weight 0.001"]
    quoted = [
        f"ends nearer it than the pyramid's on {f['all']['nearer']} of {f['all']['rows']} rows: under the 15-31 px "
        f"shakes {truth:.2f} off on average against {pyramid:.2f}, within 0.5 of the shake on "
        f"{under('tv from the true kernel', 0.5)} of {len(large)} rows (the pyramid: {under('tv', 0.5)}) and within "
        f"0.25 on {under('tv from the true kernel', 0.25)} (the pyramid: {under('tv', 0.25)})",
        f"Under the 9 px shake the true kernel drifts to {f['motion 9 px']['truth']['mean']:.2f} on average, further "
        f"than the L0 estimate the route uses there "
        f"({summaries.estimators_figures()['motion 9 px']['l0']['mean']:.2f} from scratch; the L0 alternation at "
        f"weight 1e-3 keeps it at {held['mean']:.2f}",
        f"are {gap['gap']:.2f} dB below the non-blind true kernel (median kernel error {gap['error']:.2f};",
        f"{gap['allowance']:.2f} dB of that the allowance's",
        f"(kernel error {halved['error']:.2f}), half the allowance brought the route to {halved['gap']:.2f} dB below",
    ]
    missing = [q for q in quoted if q not in text]
    assert not missing, f"docs/benchmarks.md does not quote: {missing}"
    assert f["all"]["nearer"] >= f["all"]["rows"] - 2 and truth < pyramid / 2, (
        "the true shake is not kept: reading moves"
    )
    assert gap["gap"] > 2, "the rows within 0.5 meet the 2 dB: the section's conclusion moves"
