"""Closed by default: one token protects every receiving route unless a route has its own; an open
route refuses to start beyond loopback unless the config allows it; /api/report takes a read token.
Every route is tried with every bad credential (the auth matrix)."""
from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from monitor.runtime.server import ServerStartError, check_routes_closed, open_routes
from monitor.runtime.service import Monitor
from tests.payloads import payload

SHARED = "shared-token-3b9f"
OWN = "alertmanager-own-token-77aa"
READ = "read-token-c0de"
NOW = 1_800_000_600.0
ALERT = {"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "g", "truncatedAlerts": 0,
         "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
         "alerts": [{"status": "firing", "labels": {"alertname": "X", "team": "search"}, "annotations": {},
                     "startsAt": "2027-01-15T08:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "", "fingerprint": "f1"}]}
BODIES = {
    "/ingest/litellm": ("application/json", json.dumps([payload("auth-1", start=NOW - 60)]).encode()),
    "/v1/traces": ("application/x-protobuf", b""),
    "/v1/logs": ("application/x-protobuf", b""),
    "/webhooks/alertmanager": ("application/json", json.dumps(ALERT).encode()),
    "/webhooks/deployments": ("application/json", json.dumps({"kind": "prompt", "name": "p", "version": "1"}).encode()),
}
ROUTE_TOKEN = {"/ingest/litellm": SHARED, "/v1/traces": SHARED, "/v1/logs": SHARED, "/webhooks/alertmanager": OWN,
               "/webhooks/deployments": SHARED}


def bad_credentials(token: str) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "wrong token": {"Authorization": "Bearer wrong-token"},
        "empty bearer": {"Authorization": "Bearer "},
        "token prefix": {"Authorization": f"Bearer {token[:-1]}"},
        "token plus suffix": {"Authorization": f"Bearer {token}x"},
        "basic scheme": {"Authorization": f"Basic {token}"},
        "no scheme": {"Authorization": token},
        "token in another header": {"X-Api-Key": token},
        "another route's token": {"Authorization": f"Bearer {OWN if token == SHARED else SHARED}"},
    }


@pytest.fixture
def monitor(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h",
                           "sources": {"otlp": {}, "alertmanager": {}, "deployments": {}}},
                          environ={"AIOPS_INGEST_TOKEN": SHARED, "AIOPS_READ_TOKEN": READ})
    m = Monitor(config, clock=lambda: NOW, environ={"AIOPS_ALERTMANAGER_TOKEN": OWN})
    yield m
    m.close()


@pytest.mark.parametrize("path", list(BODIES))
def test_every_route_refuses_every_bad_credential(monitor, path, caplog):
    caplog.set_level(logging.DEBUG)
    client = TestClient(create_app(monitor))
    media, body = BODIES[path]
    for name, headers in bad_credentials(ROUTE_TOKEN[path]).items():
        response = client.post(path, content=body, headers={"Content-Type": media, **headers})
        assert response.status_code == 401, (path, name, response.status_code)
    with monitor.store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM requests").scalar_one() == 0
    good = client.post(path, content=body, headers={"Content-Type": media,
                                                    "Authorization": f"bearer {ROUTE_TOKEN[path]}"})
    assert good.status_code == 200, (path, good.text)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(token in logged for token in (SHARED, OWN, READ)), "a token reached the log"


@pytest.mark.parametrize("path", ["/api/report", "/metrics"])
def test_reading_routes_need_the_read_token(monitor, path):
    monitor.run_cycle()
    client = TestClient(create_app(monitor))
    for name, headers in bad_credentials(READ).items():
        assert client.get(path, headers=headers).status_code == 401, name
    assert client.get(path, headers={"Authorization": f"Bearer {READ}"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes need no token


def test_one_token_closes_every_route(monitor):
    assert open_routes(monitor) == []


def _open_monitor(tmp_path, **server):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'o.db'}"}, "server": server,
                           "sources": {"otlp": {}, "alertmanager": {}}}, environ={})
    return Monitor(config, clock=lambda: NOW, environ={})


def test_open_routes_refuse_to_start_beyond_loopback(tmp_path):
    monitor = _open_monitor(tmp_path)
    try:
        check_routes_closed(monitor, "127.0.0.1")  # loopback: local use, no token needed
        with pytest.raises(ServerStartError) as info:
            check_routes_closed(monitor, "0.0.0.0")
    finally:
        monitor.close()
    message = str(info.value)
    assert ("/ingest/litellm, /v1/traces, /v1/logs, /webhooks/alertmanager would accept posts without a token on "
            "0.0.0.0") in message
    assert "AIOPS_INGEST_TOKEN" in message and "server.allow_unauthenticated" in message


def test_allowed_open_routes_start_with_a_warning(tmp_path, caplog):
    monitor = _open_monitor(tmp_path, allow_unauthenticated=["ingest", "otlp", "alertmanager"])
    try:
        with caplog.at_level(logging.WARNING, logger="aiops_maturity"):
            check_routes_closed(monitor, "0.0.0.0")
    finally:
        monitor.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("accepts posts without a token on 0.0.0.0" in w for w in warnings)


def test_an_unknown_route_name_in_the_allow_list_fails_loudly(tmp_path):
    monitor = _open_monitor(tmp_path, allow_unauthenticated=["ingest", "otpl"])
    try:
        with pytest.raises(ServerStartError, match="unknown route name"):
            check_routes_closed(monitor, "127.0.0.1")
    finally:
        monitor.close()


def test_tokens_are_refused_in_the_file():
    from monitor.runtime.config import ConfigError

    for key in ("ingest_token", "read_token"):
        with pytest.raises(ConfigError, match=f"server.{key}: set it through AIOPS_"):
            build_config({"server": {key: "secret-in-file"}}, environ={})
