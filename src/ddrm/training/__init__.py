"""The built-in prior: data from offline sources (:mod:`~ddrm.training.data`), the training loop
(:mod:`~ddrm.training.loop`) and the export of its weights (:mod:`~ddrm.training.export`)."""

from .data import HELDOUT_PHOTOS, TRAIN_PHOTOS, PatchSampler, prepare_data
from .export import export_builtin
from .loop import BUILTIN_CONFIG, PREDICTIONS, learning_rate, sample_levels, train, training_target

__all__ = [
    "TRAIN_PHOTOS",
    "HELDOUT_PHOTOS",
    "BUILTIN_CONFIG",
    "PREDICTIONS",
    "prepare_data",
    "PatchSampler",
    "train",
    "training_target",
    "learning_rate",
    "sample_levels",
    "export_builtin",
]
