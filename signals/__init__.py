"""The contract between sources and the service; imports nothing of ours (docs/architecture.md).

    signals.source        Source, SourceContext (engine, clock, environment, read-only ports), SourceResult
    signals.measured      Measured: a value a source computed itself (non-additive KPIs only)
    signals.distribution  latency distributions (exact, DDSketch), mergeable
    signals.intervals     Intervals: a mergeable list of durations
    signals.durations     `90s`/`15m`/`24h`/`30d` and the `Duration` config type
    signals.errors        AiopsError, the one error root
    signals.plugins       entry-point plugins: sources, demo feeds, incident providers
    signals.teams         ALL, OTHER, UNATTRIBUTED
    signals.labels        bounded label values for the exposition
    signals.trace_ids     one spelling of request and trace ids for joins
    signals.validation    YAML and pydantic validation with one-line errors
"""
