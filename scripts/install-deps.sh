#!/usr/bin/env bash
# Installs the Debian packages snna builds and runs against (FFmpeg 5.1, OpenBLAS, libpng) and the ffmpeg CLI
# that the demo and the tests use to make sample media. Idempotent; needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    pkg-config libavcodec-dev libavformat-dev libswscale-dev libavutil-dev \
    libopenblas-pthread-dev libpng-dev ffmpeg >/dev/null
echo "system packages installed"
