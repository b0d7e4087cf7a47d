#ifndef SNNA_LIBFUZZER_H
#define SNNA_LIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt's FuzzerDriver.cpp, linked by -sanitize=fuzzer): parses the libFuzzer flags in
/// argv and fuzzes `callback`. The targets call it from their own main (see FuzzSupport/LibFuzzer.swift).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
