#!/usr/bin/env bash
# One prepared device call (about 4-5 minutes on one H100/H200): speed of both recipes, then
# the paper and fast recipes at 128 px on a carried real subset, judged by a judge trained here.
#
# Here, once:   python scripts/gpu_pack.py PATH/celebahq-128-train.tar   (43 MiB,
#               ignored folder gpu_carry/; real CelebA data is never committed)
# Device call:  run(command="bash scripts/gpu_check.sh", carry=["gpu_carry"], timeout_s=480)
# Results come back under $OUT: bench.txt, judge.json, ablation.md/.json/.png, log.txt.
# Knobs: BUDGETS (G iterations, default 150,300), JUDGE_EPOCHS (default 4), CONFIG (celeba128),
# DEVICE (cuda), JUDGE_SIZE (128). A CPU dry run of the script's logic:
#   PYTHON=.venv/bin/python CONFIG=tiny DEVICE=cpu JUDGE_SIZE=32 BUDGETS=2,3 JUDGE_EPOCHS=1 \
#   OUT=runs/gpu-dry bash scripts/gpu_check.sh
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-out/gpu}
WORK=${WORK:-runs/gpu-work}  # ignored folder of the checkout
DATA=${DATA:-gpu_carry/celebahq128}
BUDGETS=${BUDGETS:-150,300}
CONFIG=${CONFIG:-celeba128}
DEVICE=${DEVICE:-cuda}
JUDGE_SIZE=${JUDGE_SIZE:-128}
mkdir -p "$OUT" "$WORK"
PYTHON=${PYTHON:-python3}
stgan() { "$PYTHON" -m stgan "$@"; }
{
  date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  "$PYTHON" -c "import torch; print('torch', torch.__version__)"
  stgan bench --config "$CONFIG" --device "$DEVICE" --recipe paper
  stgan bench --config "$CONFIG" --device "$DEVICE" --recipe fast
} > "$OUT/bench.txt" 2>&1
{
  stgan train-classifier --data "$DATA" --crop none --img-size "$JUDGE_SIZE" \
      --epochs "${JUDGE_EPOCHS:-4}" --out "$WORK/judge" --device "$DEVICE" --quiet --overwrite \
    && cp "$WORK/judge/metrics.json" "$OUT/judge.json"
  stgan ablate --config "$CONFIG" --data "$DATA" --set data.crop=none --device "$DEVICE" \
      --variants paper,fast --budgets "$BUDGETS" --classifier "$WORK/judge/classifier.pt" \
      --limit 500 --out "$WORK/ablation" --quiet \
    && cp "$WORK"/ablation/ablation.{md,json,png} "$OUT/"
} > "$OUT/log.txt" 2>&1
tail -n 40 "$OUT/bench.txt" "$OUT/log.txt"
