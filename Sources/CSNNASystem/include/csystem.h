#ifndef SNNA_CSYSTEM_H
#define SNNA_CSYSTEM_H

// Atomically exchanges two existing paths (renameat2 with RENAME_EXCHANGE, Linux ≥ 3.15). Returns 0 or -1 with errno.
// Swift's Glibc module does not see renameat2, which glibc declares only under _GNU_SOURCE.
int csys_exchange_paths(const char *a, const char *b);

// The calling process gets `sig` when its parent dies (prctl PR_SET_PDEATHSIG; prctl is variadic, which Swift
// cannot call). Returns 0 or -1 with errno.
int csys_set_parent_death_signal(int sig);

// Caps the calling process's address space (setrlimit RLIMIT_AS). Returns 0 or -1 with errno.
int csys_limit_address_space(unsigned long long bytes);

// Starts `path` with `argv` (NULL-terminated) and the current environment, its stdin/stdout/stderr on the given
// descriptors, every other descriptor closed, default signal dispositions and an empty signal mask. Returns 0 and the
// pid, or an errno value.
int csys_spawn(const char *path, char *const argv[], int stdin_fd, int stdout_fd, int stderr_fd, int *pid_out);

// pipe2(fds, O_CLOEXEC) (declared by glibc only under _GNU_SOURCE). Returns 0 or -1 with errno.
int csys_pipe_cloexec(int fds[2]);

#endif
