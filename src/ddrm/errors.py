"""What a user can get wrong, as exceptions: every :class:`DDRMError` carries one line for the user.

The front ends turn a ``DDRMError`` (and a file's ``OSError``) into that line and exit code 2; anything else is a bug
and keeps its traceback (exit 1). ``DDRMError`` is a ``ValueError``, so code that caught ``ValueError`` before keeps
working.
"""

from __future__ import annotations

__all__ = [
    "DDRMError",
    "TaskError",
    "InputError",
    "SolverError",
    "CheckpointError",
    "DownloadError",
    "ProtocolError",
    "SetupError",
]


class DDRMError(ValueError):
    """Something the user gave cannot be used; the message is one line that says what and, where it can, what to do."""


class TaskError(DDRMError):
    """A task, its parameters, or a sidecar that cannot be used."""


class InputError(DDRMError):
    """An input (image, array, mask, kernel, video, output path, option value) that cannot be used."""


class SolverError(DDRMError):
    """A solver that does not exist, a parameter out of its bounds, or an operator the solver does not take."""


class CheckpointError(DDRMError):
    """A prior or checkpoint that cannot be found, read, or does not fit its architecture."""


class DownloadError(CheckpointError):
    """A download that could not be completed."""


class ProtocolError(DDRMError):
    """A benchmark protocol that cannot be run."""


class SetupError(DDRMError):
    """The machine or the installation cannot run this: a missing device, optional dependency, or memory."""
