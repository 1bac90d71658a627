#!/usr/bin/env bash
# The GPU session, one command on any GPU host (one H100/H200-class card, about 9 minutes), from the repository root:
#   bash gpu/device_session.sh OUT        OUT: the output folder (created; default /tmp/ddei-device)
#   1. install the wheels in .whl/, if present (for a GPU host without a package index: python gpu/device_wheels.py
#      makes them on a machine with one; the host's image provides torch and numpy);
#   2. smoke test (< 1 min): every method trains one step on the GPU in fp32 and bf16; the pipeline trains and
#      evaluates end to end in bf16; stops early if anything fails;
#   3. paper-scale step times (512x256, 64 channels): fp32 against bf16 + channels_last and + torch.compile;
#   4. the experiment of config/gpu.yaml, sized to the remaining budget (experiments/gpu_experiment.py);
#   5. packs the results (metrics, loss curves, reconstructions, logs) into OUT.
# Scaled down on the CPU:             DEVICE=cpu SMALL=1 bash gpu/device_session.sh /tmp/out
# The CPU smoke (tests/test_device_scripts.py): SMOKE=1 bash gpu/device_session.sh /tmp/out
#   every stage at tiny size on the CPU, bf16 on, and torch.compile in the workflow's train jobs (the aot_eager
#   backend: inductor's code generation takes minutes on 2 cores), writing what a GPU session brings back.
set -uo pipefail
OUT=${1:-${OUT:-/tmp/ddei-device}}
if [ -n "${SMOKE:-}" ]; then DEVICE=cpu; SMALL=1; export DDEI_COMPILE_BACKEND=aot_eager; fi
DEVICE=${DEVICE:-cuda}
TOTAL=${TOTAL:-555}            # seconds this script may take in all (set TOTAL to give the experiment more time)
source "$(dirname "$0")/device_env.sh"
# $OUT gets: smoke.log, bench_paper.{log,json}, experiment.log, gpu_used.yaml, calibration.json, snakemake.log and
# results.tgz (tables, figures, metrics, loss curves, logs and benchmarks of the workflow)
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import ddei, torch, deepinv, snakemake; print('torch', torch.__version__, 'deepinv', deepinv.__version__, 'snakemake', snakemake.__version__)"
} > "$OUT/smoke.log" 2>&1

echo "== smoke ($(left) s left)"
if [ -n "${SMOKE:-}" ]; then
    smoke=(--size 16 16 --chans 4 --methods ddei --settings bf16+cl --repeats 1)  # the workflow below compiles
else
    smoke=(--size 32 32 --chans 8 --methods sup ddei ei-r t-ssdu 't-ssdu*' phase2phase --settings fp32 bf16+cl
           --repeats 1 --pipeline --pipeline-precision bf16)
fi
timeout 150 $PY benchmarks/bench_train_step.py --device "$DEVICE" "${smoke[@]}" >> "$OUT/smoke.log" 2>&1
rc=$?
tail -n 20 "$OUT/smoke.log"
if [ $rc -ne 0 ] || grep -q "failed:" "$OUT/smoke.log"; then echo "SMOKE FAILED (rc $rc)"; exit 4; fi

echo "== paper-scale step times ($(left) s left)"
methods="sup ddei ei-r t-ssdu"
if [ -n "${SMALL:-}" ]; then size="--size 64 64 --chans 8"; settings="fp32 bf16+cl"; else size="--paper"; settings="fp32 bf16+cl compile+bf16+cl"; fi
repeats=3
if [ -n "${SMOKE:-}" ]; then size="--size 16 16 --chans 4"; settings="fp32 bf16+cl"; methods="sup"; repeats=1; fi
timeout 190 $PY benchmarks/bench_train_step.py --device "$DEVICE" $size --methods $methods \
    --settings $settings --repeats $repeats --json "$OUT/bench_paper.json" > "$OUT/bench_paper.log" 2>&1
cat "$OUT/bench_paper.log"

echo "== experiment ($(left) s left)"
budget=$(( $(left) - 45 ))
extra=()
if [ -n "${SMALL:-}" ]; then extra=(--min-epochs 1 --max-epochs 1 --cores 2 --scale-down); fi
if [ -n "${SMOKE:-}" ]; then extra=(--cores 2 --smoke); fi
$PY experiments/gpu_experiment.py --config config/gpu.yaml --budget "$budget" --out "$OUT" --device "$DEVICE" ${extra[@]+"${extra[@]}"} \
    2>&1 | tee "$OUT/experiment.log"

echo "== pack ($(left) s left)"
results=$(sed -n 's/^results: *//p' "$OUT/gpu_used.yaml")
tar czf "$OUT/results.tgz" --exclude='*.pt' --exclude="$results/recon" --exclude="$results/extract" \
    --exclude="$results/synthetic" --exclude="$results/masks" "$results" 2>/dev/null
ls -la "$OUT"
echo "done in $(( $(date +%s) - start )) s"
