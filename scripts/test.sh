#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls exactly this).
# Installs what the tests need if it is missing, then runs the checks and the tests. Fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }

# Debian packages the tests use. Add a line here when a test needs a new tool.
packages=()
need kill || packages+=(procps)
need zbarimg || packages+=(zbar-tools)        # QR PNGs decode back to their URL
need rsvg-convert || packages+=(librsvg2-bin) # the certificate SVG rasterised, its QR scanned
need openssl || packages+=(openssl)           # attestations and QR signatures verified by OpenSSL
need chromium || packages+=(chromium)         # the citizen page loaded and screenshotted headless
need fc-list || packages+=(fontconfig)        # fc-list: the font check here and in the tests
# A CJK font, or the screenshots show boxes for Chinese (no pipe: grep -q would cut fc-list short).
if ! need fc-list || ! grep -qi 'WenQuanYi Micro Hei' <<<"$(fc-list : family)"; then
  packages+=(fonts-wqy-microhei)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
fi

for tool in cargo rustfmt cargo-clippy; do
  need "$tool" || { echo "scripts/test.sh: $tool is missing from this machine's Rust toolchain" >&2; exit 1; }
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# Benchmarks do not run here, but they must build.
cargo bench --workspace --no-run --locked
