"""Video restoration frame by frame with an image prior (extra ``ddrm[video]``: PyAV and OpenCV, imported lazily):
clips (:mod:`~ddrm.video.container`), motion and flicker (:mod:`~ddrm.video.flow`), and the temporal modes over the
restore pipeline (:mod:`~ddrm.video.temporal`)."""

from .container import DEFAULT_FPS, VIDEO_SUFFIXES, Clip, check_video_output, is_video, open_clip, write_video
from .flow import flicker, flicker_along, optical_flow, warp
from .temporal import TEMPORAL_MODES, clip_record, frames_folder, restore_clip, score_clip

__all__ = [
    "VIDEO_SUFFIXES",
    "DEFAULT_FPS",
    "TEMPORAL_MODES",
    "Clip",
    "is_video",
    "open_clip",
    "write_video",
    "check_video_output",
    "optical_flow",
    "warp",
    "flicker",
    "flicker_along",
    "restore_clip",
    "score_clip",
    "frames_folder",
    "clip_record",
]
