"""The service: config, history store, ingest, scheduler, exporter, CLI."""
