"""`aiops-maturity`: one console script. Bad config, files or answers -> one line, exit code 2."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from signals.errors import AiopsError

EXIT_USAGE = 2


class UsageError(AiopsError):
    """A user mistake: printed as one line, exit code 2."""


def _positive_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("port must be 0-65535")
    return port


CONFIG_HELP = "YAML config file (docs/configuration.md); environment variables AIOPS_* override it"
FORMAT_HELP = "table for people (default) or json (the stable output contract) for programs"
PATHS_HELP = "LiteLLM payload files or folders: JSON arrays, single objects, JSON lines, each optionally .gz"
WORKERS_HELP = "processes reading the files (default: one per CPU core; 1 reads them in this process)"


def _workers(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError("workers must be 1 or more")
    return count


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiops-maturity")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiops-maturity", description="Continuous AI-operations maturity monitor.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the monitor with a mock LiteLLM Router generating traffic")
    demo.add_argument("--port", type=_positive_port, default=9464,
                      help="port for /metrics, ingest and the API on 127.0.0.1 (default 9464; 0 picks a free one)")
    demo.add_argument("--duration", type=float, default=None, help="seconds of traffic (default: until Ctrl-C)")
    demo.add_argument("--rate", type=float, default=15.0, help="requests per second (default 15)")
    demo.add_argument("--data-dir", type=Path, default=Path("aiops-data/demo"),
                      help="folder of the demo's SQLite history (default aiops-data/demo; emptied at start)")
    demo.add_argument("--keep-history", action="store_true", help="keep the previous demo's history")
    demo.add_argument("--digest-out", type=Path, default=None, help="write a digest of the demo's history here at the end")

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)

    collect = commands.add_parser("collect", help="run collection cycles and print the result")
    collect.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)
    collect.add_argument("--once", action="store_true", required=True, help="one cycle, printed")
    collect.add_argument("--format", choices=("table", "json"), default="table", help=FORMAT_HELP)

    replay = commands.add_parser("replay", help="KPIs and level from recorded LiteLLM payload files")
    replay.add_argument("paths", nargs="+", help=PATHS_HELP)
    replay.add_argument("--format", choices=("table", "json"), default="table", help=FORMAT_HELP)
    replay.add_argument("--config", type=Path, default=None, help="optional: team settings")
    replay.add_argument("--workers", type=_workers, default=None, help=WORKERS_HELP)

    backfill = commands.add_parser("backfill", help="load recorded LiteLLM payload files into the history store")
    backfill.add_argument("paths", nargs="+", help=PATHS_HELP)
    backfill.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)
    backfill.add_argument("--workers", type=_workers, default=None, help=WORKERS_HELP)

    digest = commands.add_parser("digest", help="write the weekly digest (Markdown, self-contained HTML, JSON)")
    digest.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)
    digest.add_argument("--out", required=True, type=Path, help="folder; the digest goes to OUT/<week>/")
    digest.add_argument("--week", default=None, help="ISO week YYYY-Www (default: the last complete week)")
    digest.add_argument("--send", action="store_true",
                        help="also deliver through the configured Slack / e-mail channels (once per week and channel)")

    rules = commands.add_parser("rules", help="write Prometheus alert rules generated from the KPI catalog")
    rules.add_argument("--out", required=True, type=Path, help="rules file, e.g. dashboards/prometheus/aiops-rules.yml")
    rules.add_argument("--model", default="aiops", help="catalog to generate from (default aiops)")
    rules.add_argument("--grafana-url", default=None,
                       help="Grafana base URL for the alerts' dashboard links (default http://localhost:3000)")

    dashboards = commands.add_parser("dashboards", help="write the Grafana dashboards generated from the KPI catalog")
    dashboards.add_argument("--out", required=True, type=Path, help="directory, e.g. dashboards/grafana")
    dashboards.add_argument("--model", default="aiops", help="catalog to generate from (default aiops)")

    from monitor.commands.assess import add_arguments as add_assess_arguments

    add_assess_arguments(commands.add_parser("assess", help="self-assessment: answers file or interactive questionnaire"))
    return parser


def cmd_demo(args) -> int:
    from monitor.demo.run import run_demo

    return run_demo(args.port, args.duration, args.data_dir, args.rate, args.keep_history, args.digest_out)


def cmd_serve(args) -> int:
    from monitor.runtime.config import load_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    config = load_config(args.config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with RunningMonitor(Monitor(config)) as running:
        print(f"Status page: {running.url}/", flush=True)
        print(f"aiops-maturity serving on {running.url} (ingest /ingest/litellm, /metrics, /api/report)", flush=True)
        stop.wait()
    return 0


def cmd_collect(args) -> int:
    from monitor.runtime.config import load_config
    from monitor.render import print_report
    from monitor.runtime.service import Monitor

    monitor = Monitor(load_config(args.config))
    try:
        report = monitor.run_cycle()
        print_report(report, monitor.catalog, args.format)
    finally:
        monitor.close()
    return 0


def cmd_replay(args) -> int:
    from metrics.catalog import load_catalog
    from collectors.litellm.files import SUFFIXES
    from monitor.runtime.config import load_config
    from monitor.render import print_report
    from monitor.commands.replay import replay

    config = load_config(args.config)
    result = replay(args.paths, load_catalog(config.model), config.teams, workers=args.workers)
    rejected = result.files.rejected + result.items.rejected
    errors = result.files.errors + result.items.errors
    if result.files.items == 0 and not rejected:
        raise UsageError(f"no payloads found in {' '.join(args.paths)} (looked for {', '.join(SUFFIXES)}, "
                         "optionally .gz)")
    usable = result.items.accepted + result.items.duplicates + result.items.health_checks
    if usable == 0:
        raise UsageError(f"all {rejected} items rejected, nothing to replay; first: {errors[0]}")
    print_report(result.report, load_catalog(config.model), args.format)
    if rejected:
        print(f"warning: {rejected} items rejected, first: {errors[0]}", file=sys.stderr)
    return 0


def cmd_backfill(args) -> int:
    from collectors.litellm.files import ReadStats
    from collectors.litellm.parallel_files import iter_documents_parallel
    from collectors.litellm.processes import default_workers
    from monitor.runtime.config import load_config
    from collectors.litellm.push import too_old_hint
    from monitor.runtime.service import Monitor

    monitor = Monitor(load_config(args.config))
    stats, batch, total = ReadStats(), [], {"accepted": 0, "duplicates": 0, "rejected": 0, "too_old": 0}
    rejected_errors: list[str] = []
    try:
        def flush() -> None:
            outcome = monitor.push.ingest(batch, route="backfill")
            for key in total:
                total[key] += getattr(outcome, key)
            rejected_errors.extend(outcome.errors[:1])
            batch.clear()

        # Worker processes decode the files; the store's writes stay here, in file order.
        for _, payloads in iter_documents_parallel(args.paths, stats, args.workers or default_workers()):
            for item in payloads:
                batch.append(item)
                if len(batch) >= 1000:
                    flush()
                    print(f"\r{stats.items} payloads read…", end="", file=sys.stderr, flush=True)
        flush()
        monitor.store.rebuild_dirty()
    finally:
        monitor.close()
    if total["accepted"] == 0 and total["duplicates"] == 0:
        reasons = [too_old_hint(total["too_old"], monitor.config.store.raw_retention)] if total["too_old"] else []
        if stats.rejected or total["rejected"]:
            reasons.append(f"{stats.rejected + total['rejected']} rejected, first: {(stats.errors + rejected_errors)[0]}")
        raise UsageError("nothing loaded: " + ("; ".join(reasons) or f"no payloads in {' '.join(args.paths)}"))
    print(f"\rread {stats.items} payloads from {stats.files} files: " + ", ".join(f"{k} {v}" for k, v in total.items()))
    if total["too_old"]:
        print(f"warning: {too_old_hint(total['too_old'], monitor.config.store.raw_retention)}", file=sys.stderr)
    return 0


def cmd_rules(args) -> int:
    from monitor.generate.rules import DEFAULT_GRAFANA_URL, write_rules

    print(f"wrote {write_rules(args.out, args.model, args.grafana_url or DEFAULT_GRAFANA_URL)}")
    return 0


def cmd_dashboards(args) -> int:
    from monitor.generate.dashboards import write_dashboards

    for path in write_dashboards(args.out, args.model):
        print(f"wrote {path}")
    return 0


def cmd_digest(args) -> int:
    from monitor.runtime.config import load_config
    from monitor.digest.runner import digest_command
    from monitor.digest.week import parse_week

    if args.week is not None:
        parse_week(args.week)  # a bad --week fails before any work
    week, html, outcomes = digest_command(load_config(args.config), args.out, args.week, send=args.send)
    print(f"digest {week}: {html} (digest.md, digest.json and charts/ beside it)")
    for outcome in outcomes:
        print(f"  {outcome.channel}: {outcome.status} {outcome.detail}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def cmd_assess(args) -> int:
    from monitor.commands.assess import run

    return run(args)


COMMANDS = {"assess": cmd_assess, "digest": cmd_digest, "dashboards": cmd_dashboards, "rules": cmd_rules, "demo": cmd_demo, "serve": cmd_serve, "collect": cmd_collect, "replay": cmd_replay,
            "backfill": cmd_backfill}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except AiopsError as exc:  # the one root: a problem the user can fix, one line
        print(f"aiops-maturity: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
