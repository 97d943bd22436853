#!/usr/bin/env bash
# Packs what the GPU machine (no Node, no registry) needs to run the benchmarks into .gpu/:
# Node 22, the Vulkan loaders (shared/device/pack.sh), and a self-contained deploy of
# @personaplex/bench with its production dependencies (linux-x64 onnxruntime binaries only).
set -euo pipefail
root="$(git rev-parse --show-toplevel)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"   # pack Node 22, not the system Node
bash ../shared/device/pack.sh
cp ../shared/device/enter.sh .gpu/enter.sh
pnpm turbo run build --filter @personaplex/bench... --output-logs=errors-only
deploy="$(mktemp -d)/bench"
pnpm --filter @personaplex/bench deploy --prod "$deploy" >/dev/null
find "$deploy/node_modules" -path '*onnxruntime-node/bin/napi-v6/*' -mindepth 0 -type d \( -name darwin -o -name win32 -o -name arm64 \) -prune -exec rm -rf {} +
cp -r packages/bench/probe packages/bench/bench "$deploy/" 2>/dev/null || true
tar -C "$(dirname "$deploy")" -cJf .gpu/extra.tar.xz bench
du -sh .gpu/extra.tar.xz .gpu
