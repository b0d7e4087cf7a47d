#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads untrusted bytes (docs/fuzzing.md).
#
#   scripts/fuzz.sh --list                 the targets, one a line
#   scripts/fuzz.sh TARGET SECONDS [ARG…]  build if needed, then fuzz TARGET for SECONDS on its seed corpus
#                                          (ARGs go to libFuzzer, e.g. -max_len=65536; the default max_len is
#                                          the largest seed's size, at least 4096)
#   scripts/fuzz.sh all SECONDS            every target in turn, SECONDS each
#   scripts/fuzz.sh --build                build only
#
# Seeds are read from Fuzz/Corpus/TARGET (committed); what the fuzzer finds new goes to
# Fuzz/.build-fuzz/work/TARGET/corpus (scratch, not in git) and is reused by the next run. A crash, a timeout or an
# out-of-memory stops the target: its input is saved in Fuzz/.build-fuzz/work/TARGET/crashes/, the path is printed
# ("crash file: …"), and the script exits 1 (with `all`, after running the other targets too).
#
# The targets are built in release mode with libFuzzer and AddressSanitizer (-sanitize=fuzzer,address): ASan turns
# an out-of-bounds read through an unsafe pointer, which release Swift does not check, into a crash too.
# SNNA_FUZZ_SANITIZE overrides the sanitizer list (e.g. "fuzzer" alone, about twice as fast); SNNA_FUZZ_NICE the
# niceness the fuzzers run at (default 10: the machine is shared).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/Fuzz"
SCRATCH="$FUZZ/.build-fuzz"
TARGETS=(container safetensors zip pickle torch onnx config labels)
SANITIZE="${SNNA_FUZZ_SANITIZE:-fuzzer,address}"
NICE="${SNNA_FUZZ_NICE:-10}"

usage() {
    sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# The executable of a target: Fuzz/Sources/Fuzz<Name>, e.g. safetensors → FuzzSafeTensors.
executable() {
    case "$1" in
        container) echo FuzzContainer ;;
        safetensors) echo FuzzSafeTensors ;;
        zip) echo FuzzZip ;;
        pickle) echo FuzzPickle ;;
        torch) echo FuzzTorch ;;
        onnx) echo FuzzOnnx ;;
        config) echo FuzzConfig ;;
        labels) echo FuzzLabels ;;
        *) return 1 ;;
    esac
}

build() {
    # libFuzzer's runtime ships with the Swift toolchain (no system package needed); say so plainly if it is not there.
    local resources
    resources="$(dirname "$(command -v swiftc)")/../lib/swift/clang/lib/linux"
    if ! ls "$resources"/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
        echo "fuzz: this Swift toolchain has no libFuzzer runtime (no $resources/libclang_rt.fuzzer-*.a);" \
            "use a swift.org toolchain for Linux, which ships it" >&2
        exit 1
    fi
    echo "fuzz: building the targets (release, -sanitize=$SANITIZE)…" >&2
    local started=$SECONDS
    # The sanitizer flags reach every Swift module, dependencies included, so coverage is collected inside the
    # parsers' own modules; C modules (FFmpeg shims, CKernels) stay uninstrumented.
    swift build -c release --package-path "$FUZZ" --scratch-path "$SCRATCH" \
        -Xswiftc "-sanitize=$SANITIZE" >&2
    echo "fuzz: build done in $((SECONDS - started)) s" >&2
}

# fuzz_one TARGET SECONDS [ARGS…]: 0 when nothing was found, 1 when a crash file was written.
fuzz_one() {
    local target=$1 seconds=$2
    shift 2
    local exe seeds work log
    exe="$SCRATCH/release/$(executable "$target")"
    seeds="$FUZZ/Corpus/$target"
    work="$SCRATCH/work/$target"
    log="$work/last-run.log"
    mkdir -p "$work/corpus" "$work/crashes"
    local dict=()
    [ -f "$FUZZ/Dictionaries/$target.dict" ] && dict=("-dict=$FUZZ/Dictionaries/$target.dict")
    echo "fuzz: $target for $seconds s (seeds $seeds, new inputs $work/corpus)"
    local status=0
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: one input growing the process past 2 GiB is a
    # memory bomb (both count as crashes). The first directory given receives the new corpus entries. Leaks are
    # crashes too (LeakSanitizer, on with ASan), except the third-party ones listed in Fuzz/lsan.supp.
    # SWIFT_BACKTRACE: the Swift runtime's own crash backtracer would race libFuzzer's handler (and trips ASan).
    SWIFT_BACKTRACE=enable=no LSAN_OPTIONS="suppressions=$FUZZ/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        nice -n "$NICE" "$exe" "$work/corpus" "$seeds" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/crashes/" -print_final_stats=1 "$@" >"$log" 2>&1 || status=$?
    # The closing statistics, one line.
    local runs rate added rss
    # Executions: the last "#N" status line (fork mode, -fork=N, prints no stat:: lines).
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    local crash
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
        echo "fuzz: $target FAILED (exit $status) after ${runs:-?} executions; the fuzzer's last lines:"
        tail -n 60 "$log" | sed 's/^/    /'
        if [ -n "$crash" ]; then
            echo "fuzz: crash file: $crash"
            echo "fuzz: reproduce with: $exe $crash"
        fi
        return 1
    fi
    echo "fuzz: $target ok: ${runs:-?} executions (${rate:-?}/s), ${added:-?} new inputs, corpus $(find "$work/corpus" -type f | wc -l) + $(find "$seeds" -type f | wc -l) seeds, peak RSS ${rss:-?} MB"
}

[ $# -ge 1 ] || usage
case "$1" in
    --list)
        printf '%s\n' "${TARGETS[@]}"
        exit 0
        ;;
    --build)
        build
        exit 0
        ;;
    -h | --help) usage ;;
esac
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive whole number, not '$seconds'" >&2; exit 2; }
if [ "$target" != all ] && ! executable "$target" >/dev/null; then
    echo "fuzz: unknown target '$target' (scripts/fuzz.sh --list: ${TARGETS[*]})" >&2
    exit 2
fi

build
failed=()
if [ "$target" = all ]; then
    for t in "${TARGETS[@]}"; do fuzz_one "$t" "$seconds" "$@" || failed+=("$t"); done
else
    fuzz_one "$target" "$seconds" "$@" || failed+=("$target")
fi
ran=$([ "$target" = all ] && echo ${#TARGETS[@]} || echo 1)
# The closing line in the form test runners use, so CI logs read the same as the test suites'.
echo "fuzz: $((ran - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes found in: ${failed[*]}"
    exit 1
fi
