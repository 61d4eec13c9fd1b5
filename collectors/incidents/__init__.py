"""Incidents from Alertmanager: webhook receiver, alert occurrences, incidents and their KPIs."""
