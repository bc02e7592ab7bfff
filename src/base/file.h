/* Whole-file helpers with size limits and atomic replacement. */
#ifndef COCOON_BASE_FILE_H
#define COCOON_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Reads the whole file into out (initialised by the caller); ERR_TOO_LARGE past max bytes,
 * ERR_NOT_FOUND if it does not exist, ERR_IO otherwise. */
MUST_CHECK err_t file_read(const char *path, size_t max, buf *out);
/* Writes via a temporary file in the same directory, fsync and rename: a crash leaves either
 * the old or the new content, never a mix. */
MUST_CHECK err_t file_write_atomic(const char *path, const void *data, size_t n, mode_t mode);

#endif
