// Linux calls Swift's Glibc module does not export (they need _GNU_SOURCE / _XOPEN_SOURCE).
#ifndef C_TAILCAST_SYSTEM_H
#define C_TAILCAST_SYSTEM_H
#include <stddef.h>
#include <sys/types.h>

/// Opens a pseudo-terminal master (close-on-exec, not our controlling terminal) and writes the
/// slave's path into `name`. Returns the master fd, or -1 with errno set.
int tailcast_open_pty(char *name, size_t name_length);

/// pipe2(fds, O_CLOEXEC).
int tailcast_pipe_cloexec(int fds[2]);

/// Frees the blocks of [offset, offset+length) while keeping the file's size and offsets.
int tailcast_punch_hole(int fd, off_t offset, off_t length);

#endif
