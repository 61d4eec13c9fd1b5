"""The running service: the cycle, its sources and their guard, team folding, HTTP, export, scheduling, config."""
