"""OpenTelemetry: an OTLP/HTTP receiver for GenAI spans (LiteLLM's `otel` callback, OpenLIT, OTel
GenAI instrumentations) and the trace KPIs computed from what it received."""
