#!/usr/bin/env bash
# Installs the Debian packages snna builds and runs against (FFmpeg 5.1, OpenBLAS, libpng) and the ffmpeg CLI
# that the demo and the tests use to make sample media, and python3 with pip (the tests validate JSON with jsonschema;
# scripts/fetch-demo-model downloads the demo backbone's wheel with pip). Idempotent; needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    pkg-config libavcodec-dev libavformat-dev libswscale-dev libavutil-dev \
    libopenblas-pthread-dev libpng-dev libsqlite3-dev libsystemd-dev ffmpeg python3 python3-pip >/dev/null
# The tests validate every actions.jsonl line against docs/actions.schema.json with Python's jsonschema.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import jsonschema" 2>/dev/null; then
    python3 -m pip install --quiet jsonschema || $SUDO apt-get install -y -qq python3-jsonschema >/dev/null
fi
echo "system packages installed"
