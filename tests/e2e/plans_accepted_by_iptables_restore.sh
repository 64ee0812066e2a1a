#!/usr/bin/env bash
# Every plan the unit tests compile, the upstream golden cases and the example
# cluster are fed to `iptables-restore --test` (nft and legacy) inside a
# network namespace of this test's own.
#
# usage: plans_accepted_by_iptables_restore.sh BUILD_DIR SOURCE_DIR
# Needs root. Outside CI it skips (exit 77) without root; in CI it fails.
set -euo pipefail
build=$1
src=$2

if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: this kernel test needs root and network namespaces, and CI must run it" >&2
    exit 1
  fi
  echo "SKIP: needs root and network namespaces" >&2
  exit 77
fi

ns="kn-plan-$$"
work=$(mktemp -d)
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"

mkdir -p "$work/plans"
for unit in "$build/tests/rules/iptables/rules_iptables_tests" "$build/tests/tools/tools_tests"; do
  KUBENAT_PLAN_DUMP_DIR="$work/plans" "$unit" >"$work/unit.log" 2>&1 || {
    cat "$work/unit.log" >&2
    echo "FAIL: $unit failed while dumping plans" >&2
    exit 1
  }
done
"$build/tools/kubenat" plan --snapshot "$src/tools/examples/cluster.json" --node worker-1 \
  --cluster-cidr 10.200.0.0/16 >"$work/plans/example-json.rules"
"$build/tools/kubenat" plan --snapshot "$src/tools/examples/cluster.yaml" --node worker-2 \
  --cluster-cidr 10.200.0.0/16 --masquerade-all >"$work/plans/example-yaml.rules"

count=0
failed=0
for plan in "$work"/plans/*.rules; do
  count=$((count + 1))
  for restore in iptables-nft-restore iptables-legacy-restore; do
    if [ "$(head -c 1 "$plan")" = "#" ] && grep -q '^# family: IPv6' "$plan"; then
      restore=${restore/iptables/ip6tables}
    fi
    if ! out=$(ip netns exec "$ns" "$restore" --test <"$plan" 2>&1); then
      echo "FAIL: $restore --test rejected $(basename "$plan"): $out" >&2
      failed=$((failed + 1))
    fi
  done
done

if [ "$count" -lt 20 ]; then
  echo "FAIL: only $count plans were produced; the dump hook is not working" >&2
  exit 1
fi
echo "$count plans checked with iptables-nft-restore and iptables-legacy-restore, $failed rejections"
[ "$failed" -eq 0 ]
