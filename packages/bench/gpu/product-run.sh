#!/usr/bin/env bash
# One device call for the engine's must-show: `personaplex run --device webgpu` (the product) on
# real-configuration random weights, int8, contexts 187 and 3000, 20 s windows, cold (converting the
# weights) and with the conversion cache, then the LmGen + MimiCodec benchmark in the same call, then the
# product again, so that the figures compare. Peak GPU memory per process from nvidia-smi every 100 ms.
# Run from the deploy folder after `source .gpu/enter.sh && cd app` (pack.sh); results go to $OUT:
#   summary.txt (one line per process + the report's figures), bench.json, reports.tgz (run reports and logs).
set -uo pipefail
out="${OUT:?OUT must name the results folder}"
models="${MODELS:-/tmp/m}"
frames="${BENCH_FRAMES:-150}"
mkdir -p "$out/r"
node real-models.mjs "$models" 187,3000 int8 | tee -a "$out/summary.txt"

# Runs a command with nvidia-smi sampling beside it; appends "<name> rc= wallMs= peakGpuMiB=" to summary.txt.
measured() {
  local name="$1"
  shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/r/$name.mem" 2>/dev/null &
  local sampler=$!
  local t0 t1 rc
  t0=$(date +%s%N)
  "$@" >"$out/r/$name.log" 2>&1
  rc=$?
  t1=$(date +%s%N)
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  echo "$name rc=$rc wallMs=$(((t1 - t0) / 1000000)) peakGpuMiB=$(sort -n "$out/r/$name.mem" | tail -1)" | tee -a "$out/summary.txt"
}

# The report's figures on one line.
figures() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")), t = r.timings
    const s = (x) => `${x.p50Ms}/${x.p95Ms}/${x.p99Ms}/${x.maxMs}`
    console.log(JSON.stringify({ status: r.status, error: r.error, lm: r.meta.lm, codec: r.meta.codec,
      frame: s(t.frame), step: s(t.step), encode: s(t.encode), decode: s(t.decode), late: t.lateFrames,
      pauses: t.pauseMs, firstFrameMs: t.firstFrameMs, prompts: r.windows.map((w) => w.promptMs),
      windows: r.windows.length, frames: r.inputFrames }))' "$1" | tee -a "$out/summary.txt"
}

# A8=1: every run and the benchmark with int8 activations too (runtime.int8_activations, gqa-capture-a8).
a8="${A8:-}"
if [ -n "$a8" ]; then
  for c in 187 3000; do
    sed -i 's/^runtime:$/runtime:\n  int8_activations: true/' "$models/config-ctx$c-int8.yaml"
  done
fi

product() {
  local name="$1${a8:+-a8}" context="$2"
  measured "$name" node dist/bin.js run --config "$models/config-ctx$context-int8.yaml" \
    --input "$models/input.wav" --output "/tmp/$name.wav" --report "$out/r/$name.json"
  figures "$out/r/$name.json"
}

product run-ctx187-cold 187
product run-ctx187-cached 187
product run-ctx3000-cached 3000
measured bench node bench/dist/cli.js --provider webgpu --models personaplex --precisions int8 \
  --contexts 187,3000 --variants "gqa-capture${a8:+-a8}" --schedules sequential --frames "$frames" --warmup 5 \
  --restarts 3 --work-dir /tmp/pb --out "$out/bench.json"
tail -n 12 "$out/r/bench.log" >>"$out/summary.txt"
product run-ctx187-after-bench 187
tar -C "$out" -czf "$out/reports.tgz" r && rm -rf "$out/r"
