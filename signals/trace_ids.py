"""One spelling of a request or trace id for joins: LiteLLM's call ids and trace ids are UUIDs
(`8f1c...-...`), an OTel trace id is the same 128 bits as 32 hex digits, and headers may carry
either with stray whitespace. Compared as lower case hex, no dashes, no surrounding space."""
from __future__ import annotations


def normalise_id(value: str) -> str:
    return value.replace("-", "").strip().lower()


def request_ids(call_id: str, trace_id: str | None) -> set[str]:
    """The ids a gateway request can be found under in a trace store."""
    ids = {normalise_id(call_id)}
    if trace_id:
        ids.add(normalise_id(trace_id))
    return ids
