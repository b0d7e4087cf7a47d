#!/usr/bin/env bash
# The quick start: on a fresh Debian machine, installs the system packages, builds snna in release mode, fetches
# the demo model (DINOv2 ViT-S/14 + a head fitted on synthetic scenes: a DEMO, not a driving model), renders a
# 20-second synthetic dashcam clip that contains every action, and runs `snna process` on it.
# About 10 minutes on 2 cores, most of it the build. Results land in snna-out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
BIN=.build/release/snna
scripts/fetch-demo-model
OUT=snna-out/quickstart
"$BIN" samples render --clip 20 --seed 7 --out "$OUT/scene"
# Predict every frame, explain every 10th with SNNA, overlay video, heat maps.
"$BIN" process --model models/demo.safetensors --out "$OUT" --explain-stride 10 --heatmaps --seed 1 "$OUT/scene/clip.mp4"
cat <<DONE

Done. Look at:
  $OUT/clip/overlay.mp4     the clip with the actions and the SNNA heat map
  $OUT/clip/actions.jsonl   one JSON line per frame (docs/process.md)
  $OUT/clip/summary.json    action shares and segments, speed
  $OUT/scene/track.jsonl    what the renderer says is true in each frame (labels, causes, regions)
DONE
