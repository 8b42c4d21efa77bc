"""Samplers for linear inverse problems: DDRM and its peers on one interface.

Each is ``fn(prior, operator, y, sigma_y_model, *, steps, generator, callback, progress_bar, **params)`` with ``y``
and ``sigma_y_model`` in the prior's [-1, 1] units (``sigma_y_model = 2 sigma_y``, the [0, 1] ``sigma_y`` of
:func:`ddrm.restore` and the command line), returning images in that range; the equations in the docstrings write
the noise level ``sigma_y`` as the papers do. ``SAMPLERS`` maps a name to its
:class:`SamplerSpec` (callable like the function; ``spec.run(..., task=...)`` fills in the official defaults for
a task); ``ddrm solvers`` lists them.
"""

from .common import StepInfo
from .daps import daps
from .ddim import ddim
from .ddnm import ddnm, ddnm_plus
from .ddrm import ddrm, posterior_eta_b
from .ddrm_jpeg import ddrm_jpeg
from .diffpir import diffpir
from .dmps import dmps
from .dps import dps
from .ilvr import ilvr
from .latent import latent_daps, psld, resample
from .mcg import ddrm_mcg, mcg
from .mmse import mmse
from .pigdm import pigdm
from .reddiff import red_diff
from .registry import REGISTRY, Param, SamplerSpec
from .repaint import repaint

_ORDER = (
    "ddrm",
    "ddrm+mcg",
    "ddnm",
    "ddnm+",
    "diffpir",
    "pigdm",
    "dps",
    "mcg",
    "dmps",
    "ilvr",
    "repaint",
    "daps",
    "mmse",
    "psld",
    "resample",
    "latent-daps",
)
SAMPLERS: dict[str, SamplerSpec] = {name: REGISTRY[name] for name in _ORDER} | REGISTRY  # DDRM first, then its peers

__all__ = [
    "SAMPLERS",
    "SamplerSpec",
    "Param",
    "StepInfo",
    "ddrm",
    "posterior_eta_b",
    "ddrm_jpeg",
    "ddim",
    "ddnm",
    "ddnm_plus",
    "diffpir",
    "pigdm",
    "dps",
    "mcg",
    "ddrm_mcg",
    "repaint",
    "ilvr",
    "dmps",
    "daps",
    "red_diff",
    "mmse",
    "psld",
    "resample",
    "latent_daps",
]
