"""docs/grafana-dashboard.json queries only series that /metrics exports."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
_SERIES = re.compile(r"\b((?:korai|django)_[a-z_]+)")
_SUFFIX = re.compile(r"_(?:total|bucket|count|sum)$")


@pytest.mark.django_db
def test_every_series_on_the_dashboard_is_exported(client):
    client.get("/healthz/")  # so the per-view HTTP series have samples
    exported = {
        family.name
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
    }
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        _SUFFIX.sub("", name)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in _SERIES.findall(target["expr"])
    }
    assert len(queried) >= 10
    assert queried - exported == set()
