"""The weekly digest: built from the snapshot history (builder.py, analysis.py), rendered as
Markdown and self-contained HTML with PNG charts (render.py, charts.py, templates/), delivered by
monitor/digest/delivery and scheduled by monitor/runtime/scheduling.py. See docs/digest.md.

    from monitor.digest.runner import DigestRunner, digest_command
    from monitor.demo.digest import write_demo_digest
"""
