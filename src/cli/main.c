/* cocoon: one binary, many subcommands (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} COMMANDS[] = {
#define CLI_ROW_(name, fn, help) {#name, fn, help},
    CLI_COMMANDS(CLI_ROW_)
#undef CLI_ROW_
};

static void usage(FILE *f) {
    fprintf(f, "usage: cocoon <command> [args...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    }
    fprintf(f, "\nRun `cocoon <command> --help` for the command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cocoon %s\n", COCOON_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
        if (strcmp(argv[1], COMMANDS[i].name) == 0) {
            return COMMANDS[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "cocoon: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
