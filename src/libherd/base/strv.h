/*
 * strv.h — a growable vector of owned, NUL-terminated strings.
 *
 * Used wherever the library returns a list of names (host lists, DNS
 * servers, key files).  `items` is always NULL-terminated so it can be
 * walked like argv.  strv_free() frees the strings and the array and
 * accepts a zeroed or already-freed vector.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strv {
	char **items; /* NULL-terminated; NULL when empty and never grown */
	size_t count;
	size_t capacity;
};

#define STRV_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Append a copy of s.  Returns 0 or -ENOMEM. */
int strv_push(struct strv *v, const char *s);
/* Append s taking ownership (freed on failure).  Returns 0 or -ENOMEM. */
int strv_push_take(struct strv *v, char *s);
/* Append a copy of the first n bytes of s. */
int strv_pushn(struct strv *v, const char *s, size_t n);
bool strv_contains(const struct strv *v, const char *s);
/* Deep copy of src into *ret (ret is overwritten). */
int strv_copy(const struct strv *src, struct strv *ret);
void strv_free(struct strv *v);
