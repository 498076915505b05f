/*
 * ictal - the command line. `ictal COMMAND [ARGS]`; `ictal COMMAND --help` for each.
 *
 * Exit codes (shared by every subcommand, see src/cli/cli.h):
 *   0 success, 1 the input was read but something in it failed (an error in a file,
 *   a failed check), 2 usage error, 3 input/output error.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli_commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: ictal COMMAND [OPTIONS] [ARGS]\n\n"
                 "ictal detects epileptic seizures in EEG, in real time.\n\ncommands:\n");
    for (const struct ictal_cli_command *c = ictal_cli_commands; c->name != NULL; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n`ictal COMMAND --help` describes each command; `ictal --version` prints\n"
                 "the version, `ictal --help` this text.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ICTAL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return ICTAL_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("ictal %s\n", ICTAL_VERSION_STRING);
        return ICTAL_EXIT_OK;
    }
    for (const struct ictal_cli_command *c = ictal_cli_commands; c->name != NULL; c++) {
        if (strcmp(c->name, name) == 0)
            return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ictal: unknown command '%s'\n\n", name);
    usage(stderr);
    return ICTAL_EXIT_USAGE;
}
