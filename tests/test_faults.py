"""Fault injection: bad options, broken files, name collisions, unwritable outputs and interruptions, generated
systematically, each checked against the CLI's contract: exit code 2, one line on stderr, no traceback, no new
files, every input byte-identical.

Most cases call ``ddrm.cli.main`` in-process (fast); interruptions run the real console script in a subprocess.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ddrm.cli import main

DDRM = str(Path(sys.executable).parent / "ddrm")
H, W = 16, 24


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` (hidden ones included): its digest and permission bits."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode & 0o777)
    return out


def call(args: list) -> tuple[int, str, str]:
    """``ddrm ARGS`` in-process: (exit code, stdout, stderr); an exception escaping ``main`` fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_refused(root: Path, args: list, match: str | None = None) -> str:
    before = snapshot(root)
    code, _, err = call(args)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code} for {args}: {err}"
    assert len(lines) == 1 and lines[0].startswith("ddrm: error: "), err
    assert "Traceback" not in err
    assert snapshot(root) == before, "files were created, changed or removed"
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


def photo(path: Path, seed: int = 0, h: int = H, w: int = W) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """A folder with a clean photo and valid measurements of several kinds (each with its sidecar)."""
    clean = photo(tmp_path / "clean.png")
    square = photo(tmp_path / "square.png", h=H, w=H)  # compressed sensing needs H * W a power of two
    for task, name in [("sr2", "sr.png"), ("inpaint", "inp.png"), ("deblur_motion", "mot.npy"), ("cs2", "cs.npy")]:
        extra = ["--kernel-size", "5"] if task == "deblur_motion" else []
        src = square if task == "cs2" else clean
        code, _, err = call(["degrade", src, "-o", tmp_path / name, "--task", task, "--quiet", *extra])
        assert code == 0, err
    np.save(tmp_path / "kernel.npy", np.full((3, 3), 1 / 9))
    Image.fromarray(np.full((H, W), 255, np.uint8)).save(tmp_path / "mask.png")
    return tmp_path


def restore_args(work: Path, *extra) -> list:
    return ["restore", work / "sr.png", "--prior", "gaussian", "--steps", "2", "-o", work / "out.png", *extra]


def degrade_args(work: Path, *extra) -> list:
    return ["degrade", work / "clean.png", "-o", work / "new.png", "--task", "sr2", *extra]


# ------------------------------------------------------------------------------ options at their boundaries
NON_NUMBERS = ["nan", "inf", "-inf", "abc", ""]
# option -> (values outside its range, values on its boundary that must be accepted)
RESTORE_OPTIONS = {
    "--sigma-y": (["-0.001", "1.001", "25"], ["0", "1"]),
    "--steps": (["0", "-1", "1.5", "1e9999"], ["1"]),
    "--batch-size": (["0", "-2", "2.5"], ["1"]),
    "--seed": (["-1", str(2**62 + 1), "0.5"], ["0", str(2**62)]),
    "--eta": (["-0.001", "1.001"], ["0", "1"]),
    "--eta-b": (["-0.001", "2.001"], ["0", "2"]),
    "--factor": (["0", "-4"], []),
}
DEGRADE_OPTIONS = {
    "--sigma-y": (["-0.001", "1.5"], ["0", "1"]),
    "--seed": (["-1", "1.5"], ["0"]),
    "--missing": (["-0.1", "1", "1.5"], ["0", "0.99"]),
    "--kernel-size": (["0", "1", "2", "-1", f"{H + 1}", "3.5"], ["3", f"{H - 1}"]),
    "--intensity": (["-0.1", "1.1"], ["0", "1"]),
    "--factor": (["0", "-2", "2.5"], ["1"]),
    "--ratio": (["0", "-2"], ["1"]),
}
DEGRADE_TASK = {
    "--missing": "inpaint",
    "--kernel-size": "deblur_motion",
    "--intensity": "deblur_motion",
    "--ratio": "cs",
}


def option_cases():
    for cmd, table in (("restore", RESTORE_OPTIONS), ("degrade", DEGRADE_OPTIONS)):
        for opt, (bad, _good) in table.items():
            for v in [*bad, *(NON_NUMBERS if opt not in ("--seed",) else ["nan", "abc"])]:
                yield pytest.param(cmd, opt, v, id=f"{cmd}{opt}={v or 'empty'}")


@pytest.mark.parametrize("cmd, opt, value", list(option_cases()))
def test_option_out_of_range_is_refused(work, cmd, opt, value):
    if cmd == "restore":
        args = restore_args(work, f"{opt}={value}")
    else:
        task = DEGRADE_TASK.get(opt, "sr2" if opt != "--factor" else "sr")
        args = ["degrade", work / "clean.png", "-o", work / "new.npy", "--task", task, f"{opt}={value}"]
    assert_refused(work, args)


def test_options_on_their_boundaries_are_accepted(work):
    from ddrm.cli import build_parser

    parser = build_parser()
    base = {"restore": ["restore", "y.png"], "degrade": ["degrade", "x.png", "-o", "y.png", "--task", "sr4"]}
    for cmd, table in (("restore", RESTORE_OPTIONS), ("degrade", DEGRADE_OPTIONS)):
        for opt, (_bad, good) in table.items():
            for v in good:
                args = parser.parse_args([*base[cmd], f"{opt}={v}"])
                assert math.isfinite(getattr(args, opt[2:].replace("-", "_")))
    # and a degradation at the kernel-size and missing-fraction boundaries runs
    for extra in (["--task", "deblur_motion", "--kernel-size", str(H - 1)], ["--task", "inpaint", "--missing", "0.99"]):
        code, _, err = call(["degrade", work / "clean.png", "-o", work / "edge.npy", *extra, "--quiet"])
        assert code == 0, err


@pytest.mark.parametrize("solver", ["ddrm", "ddnm", "diffpir", "pigdm", "dps", "dmps", "daps", "red-diff"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "x"])
def test_every_float_solver_parameter_refuses_non_finite_values(work, solver, value):
    from ddrm.samplers import SAMPLERS

    spec = SAMPLERS[solver]
    params = [p.name for p in spec.params if isinstance(spec.defaults()[p.name], float)]
    assert params
    for name in params:
        assert_refused(work, restore_args(work, "--solver", solver, "--solver-arg", f"{name}={value}"))


def test_unknown_and_unavailable_devices(work):
    import torch

    assert_refused(work, restore_args(work, "--device", "tpu"))
    assert_refused(work, restore_args(work, "--device", "cuda:99" if torch.cuda.is_available() else "cuda"))
    assert_refused(work, restore_args(work, "--dtype", "float16"))  # half precision on the CPU


# ------------------------------------------------------------------------------ broken files of every kind
def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _text(p: Path) -> None:
    p.write_text("this is not the file you are looking for\n")


def _npy(arr):
    return lambda p: np.save(p, arr)


def _pickled_npy(p: Path) -> None:
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _image(arr, mode=None):
    return lambda p: Image.fromarray(arr, mode=mode).save(p, format="PNG")


def _json(obj):
    return lambda p: p.write_text(json.dumps(obj))


def _sidecar_edit(**changes):
    def edit(p: Path) -> None:
        meta = json.loads(p.read_text())
        for k, v in changes.items():
            if v is ...:
                meta.pop(k, None)
            else:
                meta[k] = v
        p.write_text(json.dumps(meta))

    return edit


rgba = np.zeros((H // 2, W // 2, 4), np.uint8)  # fully transparent
FILE_FAULTS = {
    # measurement images (restore sr.png, an SR x2 measurement of 8 x 12)
    "sr.png": {
        "empty": _empty,
        "truncated": _truncate,
        "text": _text,
        "transparent": _image(rgba),
        "lab": lambda p: Image.new("LAB", (W // 2, H // 2)).save(p, format="TIFF"),
        "wrong size": _image(np.zeros((H // 2 + 1, W // 2, 3), np.uint8)),
        "grey": _image(np.zeros((H // 2, W // 2), np.uint8)),
    },
    # .npy measurements (motion blur, 3 x 16 x 24)
    "mot.npy": {
        "empty": _empty,
        "truncated": _truncate,
        "text": _text,
        "pickle": _pickled_npy,
        "complex": _npy(np.zeros((3, H, W), np.complex64)),
        "bool": _npy(np.zeros((3, H, W), bool)),
        "strings": _npy(np.full((3, H, W), "a")),
        "1-D": _npy(np.zeros(3 * H * W, np.float32)),
        "4-D": _npy(np.zeros((1, 3, H, W), np.float32)),
        "wrong shape": _npy(np.zeros((3, H, W + 1), np.float32)),
        "nan": _npy(np.full((3, H, W), np.nan, np.float32)),
        "inf": _npy(np.full((3, H, W), np.inf, np.float32)),
        "zero-size": _npy(np.zeros((3, 0, W), np.float32)),
    },
    # sidecars
    "sr.json": {
        "empty": _empty,
        "truncated": _truncate,
        "text": _text,
        "list": _json([1, 2]),
        "no version": _sidecar_edit(ddrm_sidecar=...),
        "no shape": _sidecar_edit(image_shape=...),
        "no sigma": _sidecar_edit(sigma_y=...),
        "shape 2-D": _sidecar_edit(image_shape=[H, W]),
        "shape strings": _sidecar_edit(image_shape=["3", "16", "24"]),
        "shape negative": _sidecar_edit(image_shape=[3, -16, 24]),
        "shape wrong": _sidecar_edit(image_shape=[3, H + 2, W]),
        "sigma nan": lambda p: p.write_text(p.read_text().replace('"sigma_y": 0.05', '"sigma_y": NaN')),
        "sigma negative": _sidecar_edit(sigma_y=-1),
        "sigma string": _sidecar_edit(sigma_y="0.05"),
        "task unknown": _sidecar_edit(task="sharpen"),
        "params list": _sidecar_edit(params=[2]),
        "factor zero": _sidecar_edit(params={"factor": 0}),
        "factor float": _sidecar_edit(params={"factor": 2.5}),
        "unknown param": _sidecar_edit(params={"factor": 2, "gamma": 1}),
        "param_files list": _sidecar_edit(param_files=["sr.mask.png"]),
        "param_files path": _sidecar_edit(param_files={"mask": "../x.png"}),
        "value range": _sidecar_edit(value_range=[-1, 1]),
        "seed string": _sidecar_edit(seed="zero"),
    },
    # side files named by sidecars
    "inp.mask.png": {
        "missing": lambda p: p.unlink(),
        "empty": _empty,
        "truncated": _truncate,
        "wrong size": _image(np.zeros((H + 1, W), np.uint8)),
        "transparent": _image(np.zeros((H, W, 4), np.uint8)),
    },
    "mot.kernel.npy": {
        "missing": lambda p: p.unlink(),
        "empty": _empty,
        "truncated": _truncate,
        "pickle": _pickled_npy,
        "1-D": _npy(np.ones(9) / 9),
        "unnormalised": _npy(np.ones((3, 3))),
        "negative": _npy(np.array([[2.0, -1.0]])),
        "nan": _npy(np.full((3, 3), np.nan)),
        "complex": _npy(np.ones((3, 3), np.complex128) / 9),
        "empty array": _npy(np.zeros((0, 3))),
    },
    "cs.perm.npy": {
        "missing": lambda p: p.unlink(),
        "truncated": _truncate,
        "not a permutation": _npy(np.zeros(H * H, np.int64)),
        "short": _npy(np.arange(H * H - 1)),
        "floats": _npy(np.arange(H * H) + 0.5),
        "2-D": _npy(np.arange(H * H).reshape(H, H)),
    },
}
RESTORE_OF = {
    "sr.png": "sr.png",
    "mot.npy": "mot.npy",
    "sr.json": "sr.png",
    "inp.mask.png": "inp.png",
    "mot.kernel.npy": "mot.npy",
    "cs.perm.npy": "cs.npy",
}


@pytest.mark.parametrize(
    "target, fault", [pytest.param(t, f, id=f"{t}:{f}") for t, faults in FILE_FAULTS.items() for f in faults]
)
def test_broken_input_files_are_refused(work, target, fault):
    FILE_FAULTS[target][fault](work / target)
    args = ["restore", work / RESTORE_OF[target], "--prior", "gaussian", "--steps", "2", "-o", work / "out.png"]
    assert_refused(work, args)


USER_FILE_FAULTS = {
    "empty": _empty,
    "truncated": _truncate,
    "text": _text,
    "transparent": _image(np.zeros((H, W, 4), np.uint8)),
    "wrong size": _image(np.zeros((H + 3, W, 3), np.uint8)),
}


@pytest.mark.parametrize("fault", list(USER_FILE_FAULTS))
@pytest.mark.parametrize("role", ["degrade input", "degrade mask", "restore mask", "restore kernel", "reference"])
def test_broken_user_files_are_refused(work, role, fault):
    suffix = ".npy" if role == "restore kernel" else ".png"
    bad = work / f"bad{suffix}"
    if role == "restore kernel" and fault in ("transparent", "wrong size"):
        pytest.skip("image faults of a .npy kernel are covered by the sidecar cases")
    if role == "degrade input" and fault == "wrong size":
        pytest.skip("any size is a valid clean image")
    photo(bad) if suffix == ".png" else np.save(bad, np.full((3, 3), 1 / 9))
    USER_FILE_FAULTS[fault](bad)
    args = {
        "degrade input": ["degrade", bad, "-o", work / "new.png", "--task", "sr2"],
        "degrade mask": ["degrade", work / "clean.png", "-o", work / "new.png", "--task", "inpaint", "--mask", bad],
        "restore mask": [
            *restore_args(work)[:2],
            "--task",
            "inpaint",
            "--sigma-y",
            "0.05",
            "--mask",
            bad,
            *restore_args(work)[2:],
        ],
        "restore kernel": [
            "restore",
            work / "mot.npy",
            "--task",
            "deblur_motion",
            "--sigma-y",
            "0.05",
            "--kernel",
            bad,
            "--prior",
            "gaussian",
            "--steps",
            "2",
            "-o",
            work / "out.png",
        ],
        "reference": [*restore_args(work), "--reference", bad],
    }[role]
    if role == "restore mask":
        args[1] = work / "inp.png"
    assert_refused(work, args)


@pytest.mark.parametrize(
    "fault",
    ["empty", "text", "truncated zip", "pickled code", "safetensors garbage", "wrong keys", "missing"],
)
def test_broken_checkpoints_are_refused(work, fault):
    import torch

    ckpt = work / ("model.safetensors" if "safetensors" in fault else "model.pt")
    if fault == "empty":
        ckpt.write_bytes(b"")
    elif fault == "text":
        ckpt.write_text("hello\n")
    elif fault == "truncated zip":
        torch.save({"w": torch.zeros(10)}, ckpt)
        _truncate(ckpt)
    elif fault == "pickled code":
        torch.save({"f": zipfile.ZipFile}, ckpt)  # a class: unpickling it would run import machinery
    elif fault == "safetensors garbage":
        ckpt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    elif fault == "wrong keys":
        torch.save({"w": torch.zeros(10)}, ckpt)
    args = [*restore_args(work), "--prior", "adm-ffhq256", "--checkpoint", ckpt]
    assert_refused(work, args)


# ------------------------------------------------------------------------------ names and output folders
def test_an_output_never_replaces_an_input(work):
    clean = work / "clean.png"
    assert_refused(work, ["degrade", clean, "-o", clean, "--task", "sr4"], "overwrite the input")
    assert_refused(work, ["degrade", clean, "-o", work / "x" / ".." / "clean.png", "--task", "sr4"])
    assert_refused(work, ["degrade", clean, "-o", work / "mask.png", "--task", "inpaint", "--mask", work / "mask.png"])
    (work / "m.mask.png").write_bytes((work / "mask.png").read_bytes())  # the side file would replace the mask
    assert_refused(work, ["degrade", clean, "-o", work / "m.png", "--task", "inpaint", "--mask", work / "m.mask.png"])
    for args in (
        ["restore", work / "sr.png", "-o", work / "sr.png"],
        ["restore", work / "sr.png", "-o", work / "sr.json"],
        ["restore", work / "inp.png", "-o", work / "inp.mask.png"],
        ["restore", work / "sr.png", "-o", work / "clean.png", "--reference", work / "clean.png"],
        ["restore", work / "sr.png", "-o", work / "x.png", "--save-grid", "--reference", work / "x_grid.png"],
    ):
        if args[-1] == work / "x_grid.png":
            photo(work / "x_grid.png", h=H, w=W)
        assert_refused(work, [*args, "--prior", "gaussian", "--steps", "2"])


def test_colliding_output_names_are_refused(work):
    folder = work / "in"
    folder.mkdir()
    for name in ("a.png", "a.npy"):
        code, _, err = call(["degrade", work / "clean.png", "-o", folder / name, "--task", "denoise", "--quiet"])
        assert code == 0, err
    line = assert_refused(work, ["restore", folder, "-o", work / "out", "--prior", "gaussian", "--steps", "2"])
    assert "a.png" in line
    # a grid of one image would be another's output
    (folder / "a.npy").unlink()
    (folder / "a.json").write_text((folder / "a.json").read_text())
    code, _, err = call(["degrade", work / "clean.png", "-o", folder / "a_grid.png", "--task", "denoise", "--quiet"])
    assert code == 0, err
    assert_refused(work, ["restore", folder, "-o", work / "out", "--prior", "gaussian", "--steps", "2", "--save-grid"])


def test_unwritable_outputs_are_refused_before_any_work(work):
    (work / "file").write_text("x")
    assert_refused(work, restore_args(work)[:-1] + [work / "file" / "out.png"])
    assert_refused(work, degrade_args(work)[:3] + [work / "file" / "y.png", "--task", "sr2"])
    if os.geteuid() == 0:
        return  # root writes into read-only folders
    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_refused(work, restore_args(work)[:-1] + [ro / "out.png"], "not writable")
        assert_refused(work, degrade_args(work)[:3] + [ro / "y.png", "--task", "sr2"], "not writable")
    finally:
        ro.chmod(0o755)


def test_missing_output_folders_are_created_and_modes_follow_the_umask(work):
    old = os.umask(0o027)
    try:
        code, _, err = call([*degrade_args(work)[:3], work / "a" / "b" / "y.png", "--task", "sr2", "--quiet"])
        assert code == 0, err
        code, _, err = call(restore_args(work)[:-1] + [work / "c" / "x.png", "--quiet"])
        assert code == 0, err
    finally:
        os.umask(old)
    for p in [work / "a" / "b" / "y.png", work / "a" / "b" / "y.json", work / "c" / "x.png"]:
        assert p.stat().st_mode & 0o777 == 0o640, p


# ------------------------------------------------------------------------------ interruptions
def _folder_job(work: Path, n: int) -> Path:
    folder = work / "in"
    folder.mkdir()
    for i in range(n):
        clean = photo(work / f"c{i}.png", seed=i, h=32, w=32)
        code, _, err = call(["degrade", clean, "-o", folder / f"im{i}.png", "--task", "sr2", "--quiet"])
        assert code == 0, err
    return folder


def _restore_cmd(folder: Path, out: Path) -> list[str]:
    return [DDRM, "restore", str(folder), "-o", str(out), "--prior", "gaussian", "--steps", "600", "--batch-size", "2"]


def _results(out: Path) -> int:
    return len(list(out.glob("*.png"))) if out.is_dir() else 0


def _wait_for_a_new_result(proc: subprocess.Popen, out: Path, before: int) -> None:
    """Until this run has written a result of its own (a batch done, the next under way), or fail if it ended."""
    deadline = time.monotonic() + 120
    while _results(out) <= before:
        assert proc.poll() is None, "the run ended before writing a result"
        assert time.monotonic() < deadline, "no result within 2 minutes"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_folder_runs_resume_to_the_same_bytes(work, sig):
    """Each run is signalled once it has written a batch of its own (so it is cut short mid-run, never before its
    first result nor after its last), then resumed; the finished folder equals an uninterrupted run's, byte for byte.
    A batch of two 32 px images at 600 steps takes ~1.2 s here, the poll 20 ms."""
    folder = _folder_job(work, 12)  # 6 batches: three interrupted runs take at most one or two each
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = work / "full"
    subprocess.run([*_restore_cmd(folder, full), "--quiet"], check=True, env=env, capture_output=True, timeout=300)
    expected = snapshot(full)
    inputs = snapshot(folder)
    rng = random.Random(int(sig))
    out = work / "out"
    for _ in range(3):  # interrupt three runs mid-way, then let the last run finish
        before = _results(out)
        # SIGINT back to its default in the child: a suite started in the background by a non-interactive shell
        # inherits it ignored, and an ignored SIGINT stays ignored across exec (the run would finish, exit 0)
        proc = subprocess.Popen(_restore_cmd(folder, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        _wait_for_a_new_result(proc, out, before)
        time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert b"Traceback" not in err
        assert proc.returncode in (130, 143, -int(sig)), f"the run was not cut short (exit {proc.returncode}): {err}"
        assert before < _results(out) < 12, "the interrupted run wrote nothing, or everything"
        if sig != signal.SIGKILL:
            assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"
        for name, (digest, _) in snapshot(out).items():
            if not name.startswith("."):
                assert digest == expected[name][0], f"{name} differs from an uninterrupted run"
    subprocess.run([*_restore_cmd(folder, out), "--quiet"], check=True, env=env, capture_output=True, timeout=300)
    assert {k: v[0] for k, v in snapshot(out).items()} == {k: v[0] for k, v in expected.items()}
    assert snapshot(folder) == inputs


def test_stale_temporaries_are_removed(work):
    folder = _folder_job(work, 2)
    out = work / "out"
    out.mkdir()
    (out / ".im0.png.abc123.tmp").write_bytes(b"")
    (out / ".unrelated.tmp").write_bytes(b"keep")
    code, _, err = call(["restore", folder, "-o", out, "--prior", "gaussian", "--steps", "2", "--quiet"])
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".unrelated.tmp", "im0.png", "im0.result.json", "im1.png",
                                                     "im1.result.json"]  # fmt: skip


BUILTIN = Path(__file__).resolve().parents[1] / "src" / "ddrm" / "weights" / "builtin.json"


@pytest.mark.skipif(not BUILTIN.is_file(), reason="the built-in prior is not shipped in this checkout")
def test_builtin_prior_batches_agree_within_one_grey_level(work):
    """The guarantee README states: a result is bit-identical for the same --batch-size (a resumed run included);
    across batch sizes the network's batched arithmetic may round differently, by at most one grey level."""
    folder = _folder_job(work, 3)
    outs = {}
    for bs in ("1", "3"):
        code, _, err = call(["restore", folder, "-o", work / bs, "--steps", "3", "--batch-size", bs, "--quiet"])
        assert code == 0, err
        outs[bs] = {p.name: np.asarray(Image.open(p), dtype=int) for p in sorted((work / bs).glob("*.png"))}
    for name in outs["1"]:
        assert np.abs(outs["1"][name] - outs["3"][name]).max() <= 1, name


@pytest.mark.skipif(not BUILTIN.is_file(), reason="the built-in prior is not shipped in this checkout")
def test_a_run_that_cannot_fit_in_memory_is_refused_up_front(work, monkeypatch):
    import ddrm.pipeline.memory as restore
    from ddrm.checkpoints import load_prior
    from ddrm.samplers import SAMPLERS

    prior = load_prior("builtin")
    one = restore.estimate_peak_bytes(prior, SAMPLERS["ddrm"], (3, 512, 512), 1)
    assert restore.estimate_peak_bytes(prior, SAMPLERS["ddrm"], (3, 1024, 1024), 2) > 7.5 * one  # linear in pixels
    assert restore.estimate_peak_bytes(prior, SAMPLERS["dps"], (3, 512, 512), 1) > 4 * one  # backprop keeps layers
    # measured peaks of one network call (benchmarks/solvers.py memory): 171 MiB at 256 px, 534 MiB at 512 px
    assert 0.5 < one / (534 * 2**20) < 2.5
    folder = _folder_job(work, 2)
    monkeypatch.setattr(restore, "available_bytes", lambda device: 2**20)
    line = assert_refused(work, ["restore", folder, "-o", work / "out", "--steps", "2"], "MiB is free")
    assert "smaller image" in line
    small = restore.estimate_peak_bytes(prior, SAMPLERS["ddrm"], (3, 32, 32), 1)
    monkeypatch.setattr(restore, "available_bytes", lambda device: int(1.5 * small))  # one 32 px image fits, not two
    assert "--batch-size 1" in assert_refused(work, ["restore", folder, "-o", work / "out", "--steps", "2"])
    # samples: fewer images per batch where one image's samples fit, else fewer samples (the line's words: the CLI's)
    monkeypatch.setattr(restore, "available_bytes", lambda device: int(2.5 * small * restore._MARGIN))  # 2 fit
    line = assert_refused(work, ["restore", folder, "-o", work / "out", "--steps", "2", "--samples", "2"])
    assert "2 image(s) x 2 samples" in line and line.endswith("use --batch-size 1")
    line = assert_refused(work, ["restore", folder, "-o", work / "out", "--steps", "2", "--samples", "4"])
    assert line.endswith("use --samples 2 and --batch-size 1")
    # a photo's camera shake draws 4 samples of its one image by default, in one batch: --batch-size does not apply
    shake = photo(work / "shake.png", seed=5, h=32, w=32)
    one_blind = restore.estimate_peak_bytes(prior, SAMPLERS["diffpir"], (3, 36, 36), 1, blind=True)
    monkeypatch.setattr(restore, "available_bytes", lambda device: int(1.5 * one_blind * restore._MARGIN))
    line = assert_refused(work, ["restore", shake, "-o", work / "s.png", "--task", "deblur_blind", "--kernel-model",
                                 "full", "--kernel-size", "5", "--sigma-y", "0.01", "--steps", "2"])  # fmt: skip
    assert "1 image(s) x 4 samples of 36x36" in line and line.endswith("use --samples 1")
    line = assert_refused(
        work, ["restore", folder / "im0.png", "-o", work / "o.png", "--solver", "dps", "--steps", "2"]
    )
    assert "checkpointing=true" in line


def test_the_memory_guard_counts_a_preset_network_and_its_attention(tmp_path, monkeypatch):
    """The tiny ADM fixture as a preset (pinned to its 32 px, as the public checkpoints are to 256 px) is estimated,
    not skipped; its self-attention makes the estimate grow with the square of the pixels (measured peak growth of a
    20-step DDRM restore, benchmarks/memory_guard.py: 282 MiB at 128 px, 4196 MiB at 256 px, a 14.9x step for 4x the
    pixels; estimates 297 and 4262 MiB)."""
    import torch
    from safetensors.torch import load_file
    from test_models import DATA, tiny_net

    from ddrm.checkpoints import load_prior
    from ddrm.models import PRESETS, Preset
    from ddrm.pipeline import estimate_peak_bytes
    from ddrm.priors import NetworkPrior
    from ddrm.samplers import SAMPLERS

    ckpt = tmp_path / "adm_tiny.pt"
    torch.save(load_file(str(DATA / "adm_tiny.safetensors")), ckpt)
    monkeypatch.setitem(PRESETS, "adm-tiny", Preset("adm-tiny", lambda: tiny_net("adm_tiny"), "fixture",
                                                    ("adm_tiny.pt",), 32))  # fmt: skip
    preset = load_prior("adm-tiny", checkpoint=str(ckpt))
    assert preset.image_size == (32, 32)
    pinned = estimate_peak_bytes(preset, SAMPLERS["ddrm"], (3, 32, 32), 1)
    assert pinned is not None and pinned > 0
    free = NetworkPrior(preset.net, stride=preset.stride)  # the same network at any size
    small, large = (estimate_peak_bytes(free, SAMPLERS["ddrm"], (3, s, s), 1) for s in (128, 256))
    assert large / small > 10  # linear in the pixels would be 4
    assert 0.7 < large / (4196 * 2**20) < 1.4  # within the measured band of the peak
