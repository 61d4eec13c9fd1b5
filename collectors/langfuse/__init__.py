"""Langfuse: the public REST API through the official `langfuse` SDK, self-hosted v3 and v4/Cloud."""
