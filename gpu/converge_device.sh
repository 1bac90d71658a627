#!/usr/bin/env bash
# The convergence experiment on any GPU host (one H200-class card), one command of about 9 minutes, from the
# repository root:
#   bash gpu/converge_device.sh OUT       OUT: the output folder (created; default /tmp/ddei-converge)
#   1. install the wheels in .whl/, if present (as for device_session.sh);
#   2. smoke test (< 1 min): DDEI (the paper's transform and the fixed one), T-SSDU and the oracle train one
#      step at the experiment's size and batch (128x128, 32 channels, batch 8, per-sample transforms);
#   3. step times at that size: bf16 + channels_last, with and without torch.compile (training.compile);
#   4. `experiments/converge.py run` (config/converge.yaml: 16x first) until TOTAL seconds are spent, then
#      `converge.py report`;
#   5. packs into OUT: the logs, the results page and figure, and results.tgz (val.csv, loss.csv, metrics,
#      checkpoints and model.pt of every run: small at 32 channels), for the next run to resume from.
# A later run resumes: `RESUME=results.tgz bash gpu/converge_device.sh OUT`. The synthetic data, extraction and
# masks are rebuilt byte for byte (seeded); `--rerun-triggers params input code software-env` (no mtime) keeps the
# brought-back models, and a checkpoint is resumed only by a run of the same identity (configuration, data content
# hash, code).
# Scaled down on the CPU:             DEVICE=cpu SMALL=1 bash gpu/converge_device.sh /tmp/out
# The CPU smoke (tests/test_device_scripts.py): SMOKE=1 bash gpu/converge_device.sh /tmp/out
#   every stage at tiny size with the GPU config's settings (bf16, per-sample transforms on batches; torch.compile in
#   the train jobs, with the aot_eager backend), writing what a GPU run brings back.
# Not yet run on a GPU.
set -uo pipefail
OUT=${1:-${OUT:-/tmp/ddei-converge}}
if [ -n "${SMOKE:-}" ]; then DEVICE=cpu; SMALL=1; export DDEI_COMPILE_BACKEND=aot_eager; fi
DEVICE=${DEVICE:-cuda}
TOTAL=${TOTAL:-520}
source "$(dirname "$0")/device_env.sh"
size="--size 128 128 --chans 32 --batch 8"
[ -n "${SMALL:-}" ] && size="--size 32 32 --chans 8 --batch 2"
[ -n "${SMOKE:-}" ] && size="--size 16 16 --chans 4 --batch 2"

echo "== smoke ($(left) s left)"
timeout 120 $PY benchmarks/bench_train_step.py --device "$DEVICE" $size --methods sup ddei t-ssdu \
    --settings bf16+cl --repeats 1 > "$OUT/smoke.log" 2>&1
rc=$?; cat "$OUT/smoke.log"
if [ $rc -ne 0 ] || grep -q "failed:" "$OUT/smoke.log"; then echo "SMOKE FAILED (rc $rc)"; exit 4; fi

echo "== step times ($(left) s left)"
settings="bf16+cl compile+bf16+cl"; [ "$DEVICE" = cpu ] && settings="fp32+cl bf16+cl"
methods="sup ddei t-ssdu"; repeats=5
[ -n "${SMOKE:-}" ] && { settings="bf16+cl"; methods="ddei"; repeats=1; }  # the workflow below compiles
timeout 150 $PY benchmarks/bench_train_step.py --device "$DEVICE" $size --methods $methods \
    --settings $settings --repeats $repeats --json "$OUT/steps.json" > "$OUT/steps.log" 2>&1
cat "$OUT/steps.log"

echo "== experiment ($(left) s left)"
if [ -n "${RESUME:-}" ]; then tar xzf "$RESUME"; fi
extra=(--rerun-triggers params input code software-env)
cfgs=(config/converge.yaml); [ "$DEVICE" = cpu ] && cfgs+=(config/converge_cpu.yaml)
[ -n "${SMALL:-}" ] && { printf 'training: {epochs: 1, steps_per_epoch: 4, validate_every: 2}\n' > /tmp/small.yaml; cfgs+=(/tmp/small.yaml); }
if [ -n "${SMOKE:-}" ]; then  # tiny, the GPU config's precision, batch and compile, DDEI and T-SSDU at one factor;
    # 6 frames, the fewest the SSIM takes (ddei.mri.metrics.MIN_EXTENT): compilation time grows with the frames
    printf '%s\n' 'results: results/converge-smoke' 'image_size: [32, 32]' 'model: {chans: 4}' \
        'data: {synthetic: {patients: 4, lax_shape: [30, 24], sax_shape: [32, 28], sax_slices: 1, seed: 0},' \
        '       train_fraction: 0.8, val_fraction: 0.1}' 'masks: {accelerations: [8], frames: 6}' \
        'methods: [ddei, t-ssdu]' \
        'evaluation: {reference: ddei}' \
        'training: {epochs: 1, steps_per_epoch: 2, batch_size: 2, seeds: [0], device: cpu, precision: bf16,' \
        '           compile: true, validate_every: 2, threads: 1}' 'resources: {train: {gpu: 0}}' > "$OUT/smoke.yaml"
    cfgs=(config/converge.yaml "$OUT/smoke.yaml")
fi
timeout $(( $(left) - 40 )) $PY -m snakemake --cores all --configfile "${cfgs[@]}" "${extra[@]}" \
    > "$OUT/snakemake.log" 2>&1
echo "snakemake: rc $? (124: stopped at the time limit; the next run resumes)"
tail -n 15 "$OUT/snakemake.log"

echo "== report and pack ($(left) s left)"
flag=(); [ "$DEVICE" = cpu ] && flag=(--cpu)
$PY experiments/converge.py report "${flag[@]}" --out "$OUT" > "$OUT/report.log" 2>&1
results=$(cat "${cfgs[@]}" | sed -n "s/^results: *//p" | tail -1)
tar czf "$OUT/results.tgz" --exclude="$results/recon" --exclude="$results/extract" --exclude="$results/synthetic" \
    --exclude="$results/masks" "$results" 2>/dev/null
ls -la "$OUT"
echo "done in $(( $(date +%s) - start )) s"
