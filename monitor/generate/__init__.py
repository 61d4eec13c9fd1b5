"""Offline generators: Prometheus alert rules, Grafana dashboards, the configuration reference."""
