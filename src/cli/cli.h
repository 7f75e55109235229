/* hessnorm command — shared declarations of the subcommands. */
#ifndef HN_CLI_H
#define HN_CLI_H
#include "hessnorm.h"

int hn_cli_inspect(int argc, char **argv);
int hn_cli_experiment(int argc, char **argv);
int hn_cli_audit(int argc, char **argv);
/* The built-in example: model, weights and sample (all allocated). */
int hn_cli_example(hn_model **m, double **theta, hn_samples **s, hn_err *err);
/* Print "hessnorm: <msg>" to stderr; returns exit status 1. */
int hn_cli_fail(const hn_err *err);
#endif
