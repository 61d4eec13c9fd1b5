"""Bounded label values for the exposition: a value from outside (a team, a model, a service name)
can be megabytes; on /metrics it is at most `MAX_LABEL_LENGTH` characters.

Rule: a value of up to 128 characters is exported unchanged; a longer one becomes its first 119
characters, `~`, and the first 8 hex digits of the SHA-256 of its UTF-8 bytes (128 characters in
all). The suffix is stable across restarts and keeps two long values that share a prefix apart.
On the wire a character is at most 4 bytes (UTF-8; the exposition escapes `\\`, `"` and newline
as two bytes each), so a label value is at most `MAX_LABEL_BYTES` bytes.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from prometheus_client.core import GaugeMetricFamily

MAX_LABEL_LENGTH = 128
HASH_HEX = 8
MAX_LABEL_BYTES = 4 * MAX_LABEL_LENGTH
_KEEP = MAX_LABEL_LENGTH - 1 - HASH_HEX  # 119 characters of the original, then "~" and the hash


def bounded_label(value: str) -> str:
    """`value` itself when at most MAX_LABEL_LENGTH characters, else its prefix, `~` and a hash."""
    if len(value) <= MAX_LABEL_LENGTH:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_HEX]
    return f"{value[:_KEEP]}~{digest}"


def bounded_labels(values: Iterable[str]) -> list[str]:
    return [bounded_label(v) for v in values]


class BoundedGaugeMetricFamily(GaugeMetricFamily):
    """GaugeMetricFamily whose label values go through `bounded_label`."""

    def add_metric(self, labels, value, timestamp=None) -> None:  # type: ignore[override]
        super().add_metric(bounded_labels(labels), value, timestamp)
