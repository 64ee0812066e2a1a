#!/usr/bin/env bash
# Removes the network namespaces that tests/e2e's NetnsWorld left behind when
# the process that made them died (a crashed or killed test run), so that they
# do not leak into the next run. Meant as a CTest FIXTURES_CLEANUP step; safe
# to run at any time, also while other test runs build worlds.
#
# usage: cleanup_stale_namespaces.sh
#
# The harness names its namespaces kn<pid><kind><k>-<role>: <pid> is the
# process that made them, <kind> a lower-case letter or two (w for NetnsWorld),
# <k> a counter within that process. Such a namespace is stale when no process <pid> exists, or
# when process <pid> started after the namespace was made (the pid was
# reused). Processes still inside a stale namespace (echo servers of the dead
# run) are killed first, since a deleted namespace lives on while a process
# is in it. Other namespaces are never touched.
#
# Exit status: 0, also when there was nothing to do or no root; 1 when a
# stale namespace could not be removed.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "cleanup_stale_namespaces: not root, nothing removed" >&2
  exit 0
fi

# Whether process $1 is the one that made namespace $2: it runs, and it was
# already running when the namespace appeared (1 s of slack for rounding).
made_by_live_process() {
  local pid=$1 name=$2 elapsed created now
  kill -0 "$pid" 2>/dev/null || return 1
  elapsed=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
  created=$(stat -c %Y "/run/netns/$name" 2>/dev/null)
  [ -n "$elapsed" ] && [ -n "$created" ] || return 0  # cannot tell: keep it
  now=$(date +%s)
  [ $((now - elapsed)) -le $((created + 1)) ]
}

status=0
removed=0
for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  [[ $name =~ ^kn([0-9]+)[a-z]{1,2}[0-9]+- ]] || continue
  made_by_live_process "${BASH_REMATCH[1]}" "$name" && continue
  pids=$(ip netns pids "$name" 2>/dev/null)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $pids 2>/dev/null
  fi
  if ip netns del "$name" 2>/dev/null; then
    removed=$((removed + 1))
  elif [ -e "/run/netns/$name" ]; then  # gone meanwhile is fine
    echo "cleanup_stale_namespaces: cannot remove $name" >&2
    status=1
  fi
done
if [ "$removed" -gt 0 ]; then
  echo "cleanup_stale_namespaces: removed $removed stale namespaces"
fi
exit "$status"
