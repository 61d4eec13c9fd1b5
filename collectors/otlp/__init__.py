"""OpenTelemetry: an OTLP/HTTP receiver for GenAI spans (LiteLLM's `otel` callback, OpenLIT, OTel
GenAI instrumentations) and for the evaluation results sent as log records, and the trace KPIs
computed from what it received."""
