"""`aiops-maturity demo`: the demo (run.py), its feeds (entry-point plugins) and the demo digest."""
