"""Incident assembly: overlap merging, reopen, idempotence and order independence (hypothesis)."""
import random

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from tests.collectors.incidents.alert_payloads import T0, alert, notification
from collectors.incidents.book import incident_signals, incidents_of
from collectors.incidents.store import IncidentStore
from collectors.incidents.webhook import Occurrence, WebhookError, parse_notification
from monitor.storage.database import open_database
from tests.kpi_support import kpi


def occ(fp, start, end=None, group="g", auto=False):
    return Occurrence(fp, float(start), group, {"alertname": fp}, {}, None if end is None else float(end), auto)


def spans(incidents):
    return sorted((i.group_key, i.opened_at, i.resolved_at, len(i.occurrences)) for i in incidents)


def test_overlapping_alerts_of_a_group_are_one_incident():
    got = incidents_of([occ("a", 0, 100), occ("b", 50, 300), occ("c", 400, 500)])
    assert spans(got) == [("g", 0, 300, 2), ("g", 400, 500, 1)]


def test_other_groups_never_merge():
    got = incidents_of([occ("a", 0, 100, group="g1"), occ("b", 50, 300, group="g2")])
    assert spans(got) == [("g1", 0, 100, 1), ("g2", 50, 300, 1)]


def test_refire_after_resolve_reopens_within_the_window():
    got = incidents_of([occ("a", 0, 100), occ("a", 1000, 1200)], reopen_window=3600)
    assert spans(got) == [("g", 0, 1200, 2)] and got[0].reopened == 1
    got = incidents_of([occ("a", 0, 100), occ("a", 5000, 5100)], reopen_window=3600)
    assert len(got) == 2


def test_reopen_absorbs_incidents_in_between():
    got = incidents_of([occ("a", 0, 100), occ("b", 200, 300), occ("a", 400, None)], reopen_window=3600)
    assert spans(got) == [("g", 0, None, 3)]


def test_open_incident_and_auto_mark():
    (i,) = incidents_of([occ("a", 0, 100, auto=True), occ("b", 50, None, auto=True)])
    assert i.open and i.autonomous
    (i,) = incidents_of([occ("a", 0, 100, auto=True), occ("b", 50, 120, auto=False)])
    assert not i.autonomous


def test_signals_count_only_incidents_closed_in_the_window():
    incidents = incidents_of([occ("a", 0, 100), occ("b", 1000, 1300, group="h"), occ("c", 2000, None, group="k")])
    signals = incident_signals(incidents, start=500, end=5000, now=2600, team_label=None)["all"]
    assert kpi(signals, "mttr_seconds")[0] == 300 and kpi(signals, "mttr_seconds")[1] == 1
    assert signals["open_incident_age"].value == 600 and signals["open_incident_age"].samples == 1


# ---------------------------------------------------------------------------- properties
@st.composite
def histories(draw):
    """Notifications as Alertmanager could deliver them: each alert occurrence fires, maybe resolves."""
    fps = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
    occurrences = []
    for fp in fps:
        t = 0
        for _ in range(draw(st.integers(1, 3))):
            t += draw(st.integers(0, 5000))
            length = draw(st.one_of(st.none(), st.integers(0, 4000)))
            group = draw(st.sampled_from(["g1", "g2"]))
            occurrences.append(occ(fp, t, None if length is None else t + length, group, draw(st.booleans())))
            t += (length or 0) + 1
            if length is None:
                break
    deliveries = []
    for o in occurrences:
        firing = Occurrence(o.fingerprint, o.starts_at, o.group_key, o.labels, {}, None, o.auto)
        deliveries += [firing] * draw(st.integers(1, 2))
        if o.ends_at is not None:
            deliveries += [o] * draw(st.integers(1, 2))
    return occurrences, deliveries, draw(st.randoms(use_true_random=False))


def _store(tmp_path_factory):
    return IncidentStore(open_database(f"sqlite:///{tmp_path_factory.mktemp('p') / 'h.db'}"), reopen_window=3600)


@settings(max_examples=60, deadline=None)
@given(histories())
def test_store_is_order_independent_and_idempotent(tmp_path_factory, history):
    occurrences, deliveries, rnd = history
    first, second = _store(tmp_path_factory), _store(tmp_path_factory)
    for d in deliveries:
        first.record([d], 0)
    shuffled = list(deliveries)
    rnd.shuffle(shuffled)
    for d in shuffled + shuffled[: len(shuffled) // 2]:  # another order, with repeats
        second.record([d], 0)
    a, b = spans(first.incidents(-1e9)), spans(second.incidents(-1e9))
    assert a == b == spans(incidents_of(occurrences))
    first.engine.dispose(), second.engine.dispose()


@settings(max_examples=200, deadline=None)
@given(histories())
def test_incidents_partition_the_alerts_without_overlap(history):
    occurrences, _deliveries, _ = history
    incidents = incidents_of(occurrences, reopen_window=3600)
    assert sum(len(i.occurrences) for i in incidents) == len(occurrences)
    for i in incidents:
        assert i.opened_at == min(o.starts_at for o in i.occurrences)
        ends = [o.ends_at for o in i.occurrences]
        assert i.resolved_at == (None if None in ends else max(ends))
        assert i.open == any(o.ends_at is None for o in i.occurrences)
        assert i.autonomous == all(o.auto for o in i.occurrences)
    by_group = {}
    for i in incidents:
        by_group.setdefault(i.group_key, []).append(i)
    for group in by_group.values():
        group.sort(key=lambda i: i.opened_at)
        for before, after in zip(group, group[1:]):
            assert before.resolved_at is not None and before.resolved_at < after.opened_at
    # overlapping occurrences of one group always share an incident
    where = {(o.fingerprint, o.starts_at): n for n, i in enumerate(incidents) for o in i.occurrences}
    for x in occurrences:
        for y in occurrences:
            if x.group_key == y.group_key and x.starts_at <= (y.ends_at if y.ends_at is not None else 1e18) \
                    and y.starts_at <= (x.ends_at if x.ends_at is not None else 1e18):
                assert where[x.key] == where[y.key]


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), json_values.map(orjson.dumps),
                 st.dictionaries(st.sampled_from(["version", "groupKey", "status", "alerts", "receiver"]), json_values)
                 .map(lambda d: orjson.dumps({"version": "4", **d}))))
def test_parsing_arbitrary_input_only_raises_webhook_error(body):
    try:
        _receiver, occurrences = parse_notification(body)
    except WebhookError as exc:
        assert exc.reason in {"bad_json", "bad_payload", "unsupported_version"}
    else:
        assert all(o.ends_at is None or o.ends_at >= o.starts_at for o in occurrences)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 10_000), st.one_of(st.none(), st.integers(0, 5000)),
                          st.dictionaries(st.sampled_from(["team", "severity"]), st.text(min_size=1, max_size=8))),
                min_size=1, max_size=5))
def test_valid_notifications_round_trip(items):
    alerts = [alert(name, T0 + start, None if length is None else T0 + start + length, **labels)
              for name, start, length, labels in items]
    _receiver, occurrences = parse_notification(orjson.dumps(notification(*alerts)))
    assert [(o.fingerprint, o.starts_at, o.ends_at) for o in occurrences] == [
        (a["fingerprint"], pytest.approx(T0 + s), None if l is None else pytest.approx(T0 + s + l))
        for a, (_n, s, l, _lab) in zip(alerts, items)]


near_valid_alerts = st.fixed_dictionaries({
    "status": st.sampled_from(["firing", "resolved", "pending", "", None]),
    "labels": st.one_of(st.dictionaries(st.sampled_from(["alertname", "team"]), st.text(max_size=5), max_size=2),
                        st.just({"alertname": 3})),
    "startsAt": st.sampled_from(["2027-01-15T08:00:00Z", "2027-01-15T08:00:00.123456789+02:00", "0001-01-01T00:00:00Z",
                                 "2027-01-15T08:00:00", "yesterday", "", None]),
    "endsAt": st.sampled_from(["2027-01-15T09:00:00Z", "2027-01-15T07:00:00Z", "0001-01-01T00:00:00Z", "later", None]),
    "fingerprint": st.sampled_from(["abc123", "", None, "f" * 200]),
})


@settings(max_examples=300, deadline=None)
@given(st.lists(near_valid_alerts, max_size=3), st.sampled_from(["4", "3", 4, None]))
def test_near_valid_notifications_parse_or_are_refused_cleanly(alerts, version):
    body = orjson.dumps({"version": version, "groupKey": "{}:{}", "status": "firing", "alerts": alerts})
    try:
        _receiver, occurrences = parse_notification(body, auto_mark="auto_resolved")
    except WebhookError as exc:
        assert exc.reason in {"bad_payload", "unsupported_version"}
    else:
        assert version == "4" and len(occurrences) == len(alerts)
        for o in occurrences:
            assert o.starts_at is not None and (o.ends_at is None or o.ends_at >= o.starts_at)
