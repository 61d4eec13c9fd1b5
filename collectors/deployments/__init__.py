"""Deployments of models and prompts (DORA for AI changes): events, and the KPIs derived from them."""
