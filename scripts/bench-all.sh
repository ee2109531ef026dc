#!/usr/bin/env bash
# Runs the side-by-side benchmarks on this machine and records their JSON in
# bench/results/<UTC date and time>/ (e.g. 2026-12-06T2300Z; earlier records stay), then renders the README's speed table from it
# (scripts/readme-bench.ts). Needs Debian's python3-torch for the PyTorch side; run it on a
# quiet machine (it takes about half an hour on 2 cores).
#   bash scripts/bench-all.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
if [ "${1:-}" = "--rounds" ]; then rounds=$2; fi
out="bench/results/$(date -u +%FT%H%MZ)"
mkdir -p "$out"
record() { # name, command...: keeps the log beside the JSON (the bench's last line)
  local name=$1; shift
  "$@" 2>&1 | tee "$out/$name.log"
  tail -n 1 "$out/$name.log" > "$out/$name.json.tmp" && mv "$out/$name.json.tmp" "$out/$name.json"
}
record train-2threads env FAT2019_THREADS=2 npm run -s bench:train -- --models all --widths 0.125,1 --batch 32 --rounds "$rounds"
record train-1thread env FAT2019_THREADS=1 npm run -s bench:train -- --models all --widths 0.125,1 --batch 32 --rounds 2
# A/B: the plain SIMD builds (no fused multiply-add) on the two plain-convolution networks.
record train-plain-simd env FAT2019_THREADS=2 FAT2019_RELAXED_SIMD=0 npm run -s bench:train -- --models cnnModel1,vgg16bn --widths 0.125,1 --batch 32 --rounds "$rounds"
record infer npm run -s bench:infer -- --models cnnModel1,vgg16bn --batch 64 --threads 2 --no-infer
record features npm run -s bench:features
npx tsx scripts/readme-bench.ts --render
