#!/usr/bin/env bash
# Installs what the tests need and runs every test: type checks, unit and integration tests
# (vitest), and end-to-end tests (Playwright in Debian's Chromium against the serve host).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
python3 -c 'import h5py' 2>/dev/null || need+=(python3-h5py)
command -v redis-server >/dev/null || need+=(redis-server)
# Dawn (WebGPU tests on SwiftShader, chromium's Vulkan driver) needs the Vulkan loader.
ldconfig -p | grep -q 'libvulkan.so.1 ' || need+=(libvulkan1)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing Debian packages (run as root, or: sudo apt-get install ${need[*]})" >&2
  fi
fi

npm ci --no-audit --no-fund
mkdir -p reports
npm run check
npm run build
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json || status=$?
PLAYWRIGHT_JSON_OUTPUT_NAME=reports/playwright.json npx playwright test --reporter=list,json || status=$?
node scripts/test-summary.mjs reports/vitest.json reports/playwright.json || status=1
exit $status
