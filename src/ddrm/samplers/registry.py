"""The sampler registry: one :class:`SamplerSpec` per method, built by the :func:`sampler` decorator.

A sampler is a function ``fn(prior, operator, y, sigma_y_model, *, steps, generator, callback, progress_bar,
**params)`` (``y`` and ``sigma_y_model`` in the prior's [-1, 1] units).
Its keyword defaults are the official configuration's values and the single source of them; the spec adds what a
front end needs: the paper, a help line and bounds per parameter, per-task defaults where the official code differs
per task, the network evaluations (NFE) a run costs, whether it back-propagates through the network, and which
operators it accepts. The decorator checks the common inputs, the operator and every parameter before the method
runs, so a bad value is one clear :class:`~ddrm.errors.SolverError` from the library and from every front end alike.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from ..errors import SolverError
from ..operators.base import LinearOperator, Operator, SVDOperator
from .common import GRID_PARAM_HELP, GRIDS, check_inputs

__all__ = ["Param", "SamplerSpec", "sampler", "REGISTRY", "COMMON_ARGS", "GRID_PARAM"]

COMMON_ARGS = ("steps", "generator", "callback", "progress_bar")
REGISTRY: dict[str, SamplerSpec] = {}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """A method parameter a user may set: help text and inclusive bounds, or the words it may be (``choices``); its
    default lives in the signature."""

    name: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None


GRID_PARAM = Param("grid", GRID_PARAM_HELP, choices=GRIDS)  # every method that walks the VP noise levels


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: call it like the function it wraps."""

    name: str
    fn: Callable[..., Tensor]
    paper: str
    summary: str
    steps: int
    params: tuple[Param, ...] = ()
    task_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    nfe: Callable[..., int] | None = None
    needs_grad: bool = False
    operators: tuple[type[Operator], ...] = (SVDOperator,)
    consistency: str = "approximate"  # "exact": H x = y when sigma_y = 0; "approximate"; "none"
    noise: str = ""
    deterministic: bool = False  # draws no noise: the generator does not matter
    space: str = "pixel"  # "pixel": a prior of images; "latent": a latent prior (the measurement through its decoder)

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.fn(*args, **kwargs)

    def run(
        self,
        prior: Any,
        operator: SVDOperator,
        y: Tensor,
        sigma_y_model: float,
        *,
        task: str | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """Call the method with the official defaults for ``task`` (see :meth:`defaults`), overridden by ``kwargs``
        (method parameters, ``steps``, ``generator``, ``callback``, ``progress_bar``; ``None`` keeps a default)."""
        values = self.defaults(task)
        values.update({k: v for k, v in kwargs.items() if v is not None})
        return self.fn(prior, operator, y, sigma_y_model, **values)

    # ------------------------------------------------------------------ parameters
    @property
    def signature_defaults(self) -> dict[str, Any]:
        sig = inspect.signature(self.fn).parameters
        return {p.name: sig[p.name].default for p in self.params} | {"steps": sig["steps"].default}

    def defaults(self, task: str | None = None) -> dict[str, Any]:
        """Parameters (and ``steps``) of the official configuration, for ``task`` when it has its own."""
        out = self.signature_defaults
        out.update(self.task_defaults.get(task or "", {}))
        return out

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        keys = ", ".join(p.name for p in self.params) or "none"
        raise SolverError(f"solver {self.name} has no parameter {name!r} (its parameters: {keys})")

    def parse(self, name: str, text: str) -> Any:
        """Convert ``text`` to the type of the parameter's default and check its bounds."""
        if name == "steps":
            kind: type = int
        else:
            self.param(name)
            kind = type(self.signature_defaults[name])
        value: Any
        try:
            if kind is bool:
                low = text.strip().lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError
                value = low in _TRUE
            elif kind is int:
                value = int(text)
            elif kind is str:
                value = text
            else:
                value = float(text)
        except ValueError:
            raise SolverError(f"solver {self.name}: {name}={text!r} is not a valid {kind.__name__}") from None
        self.check({name: value})
        return value

    def check(self, values: dict[str, Any]) -> None:
        """Refuse unknown parameters, non-finite numbers and values outside the declared bounds."""
        for name, value in values.items():
            if name == "steps":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise SolverError(f"solver {self.name}: steps must be an integer >= 1, got {value!r}")
                continue
            p = self.param(name)
            if p.choices is not None:
                if value not in p.choices:
                    raise SolverError(
                        f"solver {self.name}: {name} must be one of {', '.join(p.choices)}, got {value!r}"
                    )
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # booleans and library-only objects (callables) carry no bounds
            if not math.isfinite(value):
                raise SolverError(f"solver {self.name}: {name} must be finite, got {value}")
            if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
                lo = "-inf" if p.low is None else f"{p.low:g}"
                hi = "inf" if p.high is None else f"{p.high:g}"
                raise SolverError(f"solver {self.name}: {name} must lie in [{lo}, {hi}], got {value:g}")

    @property
    def starts_from_image(self) -> bool:
        """Whether the method takes ``x_init`` (a chain started from an image noised to an intermediate level)."""
        return "x_init" in inspect.signature(self.fn).parameters

    @property
    def updates_operator(self) -> bool:
        """Whether the method takes ``operator_update`` (a new operator during sampling, e.g. blind deblurring)."""
        return "operator_update" in inspect.signature(self.fn).parameters

    # ------------------------------------------------------------------ priors, operators and cost
    def check_prior(self, prior: Any) -> None:
        """Refuse a prior of the other space (a latent prior for a pixel-space method, or the reverse) in one line
        naming the solvers that take it."""
        latent = bool(getattr(prior, "latent", False))
        if latent == (self.space == "latent"):
            return
        from . import SAMPLERS

        space = "latent" if latent else "pixel"
        takers = ", ".join(s.name for s in SAMPLERS.values() if s.space == space)
        what = "a latent prior (its measurement is nonlinear in the latent)" if latent else "a pixel-space prior"
        raise SolverError(f"solver {self.name} works on {'latent' if self.space == 'latent' else 'pixel-space'} "
                          f"priors, not {what}; use {takers}")  # fmt: skip

    def accepts(self, operator: Any) -> bool:
        """Whether ``operator`` is an instance of a contract the method takes (``operators``)."""
        return isinstance(operator, self.operators)

    def takes(self, contract: type[Operator]) -> bool:
        """Whether every operator of a registry ``contract`` (:class:`~ddrm.operators.OperatorSpec`) suits the method."""
        return issubclass(contract, self.operators)

    @property
    def operator_kinds(self) -> str:
        """The operators a method takes, in words."""
        if self.operators == (SVDOperator,):
            return "linear operators with an SVD"
        if self.operators == (LinearOperator,):
            return "any linear operator (H and H^T; with or without an SVD)"
        return ", ".join(t.__name__ for t in self.operators)

    def check_operator(self, operator: Any) -> None:
        """Refuse an operator of a contract the method does not take, in one line naming the solvers that take it."""
        if self.accepts(operator):
            return
        from . import SAMPLERS

        takers = ", ".join(
            s.name
            for s in SAMPLERS.values()
            if s.accepts(operator) and s.consistency != "none" and s.space == self.space
        )
        task = getattr(operator, "task_name", None)
        name = f"the {task} task" if task else f"{type(operator).__name__} operators"
        if not isinstance(operator, LinearOperator):
            hint = f"; use {takers}"
        elif not isinstance(operator, SVDOperator):
            hint = f": its operator has only H and H^T; use {takers}"
        else:
            hint = ""
        raise SolverError(f"solver {self.name} does not support {name} (it needs {self.operator_kinds}){hint}")

    def count_nfe(self, steps: int | None = None, task: str | None = None, **params: Any) -> int:
        """Network evaluations of one run with these settings (defaults filled in for ``task``)."""
        values = self.defaults(task) | params
        if steps is not None:
            values["steps"] = steps
        if self.nfe is None:
            return int(values["steps"])
        return int(self.nfe(**values))


def sampler(
    name: str,
    *,
    paper: str,
    summary: str,
    params: tuple[Param, ...] = (),
    task_defaults: dict[str, dict[str, Any]] | None = None,
    nfe: Callable[..., int] | None = None,
    needs_grad: bool = False,
    operators: tuple[type[Operator], ...] = (SVDOperator,),
    consistency: str = "approximate",
    noise: str = "",
    deterministic: bool = False,
    space: str = "pixel",
) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Register ``fn`` under ``name``; the returned function checks its inputs and parameters, then runs ``fn``."""

    def wrap(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        sig = inspect.signature(fn)
        declared = {p.name for p in params}
        keywords = [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        missing = [k for k in COMMON_ARGS if k not in keywords]
        unknown = declared - set(keywords)
        if missing or unknown:
            raise TypeError(f"sampler {name}: missing common arguments {missing} or unknown parameters {unknown}")

        @functools.wraps(fn)
        def run(prior, operator, y, sigma_y_model, **kwargs):
            check_inputs(operator, y, sigma_y_model)
            spec.check_prior(prior)
            spec.check_operator(operator)
            bound = sig.bind(prior, operator, y, sigma_y_model, **kwargs)
            bound.apply_defaults()
            spec.check({k: v for k, v in bound.arguments.items() if k in declared or k == "steps"})
            return fn(*bound.args, **bound.kwargs)

        spec = SamplerSpec(
            name=name,
            fn=run,
            paper=paper,
            summary=summary,
            steps=sig.parameters["steps"].default,
            params=params,
            task_defaults=dict(task_defaults or {}),
            nfe=nfe,
            needs_grad=needs_grad,
            operators=operators,
            consistency=consistency,
            noise=noise,
            deterministic=deterministic,
            space=space,
        )
        if name in REGISTRY:
            raise ValueError(f"sampler {name!r} is registered twice")
        REGISTRY[name] = spec
        run.spec = spec  # type: ignore[attr-defined]
        return run

    return wrap
