#!/usr/bin/env bash
# Installs the Debian packages Kaffa needs to build, run and test. Does nothing when they are
# all present already. Usage: scripts/deps.sh [run|test]
set -euo pipefail
mode=${1:-test}

build_pkgs=(cmake ninja-build g++ ccache pkg-config python3 libasio-dev libfmt-dev libspdlog-dev
  libcli11-dev libisal-dev libssl-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev librdkafka-dev
  libre2-dev)
test_pkgs=(libgtest-dev libgmock-dev clang libclang-rt-14-dev kcat
  python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard
  python3-prometheus-client python3-cryptography iproute2 etcd-server golang-go
  golang-github-shopify-sarama-dev)
pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
  [ "$mode" = test ] && pkgs+=(nodejs npm)
}

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "Installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
