#!/usr/bin/env bash
# `npm run test:slurm`: starts a one-node Slurm cluster in a temp folder (scripts/slurm-cluster.sh),
# runs tests/slurm/*.slurm.ts against it (SLURM_CONF), and stops every daemon it started and
# removes the folder however the tests end. Needs root and Debian's slurm-wlm and munge.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
dir=$(mktemp -d "${TMPDIR:-/tmp}/fat2019-slurm.XXXXXX")
cleanup() {
  bash scripts/slurm-cluster.sh stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$(date +%s)
SLURM_CONF=$(bash scripts/slurm-cluster.sh start "$dir")
export SLURM_CONF
echo "slurm test: cluster up in $(( $(date +%s) - started )) s ($(sinfo -h -o '%n %c CPUs %t'))" >&2
node --import tsx --test --test-concurrency=1 tests/slurm/*.slurm.ts
echo "slurm test: $(( $(date +%s) - started )) s in all" >&2
