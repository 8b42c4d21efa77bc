"""``ddrm serve``: a web page over :mod:`ddrm.app.demo` (extra ``ddrm[demo]``, Gradio, imported lazily).

The page only turns widgets into arguments: a clean photo goes to :func:`ddrm.app.demo.run_demo` (degrade, restore,
score), a degraded image to :func:`ddrm.app.demo.restore_measurement` (as ``ddrm restore --task ... --sigma-y ...``).
Both write through the library path of ``ddrm degrade`` / ``ddrm restore``; no restoration logic lives here. One
prior is loaded for all requests; the queue runs one restoration at a time.
"""

from __future__ import annotations

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

__all__ = [
    "TASKS",
    "KERNELS",
    "MODES",
    "AppSettings",
    "task_string",
    "editor_image",
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
}
DOWNSAMPLING = {"block average": "sr", "bicubic": "sr_bicubic"}


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
    """The task name ``ddrm`` knows for the page's choices (``"sr4"``, ``"deblur_gauss"``, ``"jpeg10"``, ...)."""
    if task == "JPEG artefacts":
        return f"jpeg{int(quality)}"
    if task == "Super-resolution":
        return f"{DOWNSAMPLING[downsampling]}{int(factor)}"
    if task == "Deblurring":
        if kernel == "Random motion" and not degrading:
            raise PageError("a random motion kernel can only degrade a clean photo; upload the kernel of your image")
        return KERNELS[kernel]
    if task == "Compressed sensing":
        if not degrading:
            raise PageError("a compressed-sensing measurement is not an image; degrade a clean photo instead")
        return "cs4"
    return {"Inpainting": "inpaint", "Colourisation": "color", "Denoising": "denoise"}[task]


def _to_tensor(a: np.ndarray) -> Tensor:
    """An (H, W[, C]) uint8 array from the page -> (C, H, W) in [0, 1] (alpha dropped)."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1).float() / scale


def editor_image(value: dict[str, Any] | None) -> Tensor:
    """The uploaded image of the editor (its background), (3, H, W) in [0, 1]."""
    if not value or value.get("background") is None:
        raise PageError("upload an image first (or press 'Use the example photo')")
    return _to_tensor(value["background"])


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


def build_app(settings: AppSettings = AppSettings()):  # noqa: B008 (a frozen dataclass)
    """The Gradio page (``gradio.Blocks``), not yet launched."""
    import gradio as gr

    from ..io import read_image
    from ..pipeline import PriorLoader, default_solver, describe_device, resolve_device
    from ..samplers import SAMPLERS
    from ..tasks import load_kernel
    from .demo import EXAMPLE_IMAGE, example_credit, restore_measurement, run_demo

    device = resolve_device(settings.device)
    loader = PriorLoader(settings.prior, settings.checkpoint, device)
    loader((3, 256, 256))  # load (and check) the prior before the page opens: a bad one is refused at start
    root = Path(settings.workdir) if settings.workdir else Path(tempfile.mkdtemp(prefix="ddrm-serve-"))
    root.mkdir(parents=True, exist_ok=True)

    def run(mode, editor, task, factor, downsampling, kernel_choice, kernel_file, mask_file, reference, quality,
            sigma_y, solver, steps, seed, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's progress idiom)  # fmt: skip
        uploads = [f for f in (kernel_file, mask_file) if f]
        try:
            degrading = mode == MODES[0]
            name = task_string(task, factor, downsampling, kernel_choice, degrading, quality)
            if name.startswith("jpeg"):
                sigma_y = 0.0  # the quantisation is the degradation
            image = editor_image(editor)
            mask = editor_mask(editor) if name == "inpaint" else None
            if name == "inpaint" and mask_file:
                mask = read_image(mask_file)
            kernel = None
            if task == "Deblurring" and kernel_choice == "Upload a kernel":
                if not kernel_file:
                    raise PageError("choose a kernel file (.npy summing to 1, or a grey image)")
                kernel = load_kernel(kernel_file)
            if name == "inpaint" and mask is None and not degrading:
                raise PageError("draw the missing region on the image, or upload a mask (white = observed)")
            prune_runs(root, settings.keep_runs - 1)
            out = Path(tempfile.mkdtemp(prefix="run-", dir=root))
            common = dict(solver=solver, steps=int(steps), seed=int(seed), device=device, loader=loader)
            if degrading:
                res = run_demo(out, image, name, float(sigma_y), mask=mask, kernel=kernel,
                               max_side=settings.max_side, **common)  # fmt: skip
            else:
                ref = None if reference is None else _to_tensor(reference)
                limit = 4 * settings.max_side
                if max(image.shape[-2:]) * int(factor if name.startswith("sr") else 1) > limit:
                    raise PageError(f"the restored image would be larger than {limit} px; use 'ddrm restore' for it")
                res = restore_measurement(out, image, name, float(sigma_y), mask=mask, kernel=kernel,
                                          reference=ref, **common)  # fmt: skip
        except (DDRMError, OSError) as exc:
            raise gr.Error(_message(exc, uploads), print_exception=False) from None
        except Exception as exc:  # never a stack trace in the page; the server's log keeps it
            traceback.print_exc(file=sys.stderr)
            msg = f"internal error ({type(exc).__name__}): {_message(exc, uploads)}"
            raise gr.Error(msg, print_exception=False) from None
        if res.psnr is not None:
            score = (f"**PSNR {res.psnr:.2f} dB**, SSIM {res.ssim:.4f} against the reference "
                     f"(pseudo-inverse of the measurement: {res.psnr_pinv:.2f} dB)")  # fmt: skip
        else:
            score = "No reference given, so no PSNR."
        w, h = _image_size(res.restored)
        summary = f"{score}\n\nRestored image: {w}x{h} px, task `{name}`, sigma_y {float(sigma_y):g}, {solver}, " \
                  f"{int(steps)} steps, seed {int(seed)}."  # fmt: skip
        files = [str(res.restored), str(res.grid), str(res.measurement)]
        return (str(res.before), str(res.restored)), summary, files

    def show_options(task, mode, kernel_choice):
        degrading = mode == MODES[0]
        jpeg = task == "JPEG artefacts"
        return (
            gr.update(visible=jpeg),
            gr.update(visible=not jpeg),
            gr.update(visible=task == "Super-resolution"),
            gr.update(visible=task == "Super-resolution"),
            gr.update(visible=task == "Deblurring"),
            gr.update(visible=task == "Deblurring" and kernel_choice == "Upload a kernel"),
            gr.update(visible=task == "Inpainting"),
            gr.update(visible=not degrading),
        )

    def solver_info(solver):
        spec = SAMPLERS[solver]
        return gr.update(info=f"{spec.summary[:70]}; official default {spec.steps} steps")

    with gr.Blocks(title="ddrm", analytics_enabled=False) as app:
        gr.Markdown(
            "# ddrm: restore an image with a diffusion prior\n"
            f"Prior `{settings.prior}` on {describe_device(device).removeprefix('device: ')}. "
            "Degrade a clean photo to see how well it comes back (scored against the photo), or restore an image that "
            "is already degraded (score it by giving the clean reference). For inpainting, draw over the missing "
            f"region. Example photo: {example_credit()}."
        )
        with gr.Row():
            with gr.Column():
                mode = gr.Radio(list(MODES), value=MODES[0], label="What is the image?", elem_id="mode")
                editor = gr.ImageEditor(
                    value=str(EXAMPLE_IMAGE), type="numpy", label="Image (the bin clears it for your own upload; for inpainting, draw over the missing region)",
                    sources=("upload", "clipboard"), transforms=(), layers=False, elem_id="image", format="png",
                    brush=gr.Brush(colors=["#ff0000"], default_size=16, color_mode="fixed"),
                )  # fmt: skip
                example = gr.Button("Use the example photo", size="sm")
                task = gr.Dropdown(list(TASKS), value=TASKS[0], label="Task", elem_id="task")
                quality = gr.Dropdown([5, 10, 20, 30, 50], value=10, label="JPEG quality factor", visible=False,
                                      elem_id="quality")  # fmt: skip
                with gr.Row():
                    factor = gr.Dropdown([2, 4, 8], value=4, label="SR factor", elem_id="factor")
                    downsampling = gr.Radio(list(DOWNSAMPLING), value="block average", label="Downsampling")
                kernel_choice = gr.Dropdown(list(KERNELS), value="Gaussian (DDRM's)", label="Blur kernel",
                                            visible=False, elem_id="kernel")  # fmt: skip
                kernel_file = gr.File(label="Kernel (.npy summing to 1, or a grey image)", type="filepath",
                                      visible=False, elem_id="kernel-file")  # fmt: skip
                mask_file = gr.File(label="Or upload a mask (white = observed, the image's size)", type="filepath",
                                    visible=False, elem_id="mask-file")  # fmt: skip
                reference = gr.Image(label="Reference (optional: the clean image, for PSNR)", type="numpy",
                                     image_mode="RGB", visible=False, elem_id="reference")  # fmt: skip
                sigma_y = gr.Slider(0, 0.5, value=0.05, step=0.005, label="Noise level sigma_y ([0, 1] units)")
                with gr.Row():
                    solver = gr.Dropdown(list(SAMPLERS), value="ddrm", label="Solver", elem_id="solver")
                    steps = gr.Slider(1, 1000, value=20, step=1, label="Steps", elem_id="steps")
                    seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, elem_id="seed")
                go = gr.Button("Restore", variant="primary", elem_id="run")
            with gr.Column():
                slider = gr.ImageSlider(label="Before / after", type="filepath", format="png", elem_id="result")
                summary = gr.Markdown(elem_id="summary")
                files = gr.File(label="Download", file_count="multiple", elem_id="files")

        for trigger in (task.change, mode.change, kernel_choice.change):
            trigger(show_options, [task, mode, kernel_choice],
                    [quality, sigma_y, factor, downsampling, kernel_choice, kernel_file, mask_file, reference])  # fmt: skip
        task.change(lambda t: gr.update(value=default_solver(task_string(t, 4, "bicubic", "Gaussian (DDRM's)", True))),
                    task, solver)  # fmt: skip
        solver.change(solver_info, solver, steps)
        example.click(lambda: str(EXAMPLE_IMAGE), None, editor)
        go.click(
            run,
            [mode, editor, task, factor, downsampling, kernel_choice, kernel_file, mask_file, reference, quality,
             sigma_y, solver, steps, seed],
            [slider, summary, files],
            concurrency_limit=1,
        )  # fmt: skip
    return app


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
