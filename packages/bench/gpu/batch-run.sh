#!/usr/bin/env bash
# One device call for the batched step (issue 23): the LM batch bench with float activations and with
# int8 activations (`--int8-activations`), with each session's Mimi on the CPU (`--codec cpu`), then the web server's load test, on the real configuration's
# random weights (int8, context 3000). Run from the deploy folder after `source .gpu/enter.sh && cd app`;
# results go to $OUT. BATCH_SESSIONS, A8_SESSIONS, CODEC_SESSIONS and CLIENTS override the sizes measured;
# SKIP_BATCH=1 runs the load test only.
set -uo pipefail
out="${OUT:?OUT must name the results folder}"
models="${MODELS:-/tmp/m}"
work=/tmp/pbatch
node real-models.mjs "$models" 3000 int8 | tee -a "$out/summary.txt"

batch() {
  local name="$1" deadline="$2"
  shift 2
  node bench/dist/batch.js --provider webgpu --models personaplex --checkpoint "$models/lm.safetensors" \
    --quantization int8 --contexts 3000 --ticks 40 --warmup 3 --deadline "$deadline" --work-dir "$work" \
    --out "$out/$name.json" "$@" >"$out/$name.log" 2>&1
  echo "$name rc=$?" | tee -a "$out/summary.txt"
  tail -12 "$out/$name.log" | tee -a "$out/summary.txt"
}

if [ -z "${SKIP_BATCH:-}" ]; then
batch batch-f32act 170 --sessions "${BATCH_SESSIONS:-1,2,4,8,16}"
batch batch-int8act 90 --sessions "${A8_SESSIONS:-4,16}" --int8-activations
# Each session's own Mimi on a CPU worker of its own (cores / sessions threads), in the tick.
batch batch-codec-cpu 110 --sessions "${CODEC_SESSIONS:-4,8,16}" --codec cpu
rm -rf "$work"
fi

# The web server with N clients; WEB_CODEC=cpu gives each conversation's Mimi a CPU worker (runtime.codec_device).
clients="${CLIENTS:-4}"
config="$models/config-ctx3000-int8.yaml"
name="web-load-n$clients"
if [ "${WEB_CODEC:-}" = cpu ]; then
  sed 's/^runtime:$/runtime:\n  codec_device: cpu/' "$config" >"$models/config-ctx3000-int8-codec-cpu.yaml"
  config="$models/config-ctx3000-int8-codec-cpu.yaml"
  name="$name-codec-cpu"
fi
node web-load.mjs --clients "$clients" --seconds 20 --input "$models/input.wav" --out "$out/$name.json" \
  --server-log "$out/$name-server.log" -- --max-sessions "$clients" --config "$config" >"$out/$name.log" 2>&1
echo "$name rc=$?" | tee -a "$out/summary.txt"
tail -c 3000 "$out/$name.log" | tee -a "$out/summary.txt"
