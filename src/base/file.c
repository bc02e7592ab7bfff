#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

err_t file_read(const char *path, size_t max, buf *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_fail(errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, "%s: %s", path, strerror(errno));
    }
    err_t e = ERR_OK;
    for (;;) {
        uint8_t tmp[16384];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            e = err_fail(ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        if ((size_t)r > max - out->len || out->len > max) {
            e = err_fail(ERR_TOO_LARGE, "%s: larger than %zu bytes", path, max);
            break;
        }
        if ((e = buf_append(out, tmp, (size_t)r)) != ERR_OK) {
            break;
        }
    }
    close(fd);
    return e;
}

err_t file_write_atomic(const char *path, const void *data, size_t n, mode_t mode) {
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        return err_fail(ERR_TOO_LARGE, "path too long");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return err_fail(ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    const uint8_t *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            int en = errno;
            close(fd);
            unlink(tmp);
            return err_fail(ERR_IO, "%s: %s", tmp, strerror(en));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        int en = errno;
        close(fd);
        unlink(tmp);
        return err_fail(ERR_IO, "%s: %s", tmp, strerror(en));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int en = errno;
        unlink(tmp);
        return err_fail(ERR_IO, "rename to %s: %s", path, strerror(en));
    }
    return ERR_OK;
}
