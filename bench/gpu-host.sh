#!/usr/bin/env bash
# The fused WebGPU step and stock tfjs-webgpu, side by side, on a GPU host that has no Node and no network.
#   bash bench/gpu-host.sh prepare DIR   (here: Node, Dawn's addon, the two benches bundled, Vulkan loader debs, into DIR)
#   bash bench/gpu-host.sh run DIR       (there: unpacks and runs both; NVIDIA's Vulkan driver found through VK_DRIVER_FILES)
set -euo pipefail
cmd=${1:?prepare|run}
dir=$(realpath "${2:?DIR}")
banner="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
if [ "$cmd" = prepare ]; then
  cd "$(dirname "$0")/.."
  mkdir -p "$dir/gl" "$dir/node_modules/webgpu/dist/linux-x64"
  xz -T2 -6 -c "$(readlink -f "$(command -v node)")" >"$dir/node.xz"
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$dir/node_modules/webgpu/"
  xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$dir/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
  npx esbuild bench/webgpu-step.ts --bundle --platform=node --format=esm --external:webgpu --outfile="$dir/webgpu-step.mjs" --banner:js="$banner" --log-level=warning
  npx esbuild bench/webgpu-stock-step.mjs --bundle --platform=node --format=esm --external:webgpu --outfile="$dir/webgpu-stock-step.mjs" --banner:js="$banner" --log-level=warning
  (cd "$dir/gl" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libgles2 libopengl0)
  du -sh "$dir"
else
  for f in "$dir"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  work=$(mktemp -d) && cd "$work"
  xz -dc "$dir/node.xz" >node && chmod +x node
  cp -r "$dir/node_modules" "$dir"/*.mjs .
  xz -d node_modules/webgpu/dist/linux-x64/dawn.node.xz
  echo "== stock tfjs-webgpu"
  STEPS=20 ./node webgpu-stock-step.mjs
  echo "== fused WebGPU step, metrics read every 50 steps"
  WEBGPU_STEPS=300 WEBGPU_READ_EVERY=50 ./node webgpu-step.mjs 32 256 1024 4096
  echo "== fused WebGPU step, metrics read every step"
  WEBGPU_STEPS=300 WEBGPU_READ_EVERY=1 ./node webgpu-step.mjs 32 256 1024
fi
