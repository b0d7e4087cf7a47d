#ifndef SNNA_CSYSTEM_H
#define SNNA_CSYSTEM_H

// Atomically exchanges two existing paths (renameat2 with RENAME_EXCHANGE, Linux ≥ 3.15). Returns 0 or -1 with errno.
// Swift's Glibc module does not see renameat2, which glibc declares only under _GNU_SOURCE.
int csys_exchange_paths(const char *a, const char *b);

#endif
