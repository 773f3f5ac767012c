// Linux calls Swift's Glibc module does not export (they need _GNU_SOURCE / _XOPEN_SOURCE).
#ifndef C_TAILCAST_SYSTEM_H
#define C_TAILCAST_SYSTEM_H
#include <stddef.h>
#include <sys/types.h>

/// Opens a pseudo-terminal master (close-on-exec, not our controlling terminal) and writes the
/// slave's path into `name`. Returns the master fd, or -1 with errno set.
int tailcast_open_pty(char *name, size_t name_length);

/// mallopt(M_MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD) (malloc.h, which Glibc does not export).
/// Returns 0, or -1 if glibc refused either.
int tailcast_malloc_thresholds(int mmap_threshold, int trim_threshold);

/// syncfs(fd): flushes the whole file system that holds fd.
int tailcast_syncfs(int fd);

/// pipe2(fds, O_CLOEXEC).
int tailcast_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every descriptor from `from` on.
int tailcast_spawn_close_from(void *actions, int from);

/// Frees the blocks of [offset, offset+length) while keeping the file's size and offsets.
int tailcast_punch_hole(int fd, off_t offset, off_t length);

/// inotify_init1(IN_NONBLOCK | IN_CLOEXEC), or -1 where there is no inotify.
int tailcast_inotify_open(void);
/// Watches a directory for what a tailer cares about: writes, creations, renames, deletions, and
/// the directory itself going away. Returns the watch descriptor, or -1 with errno (ENOSPC: no
/// watches left).
int tailcast_inotify_watch_directory(int fd, const char *path);
int tailcast_inotify_unwatch(int fd, int watch);
/// Event bits callers tell apart: the directory's entries changed (created, moved, deleted), the
/// queue overflowed (events were lost), or the watch is gone.
unsigned int tailcast_inotify_structural_mask(void);
unsigned int tailcast_inotify_overflow_mask(void);
unsigned int tailcast_inotify_ignored_mask(void);

#endif

#ifndef C_TAILCAST_DEFLATE_H
#define C_TAILCAST_DEFLATE_H
#include <stdint.h>

/// A raw-deflate compressor (no zlib header), as permessage-deflate needs. Opaque.
typedef struct tailcast_deflater tailcast_deflater;

/// zlib's levels 0-9, or this: a shortest-path encoder of its own for small, slow messages (optimal_deflate.c).
#define TAILCAST_DEFLATE_OPTIMAL 10

tailcast_deflater *tailcast_deflater_create(int level, int window_bits, int memory_level);
void tailcast_deflater_destroy(tailcast_deflater *deflater);
/// Changes the level for what follows; call between messages only. Returns 0 on success.
int tailcast_deflater_set_level(tailcast_deflater *deflater, int level);
/// Upper bound of the output of one `compress` call for `length` input bytes.
size_t tailcast_deflater_bound(tailcast_deflater *deflater, size_t length);
/// Compresses `input` and sync-flushes (output ends in 00 00 ff ff). Returns the output length, or -1.
long tailcast_deflater_compress(tailcast_deflater *deflater, const uint8_t *input, size_t length, uint8_t *output, size_t capacity);
/// Forgets the window (no context takeover). Returns 0 on success.
int tailcast_deflater_reset(tailcast_deflater *deflater);
/// Messages the optimal encoder got wrong (checked by inflating each) and zlib sent instead: 0 unless it has a bug.
unsigned long tailcast_deflater_fallbacks(const tailcast_deflater *deflater);

#endif

/// Writes all `length` bytes, retrying short writes and EINTR. Returns 0, or -1 when the fd is closed or broken.
int tailcast_write_all(int fd, const void *bytes, size_t length);
/// Writes all `length` bytes at `offset`, retrying short writes and EINTR. Returns 0, or -1 with errno set.
int tailcast_pwrite_all(int fd, const void *bytes, size_t length, off_t offset);
