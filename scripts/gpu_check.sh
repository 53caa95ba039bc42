#!/usr/bin/env bash
# One prepared device call (about 4-5 minutes on one H100/H200): speed of both recipes, then
# the paper and fast recipes at 128 px on a carried real subset, judged by a judge trained here.
#
# Here, once:   python scripts/gpu_pack.py ../shared/data/celebahq-128-train.tar   (43 MiB,
#               ignored folder gpu_carry/; real CelebA data is never committed)
# Device call:  run(command="bash scripts/gpu_check.sh", carry=["gpu_carry"], timeout_s=480)
# Results come back under $OUT: bench.txt, judge.json, ablation.md/.json/.png, log.txt.
# Budgets: BUDGETS (G iterations, default 150,300), JUDGE_EPOCHS (default 4).
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-out/gpu}
WORK=${WORK:-/tmp/stgan-gpu}
DATA=${DATA:-gpu_carry/celebahq128}
BUDGETS=${BUDGETS:-150,300}
mkdir -p "$OUT" "$WORK"
stgan() { python3 -m stgan "$@"; }
{
  date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__)"
  stgan bench --config celeba128 --device cuda --recipe paper
  stgan bench --config celeba128 --device cuda --recipe fast
} > "$OUT/bench.txt" 2>&1
{
  stgan train-classifier --data "$DATA" --crop none --img-size 128 --epochs "${JUDGE_EPOCHS:-4}" \
      --out "$WORK/judge" --device cuda --quiet --overwrite \
    && cp "$WORK/judge/metrics.json" "$OUT/judge.json"
  stgan ablate --config celeba128 --data "$DATA" --set data.crop=none --device cuda \
      --variants paper,fast --budgets "$BUDGETS" --classifier "$WORK/judge/classifier.pt" \
      --limit 500 --out "$WORK/ablation" --quiet \
    && cp "$WORK"/ablation/ablation.{md,json,png} "$OUT/"
} > "$OUT/log.txt" 2>&1
tail -n 40 "$OUT/bench.txt" "$OUT/log.txt"
