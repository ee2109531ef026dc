#!/usr/bin/env bash
# Spoken digits, one speaker held out: the "your own data" acceptance measurement.
#
# Builds a folder-per-class data set from the Free Spoken Digit Dataset (FSDD; 8 kHz mono WAV,
# 6 speakers × 50 clips per digit; Zohar Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset,
# DOI 10.5281/zenodo.1342401, CC BY-SA 4.0): 4 training speakers × 25 clips per digit in
# train/<digit>/, the held-out speaker's 25 clips per digit (250) in test/<digit>/. Then trains
# `--recipe single --folds 1` (one model on all 1000 clips, no validation), width 1/8,
# 10 epochs, everything else as the data rules choose (batch 16, max lr 1e-2, no mixup, SpecMix
# or head dropout: printed at the start), and predicts + scores the held-out speaker:
# `infer --score` prints top-1 accuracy. EXTRA="--quick" gives the CPU quick preset instead.
#
# Usage: scripts/fsdd-experiment.sh <fsdd-folder> [work-folder]
#   <fsdd-folder>   holds recordings/<digit>_<speaker>_<index>.wav (the upstream layout)
#   [work-folder]   default work/fsdd-experiment (data/, run/, features/ go there)
# Environment: HELD_OUT (default yweweler), TRAIN_SPEAKERS (default "george jackson lucas nicolas"),
#   CLIPS (per digit and speaker, default 25), EPOCHS (default 10), EXTRA (more train flags).
set -euo pipefail
FSDD=${1:?usage: scripts/fsdd-experiment.sh <fsdd-folder> [work-folder]}
WORK=${2:-work/fsdd-experiment}
HELD_OUT=${HELD_OUT:-yweweler}
TRAIN_SPEAKERS=${TRAIN_SPEAKERS:-george jackson lucas nicolas}
CLIPS=${CLIPS:-25}
EPOCHS=${EPOCHS:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$FSDD/recordings" ] || { echo "$FSDD/recordings: not found (expected the FSDD folder)" >&2; exit 2; }

DATA="$WORK/data"
rm -rf "$DATA" "$WORK/run"
for digit in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$DATA/train/$digit" "$DATA/test/$digit"
  for ((i = 0; i < CLIPS; i++)); do
    for speaker in $TRAIN_SPEAKERS; do
      cp "$FSDD/recordings/${digit}_${speaker}_${i}.wav" "$DATA/train/$digit/"
    done
    cp "$FSDD/recordings/${digit}_${HELD_OUT}_${i}.wav" "$DATA/test/$digit/"
  done
done
echo "built $DATA: $(find "$DATA/train" -name '*.wav' | wc -l) training clips ($TRAIN_SPEAKERS), $(find "$DATA/test" -name '*.wav' | wc -l) held-out clips ($HELD_OUT)" >&2

start=$(date +%s)
node "$HERE/bin/fat2019.cjs" train --run "$WORK/run" --data "$DATA" --cache "$WORK/features" \
  --recipe single --folds 1 --width 0.125 --epochs "$EPOCHS" ${EXTRA:-}
trained=$(date +%s)
node "$HERE/bin/fat2019.cjs" infer --run "$WORK/run" --cache "$WORK/features" --score
done_at=$(date +%s)
echo "{\"trainSeconds\": $((trained - start)), \"inferSeconds\": $((done_at - trained)), \"heldOut\": \"$HELD_OUT\", \"trainSpeakers\": \"$TRAIN_SPEAKERS\", \"clipsPerDigit\": $CLIPS, \"epochs\": $EPOCHS}"
