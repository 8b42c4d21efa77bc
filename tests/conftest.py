"""Suite-wide rules. Under CI (``CI=true``, which ``.ci/run`` sets) a test that skips for want of something the CI
machine is meant to have (a browser, PyAV, gradio, diffusers, the shipped built-in prior: reasons that say "need(s)", "could not import", "not
installed" or "not shipped") fails instead, so CI never passes without the tests it is meant to run."""

from __future__ import annotations

import os
import re

import pytest

MISSING = re.compile(r"\bneeds?\b|not installed|not shipped|could not import", re.IGNORECASE)


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and _under_ci() and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if MISSING.search(reason) and "POSIX" not in reason and "/dev/full" not in reason:
        report.outcome = "failed"
        report.longrepr = f"under CI this test must run, but it skipped: {reason}"
