/*
 * strv.c — growable string vector (see strv.h).
 */
#include "strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int strv_grow(struct strv *v)
{
	size_t cap;
	char **items;

	if (v->count + 1 < v->capacity)
		return 0;
	cap = v->capacity ? v->capacity * 2 : 8;
	items = realloc(v->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	v->items = items;
	v->capacity = cap;
	return 0;
}

int strv_push_take(struct strv *v, char *s)
{
	if (!s)
		return -ENOMEM;
	if (strv_grow(v) < 0) {
		free(s);
		return -ENOMEM;
	}
	v->items[v->count++] = s;
	v->items[v->count] = NULL;
	return 0;
}

int strv_push(struct strv *v, const char *s)
{
	return strv_push_take(v, strdup(s));
}

int strv_pushn(struct strv *v, const char *s, size_t n)
{
	return strv_push_take(v, strndup(s, n));
}

bool strv_contains(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

int strv_copy(const struct strv *src, struct strv *ret)
{
	struct strv out = STRV_INIT;

	for (size_t i = 0; i < src->count; i++) {
		if (strv_push(&out, src->items[i]) < 0) {
			strv_free(&out);
			return -ENOMEM;
		}
	}
	*ret = out;
	return 0;
}

void strv_free(struct strv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->count = 0;
	v->capacity = 0;
}
