"""The model mix as Prometheus series: requests and spend per model group and dashboard period,
with the label bounded (the `TOP_GROUPS` busiest groups of the 24 hours by name, the rest as
`other`; all `other` when the 24 hours had none), built at collection time and served as they
are at scrape time."""
from __future__ import annotations

from signals.labels import BoundedGaugeMetricFamily as GaugeMetricFamily  # model groups come from outside

from collectors.litellm.model_mix import GroupTotals

TOP_GROUPS = 8
OTHER = "other"


class ModelMixExport:
    def __init__(self) -> None:
        self._families: list = []

    def publish(self, periods: dict[str, dict[str, GroupTotals]]) -> None:
        """This cycle's model totals per period -> the families served until the next cycle."""
        busiest = periods.get("24h") or {}
        top = {g for g, _ in sorted(busiest.items(), key=lambda kv: (-kv[1].requests, kv[0]))[:TOP_GROUPS]}
        requests = GaugeMetricFamily("aiops_gateway_model_requests",
                                     "Requests per model group (the group that answered) and dashboard period.",
                                     labels=["model_group", "period"])
        cost = GaugeMetricFamily("aiops_gateway_model_cost_usd", "Spend in USD per model group and dashboard period.",
                                 labels=["model_group", "period"])
        for name, groups in sorted(periods.items()):
            folded: dict[str, GroupTotals] = {}
            for group, totals in groups.items():
                folded.setdefault(group if group in top else OTHER, GroupTotals()).add(totals)
            for group, totals in sorted(folded.items()):
                requests.add_metric([group, name], totals.requests)
                cost.add_metric([group, name], totals.cost_usd)
        self._families = [requests, cost]

    def families(self) -> list:
        return list(self._families)
