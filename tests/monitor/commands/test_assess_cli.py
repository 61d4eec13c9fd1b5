"""`assess` as a command: JSON shape, crosswalk, one-line errors with exit code 2, and the
interactive questionnaire driven through a real pseudo-terminal (pexpect)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from monitor.commands.cli import main as cli_main


def main(argv: list[str]) -> int:
    return cli_main(["assess", *argv])


ROOT = Path(__file__).resolve().parents[3]
AIOPS = "model: aiops\nanswers: {q1: 2, q2: 2, q3: 3, q4: 1, q5: 0, q6: 3, q7: 2, q8: 2, q9: 3, q10: 2, q11: 2, q12: 1}\n"
SELFHOSTED = ("model: selfhosted\n"
              "stages: {infrastructure: 2, data: 1, security: 2, developer: 2, operations: 1, governance: 2}\n")
COMMAND = [str(Path(sys.executable).parent / "aiops-maturity"), "assess"]


@pytest.fixture
def aiops_file(tmp_path: Path) -> Path:
    path = tmp_path / "aiops.yaml"
    path.write_text(AIOPS)
    return path


def run_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_json_one_model(capsys, aiops_file):
    doc = run_json(capsys, "--answers", str(aiops_file), "--model", "aiops", "--format", "json")
    assert (doc["model"], doc["level"], doc["score"], doc["total"]) == ("aiops", 2, 2.2, 23)
    assert doc["kpis"] == {} and doc["teams"] == {}
    assert doc["dimensions"]["cost"] == 2.5
    assert doc["answers"]["q1"]["claim"] == 2 and doc["capped"] == []


def test_json_crosswalk_without_model(capsys, aiops_file):
    doc = run_json(capsys, "--answers", str(aiops_file), "--format", "json")
    assert list(doc["models"]) == ["aiops", "selfhosted", "platform", "enterprise", "stages"]
    assert doc["model"] == "aiops" and doc["level"] == doc["models"]["aiops"]["level"]
    for name, result in doc["models"].items():
        assert {"model", "level", "score", "kpis", "teams", "dimensions"} <= set(result), name


def test_json_selfhosted_worked_example(capsys, tmp_path):
    path = tmp_path / "sh.yaml"
    path.write_text(SELFHOSTED)
    doc = run_json(capsys, "--answers", str(path), "--format", "json", "--model", "selfhosted")
    assert (doc["percentage"], doc["stage"], doc["level"]) == (23.0, 2, 2)
    assert list(run_json(capsys, "--answers", str(path), "--format", "json")["models"]) == ["selfhosted"]


def test_evidence_caps_through_the_command(capsys, aiops_file, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"model": "aiops", "kpis": {
        "trace_coverage": {"value": 0.9, "status": "unmet", "level": 3, "target": 0.95, "samples": 300, "min_samples": 20}},
        "signals": {"fallback_requests": 10, "fallback_successes": 4}}))
    doc = run_json(capsys, "--answers", str(aiops_file), "--model", "aiops", "--format", "json", "--evidence", str(report))
    assert doc["capped"] == ["q2", "q3"]
    assert doc["answers"]["q3"]["evidence"] == 2 and doc["answers"]["q2"]["scored"] == 1
    assert doc["total"] == 21 and doc["level"] == 2 and doc["claimed"]["total"] == 23
    assert doc["kpis"]["trace_coverage"]["status"] == "unmet"


def test_table_output(capsys, aiops_file):
    assert main(["--answers", str(aiops_file)]) == 0
    out = capsys.readouterr().out
    assert "Maturity models side by side" in out and "Organized" in out and "Stage 2" in out


@pytest.mark.parametrize(("text", "argv", "message"), [
    (AIOPS.replace("q9: 3", "q9: 9"), [], "answers.q9: 9 is out of range 0-5"),
    (AIOPS.replace("q4: 1, ", ""), [], "answers.q4: missing"),
    (AIOPS.replace("q1: 2", "q1: 2, qq: 1"), [], "answers.qq: unknown key"),
    (SELFHOSTED, ["--model", "aiops"], "--model: aiops cannot be computed from a selfhosted answers file"),
    (AIOPS, ["--out", "x.yaml"], "--out: only used with --interactive"),
    (AIOPS, ["--evidence", "/nonexistent/report.json"], "--evidence: cannot read"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, text, argv, message):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    proc = subprocess.run([*COMMAND, "--answers", str(path), *argv], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("aiops-maturity: error: ") and message in lines[0]


def test_usage_errors(capsys, tmp_path):
    assert main([]) == 2
    assert "--answers: required" in capsys.readouterr().err
    assert main(["--interactive"]) == 2
    assert "--out: required with --interactive" in capsys.readouterr().err


def _interactive(tmp_path: Path, out: Path, answers: list[int], *extra: str, wrong_first: bool = False) -> str:
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "--interactive", "--out", str(out), *extra], cwd=str(tmp_path),
                          encoding="utf-8", timeout=60, dimensions=(50, 200))
    try:
        for number, value in enumerate(answers, start=1):
            child.expect(rf"\n{number}/{len(answers)}  ")
            child.expect(r"\[(\d)-(\d)\]: ")
            if wrong_first and number == 1:
                child.sendline("9")
                child.expect("please answer")
                child.expect(r"\[\d-\d\]: ")
            child.sendline(str(value))
        child.expect(pexpect.EOF)
        output = child.before
    finally:
        child.close()
    assert child.exitstatus == 0, output
    return output


def test_interactive_aiops_in_a_pty_writes_the_same_file_as_the_flags(tmp_path, aiops_file, capsys):
    out = tmp_path / "written.yaml"
    output = _interactive(tmp_path, out, [2, 2, 3, 1, 0, 3, 2, 2, 3, 2, 2, 1], "--format", "json", wrong_first=True)
    assert out.read_text() == AIOPS
    assert f"wrote {out}" in output
    printed = json.loads(output[output.index("{"):])
    assert printed == run_json(capsys, "--answers", str(aiops_file), "--format", "json")


def test_interactive_shows_the_seed_answer_texts(tmp_path):
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "--interactive", "--out", str(tmp_path / "a.yaml")],
                          cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(50, 200))
    try:
        child.expect(r"q1 \[0-5\]: ")
        shown = child.before
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert "How do applications reach AI services?" in shown
    assert "(0) Direct calls to provider APIs" in shown and "(2) A central gateway" in shown
    assert child.exitstatus == 2
    assert not (tmp_path / "a.yaml").exists()


def test_interactive_selfhosted_in_a_pty(tmp_path, capsys):
    out = tmp_path / "sh.yaml"
    _interactive(tmp_path, out, [2, 1, 2, 2, 1, 2], "--model", "selfhosted")
    assert out.read_text() == SELFHOSTED
    doc = run_json(capsys, "--answers", str(out), "--format", "json", "--model", "selfhosted")
    assert (doc["percentage"], doc["stage"]) == (23.0, 2)
