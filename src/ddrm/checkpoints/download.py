"""Public checkpoints for online users: ``ddrm download NAME`` and ``load_prior(NAME)`` without ``checkpoint=``.

A preset's file is fetched into the cache folder (``$DDRM_HOME``, default the user's cache dir + ``/ddrm``) over
HTTP with range requests: an interrupted transfer (a dropped connection, Ctrl-C, a killed process) leaves
``FILE.part``, and the next attempt asks only for the missing bytes. At the end the size is checked against the
server's, the weights are read safely and checked key by key and shape by shape against the preset's architecture
(built on the meta device, no memory), the SHA-256 is recorded in ``FILE.sha256.json``, and the file is renamed into
place atomically. Every later use checks the file against the recorded SHA-256; a changed file is refused.
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
from ..models import PRESETS, Preset
from .reading import check_state_dict, read_state_dict

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


def _verify(path: Path) -> None:
    """Check a cached file against the SHA-256 recorded at its download (recording it if the record is missing)."""
    record = _record_path(path)
    digest = sha256_file(path)
    if not record.is_file():
        record.write_text(json.dumps({"file": path.name, "sha256": digest, "size": path.stat().st_size}, indent=1))
        return
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
                with open(part, mode) as f:
                    while True:
                        block = resp.read(CHUNK)
                        if not block:
                            break
                        f.write(block)
                        bar.update(len(block))
            except (OSError, http.client.HTTPException, TimeoutError):
                pass  # a dropped connection: resume from what arrived
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


def _architecture_check(preset: Preset) -> Callable[[Path], None]:
    def check(path: Path) -> None:
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

    return check


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
        fetch(url, dest, progress=progress, check=_architecture_check(preset))
    _verify(dest)
    return dest
