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

/* A copy of a cell with control characters shown as '?': a device model
 * or an image name from the network must not move the cursor or break
 * the row into two lines. */
static char *cell_dup(const char *s)
{
	char *copy = strdup(s);

	for (char *c = copy; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return copy;
}

/* Terminal columns of UTF-8 text: one per character, so "µSD" lines up
 * with ASCII (continuation bytes do not count). */
static size_t text_columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

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
	t->titles[col] = cell_dup(title);
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
		row[c] = cell_dup(cells[c] ? cells[c] : "-");
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

/* Pad `s` to `width` columns; trailing blanks of the row are trimmed when
 * the row is printed, so an empty last cell leaves no spaces behind. */
static void print_cell(FILE *out, const char *s, size_t width, enum table_align align,
		       size_t *pending)
{
	size_t n = text_columns(s);
	size_t pad = width > n ? width - n : 0;

	if (align == TABLE_RIGHT)
		*pending += pad;
	if (*s) {
		fprintf(out, "%*s%s", (int)*pending, "", s);
		*pending = 0;
	}
	if (align != TABLE_RIGHT)
		*pending += pad;
}

static void print_row(FILE *out, const struct table *t, char *const *cells, const size_t *width)
{
	size_t pending = 0; /* spaces owed, written only before visible text */

	for (size_t c = 0; c < t->ncols; c++) {
		if (c > 0)
			pending += 2;
		print_cell(out, cells[c] ? cells[c] : "", width[c], t->align[c], &pending);
	}
	fputc('\n', out);
}

void table_print(const struct table *t, FILE *out)
{
	size_t *width = calloc(t->ncols, sizeof(*width));

	if (!width)
		return;
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = t->titles[c] ? text_columns(t->titles[c]) : 0;
		for (size_t r = 0; r < t->nrows; r++) {
			size_t n = text_columns(t->rows[r][c]);
			if (n > width[c])
				width[c] = n;
		}
	}
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->titles[c]) { /* a table without titles has no header line */
			print_row(out, t, t->titles, width);
			break;
		}
	}
	for (size_t r = 0; r < t->nrows; r++)
		print_row(out, t, t->rows[r], width);
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
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	const size_t last = sizeof(units) / sizeof(units[0]) - 1;
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", bytes);
		return;
	}
	while (v >= 1024.0 && u < last) {
		v /= 1024.0;
		u++;
	}
	/* Decide on the rounded value, so that 1048575 bytes reads "1.0 MiB"
	 * and not "1024 KiB", and 102350 bytes "100 KiB", not "100.0 KiB". */
	if (v >= 1023.5 && u < last) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, v < 99.95 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int output_json_to(FILE *out, json_t *value)
{
	int r;

	if (!value)
		return cli_fail("building JSON output failed (out of memory or text not UTF-8)");
	/* JSON_ENCODE_ANY: a listing may be a bare string or number too;
	 * without it jansson refuses anything but an array or object. */
	r = json_dumpf(value, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(value);
	if (r < 0 || fputc('\n', out) == EOF || fflush(out) == EOF)
		return cli_fail("writing JSON output failed");
	return EXIT_OK;
}

int output_json(json_t *value)
{
	return output_json_to(stdout, value);
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
