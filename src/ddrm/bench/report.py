"""A run's tables (CSV and Markdown: mean and 95 % interval over images), set metrics (FID, KID), plots and grids."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

from ..io import read_image, write_image, write_text
from ..metrics import frechet_distance, kernel_inception_distance, mean_ci
from .layout import row_folder_of, safe_name
from .protocol import Protocol

__all__ = ["summarise", "write_report"]

PER_IMAGE = ("psnr", "ssim", "consistency", "lpips")


def _group_key(row: dict) -> tuple:
    return (row["dataset"], row["task"], row["sigma_y"], row["method"], row["steps"])


def summarise(rows: list[dict], set_metrics: dict[tuple, dict] | None = None) -> list[dict]:
    """One summary line per (dataset, task, sigma_y, method, steps), seeds pooled: n, mean and 95 % half-width
    of each per-image metric, throughput (images/s over the rows after each process's warm-up batch), NFE, peak
    memory, and the harness's overhead as a share of the method's time."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[_group_key(r)].append(r)
    out = []
    for key, rs in groups.items():
        line = dict(zip(("dataset", "task", "sigma_y", "method", "steps"), key))
        line["n"] = len(rs)
        for m in PER_IMAGE:
            if any(m in r for r in rs):
                line[m], line[m + "_ci"] = mean_ci([r[m] for r in rs if m in r])
        timed = [r for r in rs if not r.get("warmup")] or rs
        seconds = sum(r["seconds"] for r in timed)
        line["images_per_s"] = len(timed) / seconds if seconds > 0 else math.inf
        line["seconds_per_image"] = seconds / len(timed)
        line["nfe"] = max(r["nfe"] for r in rs)
        line["peak_mib"] = max(r["peak_mib"] for r in rs)
        line["overhead"] = sum(r["overhead_seconds"] for r in timed) / seconds if seconds > 0 else math.nan
        line.update((set_metrics or {}).get(key, {}))
        out.append(line)
    return out


def _fmt(v, digits=2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pm(line: dict, m: str, digits: int) -> str:
    if m not in line:
        return "-"
    ci = line.get(m + "_ci", math.nan)
    return _fmt(line[m], digits) + ("" if math.isnan(ci) else f" ± {_fmt(ci, digits)}")


def markdown(protocol: Protocol, summary: list[dict]) -> str:
    digits = {"psnr": 2, "ssim": 4, "consistency": 4, "lpips": 4, "fid": 2, "kid": 4}
    cols = [m for m in ("psnr", "ssim", "consistency", "lpips", "fid", "kid") if any(m in s for s in summary)]
    out = [f"# {protocol.name}", "", protocol.description.strip(), ""]
    out += [
        "Mean ± 95 % interval over images (seeds pooled); sigma_y in [0, 1] image units; images/s after warm-up.",
        "",
    ]
    head = ["task", "σ_y", "method", "steps", "n", *[c.upper() for c in cols], "img/s", "NFE", "peak MiB"]
    for ds in dict.fromkeys(s["dataset"] for s in summary):
        out += [f"## {ds}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in (s for s in summary if s["dataset"] == ds):
            cells = [s["task"], f"{s['sigma_y']:g}", s["method"], _fmt(s["steps"]), str(s["n"])]
            cells += [_pm(s, c, digits[c]) for c in cols]
            cells += [_fmt(s["images_per_s"], 3), str(s["nfe"]), _fmt(s["peak_mib"], 0)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        # the studies' shape: methods down, tasks across, PSNR / SSIM in the cells
        tasks = list(dict.fromkeys((s["task"], s["sigma_y"]) for s in summary if s["dataset"] == ds))
        methods = list(dict.fromkeys((s["method"], s["steps"]) for s in summary if s["dataset"] == ds))
        if "psnr" in cols and len(tasks) > 1:
            cell = {(s["task"], s["sigma_y"], s["method"], s["steps"]): s for s in summary if s["dataset"] == ds}
            out += ["PSNR / SSIM:", ""]
            out.append("| method | " + " | ".join(f"{t} σ{sy:g}" for t, sy in tasks) + " |")
            out.append("|" + "---|" * (len(tasks) + 1))
            for m, st in methods:
                name = m if st is None else f"{m} ({st})"
                vals = []
                for t, sy in tasks:
                    s = cell.get((t, sy, m, st))
                    vals.append("-" if s is None else f"{_fmt(s.get('psnr'))} / {_fmt(s.get('ssim'), 3)}")
                out.append(f"| {name} | " + " | ".join(vals) + " |")
            out.append("")
    out += _published(protocol, summary, digits)
    diffusion = [s for s in summary if s["nfe"] > 0 and not math.isnan(s["overhead"])]
    if diffusion:
        shares = sorted(s["overhead"] for s in diffusion)
        out.append(
            f"Harness overhead per image (measurement, metrics, writing) over the diffusion methods' time: median "
            f"{shares[len(shares) // 2]:.1%}, largest {shares[-1]:.1%}."
        )
    return "\n".join(out) + "\n"


def _published(protocol: Protocol, summary: list[dict], digits: dict[str, int]) -> list[str]:
    """The papers' figures beside the measured ones (the protocol's ``published`` entries), with the gap."""
    if not protocol.published:
        return []
    out = ["## Published and measured", "",
           "| task | σ_y | method | metric | published | measured | measured - published | source |",
           "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for p in protocol.published:
        lines = [s for s in summary if s["method"] == p.method and s["task"] == p.task
                 and abs(s["sigma_y"] - p.sigma_y) < 1e-12]  # fmt: skip
        for metric, value in p.values.items():
            line = next((s for s in lines if metric in s), None)
            measured = "-" if line is None else _pm(line, metric, digits[metric])
            gap = "-" if line is None else f"{line[metric] - value:+.{digits[metric]}f}"
            out.append(f"| {p.task} | {p.sigma_y:g} | {p.method} | {metric.upper()} | {_fmt(value, digits[metric])} | "
                       f"{measured} | {gap} | {p.source} |")  # fmt: skip
    return [*out, ""]


def _csv(summary: list[dict]) -> str:
    keys = list(dict.fromkeys(k for s in summary for k in s))
    buf = io.StringIO()
    w = csv.DictWriter(buf, keys, lineterminator="\n")
    w.writeheader()
    for s in summary:
        w.writerow(s)
    return buf.getvalue()


def set_metrics(protocol: Protocol, rows: list[dict], run_dir: Path, report: Callable[[str], None], device) -> dict:
    """FID and KID of each group's restored images against the dataset's references (features from
    :func:`ddrm.bench.inception.fid_features`, skipped with one line when its weights are absent)."""
    wanted = [m for m in ("fid", "kid") if m in protocol.metrics]
    if not wanted:
        return {}
    from .inception import feature_extractor

    extract = feature_extractor(report, device)
    if extract is None:
        return {}
    by_group: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_group[_group_key(r)].append(r)
    ref_cache: dict[str, torch.Tensor] = {}
    out = {}
    for key, rs in by_group.items():
        ds = key[0]
        refs = [run_dir / "refs" / safe_name(ds) / f"{r['image']}.png" for r in rs]
        outs = [run_dir / "images" / row_folder_of(r) / f"{r['image']}.png" for r in rs]
        if len(rs) < 2 or not all(p.is_file() for p in refs + outs):
            continue
        rkey = ds + "|" + ",".join(sorted(r["image"] for r in rs))
        if rkey not in ref_cache:
            ref_cache[rkey] = extract([read_image(p) for p in refs])
        feats = extract([read_image(p) for p in outs])
        vals = {}
        if "fid" in wanted:
            vals["fid"] = frechet_distance(feats, ref_cache[rkey])
        if "kid" in wanted:
            vals["kid"], vals["kid_std"] = kernel_inception_distance(feats, ref_cache[rkey])
        out[key] = vals
    return out


def plots(summary: list[dict], run_dir: Path, report: Callable[[str], None]) -> list[Path]:
    """Quality against throughput across steps (PSNR, and FID when present), and PSNR against sigma_y."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report("plots skipped: matplotlib is not installed (pip install 'ddrm[bench]')")
        return []
    written = []
    for ds in dict.fromkeys(s["dataset"] for s in summary):
        rows = [s for s in summary if s["dataset"] == ds]
        for metric in ("psnr", "fid"):
            cells = [s for s in rows if metric in s and s["steps"] is not None]
            for task, sy in dict.fromkeys((s["task"], s["sigma_y"]) for s in cells):
                sub = [s for s in cells if s["task"] == task and s["sigma_y"] == sy]
                if len({s["steps"] for s in sub}) < 2:
                    continue
                fig, ax = plt.subplots(figsize=(5, 3.6))
                for m in dict.fromkeys(s["method"] for s in sub):
                    pts = sorted((s["images_per_s"], s[metric], s["steps"]) for s in sub if s["method"] == m)
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=m)
                    for x, y, st in pts:
                        ax.annotate(str(st), (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
                ax.set_xscale("log")
                ax.set_xlabel("images / s")
                ax.set_ylabel(metric.upper())
                ax.set_title(f"{task}, σ_y {sy:g} ({ds}): {metric.upper()} vs throughput")
                ax.legend(fontsize=7)
                written.append(_save(fig, run_dir / "plots" / f"{ds}_{task}_sy{sy:g}_{metric}_vs_throughput.png"))
        for task in dict.fromkeys(s["task"] for s in rows):
            sub = [s for s in rows if s["task"] == task and "psnr" in s]
            if len({s["sigma_y"] for s in sub}) < 2:
                continue
            fig, ax = plt.subplots(figsize=(5, 3.6))
            for m, st in dict.fromkeys((s["method"], s["steps"]) for s in sub):
                pts = sorted((s["sigma_y"], s["psnr"]) for s in sub if s["method"] == m and s["steps"] == st)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=m if st is None else f"{m} ({st})")
            ax.set_xlabel("σ_y ([0, 1] units)")
            ax.set_ylabel("PSNR (dB)")
            ax.set_title(f"{task} ({ds}): PSNR vs σ_y")
            ax.legend(fontsize=7)
            written.append(_save(fig, run_dir / "plots" / f"{ds}_{task}_psnr_vs_sigma.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def grids(protocol: Protocol, rows: list[dict], run_dir: Path) -> list[Path]:
    """Per dataset, task and sigma_y: for the first few images, measurement | each method | reference."""
    written = []
    cells: dict[tuple, dict[tuple, dict]] = defaultdict(dict)
    for r in rows:
        cells[(r["dataset"], r["task"], r["sigma_y"], r["seed"])][(r["method"], r["steps"], r["image"])] = r
    for (ds, task, sy, seed), by in cells.items():
        if seed != protocol.seeds[0]:
            continue
        methods = list(dict.fromkeys((m, st) for m, st, _ in by))
        images = list(dict.fromkeys(i for _, _, i in by))[: protocol.grid_images]
        lines = []
        for img in images:
            meas = run_dir / "measurements" / safe_name(ds) / safe_name(f"{task}_sy{sy:g}") / f"{img}.png"
            ref = run_dir / "refs" / safe_name(ds) / f"{img}.png"
            panels = (
                [meas]
                + [
                    run_dir / "images" / row_folder_of(by[(m, st, img)]) / f"{img}.png"
                    for m, st in methods
                    if (m, st, img) in by
                ]
                + [ref]
            )
            if not all(p.is_file() for p in panels):
                continue
            tensors = [read_image(p) for p in panels]
            c = max(t.shape[0] for t in tensors)
            tensors = [t.expand(c, -1, -1) for t in tensors]
            gap = torch.ones(c, tensors[0].shape[1], 4)
            lines.append(torch.cat([x for t in tensors for x in (t, gap)][:-1], dim=2))
        if lines:
            gap = torch.ones(lines[0].shape[0], 4, lines[0].shape[2])
            grid = torch.cat([x for line in lines for x in (line, gap)][:-1], dim=1)
            order = " | ".join(["measurement", *[m if st is None else f"{m}({st})" for m, st in methods], "reference"])
            path = run_dir / "grids" / f"{safe_name(ds)}_{safe_name(task)}_sy{sy:g}.png"
            write_image(grid, path)
            write_text(order + "\n", path.with_suffix(".txt"))
            written.append(path)
    return written


def write_report(
    protocol: Protocol, groups, rows: list[dict], run_dir: Path, *, report=print, device="cpu"
) -> list[dict]:
    sets = set_metrics(protocol, rows, run_dir, report, device)
    summary = summarise(rows, sets)
    write_text(_csv(summary), run_dir / "summary.csv")
    md = markdown(protocol, summary)
    write_text(md, run_dir / "summary.md")
    plots(summary, run_dir, report)
    grids(protocol, rows, run_dir)
    return summary
