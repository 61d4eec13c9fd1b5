"""Collectors turn what a source says into signals. They know their source's API, nothing about levels."""
