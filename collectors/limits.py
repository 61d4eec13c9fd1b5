"""Sane ranges for what arrives from outside, shared by every receiving route (LiteLLM payloads,
OTLP spans). Checked per item at the edge, so one absurd item is refused alone instead of
poisoning every sum it would join (a cost of 1e308 overflows a bucket's total to inf)."""
from __future__ import annotations

MIN_TIME = 946_684_800.0          # 2000-01-01: older "times" are units mistakes (ms, ns) or garbage
MAX_TIME = 4_102_444_800.0        # 2100-01-01
MAX_CLOCK_SKEW = 3600.0           # seconds a sender's clock may run ahead of ours; later is refused
MAX_ATTEMPT_SECONDS = 86_400.0    # one call lasting more than a day is not a latency
MAX_COST_USD = 1_000_000.0        # per attempt or span
MAX_ID_CHARS = 512                # request ids, call ids, trace ids
MAX_NAME_CHARS = 256              # team identity, model group
