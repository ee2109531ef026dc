#!/usr/bin/env bash
# Fine-tuning vs training from scratch on the spoken digits (FSDD; see scripts/fsdd-experiment.sh
# for the data set and its licence), with few labelled clips:
#   source run   trained on SOURCE_SPEAKERS (default george, jackson; 25 clips per digit each)
#   target set   FT_CLIPS clips per digit (default 3) of TARGET_SPEAKERS (default lucas, nicolas)
#   held out     HELD_OUT's 25 clips per digit (default yweweler; 250 clips), never seen
# Trains the target set twice with the same recipe, budget and preprocessing: from scratch
# (EPOCHS epochs) and `--from <source run>` (fastai fine_tune: 1 epoch body frozen + EPOCHS-1),
# then scores both on the held-out speaker (`infer --score`: top-1 accuracy).
#
# Usage: scripts/fsdd-finetune-experiment.sh <fsdd-folder> [work-folder]
set -euo pipefail
FSDD=${1:?usage: scripts/fsdd-finetune-experiment.sh <fsdd-folder> [work-folder]}
WORK=${2:-work/fsdd-finetune}
SOURCE_SPEAKERS=${SOURCE_SPEAKERS:-george jackson}
TARGET_SPEAKERS=${TARGET_SPEAKERS:-lucas nicolas}
HELD_OUT=${HELD_OUT:-yweweler}
SOURCE_CLIPS=${SOURCE_CLIPS:-25}
FT_CLIPS=${FT_CLIPS:-3}
SOURCE_EPOCHS=${SOURCE_EPOCHS:-6}
EPOCHS=${EPOCHS:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
CLI="node $HERE/bin/fat2019.cjs"
[ -d "$FSDD/recordings" ] || { echo "$FSDD/recordings: not found (expected the FSDD folder)" >&2; exit 2; }

rm -rf "$WORK/source-data" "$WORK/target-data" "$WORK/source" "$WORK/scratch" "$WORK/finetuned"
for digit in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$WORK/source-data/train/$digit" "$WORK/target-data/train/$digit" "$WORK/target-data/test/$digit"
  for ((i = 0; i < SOURCE_CLIPS; i++)); do
    for s in $SOURCE_SPEAKERS; do cp "$FSDD/recordings/${digit}_${s}_${i}.wav" "$WORK/source-data/train/$digit/"; done
  done
  for ((i = 0; i < FT_CLIPS; i++)); do
    for s in $TARGET_SPEAKERS; do cp "$FSDD/recordings/${digit}_${s}_${i}.wav" "$WORK/target-data/train/$digit/"; done
  done
  for ((i = 0; i < 25; i++)); do cp "$FSDD/recordings/${digit}_${HELD_OUT}_${i}.wav" "$WORK/target-data/test/$digit/"; done
done
COMMON="--recipe single --folds 1 --quick --width 0.125 --cache $WORK/features --quiet"
t0=$(date +%s)
$CLI train --run "$WORK/source" --data "$WORK/source-data" $COMMON --epochs "$SOURCE_EPOCHS"
t1=$(date +%s)
$CLI train --run "$WORK/scratch" --data "$WORK/target-data" $COMMON --epochs "$EPOCHS"
t2=$(date +%s)
$CLI train --run "$WORK/finetuned" --data "$WORK/target-data" $COMMON --epochs $((EPOCHS - 1)) --from "$WORK/source"
t3=$(date +%s)
echo "== from scratch"; $CLI infer --run "$WORK/scratch" --cache "$WORK/features" --score
echo "== fine-tuned from $WORK/source"; $CLI infer --run "$WORK/finetuned" --cache "$WORK/features" --score
echo "{\"sourceSeconds\": $((t1 - t0)), \"scratchSeconds\": $((t2 - t1)), \"finetuneSeconds\": $((t3 - t2)), \"source\": \"$SOURCE_SPEAKERS x $SOURCE_CLIPS\", \"target\": \"$TARGET_SPEAKERS x $FT_CLIPS\", \"heldOut\": \"$HELD_OUT\", \"epochs\": $EPOCHS}"
