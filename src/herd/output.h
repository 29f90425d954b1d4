/*
 * output.h — table and JSON printers shared by every listing command.
 *
 * Tables: declare columns, add rows of strings, print once with widths
 * fitted to the content (numbers right-aligned), two spaces between
 * columns, no trailing blanks, control characters in cells shown as '?'.
 * Widths count UTF-8 characters, not bytes.  A table whose columns have no
 * titles prints no header line.  JSON goes through
 * jansson and is printed with a trailing newline; every listing that has
 * a table also has a --json form built from the same data.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/strv.h"

struct table;

enum table_align { TABLE_LEFT = 0, TABLE_RIGHT };

/* Create a table with `ncols` columns; returns NULL on out of memory. */
struct table *table_new(size_t ncols);
void table_set_header(struct table *t, size_t col, const char *title, enum table_align align);
/* Add a row; `cells` has ncols entries (NULL prints as "-"). Returns 0 or -ENOMEM. */
int table_add_row(struct table *t, const char *const *cells);
/* Formatted cell helper: table_add_rowf(t, "%s", a, "%zu", n, ...) is not
 * offered on purpose: format numbers with the helpers below first. */
void table_print(const struct table *t, FILE *out);
struct table *table_free(struct table *t);

/* Human sizes with binary units: "512 B", "3.5 MiB", "2.4 GiB", "123 MiB":
 * one decimal below 100, none from 100 up, the next unit from 1023.5 up
 * ("1.0 MiB", never "1024 KiB"); up to "16.0 EiB". */
void format_size(char *buf, size_t len, unsigned long long bytes);

/* Print `value` (stolen reference; NULL means building it failed) to
 * stdout, indented by 2, keys in insertion order, with a newline.  Any
 * JSON value is allowed, not only arrays and objects.  Returns EXIT_OK,
 * or prints "herd: ..." and returns EXIT_FAIL. */
int output_json(json_t *value);
/* The same on `out`. */
int output_json_to(FILE *out, json_t *value);
/* Print a string vector as a JSON array. */
int output_json_strv(const struct strv *v);
