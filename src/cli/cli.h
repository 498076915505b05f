/* Shared by the ictal subcommands (src/cli/cmd_*.c): exit codes and small helpers. */
#ifndef ICTAL_CLI_H
#define ICTAL_CLI_H

#include <stdio.h>

#include "ictal/error.h"
#include "ictal/model.h"

/* The version comes from the build (project() in CMakeLists.txt), as ictal.pc's and
 * libictal's soname do, so that they cannot disagree. */
#ifndef ICTAL_VERSION_STRING
#error "ICTAL_VERSION_STRING is defined by the build (CMakeLists.txt)"
#endif

enum {
    ICTAL_EXIT_OK = 0,
    ICTAL_EXIT_FAIL = 1,  /* input read, but an error in it or a failed check */
    ICTAL_EXIT_USAGE = 2, /* bad command line */
    ICTAL_EXIT_IO = 3     /* a file could not be read or written */
};

/* Maps a status code to an exit code. */
int ictal_cli_exit_code(int status);

/* Prints "ictal CMD: " + the formatted diagnostic to stderr. */
void ictal_cli_print_diag(const char *cmd, const ictal_diag *d);

/* A warning callback for ictal_diag that prints "ictal CMD: warning: ..." to stderr;
 * user is the command name (const char *). */
void ictal_cli_warn_stderr(void *user, const ictal_diag *w);

/* JSON text for a string that may not be UTF-8 (a path, a message naming one): the
 * string itself when it is valid UTF-8, else a copy with every non-ASCII byte as '?'
 * (jansson refuses invalid UTF-8, and the value would silently go missing). */
struct json_t;
struct json_t *ictal_cli_json_string(const char *s);
/* json_object_set_new with the same treatment of the key. Returns 0 or -1. */
int ictal_cli_json_set(struct json_t *obj, const char *key, struct json_t *value);

/* The "error" object of every --json output (README, "JSON output"): the ICTAL_E*
 * code as a number, its symbol and text, the formatted message and the location
 * fields of d (null when unset). */
struct json_t *ictal_cli_json_error(const ictal_diag *d);

/* Prints {"ok": false, "error": ...} on stdout: what a command with --json prints
 * instead of its result when it fails (the diagnostic also goes to stderr). */
void ictal_cli_json_print_error(const ictal_diag *d);

/* Non-zero when stdout is a terminal (progress bars only then). */
int ictal_cli_stdout_is_tty(void);

/* A one-line progress bar on stderr, redrawn in place: done of total, with a label. */
void ictal_cli_progress(const char *label, double done, double total);
void ictal_cli_progress_end(void);

/*
 * The detector model a command uses: the file given (path non-NULL), else
 * models/default.ictalmodel of the source tree this binary was built from, else the
 * copy of that model compiled into the binary (src/cli/default_model.c). The bytes stay
 * owned by the struct while the model (a view over them) is in use.
 */
typedef struct ictal_cli_model {
    ictal_model model;
    unsigned char *bytes;  /* owned; NULL for the built-in copy */
    size_t len;
    const char *source;    /* file path, or "built-in model" */
    char default_path[4096];
} ictal_cli_model;

/* Returns 0, ICTAL_EIO/ICTAL_ENOENT when the file cannot be read, or the parse error;
 * d says what and where. */
int ictal_cli_model_load(ictal_cli_model *m, const char *path, ictal_diag *d);
void ictal_cli_model_free(ictal_cli_model *m);
/* The loaded model's bytes, from the file or the built-in copy; *len gets their size. */
const unsigned char *ictal_cli_model_bytes(const ictal_cli_model *m, size_t *len);

/* A whole file in memory (at most max_bytes), for the commands' small inputs. */
int ictal_cli_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len,
                        ictal_diag *d);

/* The first line of a file (without its line end) into buf: a secret such as a broker
 * password, kept in a file because command lines are visible to every local user.
 * Returns 0, or -1 when the file cannot be read or is empty. */
int ictal_cli_read_secret_file(const char *path, char *buf, size_t cap);

/* `ictal serve` (worker 0) and `ictal worker` (worker 1: devices only from NATS, no device
 * WebSocket, --nats and --partitions required): one option parser, one server. cmd names
 * the command in messages. */
int ictal_cli_serve(const char *cmd, int worker, int argc, char **argv);

#endif
