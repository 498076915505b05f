/*
 * ictal - the command line. `ictal COMMAND [ARGS]`; `ictal COMMAND --help` for each.
 *
 * Exit codes (shared by every subcommand, see src/cli/cli.h):
 *   0 success, 1 the input was read but something in it failed (an error in a file,
 *   a failed check), 2 usage error, 3 input/output error.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli_commands.h"

/*
 * A command built as a module (run == NULL in the table; ICTAL_CMD_MODULES in
 * CMakeLists.txt): loads ictal-cmd-NAME.so from beside this binary (lib/ictal in the
 * build tree, ../LIBDIR/ictal when installed), so that only this command pays for its
 * libraries. The folder comes from /proc/self/exe rather than a run path: the
 * sanitizers' dlopen wrapper would search its own run path, not this binary's.
 * Returns 0, or -1 with a message in err.
 */
static int load_module(struct ictal_cli_command *c, char *err, size_t errsize)
{
    static const char *const dirs[] = {ICTAL_CMD_MODULE_DIR_BUILD, ICTAL_CMD_MODULE_DIR_INSTALL};
    char exe[4096], file[4096 + 256], sym[160];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = NULL;
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
    }
    if (slash == NULL) {
        snprintf(err, errsize, "cannot find this program's folder (/proc/self/exe)");
        return -1;
    }
    *slash = '\0';
    void *h = NULL;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && h == NULL; i++) {
        snprintf(file, sizeof(file), "%s/%s/ictal-cmd-%s.so", exe, dirs[i], c->name);
        if (access(file, F_OK) != 0)
            continue;
        h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            snprintf(err, errsize, "%s", dlerror());
            return -1;
        }
    }
    if (h == NULL) {
        snprintf(err, errsize, "no ictal-cmd-%s.so in %s/%s or %s/%s", c->name, exe,
                 dirs[0], exe, dirs[1]);
        return -1;
    }
    snprintf(sym, sizeof(sym), "ictal_cmd_%s", c->name);
    void *run = dlsym(h, sym);
    snprintf(sym, sizeof(sym), "ictal_cmd_%s_summary", c->name);
    const char *summary = dlsym(h, sym);
    if (run == NULL || summary == NULL) {
        snprintf(err, errsize, "%s has no ictal_cmd_%s or no %s", file, c->name, sym);
        return -1;
    }
    /* ISO C leaves object-to-function pointer casts undefined; POSIX requires dlsym's
     * result to convert, and this copy is the conversion it documents. */
    memcpy(&c->run, &run, sizeof(c->run));
    c->summary = summary;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ictal COMMAND [OPTIONS] [ARGS]\n\n"
                 "ictal detects epileptic seizures in EEG, in real time.\n\ncommands:\n");
    for (struct ictal_cli_command *c = ictal_cli_commands; c->name != NULL; c++) {
        char err[2 * 4096 + 512];
        if (c->run == NULL && load_module(c, err, sizeof(err)) != 0)
            fprintf(out, "  %-10s (not available: %s)\n", c->name, err);
        else
            fprintf(out, "  %-10s %s\n", c->name, c->summary);
    }
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
    for (struct ictal_cli_command *c = ictal_cli_commands; c->name != NULL; c++) {
        if (strcmp(c->name, name) != 0)
            continue;
        char err[2 * 4096 + 512];
        if (c->run == NULL && load_module(c, err, sizeof(err)) != 0) {
            fprintf(stderr, "ictal %s: cannot load this command: %s\n", name, err);
            return ICTAL_EXIT_IO;
        }
        return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ictal: unknown command '%s'\n\n", name);
    usage(stderr);
    return ICTAL_EXIT_USAGE;
}
