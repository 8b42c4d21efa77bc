"""Public checkpoints for online users: ``ddrm download NAME`` and ``load_prior(NAME)`` without ``checkpoint=``.

A preset's file is fetched into the cache folder (``$DDRM_HOME``, default the user's cache dir + ``/ddrm``) over
HTTP with range requests: an interrupted transfer (a dropped connection, Ctrl-C, a killed process) leaves
``FILE.part``, and the next attempt asks only for the missing bytes. At the end the size is checked against the
server's, the weights are read safely and checked key by key and shape by shape against the preset's architecture
(built on the meta device, no memory), the SHA-256 is recorded in ``FILE.sha256.json``, and the file is renamed into
place atomically. Every later use checks the file against the recorded SHA-256; a changed file is refused.

Before a digest is recorded the file passes every check there is: the size and SHA-256 of the publisher's file where
the preset ships them, the CRC-32 of every entry of a PyTorch zip file (a flipped byte in the tensor data fails it),
and the architecture's keys and shapes. A failed write (a full disk) ends the download at once, in one line.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import CheckpointError, DownloadError
from ..io import atomic_write
from ..models import PRESETS, Preset
from .reading import check_archive, check_state_dict, read_state_dict

__all__ = ["cache_dir", "download_checkpoint", "fetch", "sha256_file"]

CHUNK = 1 << 20


def cache_dir() -> Path:
    """``$DDRM_HOME``, else the platform's user cache folder + ``ddrm`` (``$XDG_CACHE_HOME`` or ``~/.cache`` on
    Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    if os.environ.get("DDRM_HOME"):
        return Path(os.environ["DDRM_HOME"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ddrm"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "ddrm" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddrm"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _verify(path: Path, check: Callable[[Path], None]) -> None:
    """Check a cached file against the SHA-256 recorded at its download. Without a record (a file put in the cache
    by hand), the file passes ``check`` (:func:`_integrity_check`) first, and only then is its digest recorded."""
    record = _record_path(path)
    if not record.is_file():
        check(path)
        digest = sha256_file(path)
        text = json.dumps({"file": path.name, "sha256": digest, "size": path.stat().st_size}, indent=1)
        atomic_write(record, lambda tmp: tmp.write_text(text))
        return
    digest = sha256_file(path)
    try:
        expected = json.loads(record.read_text())["sha256"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{record}: unreadable download record; delete it to record the file again") from None
    if digest != expected:
        raise CheckpointError(
            f"{path}: the file changed since it was downloaded (sha256 {digest[:12]}... != recorded {expected[:12]}...);"
            f" delete it and run 'ddrm download' again"
        )


def fetch(
    url: str,
    dest: Path,
    *,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 3,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest``: resumable through ``dest.part`` (HTTP ``Range``), retried ``retries`` times
    after a dropped connection, size-checked, ``check(part)`` run before the atomic rename."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    host = urllib.parse.urlsplit(url).netloc or url
    total: int | None = None
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            whole = (exc.headers.get("Content-Range") or "").rpartition("/")[2] if exc.code == 416 else ""
            if exc.code == 416 and have and (total == have or (whole.isdigit() and int(whole) == have)):
                break  # already complete (e.g. a run killed between the last byte and the rename)
            if exc.code == 416:  # the partial file does not fit the server's: start again
                part.unlink()
                continue
            raise DownloadError(f"{url}: the server answered HTTP {exc.code} ({exc.reason})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {host} ({reason}): you seem to be offline; download {dest.name} by hand and pass "
                f"--checkpoint PATH, or put it in {dest.parent}"
            ) from None
        with resp:
            if resp.status == 206:
                start = int(resp.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
                if start != have:
                    raise DownloadError(f"{url}: the server resumed at byte {start}, not {have}")
                size = resp.headers.get("Content-Range", "").rpartition("/")[2]
                total = int(size) if size.isdigit() else None
                mode = "ab"
            else:  # 200: the whole file (the server ignores ranges)
                have, mode = 0, "wb"
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress)
            try:
                _copy(resp, part, mode, bar)
            finally:
                bar.close()
        got = part.stat().st_size
        if total is None or got == total:
            break
        if got > total:
            part.unlink()
            raise DownloadError(f"{url}: received {got} bytes, more than the announced {total}; try again")
        if attempt == retries:
            raise DownloadError(
                f"{url}: interrupted after {got} of {total} bytes; run the command again to resume from {part}"
            )
        time.sleep(min(2**attempt, 10) * 0.1)
    if check is not None:
        try:
            check(part)
        except CheckpointError:
            part.unlink(missing_ok=True)  # never keep a file that is known to be wrong
            raise
    os.replace(part, dest)
    return dest


def _copy(resp, part: Path, mode: str, bar) -> None:  # noqa: ANN001
    """The response's bytes appended to ``part``: a dropped connection ends the copy quietly (the caller resumes);
    a failed write (a full disk, a file-size limit) ends the download at once, in one line."""
    with open(part, mode) as f:
        while True:
            try:
                block = resp.read(CHUNK)
            except (OSError, http.client.HTTPException, TimeoutError):
                return  # a dropped connection: resume from what arrived
            if not block:
                return
            try:
                f.write(block)
                f.flush()
            except OSError as exc:
                raise DownloadError(
                    f"{part}: cannot write the download ({exc.strerror or exc}): the disk is full or the file is "
                    "larger than this file system or the process may write; make room, then run again to resume"
                ) from None
            bar.update(len(block))


def _integrity_check(preset: Preset) -> Callable[[Path], None]:
    """The checks a file passes before it is used or its digest recorded: the preset's known size and SHA-256 (where
    the preset ships them), every entry's CRC-32 in a PyTorch zip file (a flipped byte in the tensor data fails it),
    and the weights' keys and shapes against the preset's architecture."""

    def check(path: Path) -> None:
        if preset.size is not None and path.stat().st_size != preset.size:
            raise CheckpointError(
                f"{path}: {path.stat().st_size} bytes, not the {preset.size} of {preset.name}'s published file"
            )
        if preset.sha256 is not None and sha256_file(path) != preset.sha256:
            raise CheckpointError(f"{path}: its SHA-256 is not that of {preset.name}'s published file (a corrupted "
                                  "download, or another file); delete it and download it again")  # fmt: skip
        check_archive(path)
        _architecture(preset, path)

    return check


def _architecture(preset: Preset, path: Path) -> None:
    """The weights read safely and checked key by key and shape by shape against the preset's network (built on the
    meta device: no memory)."""
    if path.name.removesuffix(".part").endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    else:
        state = read_state_dict(path)  # a torch pickle, restricted to tensors
    with torch.device("meta"):
        want = preset.build().state_dict()
    check_state_dict(want, state, preset.name)


def download_checkpoint(
    preset: Preset | str, home: Path | None = None, *, url: str | None = None, progress: bool = True
) -> Path:
    """The preset's checkpoint in the cache, downloaded first if missing (``url`` overrides the preset's, e.g. a
    mirror); checked against the preset's architecture and its recorded SHA-256."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise CheckpointError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    dest = Path(home or cache_dir()) / preset.files[0]
    if not dest.is_file():
        url = url or preset.url
        if url is None:
            raise CheckpointError(
                f"preset {preset.name!r} has no download address and needs checkpoint=PATH (expected file: "
                f"{preset.files[0]}; source: {preset.source}); or put the file in {dest.parent}"
            )
        fetch(url, dest, progress=progress, check=_integrity_check(preset))
    _verify(dest, _integrity_check(preset))
    return dest
