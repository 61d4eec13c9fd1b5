"""One error root: every error a user can fix is an AiopsError, and the CLI catches only that."""
from __future__ import annotations

import inspect

import pytest

from signals.errors import AiopsError


def user_facing_errors() -> list[type]:
    from collectors.litellm.files import PayloadFileError
    from metrics.assessment import AssessmentError
    from metrics.catalog import CatalogError
    from monitor.commands.cli import UsageError
    from monitor.digest.delivery import DeliveryConfigError
    from monitor.digest.week import WeekError
    from monitor.runtime.config import ConfigError
    from monitor.runtime.server import ServerStartError
    from monitor.storage.database import StoreError
    from monitor.storage.migrations import SchemaError
    from signals.plugins import PluginError
    from signals.source import SourceConfigError

    return [PayloadFileError, AssessmentError, CatalogError, UsageError, DeliveryConfigError, WeekError, ConfigError,
            ServerStartError, StoreError, SchemaError, PluginError, SourceConfigError]


@pytest.mark.parametrize("error", user_facing_errors(), ids=lambda e: e.__name__)
def test_user_facing_errors_share_the_root(error):
    assert issubclass(error, AiopsError)


def test_the_cli_catches_the_root_once():
    from monitor.commands import cli

    source = inspect.getsource(cli.main)
    assert "except AiopsError" in source and source.count("except ") == 2  # the root, and Ctrl-C


def test_any_aiops_error_is_one_line_and_exit_2(monkeypatch, capsys):
    from monitor.commands import cli

    def failing(_args):
        raise AiopsError("sources.nope: something the user can fix")

    monkeypatch.setitem(cli.COMMANDS, "rules", failing)
    assert cli.main(["rules", "--out", "x.yml"]) == 2
    assert capsys.readouterr().err == "aiops-maturity: error: sources.nope: something the user can fix\n"
