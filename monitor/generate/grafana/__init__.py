"""Grafana dashboards as code, built with the Grafana Foundation SDK (`grafana-foundation-sdk`).

`kit` wraps the SDK's builders in the few panel kinds the dashboards use, `promql` writes the
queries shared by several panels, `maturity` and `operations` define the five dashboards, and
`schema` checks the generated JSON against the SDK's typed dashboard model. The entry point is
`monitor.generate.dashboards.write_dashboards(dir)`.
"""
