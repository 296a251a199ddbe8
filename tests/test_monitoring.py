"""The operators' monitoring as shipped in `deploy/`: the alert rules pass promtool (syntax and
their unit tests), every metric a Grafana panel or a rule reads is exported by some service, and
a real Prometheus scraping the live stack fires an alert and resolves it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import yaml

from tests.support.net import wait_until
from tests.support.prometheus import Prometheus, binary, exported_names, metric_names

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))


def rule_exprs() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def panel_exprs() -> dict[str, str]:
    found = {}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found[f"{board['uid']} / {panel['title']} / {target['refId']}"] = target["expr"]
    return found


def test_alert_rules_pass_promtool_checks_and_their_unit_tests():
    checked = subprocess.run(
        [binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [binary("promtool"), "test", "rules", "alerts.test.yml"],
        cwd=RULES.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # every rule has a unit test
    tests = yaml.safe_load((RULES.parent / "alerts.test.yml").read_text())["tests"]
    covered = {t["alertname"] for case in tests for t in case["alert_rule_test"]}
    assert covered == set(rule_exprs())


def test_dashboards_are_provisioned_from_valid_files():
    assert {p.stem for p in DASHBOARDS} == {
        "crm-services", "crm-bus", "crm-projection", "crm-notifications", "crm-business",
    }  # fmt: skip
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] == path.stem and board["panels"]
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "crm-prometheus", (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert [d["uid"] for d in source["datasources"]] == ["crm-prometheus"]


def test_metric_name_extraction_sees_only_metrics():
    expr = 'sum by (instance, route) (rate(crm_http_requests_total{status=~"5.."}[5m])) > 0.01'
    assert metric_names(expr) == {"crm_http_requests_total"}
    assert metric_names("crm_a > 0 and increase(crm_b[5m]) == 0") == {"crm_a", "crm_b"}
    assert metric_names('up{job="crm"} == 0') == {"up"}


def test_live_prometheus_scrapes_every_metric_the_panels_and_rules_read_and_fires_an_alert(
    stack, tmp_path
):
    exported = {"up"}  # Prometheus's own series for each target
    for service in stack.values():
        exported |= exported_names(httpx.get(f"{service.url}/metrics").text)
    used = {**{f"rule {k}": v for k, v in rule_exprs().items()}, **panel_exprs()}
    missing = {where: sorted(metric_names(e) - exported) for where, e in used.items()}
    assert {where: names for where, names in missing.items() if names} == {}

    targets = [service.url.removeprefix("http://") for service in stack.values()]
    prometheus = Prometheus(targets, tmp_path / "prometheus").start()
    try:

        def all_up() -> bool:
            result = prometheus.api("query", query='up{job="crm"}')
            return len(result["result"]) == 4 and all(
                r["value"][1] == "1" for r in result["result"]
            )

        wait_until(all_up, timeout=30, interval=0.5, what="all four services scraped")
        assert prometheus.alerts() == []
        # every panel and rule expression is valid PromQL for this Prometheus
        for where, expr in used.items():
            body = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expr}).json()
            assert body["status"] == "success", (where, body)

        # A service that stops answering its scrapes: CrmServiceDown fires, then resolves.
        notification = stack["notification"]
        notification_target = notification.url.removeprefix("http://")
        os.kill(notification.process.pid, signal.SIGSTOP)
        try:

            def down_alert() -> list:
                return [a for a in prometheus.alerts()
                        if a["labels"]["alertname"] == "CrmServiceDown"
                        and a["labels"]["instance"] == notification_target]  # fmt: skip

            wait_until(down_alert, timeout=30, interval=0.5, what="CrmServiceDown firing")
        finally:
            os.kill(notification.process.pid, signal.SIGCONT)
        wait_until(lambda: not down_alert(), timeout=30, interval=0.5, what="alert resolved")
        assert all_up()
    finally:
        prometheus.stop()
