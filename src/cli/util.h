/* Small helpers shared by the subcommands: option values, default paths, printing. */
#ifndef COCOON_CLI_UTIL_H
#define COCOON_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* Prints "cocoon <cmd>: <message>[: detail]" to stderr; returns 1 (the failure exit code). */
int cli_fail(const char *cmd, err_t e, const char *what);
/* Parses a decimal integer within [lo, hi]; false on garbage or out of range. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
/* $COCOON_HOME or ~/.cocoon, plus "/" sub; out must hold 4096 bytes. */
void cli_home_path(const char *sub, char *out, size_t cap);
void cli_print_hex(FILE *f, const char *key, const uint8_t *d, size_t n);

#endif
