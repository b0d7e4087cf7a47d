#!/usr/bin/env bash
# Installs the system packages, builds snna (release), and runs the main job on inputs the script makes itself:
# a random ViT-S/8 model (DINO shapes, random weights: its heat maps show the machinery, not driving knowledge)
# and a generated 1280×720 test picture. Results land in snna-out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release
BIN=.build/release/snna
OUT=snna-out/demo
mkdir -p "$OUT"
"$BIN" model random --patch 8 --dim 384 --depth 12 --heads 6 --classes 4 --seed 7 -o "$OUT/random-vits8.safetensors"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720" -frames:v 1 "$OUT/frame.png"
"$BIN" model inspect "$OUT/random-vits8.safetensors"
"$BIN" explain --model "$OUT/random-vits8.safetensors" --image "$OUT/frame.png" \
    --method snna,normatt,genericatt,rawatt --seed 1 --json "$OUT/explain.json" --png "$OUT"
echo "wrote $OUT/explain.json and heat maps $OUT/*.png"
