"""Team labels every package agrees on (one definition, imported everywhere)."""
from __future__ import annotations

ALL = "all"                    # the organisation: every team together
OTHER = "other"                # teams beyond the exported allow-list / top N, folded together
UNATTRIBUTED = "unattributed"  # traffic, incidents or traces with no team: what cost attribution is about
