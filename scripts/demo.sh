#!/usr/bin/env bash
# Installs the system packages, builds snna (release), and runs the main job on inputs the script makes itself:
# a random ViT-S/8 model (DINO shapes, random weights: its heat maps show the machinery, not driving knowledge) and a
# generated 1-second 640×360 dashcam-sized clip. Results land in snna-out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
BIN=.build/release/snna
OUT=snna-out/demo
mkdir -p "$OUT"
"$BIN" model random --patch 8 --dim 384 --depth 12 --heads 6 --classes 4 --seed 7 -o "$OUT/random-vits8.safetensors"
"$BIN" model inspect "$OUT/random-vits8.safetensors"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -t 1 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p "$OUT/clip.mp4"
# The main job: predict every 3rd frame, explain every 5th prediction with SNNA, overlay video, heat maps.
"$BIN" process --model "$OUT/random-vits8.safetensors" --out "$OUT" --predict-stride 3 --explain-stride 5 \
    --heatmaps --seed 1 "$OUT/clip.mp4"
echo "wrote $OUT/clip/{actions.jsonl,overlay.mp4,summary.json,heatmaps/}"
