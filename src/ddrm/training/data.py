"""The built-in prior's data, from offline sources: ``ddrm prepare-data`` builds a training set of real photographs
from Debian's ``plasma-workspace-wallpapers`` (GPL-2+; only the photographs, listed in ``TRAIN_PHOTOS``) and a
held-out set from the sample photos bundled with scikit-image and scikit-learn; :class:`PatchSampler` draws the
training crops."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError, SetupError

__all__ = ["TRAIN_PHOTOS", "HELDOUT_PHOTOS", "prepare_data", "PatchSampler", "sha256_of"]

# Photographs among the Plasma wallpapers (the others are illustrations); all 2560x1600 but MilkyWay (5120x2880).
TRAIN_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "MilkyWay",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
# Held out of training, for benchmarks/prior_quality.py: scikit-image and scikit-learn sample photos.
HELDOUT_PHOTOS = (
    ("skimage", "astronaut"),
    ("skimage", "coffee"),
    ("skimage", "chelsea"),
    ("skimage", "rocket"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_png(array: np.ndarray, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


# ---------------------------------------------------------------------- data
def prepare_data(out: Path, work: Path | None = None, max_side: int = 2560) -> dict:
    """Download the wallpaper package with ``apt-get download``, extract the photographs, and export the held-out
    sample photos. Writes ``out/train/*.png``, ``out/heldout/*.png`` and ``out/manifest.json``."""
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "heldout").mkdir(parents=True, exist_ok=True)
    manifest: dict = {"train": [], "heldout": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work) if work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        debs = list(work.glob("plasma-workspace-wallpapers_*.deb"))
        if not debs:
            res = subprocess.run(
                ["apt-get", "download", "plasma-workspace-wallpapers"], cwd=work, capture_output=True, text=True
            )
            debs = list(work.glob("plasma-workspace-wallpapers_*.deb"))
            if res.returncode != 0 or not debs:
                raise SetupError(
                    "apt-get download plasma-workspace-wallpapers failed (run 'apt-get update' first?): "
                    + (res.stderr.strip().splitlines() or ["no output"])[-1]
                )
        deb = debs[0]
        extracted = work / "extracted"
        subprocess.run(["dpkg", "-x", str(deb), str(extracted)], check=True)
        root = extracted / "usr/share/wallpapers"
        for name in TRAIN_PHOTOS:
            images = sorted((root / name / "contents/images").glob("*.*"), key=lambda p: _pixels(p.stem))
            if not images:
                raise InputError(f"wallpaper {name} not found in {deb.name}")
            src = images[-1]
            with Image.open(src) as im:
                im = im.convert("RGB")
                if max(im.size) > max_side:
                    scale = max_side / max(im.size)
                    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
                arr = np.asarray(im)
            dst = out / "train" / f"{name}.png"
            _save_png(arr, dst)
            manifest["train"].append(
                {
                    "name": name,
                    "source": f"{deb.name}:{src.relative_to(extracted)}",
                    "licence": "GPL-2+ (KDE Visual Design Group)",
                    "size": list(arr.shape[:2]),
                    "sha256": sha256_of(dst),
                }
            )
    for origin, name in HELDOUT_PHOTOS:
        arr = _heldout_image(origin, name)
        dst = out / "heldout" / f"{Path(name).stem}.png"
        _save_png(arr, dst)
        manifest["heldout"].append(
            {
                "name": Path(name).stem,
                "source": f"{origin}:{name}",
                "size": list(arr.shape[:2]),
                "sha256": sha256_of(dst),
            }
        )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _pixels(stem: str) -> int:
    try:
        w, h = stem.split("x")
        return int(w) * int(h)
    except ValueError:
        return 0


def _heldout_image(origin: str, name: str) -> np.ndarray:
    if origin == "skimage":
        try:
            import skimage.data
        except ImportError:
            raise SetupError("the held-out photos need scikit-image: pip install scikit-image") from None
        return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        raise SetupError("the held-out photos need scikit-learn: pip install scikit-learn") from None
    return np.ascontiguousarray(load_sample_image(name))


class PatchSampler:
    """Random crops with horizontal flips from photos kept in memory at several scales (real photos at
    2560 px are much smoother per pixel than the 256-512 px images the prior restores)."""

    def __init__(
        self, folder: Path, crop: int, scales=(0.5, 0.35, 0.25, 0.18), generator: torch.Generator | None = None
    ):
        files = sorted(Path(folder).glob("*.png"))
        if not files:
            raise InputError(f"no training photos (*.png) in {folder}; run 'ddrm prepare-data' first")
        self.crop = crop
        self.g = generator or torch.Generator().manual_seed(0)
        self.images: list[torch.Tensor] = []
        for f in files:
            with Image.open(f) as im:
                im = im.convert("RGB")
                for s in scales:
                    w, h = round(im.width * s), round(im.height * s)
                    if min(w, h) >= crop:
                        small = im.resize((w, h), Image.Resampling.LANCZOS)
                        self.images.append(torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1))
        if not self.images:
            raise InputError(f"all photos in {folder} are smaller than the {crop}px crop")
        areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images])
        self.weights = areas / areas.sum()

    def batch(self, n: int) -> torch.Tensor:
        idx = torch.multinomial(self.weights, n, replacement=True, generator=self.g)
        out = torch.empty(n, 3, self.crop, self.crop, dtype=torch.uint8)
        for k, i in enumerate(idx.tolist()):
            im = self.images[i]
            top = int(torch.randint(0, im.shape[1] - self.crop + 1, (1,), generator=self.g))
            left = int(torch.randint(0, im.shape[2] - self.crop + 1, (1,), generator=self.g))
            patch = im[:, top : top + self.crop, left : left + self.crop]
            if torch.rand((), generator=self.g) < 0.5:
                patch = patch.flip(-1)
            out[k] = patch
        return out.float() / 127.5 - 1.0
