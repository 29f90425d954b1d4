/*
 * output.c — table and JSON printing (see output.h).
 */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct table {
	size_t ncols;
	char **titles;
	enum table_align *align;
	char ***rows; /* rows[r][c], owned copies */
	size_t nrows, caprows;
};

struct table *table_new(size_t ncols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->titles = calloc(ncols, sizeof(*t->titles));
	t->align = calloc(ncols, sizeof(*t->align));
	if (!t->titles || !t->align)
		return table_free(t);
	return t;
}

void table_set_header(struct table *t, size_t col, const char *title, enum table_align align)
{
	if (col >= t->ncols)
		return;
	free(t->titles[col]);
	t->titles[col] = strdup(title);
	t->align[col] = align;
}

int table_add_row(struct table *t, const char *const *cells)
{
	char **row;

	if (t->nrows == t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 16;
		char ***rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		t->caprows = cap;
	}
	row = calloc(t->ncols, sizeof(*row));
	if (!row)
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++) {
		row[c] = strdup(cells[c] ? cells[c] : "-");
		if (!row[c]) {
			for (size_t k = 0; k < c; k++)
				free(row[k]);
			free(row);
			return -ENOMEM;
		}
	}
	t->rows[t->nrows++] = row;
	return 0;
}

static void print_cell(FILE *out, const char *s, size_t width, enum table_align align, bool last)
{
	size_t n = strlen(s);
	size_t pad = width > n ? width - n : 0;

	if (align == TABLE_RIGHT)
		fprintf(out, "%*s%s", (int)pad, "", s);
	else if (last)
		fputs(s, out);
	else
		fprintf(out, "%s%*s", s, (int)pad, "");
}

void table_print(const struct table *t, FILE *out)
{
	size_t *width = calloc(t->ncols, sizeof(*width));

	if (!width)
		return;
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = t->titles[c] ? strlen(t->titles[c]) : 0;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t n = strlen(t->rows[r][c]);
			if (n > width[c])
				width[c] = n;
		}
	}
	for (size_t c = 0; c < t->ncols; c++) {
		print_cell(out, t->titles[c] ? t->titles[c] : "", width[c], t->align[c],
			   c + 1 == t->ncols);
		fputs(c + 1 == t->ncols ? "\n" : "  ", out);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			print_cell(out, t->rows[r][c], width[c], t->align[c], c + 1 == t->ncols);
			fputs(c + 1 == t->ncols ? "\n" : "  ", out);
		}
	}
	free(width);
}

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	free(t->rows);
	if (t->titles)
		for (size_t c = 0; c < t->ncols; c++)
			free(t->titles[c]);
	free(t->titles);
	free(t->align);
	free(t);
	return NULL;
}

void format_size(char *buf, size_t len, unsigned long long bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", bytes);
		return;
	}
	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int output_json(json_t *value)
{
	int r;

	if (!value)
		return cli_fail("out of memory building JSON output");
	r = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(value);
	if (r < 0)
		return cli_fail("writing JSON output failed");
	fputc('\n', stdout);
	return EXIT_OK;
}

int output_json_strv(const struct strv *v)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < v->count; i++) {
		if (json_array_append_new(arr, json_string(v->items[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return output_json(arr);
}
