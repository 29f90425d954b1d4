/*
 * fuzz_hostlist.c — libFuzzer harness for host-list expansion.
 *
 * Feeds arbitrary bytes (NUL-terminated) to hostlist_expand with a small
 * limit and checks invariants: success yields between 1 and max items,
 * no duplicates, no empty item; failure leaves a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hostlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herd_error err = {0};
	struct strv out = STRV_INIT;
	char *expr;
	size_t count = 0;
	int r;

	if (size > 4096)
		return 0;
	expr = malloc(size + 1);
	if (!expr)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';

	r = hostlist_expand(expr, 2000, &out, &err);
	if (r == 0) {
		if (out.count == 0 || out.count > 2000)
			abort();
		for (size_t i = 0; i < out.count; i++)
			if (out.items[i][0] == '\0')
				abort();
		/* No duplicates: sort a copy of the pointers, compare neighbours. */
		char **sorted = malloc(out.count * sizeof(*sorted));
		if (!sorted)
			abort();
		memcpy(sorted, out.items, out.count * sizeof(*sorted));
		qsort(sorted, out.count, sizeof(*sorted), compare_strings);
		for (size_t i = 1; i < out.count; i++)
			if (strcmp(sorted[i - 1], sorted[i]) == 0)
				abort();
		free(sorted);
		if (hostlist_count(expr, 2000, &count, NULL) != 0 || count < out.count)
			abort();
	} else if (err.message[0] == '\0') {
		abort();
	}
	strv_free(&out);
	free(expr);
	return 0;
}
