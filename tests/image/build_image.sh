#!/usr/bin/env bash
# CTest's image_build (label "image"): tools/image/build with this build's
# kubenat into this build's image folder, for the image tests that follow.
# Without root or the tools it needs it skips (77), except in CI (CI=true),
# where it fails: CI must build the image.
#
# usage: build_image.sh KUBENAT_BINARY WORK_DIR
set -euo pipefail

binary=$1
work=$2

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "image_build: $1, and CI must build the image" >&2
    exit 1
  fi
  echo "image_build: skipped: $1" >&2
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root"
for tool in debootstrap buildah podman; do
  command -v "$tool" >/dev/null || skip_or_fail "needs $tool (tools/bootstrap installs it)"
done

started=$SECONDS
"$(dirname "$0")/../../tools/image/build" --work "$work" "$binary"
echo "image_build: took $((SECONDS - started)) s" >&2
