#!/usr/bin/env bash
# Build every Tandem kustomization and check the rules the manifests promise.
#
#   deploy/k8s/check.sh            # from anywhere in the repository
#
# - Uses `kustomize` from $KUSTOMIZE, then PATH, then $HOME/.cache/tandem/bin;
#   if none is found, installs it there with `go install` (Go module proxy).
# - Builds base, overlays/dev, overlays/prod and prod + gpu-answering in a
#   temporary copy where each overlay's secrets.env is the committed
#   secrets.env.example, so it needs no real secrets and never prints any.
# - With a Python that has PyYAML: checks that every Deployment is hardened and
#   probed, that the KafkaTopics match libs/events (topics.py), and that no
#   autoscaler may run more consumer-group members than partitions.
# - With kubeconform on PATH: validates the built objects' schemas.
# Exits non-zero on the first failure.
set -euo pipefail

# v5.8.3 needs Go >= 1.27; v5.8.2 builds with the Go toolchains we use.
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

find_kustomize() {
  if [[ -n "${KUSTOMIZE:-}" ]]; then echo "$KUSTOMIZE"; return; fi
  if command -v kustomize >/dev/null 2>&1; then command -v kustomize; return; fi
  local cached="$HOME/.cache/tandem/bin/kustomize"
  if [[ -x "$cached" ]]; then echo "$cached"; return; fi
  if ! command -v go >/dev/null 2>&1; then
    echo "check.sh: kustomize not found and Go is not installed to build it" >&2
    exit 1
  fi
  echo "check.sh: installing kustomize $KUSTOMIZE_VERSION into $HOME/.cache/tandem/bin" >&2
  mkdir -p "$HOME/.cache/tandem/bin"
  GOBIN="$HOME/.cache/tandem/bin" GOFLAGS=-mod=mod \
    go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
  echo "$cached"
}

kustomize_bin="$(find_kustomize)"
echo "kustomize: $kustomize_bin ($("$kustomize_bin" version))"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Copy without any real secrets.env, then seed each from its example.
tar -C "$here" --exclude='secrets.env' -cf - . | tar -C "$work" -xf -
for example in "$work"/overlays/*/secrets.env.example; do
  cp "$example" "${example%.example}"
done
# A throwaway overlay so the optional gpu-answering component is built too.
mkdir -p "$work/overlays/.prod-gpu"
cat >"$work/overlays/.prod-gpu/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../prod
components:
  - ../../components/gpu-answering
EOF

mkdir -p "$work/out"
status=0
for target in base overlays/dev overlays/prod overlays/.prod-gpu; do
  out="$work/out/${target////-}.yaml"
  printf 'build %-22s ' "$target"
  if "$kustomize_bin" build "$work/$target" >"$out" 2>"$out.err"; then
    echo "ok ($(grep -c '^kind:' "$out") objects)"
  else
    echo "FAILED"
    sed 's/^/  /' "$out.err" >&2
    status=1
  fi
done
[[ $status -eq 0 ]] || exit $status

# Any Python with PyYAML: $PYTHON, the workspace's venv, then python3.
py=""
for candidate in "${PYTHON:-}" "$root/.venv/bin/python" python3; do
  if [[ -n "$candidate" ]] && "$candidate" -c 'import yaml' 2>/dev/null; then
    py="$candidate"
    break
  fi
done
if [[ -n "$py" ]]; then
  echo "policy checks ($py + PyYAML)"
  "$py" - "$work/out" "$root/libs/events/src/tandem_events/topics.py" <<'PY'
import importlib.util
import pathlib
import sys

import yaml

out_dir, topics_py = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
failures = []


def fail(where, why):
    failures.append(f"{where}: {why}")


# The event contract's topic table, if this checkout has it.
contract = None
if topics_py.is_file():
    spec = importlib.util.spec_from_file_location("tandem_topics", topics_py)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tandem_topics"] = module
    spec.loader.exec_module(module)
    contract = {t.name: (t.partitions, t.retention_ms) for t in module.ALL_TOPICS}

for path in sorted(out_dir.glob("*.yaml")):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    build = path.stem
    topics = {
        d["spec"].get("topicName", d["metadata"]["name"]): (
            d["spec"]["partitions"],
            d["spec"].get("config", {}).get("retention.ms"),
        )
        for d in docs
        if d["kind"] == "KafkaTopic"
    }
    partitions = {name: p for name, (p, _) in topics.items()}
    if topics and contract is not None:
        for topic in sorted(set(topics) | set(contract)):
            got, want = topics.get(topic), contract.get(topic)
            if got != want:
                fail(f"{build}: KafkaTopic {topic}",
                     f"(partitions, retention.ms) is {got}, topics.py says {want}")
    config = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        where = f"{build}: {kind}/{name}"
        if kind == "Deployment":
            pod = d["spec"]["template"]["spec"]
            psc = pod.get("securityContext", {})
            if psc.get("runAsNonRoot") is not True:
                fail(where, "pod securityContext.runAsNonRoot is not true")
            if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                fail(where, "seccompProfile is not RuntimeDefault")
            for c in pod["containers"]:
                csc = c.get("securityContext", {})
                if csc.get("allowPrivilegeEscalation") is not False:
                    fail(where, f"{c['name']}: allowPrivilegeEscalation not false")
                if csc.get("readOnlyRootFilesystem") is not True:
                    fail(where, f"{c['name']}: root filesystem not read-only")
                if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                    fail(where, f"{c['name']}: capabilities not dropped")
                if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
                    fail(where, f"{c['name']}: liveness probe is not /healthz")
                if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                    fail(where, f"{c['name']}: readiness probe is not /readyz")
                res = c.get("resources", {})
                if not res.get("requests") or not res.get("limits"):
                    fail(where, f"{c['name']}: resources need requests and limits")
        elif kind == "ScaledObject" and partitions:
            named = [t["metadata"].get("topic") for t in d["spec"]["triggers"]]
            unknown = [t for t in named if t and t not in partitions]
            if unknown:
                fail(where, f"triggers name topics without a KafkaTopic: {unknown}")
                continue
            # A trigger without a topic covers every topic of the group: the
            # widest one bounds the useful group members.
            cap = max(partitions[t] for t in named) if all(named) else max(partitions.values())
            target = d["spec"]["scaleTargetRef"]["name"]
            workers_key = f"TANDEM_{target.upper()}_CONSUMER_WORKERS"
            workers = int(config.get(f"{target}-config", {}).get(workers_key, 1))
            members = d["spec"]["maxReplicaCount"] * workers
            if members > cap:
                fail(where, f"maxReplicaCount {d['spec']['maxReplicaCount']} x {workers} "
                            f"consumer worker(s) = {members} group members, more than "
                            f"the {cap} partitions")
        elif kind == "HorizontalPodAutoscaler" and partitions:
            widest = max(partitions.values())
            if d["spec"]["maxReplicas"] > widest:
                fail(where, f"maxReplicas {d['spec']['maxReplicas']} exceeds "
                            f"the widest topic ({widest} partitions)")

for f in failures:
    print(f"  FAIL {f}", file=sys.stderr)
if failures:
    sys.exit(1)
print("  ok" + ("" if contract is not None else f" ({topics_py} not found: topics unchecked)"))
PY
else
  echo "policy checks skipped: no Python with PyYAML (set PYTHON=...)"
fi

if command -v kubeconform >/dev/null 2>&1; then
  echo "schema validation (kubeconform; CRDs without a schema are skipped)"
  kubeconform -strict -summary -ignore-missing-schemas "$work"/out/*.yaml
fi

echo "all builds ok"
