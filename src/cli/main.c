/* hessnorm — command-line entry point. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

int hn_cli_fail(const hn_err *err)
{
    fprintf(stderr, "hessnorm: %s\n", err->msg[0] ? err->msg : hn_strerror(err->code));
    return 1;
}

static void usage(FILE *f)
{
    fputs("usage: hessnorm <command> [options]\n"
          "commands:\n"
          "  inspect   exact matrices, Hessians and norms of one model at one sample or batch\n"
          "            hessnorm inspect --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                             [--json] [--dump DIR]\n"
          "            hessnorm inspect --example [--json] [--dump DIR] [--write-example DIR]\n"
          "run 'hessnorm <command> --help' for details.\n",
          f);
}

int main(int argc, char **argv)
{
    hn_gsl_quiet();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        puts(PACKAGE_STRING);
        return 0;
    }
    if (!strcmp(argv[1], "inspect"))
        return hn_cli_inspect(argc - 1, argv + 1);
    fprintf(stderr, "hessnorm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
