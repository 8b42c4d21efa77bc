"""``ddrm serve``: a web page over :mod:`ddrm.app.demo` (extra ``ddrm[demo]``, Gradio, imported lazily).

The page only turns widgets into arguments: a clean photo goes to :func:`ddrm.app.demo.run_demo` (degrade, restore,
score), a degraded image to :func:`ddrm.app.demo.restore_measurement` (as ``ddrm restore --task ... --sigma-y ...``).
Both write through the library path of ``ddrm degrade`` / ``ddrm restore``; no restoration logic lives here. One
prior is loaded for all requests; the queue runs one restoration at a time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DDRMError, InputError
from ..tasks import BLIND_TASKS, is_jpeg, photo_params
from .demo import BUILTIN_NOTE, EXAMPLE_IMAGE, example_credit, restore_measurement, run_demo

__all__ = [
    "TASKS",
    "KERNELS",
    "MODES",
    "AppSettings",
    "task_string",
    "page_image",
    "SIGMA_DEFAULTS",
    "editor_mask",
    "build_app",
    "serve",
]

MODES = ("Degrade a clean photo, then restore it", "Restore a degraded image")
TASKS = (
    "Super-resolution",
    "Deblurring",
    "Inpainting",
    "Colourisation",
    "Denoising",
    "JPEG artefacts",
    "Compressed sensing",
)
KERNELS = {
    "Gaussian (DDRM's)": "deblur_gauss",
    "Uniform 9x9": "deblur_uni",
    "Anisotropic Gaussian": "deblur_aniso",
    "Random motion": "deblur_motion",
    "Upload a kernel": "deblur_motion",
    "Unknown blur: estimate it": "deblur_blind",
    "Unknown camera shake: estimate it": "deblur_blind",
}
# the kernels a blurred photo's restoration estimates, and the model each estimates (``deblur_blind``'s ``model``: a
# separable kernel refined by the solver, or a full kernel held: the two routes of docs/guide/real-photos.md)
BLIND_KERNELS = {"Unknown blur: estimate it": "separable", "Unknown camera shake: estimate it": "full"}
DOWNSAMPLING = {"block average": "sr", "bicubic": "sr_bicubic"}
ESTIMATES = {"Sharpness (one sample)": 1, "Fidelity (mean of 4 samples)": 4}  # the result, and its samples
# the noise a clean photo is degraded with, per task (else 0.05): inpainting keeps its observed pixels exact (with
# noise the whole photo would be denoised, i.e. softened), JPEG models none, denoising is the noise
SIGMA_DEFAULTS = {"Inpainting": 0.0, "JPEG artefacts": 0.0, "Denoising": 0.1}


class PageError(InputError):
    """A problem with what the user gave, shown in the page as one line."""


@dataclass(frozen=True)
class AppSettings:
    """What ``ddrm serve`` was started with."""

    prior: str = "builtin"
    checkpoint: str | None = None
    device: str = "auto"
    max_side: int = 512  # a clean photo is scaled down to this; a measurement may restore to 4x this
    workdir: Path | None = None  # one sub-folder per request (default: a temporary folder)
    keep_runs: int = 50  # the newest runs' folders kept (Gradio serves its own copies of the files)


def prune_runs(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``run-*`` folders under ``root``."""
    runs = sorted(root.glob("run-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def task_string(task: str, factor: int, downsampling: str, kernel: str, degrading: bool, quality: int = 10) -> str:
    """The task name ``ddrm`` knows for the page's choices (``"sr4"``, ``"deblur_gauss"``, ``"jpeg10"``, ...). A JPEG
    to restore is ``"jpeg"``: its own quantisation tables are read from the file, whatever encoder wrote it; the
    quality factor is for degrading a clean photo (libjpeg's tables)."""
    if task == "JPEG artefacts":
        return f"jpeg{int(quality)}" if degrading else "jpeg"
    if task == "Super-resolution":
        return f"{DOWNSAMPLING[downsampling]}{int(factor)}"
    if task == "Deblurring":
        if kernel == "Random motion" and not degrading:
            raise PageError("a random motion kernel can only degrade a clean photo; upload the kernel of your image")
        if kernel in BLIND_KERNELS and degrading:
            raise PageError(
                "an unknown kernel is estimated from a blurred photo; to degrade a clean photo choose a kernel"
            )
        return KERNELS[kernel]
    if task == "Compressed sensing":
        if not degrading:
            raise PageError("a compressed-sensing measurement is not an image; degrade a clean photo instead")
        return "cs4"
    return {"Inpainting": "inpaint", "Colourisation": "color", "Denoising": "denoise"}[task]


def blind_params(task: str, kernel: str, size: int | float | None) -> dict | None:
    """The parameters of a blurred photo's restoration with its kernel estimated (``deblur_blind``'s ``size`` and
    ``model``, and the boundary a photo takes: :func:`ddrm.tasks.photo_params`), ``None`` for any other choice."""
    if task != "Deblurring" or kernel not in BLIND_KERNELS:
        return None
    size = int(size or BLIND_TASKS["deblur_blind"]["size"])
    return photo_params("deblur_blind", {"size": size, "model": BLIND_KERNELS[kernel]})


def _rgb_file(path: str | Path, upright: bool = False, grey: bool = False) -> Tensor:
    """An image file read as ``ddrm restore`` reads it, (3, H, W) in [0, 1] (a grey image repeated; ``grey=True``:
    kept (1, H, W), the measurement of a greyscale photo); ``upright``: turned as its EXIF orientation says (a phone
    stores a photo sideways with that tag; the page shows it upright)."""
    from ..io import read_image

    x = read_image(path, upright=upright)
    return x.expand(3, -1, -1) if x.shape[0] == 1 and not grey else x


def page_image(value: str | Path | None, upright: bool = True, grey: bool = False) -> Tensor:
    """The page's image (the uploaded file as it is, or the example), (3, H, W) in [0, 1], upright as the page shows
    it (``upright=False``: the pixel grid as stored, which a JPEG's blocks are on); ``grey=True``: a greyscale file
    kept (1, H, W), as ``ddrm restore`` restores it (the grey of the image measured, not three equal channels)."""
    if value is None:
        raise PageError("upload an image first (or press 'Use the example photo')")
    return _rgb_file(value, upright, grey)


def editor_mask(value: dict[str, Any] | None) -> Tensor | None:
    """The drawn strokes as an inpainting mask, (H, W) in {0, 1}, 1 = observed; ``None`` when nothing is drawn."""
    layers = [np.asarray(la) for la in (value or {}).get("layers") or [] if la is not None]
    drawn = None
    for la in layers:
        hit = la[..., 3] > 0 if la.ndim == 3 and la.shape[-1] == 4 else np.zeros(la.shape[:2], bool)
        drawn = hit if drawn is None else drawn | hit
    if drawn is None or not drawn.any():
        return None
    return torch.from_numpy(~drawn).float()


def _message(exc: BaseException, uploads: Sequence[str] = ()) -> str:
    """The first line of an error, with the server's folders of uploaded files cut from their names."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for path in uploads:
        text = text.replace(str(Path(path).parent) + os.sep, "")
    return text


class _Requests:
    """Turns one press of "Restore" into the library's call: the page's values checked, a run folder made, the
    restoration run (:func:`~ddrm.app.demo.run_demo` or :func:`~ddrm.app.demo.restore_measurement`), the result
    described. A user's mistake becomes one line in the page; anything else is logged on the server."""

    def __init__(self, settings: AppSettings, device: torch.device, loader: Any, root: Path):
        self.settings, self.device, self.loader, self.root = settings, device, loader, root

    def __call__(self, mode, image, editor, task, factor, downsampling, kernel_choice, kernel_file, mask_file,
                 reference, quality, sigma_y, solver, steps, seed, estimate=None, estimate_noise=False,
                 kernel_size=None, progress=None):  # fmt: skip
        """The result (before/after, the original when there is one, the summary, the files); a mistake is one line
        shown where the result would be, the outputs cleared, until the next run."""
        import gradio as gr

        uploads = [f for f in (image, kernel_file, mask_file, reference) if f]
        degrading = mode == MODES[0]
        try:
            name = task_string(task, factor, downsampling, kernel_choice, degrading, quality)
            if name == "jpeg" and image and not is_jpeg(image):
                raise PageError("JPEG artefacts are restored from the JPEG file itself (its quantisation tables are "
                                "read from it); this upload is not one. For an image decoded and saved otherwise, "
                                "give the quality it was saved at: ddrm restore --task jpegQF")  # fmt: skip
            sigma_y = 0.0 if name.startswith("jpeg") else float(sigma_y)  # JPEG: the quantisation is the degradation
            path = image  # the upload's own file: a JPEG keeps its quantisation tables
            image, mask, kernel = self._inputs(name, task, image, editor, kernel_choice, kernel_file, mask_file,
                                               degrading)  # fmt: skip
            prune_runs(self.root, self.settings.keep_runs - 1)
            out = Path(tempfile.mkdtemp(prefix="run-", dir=self.root))
            common = dict(solver=solver, steps=int(steps), seed=int(seed), device=self.device, loader=self.loader,
                          mask=mask, kernel=kernel, samples=ESTIMATES.get(estimate, 1))  # fmt: skip
            if degrading:
                res = run_demo(out, image, name, sigma_y, max_side=self.settings.max_side, **common)
            else:
                limit = 4 * self.settings.max_side
                if max(image.shape[-2:]) * int(factor if name.startswith("sr") else 1) > limit:
                    raise PageError(f"the restored image would be larger than {limit} px; use 'ddrm restore' for it")
                ref = None if not reference else _rgb_file(reference, upright=True)  # as the result is shown
                level = "auto" if estimate_noise and not name.startswith("jpeg") else sigma_y
                blind = blind_params(task, kernel_choice, kernel_size)
                res = restore_measurement(out, image, name, level, reference=ref, source=path, task_params=blind,
                                          **common)  # fmt: skip
        except (DDRMError, OSError) as exc:
            return _failed(_message(exc, uploads))
        except Exception as exc:  # never a stack trace in the page; the server's log keeps it
            traceback.print_exc(file=sys.stderr)
            return _failed(f"internal error ({type(exc).__name__}): {_message(exc, uploads)}")
        summary = _describe(
            res, name, res.sigma_y if res.sigma_y is not None else sigma_y, solver, int(steps), int(seed)
        )
        original = res.original if res.original is not None else (reference or None)
        return (
            (str(res.before), str(res.restored)),
            gr.update(value=str(original) if original else None, visible=original is not None),
            summary,
            [str(res.restored), str(res.grid), str(res.measurement)],
        )

    @staticmethod
    def _inputs(name, task, image, editor, kernel_choice, kernel_file, mask_file, degrading):
        """The image, the inpainting mask (drawn on the editor's copy of the image, or uploaded) and an uploaded
        kernel, as the library takes them."""
        from ..io import read_image
        from ..tasks import load_kernel

        # a JPEG is restored on its blocks' grid, as stored; a greyscale photo kept grey (its grey measured or restored)
        image = page_image(image, upright=name != "jpeg", grey=True)
        mask = editor_mask(editor) if name == "inpaint" else None
        if mask is not None and tuple(mask.shape) != tuple(image.shape[-2:]):
            raise PageError("the drawn mask belongs to another image; draw it again on this one")
        if name == "inpaint" and mask_file:
            mask = read_image(mask_file)
        kernel = None
        if task == "Deblurring" and kernel_choice == "Upload a kernel":
            if not kernel_file:
                raise PageError("choose a kernel file (.npy summing to 1, or a grey image)")
            kernel = load_kernel(kernel_file)
        if name == "inpaint" and mask is None and not degrading:
            raise PageError("draw the missing region on the image, or upload a mask (white = observed)")
        return image, mask, kernel


def _describe(res, name: str, sigma_y: float, solver: str, steps: int, seed: int) -> str:  # noqa: ANN001
    if res.psnr is not None:
        score = (f"**PSNR {res.psnr:.2f} dB**, SSIM {res.ssim:.4f} against the reference "
                 f"(pseudo-inverse of the measurement: {res.psnr_pinv:.2f} dB)")  # fmt: skip
    else:
        score = "No reference given, so no PSNR."
    w, h = _image_size(res.restored)
    fit = (
        ""
        if res.residual is None
        else f" Residual {res.residual:.2f} x the noise (about 1: the result explains the measurement)."
    )
    return (f"{score}\n\nRestored image: {w}x{h} px, task `{name}`, sigma_y {sigma_y:g}, {solver}, {steps} steps, "
            f"seed {seed}.{fit}")  # fmt: skip


def _failed(line: str) -> tuple:
    """A run that did not happen: the outputs cleared and the one line where the result would be (it stays until the
    next run; a pop-up would fade and leave error badges behind)."""
    import gradio as gr

    return None, gr.update(value=None, visible=False), f"**Could not restore:** {line}", None


def _show_options(task, mode, kernel_choice):
    """Which controls the chosen task and mode need (quality, sigma_y, factor, downsampling, kernel, kernel file,
    mask file, reference, estimating the noise, the mask editor, the size of a kernel to estimate). The quality
    factor is for degrading a clean photo: a JPEG to restore brings its own tables."""
    import gradio as gr

    jpeg = task == "JPEG artefacts"
    restoring = mode != MODES[0]
    visible = (jpeg and not restoring, not jpeg, task == "Super-resolution", task == "Super-resolution",
               task == "Deblurring", task == "Deblurring" and kernel_choice == "Upload a kernel", task == "Inpainting",
               restoring, restoring and not jpeg, task == "Inpainting",
               restoring and task == "Deblurring" and kernel_choice in BLIND_KERNELS)  # fmt: skip
    return tuple(gr.update(visible=v) for v in visible)


def _sigma_default(task):
    """The noise a clean photo is degraded with for ``task`` (:data:`SIGMA_DEFAULTS`)."""
    import gradio as gr

    return gr.update(value=SIGMA_DEFAULTS.get(task, 0.05))


def _task_defaults(task, kernel_choice=None):
    """A task's solver (DDRM-JPEG for JPEG, DiffPIR for an estimated camera shake, ...) and its noise level
    (:func:`_sigma_default`)."""
    import gradio as gr

    from ..pipeline import default_solver

    params = blind_params(task, kernel_choice, None)
    if params is None:
        solver = default_solver(task_string(task, 4, "bicubic", "Gaussian (DDRM's)", True))
    else:  # a photo's blur
        solver = default_solver("deblur_blind", params)
    return gr.update(value=solver), _sigma_default(task)


def _follow_image(image, followed):
    """The mask editor shows the page's image (its file read as the restoration reads it), with no strokes (a new
    image needs its own); ``followed`` is the digest of the image it was last given. Gradio fires ``change`` twice
    per upload (measured: 20-70 ms apart): the second, the same image again, must not wipe strokes drawn in between,
    so an image already followed is skipped. A file that cannot be read leaves the editor empty (the run says why)."""
    import gradio as gr

    try:
        pixels = None if image is None else page_image(image)
    except DDRMError:
        pixels = None
    if pixels is not None:
        pixels = (pixels * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    digest = None if pixels is None else hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    if digest == followed:
        return gr.skip(), followed
    return (None if pixels is None else {"background": pixels, "layers": [], "composite": pixels}), digest


def _solver_info(solver, task=None, kernel_choice=None):
    """The steps control follows the solver: its official default (DPS's 1000, DDRM's 20), said under the control;
    for a camera shake whose kernel is estimated, the steps that route takes (:func:`ddrm.pipeline.run_steps`)."""
    import gradio as gr

    from ..pipeline import run_steps
    from ..samplers import SAMPLERS

    spec = SAMPLERS[solver]
    params = blind_params(task, kernel_choice, None)
    steps = spec.steps if params is None else run_steps(spec, None, "deblur_blind", params)
    return gr.update(value=steps, info=f"{spec.summary[:70]}; official default {spec.steps} steps")


def _kernel_defaults(task, kernel_choice, solver):
    """An estimated kernel's solver, result and steps follow the route it takes on a photo, as ``ddrm restore``
    chooses them (:func:`ddrm.pipeline.default_solver`, :func:`ddrm.pipeline.run_samples`, :func:`_solver_info`):
    DiffPIR, the mean of 4 samples and 20 steps for a camera shake; any other choice keeps the solver and the result
    and gives the solver's steps back."""
    import gradio as gr

    from ..pipeline import default_solver, run_samples
    from ..samplers import SAMPLERS

    params = blind_params(task, kernel_choice, None)
    if params is None:
        return gr.skip(), gr.skip(), _solver_info(solver, task, kernel_choice)
    solver = default_solver("deblur_blind", params)
    samples = run_samples(SAMPLERS[solver], "deblur_blind", params)
    result = next(k for k, n in ESTIMATES.items() if n == samples)
    return gr.update(value=solver), gr.update(value=result), _solver_info(solver, task, kernel_choice)


def _controls(settings: AppSettings, device: torch.device, space: str = "pixel") -> dict[str, Any]:
    """The page's widgets (inside an open ``gradio.Blocks``), by name; the solvers offered are those of the prior's
    ``space`` (``pixel``, or ``latent`` for a Stable-Diffusion-type prior)."""
    import gradio as gr

    from ..pipeline import describe_device
    from ..samplers import SAMPLERS

    w: dict[str, Any] = {}
    gr.Markdown(
        "# ddrm: restore an image with a diffusion prior\n"
        f"Prior `{settings.prior}` on {describe_device(device).removeprefix('device: ')}. "
        "Degrade a clean photo to see how well it comes back (scored against the photo), or restore an image that "
        "is already degraded (score it by giving the clean reference). For inpainting, draw over the missing "
        f"region. Example photo: {example_credit()}."
        + (f"\n\n**Note:** {BUILTIN_NOTE}" if settings.prior.startswith("builtin") else "")
    )
    with gr.Row():
        with gr.Column():
            w["mode"] = gr.Radio(list(MODES), value=MODES[0], label="What is the image?", elem_id="mode")
            # the upload's own file (image_mode None: not converted, so a JPEG keeps its quantisation tables), read
            # by the app as 'ddrm restore' reads a file
            w["image"] = gr.Image(value=str(EXAMPLE_IMAGE), type="filepath", image_mode=None, format="png",
                                  sources=("upload", "clipboard"), label="Image (an upload replaces it)",
                                  elem_id="image")  # fmt: skip
            w["example"] = gr.Button("Use the example photo", size="sm")
            w["editor"] = gr.ImageEditor(
                value=str(EXAMPLE_IMAGE), type="numpy", label="Inpainting: draw over the missing region",
                sources=(), transforms=(), layers=False, elem_id="mask-editor", format="png", visible=False,
                brush=gr.Brush(colors=["#ff0000"], default_size=16, color_mode="fixed"),
            )  # fmt: skip
            w["task"] = gr.Dropdown(list(TASKS), value=TASKS[0], label="Task", elem_id="task")
            w["quality"] = gr.Dropdown([5, 10, 20, 30, 50], value=10, label="JPEG quality factor", visible=False,
                                       elem_id="quality")  # fmt: skip
            with gr.Row():
                w["factor"] = gr.Dropdown([2, 4, 8], value=4, label="SR factor", elem_id="factor")
                w["downsampling"] = gr.Radio(list(DOWNSAMPLING), value="block average", label="Downsampling")
            w["kernel_choice"] = gr.Dropdown(list(KERNELS), value="Gaussian (DDRM's)", label="Blur kernel",
                                             visible=False, elem_id="kernel")  # fmt: skip
            w["kernel_size"] = gr.Slider(3, 63, value=BLIND_TASKS["deblur_blind"]["size"], step=2, visible=False,
                                         label="Size of the blur to estimate (px, odd: the blur's extent or a "
                                               "little more; a blur wider than it is not held)",
                                         elem_id="kernel-size")  # fmt: skip
            w["kernel_file"] = gr.File(label="Kernel (.npy summing to 1, or a grey image)", type="filepath",
                                       visible=False, elem_id="kernel-file")  # fmt: skip
            w["mask_file"] = gr.File(label="Or upload a mask (white = observed, the image's size)", type="filepath",
                                     visible=False, elem_id="mask-file")  # fmt: skip
            # a file, not an image widget: the upload is read by the app's own handler (a broken file gets its line)
            w["reference"] = gr.File(label="Reference (optional: the clean image, for PSNR)", type="filepath",
                                     visible=False, elem_id="reference")  # fmt: skip
            w["sigma_y"] = gr.Slider(0, 0.5, value=SIGMA_DEFAULTS.get(TASKS[0], 0.05), step=0.005, elem_id="sigma",
                                     label="Noise level sigma_y ([0, 1] units)")  # fmt: skip
            w["estimate_noise"] = gr.Checkbox(value=True, label="Estimate the noise level from the image (instead of the "
                                              "slider)", visible=False, elem_id="estimate-noise")  # fmt: skip
            w["estimate"] = gr.Radio(list(ESTIMATES), value=next(iter(ESTIMATES)), label="Result", elem_id="estimate")
            with gr.Row():
                solvers = [n for n, spec in SAMPLERS.items() if spec.space == space]
                w["solver"] = gr.Dropdown(solvers, value=solvers[0], label="Solver", elem_id="solver")
                w["steps"] = gr.Slider(1, 1000, value=SAMPLERS[solvers[0]].steps, step=1, label="Steps",
                                       elem_id="steps")  # fmt: skip
                w["seed"] = gr.Number(value=0, precision=0, label="Seed", minimum=0, elem_id="seed")
            w["go"] = gr.Button("Restore", variant="primary", elem_id="run")
        with gr.Column():
            w["slider"] = gr.ImageSlider(label="Before / after (measurement | restored)", type="filepath",
                                         format="png", elem_id="result")  # fmt: skip
            w["summary"] = gr.Markdown(elem_id="summary")
            w["original"] = gr.Image(label="Original (the clean photo, or the reference)", type="filepath",
                                     format="png", elem_id="original", visible=False, interactive=False)  # fmt: skip
            w["files"] = gr.File(label="Download", file_count="multiple", elem_id="files")
    return w


_REQUEST_INPUTS = ("mode", "image", "editor", "task", "factor", "downsampling", "kernel_choice", "kernel_file", "mask_file",
                   "reference", "quality", "sigma_y", "solver", "steps", "seed", "estimate", "estimate_noise",
                   "kernel_size")  # fmt: skip
_OPTIONAL_CONTROLS = ("quality", "sigma_y", "factor", "downsampling", "kernel_choice", "kernel_file", "mask_file",
                      "reference", "estimate_noise", "editor", "kernel_size")  # fmt: skip


def build_app(settings: AppSettings = AppSettings()):  # noqa: B008 (a frozen dataclass)
    """The Gradio page (``gradio.Blocks``), not yet launched. The prior is loaded (and checked) first: a bad one is
    refused before the page opens."""
    import gradio as gr

    from ..pipeline import PriorLoader, resolve_device

    device = resolve_device(settings.device)
    loader = PriorLoader(settings.prior, settings.checkpoint, device)
    space = "latent" if getattr(loader((3, 256, 256)), "latent", False) else "pixel"
    root = Path(settings.workdir) if settings.workdir else Path(tempfile.mkdtemp(prefix="ddrm-serve-"))
    root.mkdir(parents=True, exist_ok=True)
    requests = _Requests(settings, device, loader, root)

    # named parameters: Gradio finds the progress tracker only in a signature without *args; it then shows the
    # solver's own bar (steps done, of how many, elapsed) on the result, and no other
    def run(
        mode,
        image,
        editor,
        task,
        factor,
        downsampling,
        kernel_choice,
        kernel_file,
        mask_file,
        reference,
        quality,
        sigma_y,
        solver,
        steps,
        seed,
        estimate,
        estimate_noise,
        kernel_size,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's progress idiom)
    ):
        return requests(mode, image, editor, task, factor, downsampling, kernel_choice, kernel_file, mask_file,
                        reference, quality, sigma_y, solver, steps, seed, estimate, estimate_noise, kernel_size,
                        progress=progress)  # fmt: skip

    with gr.Blocks(title="ddrm", analytics_enabled=False) as app:
        w = _controls(settings, device, space)
        for trigger in (w["task"].change, w["mode"].change, w["kernel_choice"].change):
            trigger(_show_options, [w["task"], w["mode"], w["kernel_choice"]], [w[k] for k in _OPTIONAL_CONTROLS])
        if space == "pixel":  # the task's solver (a latent prior keeps its latent solver)
            w["task"].change(_task_defaults, [w["task"], w["kernel_choice"]], [w["solver"], w["sigma_y"]])
        else:
            w["task"].change(_sigma_default, w["task"], w["sigma_y"])
        w["solver"].change(_solver_info, [w["solver"], w["task"], w["kernel_choice"]], w["steps"])
        if space == "pixel":  # an estimated camera shake's solver and result (a latent prior keeps its own)
            w["kernel_choice"].change(_kernel_defaults, [w["task"], w["kernel_choice"], w["solver"]],
                                      [w["solver"], w["estimate"], w["steps"]])  # fmt: skip
        w["example"].click(lambda: str(EXAMPLE_IMAGE), None, w["image"])
        followed = gr.State(None)  # the digest of the image the editor shows (:func:`_follow_image`)
        w["image"].change(_follow_image, [w["image"], followed], [w["editor"], followed])
        _examples(root / "examples", w)
        w["go"].click(
            run, [w[k] for k in _REQUEST_INPUTS], [w["slider"], w["original"], w["summary"], w["files"]],
            concurrency_limit=1, show_progress_on=[w["slider"]],
        )  # fmt: skip
    return app


EXAMPLES = (  # (file, what is the image, task, SR factor, downsampling, kernel, sigma_y): degraded as users' are
    ("low-resolution.png", MODES[1], "Super-resolution", 4, "bicubic", "Gaussian (DDRM's)", 0.0),
    ("blurred.png", MODES[1], "Deblurring", 4, "bicubic", "Gaussian (DDRM's)", 0.01),
    ("grey.png", MODES[1], "Colourisation", 4, "bicubic", "Gaussian (DDRM's)", 0.0),
    ("compressed.jpg", MODES[1], "JPEG artefacts", 4, "bicubic", "Gaussian (DDRM's)", 0.0),
    ("photo.png", MODES[0], "Inpainting", 4, "bicubic", "Gaussian (DDRM's)", 0.0),
)


def example_files(folder: Path) -> list[Path]:
    """The examples gallery's inputs, made from the example photo as real degraded photos are made: a 4x bicubic
    reduction (Pillow), a Gaussian blur of a larger crop (the valid part, DDRM's kernel) with 8-bit noise, a grey
    conversion, a JPEG at quality 10 (libjpeg's tables, as any encoder's file), and the photo itself for inpainting
    (the region drawn on the page)."""
    from PIL import Image, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(EXAMPLE_IMAGE) as im:
        photo = im.convert("RGB")
    files = [folder / name for name, *_ in EXAMPLES]
    photo.resize((photo.width // 4, photo.height // 4), Image.Resampling.BICUBIC, reducing_gap=None).save(files[0])
    blurred = np.asarray(photo.filter(ImageFilter.GaussianBlur(2)), dtype=np.float64)[8:-8, 8:-8]
    noise = np.random.default_rng(0).normal(0, 0.01 * 255, blurred.shape)
    Image.fromarray(np.clip(blurred + noise, 0, 255).round().astype(np.uint8)).save(files[1])
    photo.convert("L").save(files[2])
    photo.save(files[3], quality=10)
    photo.save(files[4])
    return files


def _examples(folder: Path, w: dict[str, Any]) -> None:
    """A gallery of ready inputs, one per task (``gradio.Examples``): clicking one sets the image and the controls."""
    import gradio as gr

    files = example_files(folder)
    rows = [[str(f), *rest] for f, (_, *rest) in zip(files, EXAMPLES)]
    gr.Examples(rows, [w[k] for k in ("image", "mode", "task", "factor", "downsampling", "kernel_choice", "sigma_y")],
                label="Examples (a real low-resolution, blurred, grey and JPEG file, and a photo to inpaint)",
                elem_id="examples")  # fmt: skip


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def serve(
    settings: AppSettings,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    on_ready: Callable[[str], None] | None = None,
):
    """Build and launch the page (``on_ready(url)`` once it listens); with ``block=False`` it returns ``(app, url)``
    and serves from a thread."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry, no version check
    import gradio as gr

    app = build_app(settings)
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    app.queue(default_concurrency_limit=1)
    _, url, _ = app.launch(
        server_name=host, server_port=port, prevent_thread_lock=True, theme=theme, show_error=False, quiet=True,
        ssr_mode=False, mcp_server=False, footer_links=[],
    )  # fmt: skip
    if on_ready is not None:
        on_ready(url)
    if block:
        try:
            app.block_thread()
        finally:
            app.close()
    return app, url
