#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include "CTailcastSystem.h"

int tailcast_spawn_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}

int tailcast_open_pty(char *name, size_t name_length) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, name_length) != 0) {
        close(master);
        return -1;
    }
    return master;
}

int tailcast_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int tailcast_punch_hole(int fd, off_t offset, off_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

int tailcast_write_all(int fd, const void *bytes, size_t length) {
    const char *cursor = bytes;
    while (length > 0) {
        ssize_t n = write(fd, cursor, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        cursor += n;
        length -= (size_t)n;
    }
    return 0;
}

int tailcast_pwrite_all(int fd, const void *bytes, size_t length, off_t offset) {
    const char *cursor = bytes;
    while (length > 0) {
        ssize_t n = pwrite(fd, cursor, length, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = EIO;
        if (n <= 0) return -1;
        cursor += n;
        offset += n;
        length -= (size_t)n;
    }
    return 0;
}

#ifdef __linux__
#include <sys/inotify.h>

int tailcast_inotify_open(void) { return inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }

int tailcast_inotify_watch_directory(int fd, const char *path) {
    return inotify_add_watch(fd, path, IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM
        | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

int tailcast_inotify_unwatch(int fd, int watch) { return inotify_rm_watch(fd, watch); }

unsigned int tailcast_inotify_structural_mask(void) {
    return IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
}
unsigned int tailcast_inotify_overflow_mask(void) { return IN_Q_OVERFLOW; }
unsigned int tailcast_inotify_ignored_mask(void) { return IN_IGNORED; }
#else
#include <errno.h>
int tailcast_inotify_open(void) { errno = ENOSYS; return -1; }
int tailcast_inotify_watch_directory(int fd, const char *path) { (void)fd; (void)path; errno = ENOSYS; return -1; }
int tailcast_inotify_unwatch(int fd, int watch) { (void)fd; (void)watch; return 0; }
unsigned int tailcast_inotify_structural_mask(void) { return 0; }
unsigned int tailcast_inotify_overflow_mask(void) { return 0; }
unsigned int tailcast_inotify_ignored_mask(void) { return 0; }
#endif

int tailcast_syncfs(int fd) { return syncfs(fd); }

int tailcast_malloc_thresholds(int mmap_threshold, int trim_threshold) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 ? 0 : -1;
#else
    (void)mmap_threshold;
    (void)trim_threshold;
    return -1;
#endif
}
