#!/usr/bin/env bash
# One prepared device call on one H100/H200: training speed (plain fp32 eager against the fast
# path, each switch alone and all, issue 7) and graph-vs-eager parity (PARTS=speed: estimated
# 2-3 minutes, not yet run on a GPU), then the paper and fast recipes at 128 px on a carried
# real subset, judged by a judge trained here (PARTS=quality: about 4 minutes before issue 7).
#
# Here, once:   python scripts/gpu_pack.py PATH/celebahq-128-train.tar   (43 MiB,
#               ignored folder gpu_carry/; real CelebA data is never committed)
# Device calls (all parts together, ~8 minutes, would leave no time to rerun one):
#   run(command="PARTS=speed,edit bash scripts/gpu_check.sh", timeout_s=360)       ~4 minutes
#   run(command="PARTS=quality bash scripts/gpu_check.sh", carry=["gpu_carry"], timeout_s=360)
# Results come back under $OUT: bench.txt (tables), bench.jsonl (one JSON object per measured
# configuration), parity.json, judge.json, ablation.md/.json/.png, log.txt, edit.txt and
# edit_threads{2,8}.json.
# PARTS=edit (about 1 minute, no GPU used) times one 128 px edit on the device machine's own
# CPU, fp32 eager against the int8 fast path (issue 11: <= 30 ms on CPUs with AMX; the dev
# machine has none), with the CPU's model and AMX/VNNI flags.
# Knobs: PARTS (speed,quality,edit; speed and edit need no carried data), BENCH_STEPS (timed
# iterations, default 10), PARITY_STEPS (default 20), BUDGETS (G iterations, default 150,300),
# JUDGE_EPOCHS (default 4), CONFIG (celeba128), DEVICE (cuda), JUDGE_SIZE (128).
# A CPU dry run of the script's logic (the switches are set by hand: auto is off on a CPU):
#   PYTHON=.venv/bin/python CONFIG=tiny DEVICE=cpu JUDGE_SIZE=32 BUDGETS=2,3 JUDGE_EPOCHS=1 \
#   BENCH_STEPS=1 PARITY_STEPS=2 BENCH_SET="--set train.adam=fused --set train.channels_last=on" \
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
PARTS=${PARTS:-speed,quality,edit}
BENCH_STEPS=${BENCH_STEPS:-10}
BENCH_SET=${BENCH_SET:-}  # extra --set options for the benches (the CPU dry run)
mkdir -p "$OUT" "$WORK"
PYTHON=${PYTHON:-python3}
stgan() { "$PYTHON" -m stgan "$@"; }
table() {  # bench.jsonl -> the Markdown table of stgan bench
  "$PYTHON" -c 'import json, sys
from stgan.bench import HEADER, TrainSpeed
rows = [TrainSpeed(**json.loads(line)) for line in open(sys.argv[1]) if line.startswith("{")]
print(HEADER); print("\n".join(r.row() for r in rows))' "$1"
}
if [[ $PARTS == *speed* ]]; then
  {
    date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    "$PYTHON" -c "import torch; print('torch', torch.__version__)"
    # the paper's settings: plain fp32 eager, the fast path (auto: every switch on CUDA), each
    # switch alone; then the fast recipe's plain vs fast path
    # shellcheck disable=SC2086
    timeout 200 "$PYTHON" -m stgan bench --config "$CONFIG" --device "$DEVICE" --recipe paper \
        --compare --each-switch --json --steps "$BENCH_STEPS" $BENCH_SET > "$OUT/bench.jsonl"
    # shellcheck disable=SC2086
    timeout 100 "$PYTHON" -m stgan bench --config "$CONFIG" --device "$DEVICE" --recipe fast \
        --compare --json --steps "$BENCH_STEPS" $BENCH_SET | sed 's/"name": "/"name": "fast recipe: /' \
        >> "$OUT/bench.jsonl"
    table "$OUT/bench.jsonl"
    # graph vs eager, same seed and switches, N iterations at the paper's settings
    # shellcheck disable=SC2086
    timeout 120 "$PYTHON" scripts/graph_parity.py --config "$CONFIG" --device "$DEVICE" \
        --steps "${PARITY_STEPS:-20}" $BENCH_SET > "$OUT/parity.json" && cat "$OUT/parity.json"
  } > "$OUT/bench.txt" 2>&1
fi
if [[ $PARTS == *quality* ]]; then {
  stgan train-classifier --data "$DATA" --crop none --img-size "$JUDGE_SIZE" \
      --epochs "${JUDGE_EPOCHS:-4}" --out "$WORK/judge" --device "$DEVICE" --quiet --overwrite \
    && cp "$WORK/judge/metrics.json" "$OUT/judge.json"
  stgan ablate --config "$CONFIG" --data "$DATA" --set data.crop=none --device "$DEVICE" \
      --variants paper,fast --budgets "$BUDGETS" --classifier "$WORK/judge/classifier.pt" \
      --limit 500 --out "$WORK/ablation" --quiet \
    && cp "$WORK"/ablation/ablation.{md,json,png} "$OUT/"
} > "$OUT/log.txt" 2>&1; fi
if [[ $PARTS == *edit* ]]; then {
  date -u; lscpu | grep -E 'Model name|^CPU\(s\)' || true
  grep -o -w -E 'amx_(bf16|int8|tile)|avx512_vnni|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
  "$PYTHON" -c "import torch; print('cpu capability', torch.backends.cpu.get_cpu_capability())"
  for threads in 2 8; do  # the dev machine's 2 cores, and a larger share of this one
    echo "threads $threads"
    OMP_NUM_THREADS=$threads timeout 120 "$PYTHON" -m stgan bench --edit --config celeba128 \
        --steps "${EDIT_STEPS:-10}" --json | tee "$OUT/edit_threads$threads.json"
  done
} > "$OUT/edit.txt" 2>&1; fi
tail -n 40 "$OUT/bench.txt" "$OUT/log.txt" "$OUT/edit.txt" 2>/dev/null
