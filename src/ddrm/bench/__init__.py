"""The evaluation harness: protocols (TOML) -> tasks -> methods -> per-image rows -> tables, plots, grids.

``ddrm bench PROTOCOL.toml -o RUN_DIR`` (or a shipped protocol by name: ``ddrm bench quick``); see
:func:`run_protocol`. Shipped protocols live in ``ddrm/bench/protocols``.
"""

from .protocol import Protocol, ProtocolError, load_protocol, parse_protocol, shipped_protocols
from .runner import read_rows, run_protocol

__all__ = [
    "Protocol",
    "ProtocolError",
    "load_protocol",
    "parse_protocol",
    "shipped_protocols",
    "run_protocol",
    "read_rows",
]
