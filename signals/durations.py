"""Durations in config files: `90`, `90s`, `15m`, `24h`, `30d`, `1w` -> seconds.

Part of the neutral contract package: every config section, the monitor's and each source's,
declares its durations with the `Duration` type below."""
from __future__ import annotations

import re
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 24h, 30d)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest config spelling of a duration: 172800 -> `2d`, 5400 -> `90m`, 45.5 -> `45.5s`."""
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# Config fields that are durations: `timeout: Duration = 10.0` accepts 10, "10s", "2m", ...
# One validator for every config section (sources' and the monitor's).
Duration = Annotated[float, BeforeValidator(parse_duration)]
OptionalDuration = Annotated[Optional[float], BeforeValidator(lambda v: None if v is None else parse_duration(v))]
