"""The one error root. Every failure the monitor reports to a person (bad config, an unknown
plugin, a catalog or answers file that does not validate, a database it cannot open, a port it
cannot bind) is an `AiopsError`: the CLI catches this one type, prints its one-line message and
exits 2. Anything else is a bug and keeps its traceback."""
from __future__ import annotations


class AiopsError(Exception):
    """A problem the user can fix; `str(error)` is the whole message, one line."""
