#!/usr/bin/env bash
# The test command of README.md and CI: builds everything (debug) and runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
