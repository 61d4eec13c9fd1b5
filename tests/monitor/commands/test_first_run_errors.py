"""What a new user meets first, run as the user runs it (the console script): each mistake is one
line on stderr that names the cause and the fix, exit code 2, never a traceback."""
from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.commands.cli import build_parser
from tests.recorded import LITELLM_SAMPLES

SCRIPT = Path(sys.executable).parent / "aiops-maturity"
ANSWERS_OK = "model: aiops\nanswers: {q1: 2, q2: 2, q3: 2, q4: 2, q5: 2, q6: 2, q7: 2, q8: 2, q9: 2, q10: 2, q11: 2, q12: 2}\n"


def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def one_line_exit_2(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_port_in_use_for_serve_names_the_port_and_the_setting(tmp_path, taken_port):
    config = tmp_path / "monitor.yaml"
    config.write_text(f"server: {{port: {taken_port}}}\nstore: {{url: 'sqlite:///{tmp_path / 'h.db'}'}}\n")
    line = one_line_exit_2(run("serve", "--config", str(config)))
    assert f"port {taken_port} on 127.0.0.1 is already in use" in line and "server.port" in line


def test_port_in_use_for_demo_names_the_flag(tmp_path, taken_port):
    line = one_line_exit_2(run("demo", "--port", str(taken_port), "--duration", "1",
                               "--data-dir", str(tmp_path / "demo"), timeout=120))
    assert f"port {taken_port} on 127.0.0.1 is already in use" in line and "--port N" in line


def test_a_host_that_is_not_an_address(tmp_path):
    config = tmp_path / "monitor.yaml"
    config.write_text(f"server: {{host: 'not an address!', port: 0}}\nstore: {{url: 'sqlite:///{tmp_path / 'h.db'}'}}\n")
    line = one_line_exit_2(run("serve", "--config", str(config)))
    assert "server.host 'not an address!'" in line and "AIOPS_HOST" in line


def test_a_directory_given_as_config(tmp_path):
    line = one_line_exit_2(run("collect", "--config", str(tmp_path), "--once"))
    assert f"{tmp_path}: is a directory" in line


def test_yaml_errors_give_line_and_column(tmp_path):
    config = tmp_path / "monitor.yaml"
    config.write_text("teams:\n  top_n: 5\n  allow: [search, billing\nstore: {}\n")
    line = one_line_exit_2(run("collect", "--config", str(config), "--once"))
    assert line.startswith(f"aiops-maturity: error: {config}:4:") and "not valid YAML" in line


def test_too_old_payloads_say_which_setting_to_raise(tmp_path):
    config = tmp_path / "monitor.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'h.db'}'}}\n")
    recorded = LITELLM_SAMPLES / "callback_run_payloads.jsonl"  # recorded in 2025: far older than 2 days
    result = run("backfill", str(recorded), "--config", str(config))
    line = one_line_exit_2(result)
    assert re.search(r"nothing loaded: \d+ older than store.raw_retention \(2d\); raise it to backfill older data$", line), line


def test_ingest_answer_carries_the_too_old_hint(tmp_path):
    from monitor.runtime.config import build_config
    from monitor.runtime.service import Monitor

    items = [json.loads(line) for line in
             (LITELLM_SAMPLES / "callback_run_payloads.jsonl").read_text().splitlines() if line.strip()]
    monitor = Monitor(build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}}, environ={}),
                      clock=lambda: 1_900_000_000.0)
    try:
        outcome = monitor.push.ingest(items)
    finally:
        monitor.close()
    assert outcome.accepted == 0 and outcome.too_old > 50
    assert outcome.as_dict()["hint"] == f"{outcome.too_old} older than store.raw_retention (2d); raise it to backfill older data"


def test_replay_with_every_item_rejected_names_the_file(tmp_path):
    folder = tmp_path / "bucket" / "2026" / "11"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps([{"id": 1}, {"id": 2}]))
    line = one_line_exit_2(run("replay", str(tmp_path / "bucket")))
    assert "all 2 items rejected" in line and str(folder / "a.json") in line


def test_assess_reports_every_bad_answer_at_once(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS_OK.replace("q3: 2", "q3: 9").replace("q7: 2", "q7: x").replace("q12: 2", "q13: 1"))
    line = one_line_exit_2(run("assess", "--answers", str(answers)))
    for needle in ("answers.q3: 9 is out of range", "answers.q7: expected a whole number", "answers.q13: unknown key",
                   "answers.q12: missing"):
        assert needle in line, line
    assert "4 bad answers" in line


def test_version():
    from importlib.metadata import version

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"aiops-maturity {version('aiops-maturity')}"


def _all_actions(parser: argparse.ArgumentParser, path: str = "aiops-maturity"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_actions(sub, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action


def test_every_option_has_help_text():
    missing = [f"{path} {'/'.join(action.option_strings) or action.dest}"
               for path, action in _all_actions(build_parser()) if not action.help]
    assert not missing, f"options without help: {missing}"
