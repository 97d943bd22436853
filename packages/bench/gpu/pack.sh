#!/usr/bin/env bash
# Packs what the GPU machine (no Node, no registry) needs into .gpu/: Node 22, the Vulkan loaders
# (shared/device/pack.sh), and a self-contained deploy of @personaplex/cli (`personaplex run`, what
# users run) with the benchmark's built files beside it (bench/, resolving the same packages) and
# real-models.mjs (random weights of the real configuration, input audio, run configs).
# linux-x64 onnxruntime binaries only. Optional parts: PACK_PARTS="llama-vulkan" (node-llama-cpp's Vulkan
# build, for compactor.js) and/or PACK_PARTS="web" (the web server's deploy, for web-session.mjs and web-load.mjs).
# node-llama-cpp's CPU build comes with "llama" only (the model-free compactor of the runs' configs does
# not load it).
set -euo pipefail
parts=" ${PACK_PARTS:-} "
root="$(git rev-parse --show-toplevel)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"   # pack Node 22, not the system Node
command -v pnpm >/dev/null || pnpm() { npx --yes pnpm@12.4.2 "$@"; }
# Node without its debug symbols (125 → 107 MB, 29 → 26 MB packed), made before the shared script, which
# packs node only where .gpu/node.xz is missing.
if [ ! -e .gpu/node.stripped ]; then
  mkdir -p .gpu && stripped="$(mktemp)"
  strip -s -o "$stripped" "$(readlink -f "$(command -v node)")" && xz -T2 -9 -c "$stripped" > .gpu/node.xz
  rm -f "$stripped" && touch .gpu/node.stripped
fi
bash ../shared/device/pack.sh
cp ../shared/device/enter.sh .gpu/enter.sh
pnpm turbo run build --filter @personaplex/cli... --filter @personaplex/bench... --output-logs=errors-only
# Within the carry limit, for a deploy (the CLI's, the web server's): other platforms' native builds,
# llama.cpp's source bundle (34 MB; getLlama still reads llama/*.json with prebuilt binaries), TypeScript
# sources and maps, the TypeScript compiler, protobufjs's code generator (cli/, with its own babel), the
# transcriber's transformers.js with its sharp/libvips and onnxruntime-web (the GPU runs configure no
# transcriber), and the Silero models other than the default v5.
prune_deploy() {
  local store="$1/node_modules/.pnpm"
  find "$store" -path '*onnxruntime-node/bin/napi-v6/*' -type d \( -name darwin -o -name win32 -o -name arm64 \) -prune -exec rm -rf {} +
  find "$store" -path '*node-llama-cpp/llama/gitRelease.bundle' -delete
  rm -rf "$store"/@node-llama-cpp+linux-arm* "$store"/typescript@* "$store"/effect@*/node_modules/effect/src
  rm -rf "$store"/protobufjs@*/node_modules/protobufjs/cli
  rm -rf "$store"/@img+sharp-* "$store"/sharp@* "$store"/@huggingface+transformers@* "$store"/onnxruntime-web@*
  find "$store" -path '*@ricky0123/vad-web/dist/*' \( -name 'silero_vad_legacy.onnx' -o -name 'silero_vad_v6.onnx' \) -delete
  # Audio devices: the GPU runs read and write files (the CLI loads node-web-audio-api only for devices).
  find "$store" -name 'node-web-audio-api.*.node' -delete
  find "$store" -name '*.map' -delete
  rm -rf "$1/src" "$1/test"
  # node-llama-cpp's CPU build only with "llama" (the Vulkan build carries its own CPU backends).
  [[ "$parts" == *" llama "* ]] || rm -rf "$store"/@node-llama-cpp+linux-x64@*
}
deploy="$(mktemp -d)/app"
pnpm --filter @personaplex/cli deploy --prod "$deploy" >/dev/null
prune_deploy "$deploy"
# node-llama-cpp's Vulkan build (compactor.js --gpu vulkan), installed as users install it. Without "llama"
# beside it, compactor.js --cpu-llms has no CPU build to load.
if [[ "$parts" == *" llama-vulkan "* ]]; then
  node scripts/install-llama-gpu.mjs vulkan --into "$deploy"
fi
# bench/dist imports packages the CLI reaches only through @personaplex/stack: linked at the top as well.
for pkg in codec compaction runtime; do
  [ -e "$deploy/node_modules/@personaplex/$pkg" ] ||
    ln -s "../$(cd "$deploy/node_modules" && ls -d .pnpm/@personaplex+$pkg@*/node_modules/@personaplex/$pkg | head -1)" \
      "$deploy/node_modules/@personaplex/$pkg"
done
mkdir -p "$deploy/bench"
cp -r packages/bench/dist "$deploy/bench/dist"
cp packages/bench/gpu/real-models.mjs "$deploy/"
# The web server beside the CLI (web-session.mjs: a scripted conversation with `personaplex-web --config`):
# a deploy of apps/web in app/web, pruned as the CLI's, its files identical to the CLI's hardlinked to
# them so that the archive holds them once.
if [[ "$parts" == *" web "* ]]; then
  pnpm turbo run build --filter @personaplex/web... --output-logs=errors-only
  pnpm --filter @personaplex/web deploy --prod "$deploy/web" >/dev/null
  prune_deploy "$deploy/web"
  cp packages/bench/gpu/web-session.mjs packages/bench/gpu/web-load.mjs packages/bench/gpu/web-harness.mjs "$deploy/"
fi
# Type declarations are not read at run time.
find "$deploy" -name '*.d.ts' -delete
hardlink --content --quiet "$deploy"
tar -C "$(dirname "$deploy")" -cf - app | xz -9 -T2 > .gpu/extra.tar.xz
du -sh .gpu/extra.tar.xz .gpu
