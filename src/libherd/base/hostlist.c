/*
 * hostlist.c — host-list expansion (grammar and rules in hostlist.h).
 *
 * Two passes: parse every item into segments (literal text or a bracket
 * group already expanded into its values), count the product of all items
 * and refuse before building anything if it exceeds the limit, then walk
 * each item like an odometer.  Duplicates are filtered with a small
 * open-addressing hash set so 100,000 items stay linear.
 */
#include "hostlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"

#define HOSTLIST_MAX_DIGITS 18

struct segment {
	bool is_group;
	const char *text; /* literal: points into the expression */
	size_t text_len;
	struct strv values; /* group: expanded values */
};

struct item {
	struct segment *segments;
	size_t count;
	size_t capacity;
};

static void item_free(struct item *it)
{
	for (size_t i = 0; i < it->count; i++)
		strv_free(&it->segments[i].values);
	free(it->segments);
	it->segments = NULL;
	it->count = it->capacity = 0;
}

static int item_add(struct item *it, struct segment seg)
{
	if (it->count == it->capacity) {
		size_t cap = it->capacity ? it->capacity * 2 : 4;
		struct segment *s = realloc(it->segments, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		it->segments = s;
		it->capacity = cap;
	}
	it->segments[it->count++] = seg;
	return 0;
}

static size_t column(const char *expr, const char *p)
{
	return (size_t)(p - expr) + 1;
}

/* Parse a run of digits at *p into value/len; advances *p. */
static int parse_number(const char *expr, const char **p, uint64_t *value, size_t *len,
			struct herd_error *err)
{
	const char *s = *p;
	uint64_t v = 0;

	while (isdigit((unsigned char)**p)) {
		if ((size_t)(*p - s) >= HOSTLIST_MAX_DIGITS)
			return herd_error_set(err, EINVAL, "number too long at column %zu",
					      column(expr, s));
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	*value = v;
	*len = (size_t)(*p - s);
	return 0;
}

static int push_number(struct strv *values, uint64_t v, size_t width)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%0*llu", (int)width, (unsigned long long)v);
	return strv_push(values, buf);
}

/*
 * Parse one range inside a group, starting at *p, appending its values.
 * `budget` is how many more values the whole expansion may still take
 * (checked before generating anything).
 */
static int parse_range(const char *expr, const char **p, struct strv *values, size_t budget,
		       struct herd_error *err)
{
	const char *start = *p;

	if (isdigit((unsigned char)**p)) {
		uint64_t lo, hi;
		size_t lo_len, hi_len, width;
		int r = parse_number(expr, p, &lo, &lo_len, err);
		if (r < 0)
			return r;
		hi = lo;
		if (**p == '-') {
			(*p)++;
			if (isalpha((unsigned char)**p))
				return herd_error_set(err, EINVAL,
						      "mixed letter/number range at column %zu",
						      column(expr, start));
			if (!isdigit((unsigned char)**p))
				return herd_error_set(err, EINVAL,
						      "range without upper bound at column %zu",
						      column(expr, start));
			r = parse_number(expr, p, &hi, &hi_len, err);
			if (r < 0)
				return r;
		}
		if (hi < lo)
			return herd_error_set(
			    err, EINVAL,
			    "range %.*s at column %zu: upper bound is below lower bound",
			    (int)(*p - start), start, column(expr, start));
		if (hi - lo >= budget)
			return herd_error_set(err, E2BIG, "expands to too many items");
		/* Zero padding follows the low bound: "08" pads to 2, "1" does not pad. */
		width = (lo_len > 1 && start[0] == '0') ? lo_len : 0;
		for (uint64_t v = lo;; v++) {
			if (push_number(values, v, width) < 0)
				return herd_error_set(err, ENOMEM, "out of memory");
			if (v == hi)
				break;
		}
		return 0;
	}
	if (isalpha((unsigned char)**p)) {
		char lo = **p, hi = lo;
		(*p)++;
		if (**p == '-') {
			(*p)++;
			if (isdigit((unsigned char)**p))
				return herd_error_set(err, EINVAL,
						      "mixed letter/number range at column %zu",
						      column(expr, start));
			if (!isalpha((unsigned char)**p))
				return herd_error_set(err, EINVAL,
						      "range without upper bound at column %zu",
						      column(expr, start));
			hi = **p;
			(*p)++;
			if (!!islower((unsigned char)lo) != !!islower((unsigned char)hi))
				return herd_error_set(
				    err, EINVAL,
				    "range %c-%c at column %zu mixes upper and lower case", lo, hi,
				    column(expr, start));
		}
		if (isalnum((unsigned char)**p))
			return herd_error_set(err, EINVAL,
					      "letter ranges take single letters, at column %zu",
					      column(expr, start));
		if (hi < lo)
			return herd_error_set(
			    err, EINVAL,
			    "range %c-%c at column %zu: upper bound is below lower bound", lo, hi,
			    column(expr, start));
		if ((size_t)(hi - lo) >= budget)
			return herd_error_set(err, E2BIG, "expands to too many items");
		for (char c = lo;; c++) {
			char s[2] = {c, '\0'};
			if (strv_push(values, s) < 0)
				return herd_error_set(err, ENOMEM, "out of memory");
			if (c == hi)
				break;
		}
		return 0;
	}
	if (**p == ']' || **p == ',')
		return herd_error_set(err, EINVAL, "empty range at column %zu",
				      column(expr, start));
	if (**p == '[')
		return herd_error_set(err, EINVAL, "nested '[' at column %zu", column(expr, start));
	if (**p == '\0')
		return herd_error_set(err, EINVAL, "unclosed '[' before end of expression");
	return herd_error_set(err, EINVAL, "unexpected '%c' in brackets at column %zu", **p,
			      column(expr, start));
}

/* Parse a group; *p points at '['.  Advances past ']'. */
static int parse_group(const char *expr, const char **p, struct strv *values, size_t budget,
		       struct herd_error *err)
{
	const char *open = *p;
	int r;

	(*p)++;
	if (**p == ']')
		return herd_error_set(err, EINVAL, "empty [] at column %zu", column(expr, open));
	for (;;) {
		size_t have = values->count;
		if (**p == '\0')
			return herd_error_set(err, EINVAL, "unclosed '[' at column %zu",
					      column(expr, open));
		r = parse_range(expr, p, values, budget > have ? budget - have : 1, err);
		if (r < 0) {
			if (r == -EINVAL && **p == '\0')
				return herd_error_set(err, EINVAL, "unclosed '[' at column %zu",
						      column(expr, open));
			return r;
		}
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p == ']') {
			(*p)++;
			return 0;
		}
		if (**p == '\0')
			return herd_error_set(err, EINVAL, "unclosed '[' at column %zu",
					      column(expr, open));
		if (**p == '[')
			return herd_error_set(err, EINVAL, "nested '[' at column %zu",
					      column(expr, *p));
		return herd_error_set(err, EINVAL, "unexpected '%c' in brackets at column %zu", **p,
				      column(expr, *p));
	}
}

/* Parse one top-level item starting at *p, stopping at ',' or end. */
static int parse_item(const char *expr, const char **p, struct item *it, size_t budget,
		      struct herd_error *err)
{
	const char *start = *p;

	while (**p && **p != ',') {
		struct segment seg = {0};
		int r;

		if (**p == ']')
			return herd_error_set(err, EINVAL, "unbalanced ']' at column %zu",
					      column(expr, *p));
		if (**p == '[') {
			seg.is_group = true;
			r = parse_group(expr, p, &seg.values, budget, err);
			if (r < 0) {
				strv_free(&seg.values);
				return r;
			}
		} else {
			seg.text = *p;
			while (**p && **p != ',' && **p != '[' && **p != ']')
				(*p)++;
			seg.text_len = (size_t)(*p - seg.text);
		}
		r = item_add(it, seg);
		if (r < 0) {
			strv_free(&seg.values);
			return herd_error_set(err, ENOMEM, "out of memory");
		}
	}
	if (*p == start)
		return herd_error_set(err, EINVAL, "empty item at column %zu", column(expr, start));
	return 0;
}

/* Items of the whole expression; on failure everything is freed. */
struct parsed {
	struct item *items;
	size_t count;
};

static void parsed_free(struct parsed *ps)
{
	for (size_t i = 0; i < ps->count; i++)
		item_free(&ps->items[i]);
	free(ps->items);
	ps->items = NULL;
	ps->count = 0;
}

static int item_product(const struct item *it, size_t *ret)
{
	size_t n = 1;

	for (size_t i = 0; i < it->count; i++) {
		size_t k = it->segments[i].is_group ? it->segments[i].values.count : 1;
		if (k && n > SIZE_MAX / k)
			return -E2BIG;
		n *= k;
	}
	*ret = n;
	return 0;
}

static int parse_all(const char *expr, size_t max, struct parsed *ret, size_t *ret_total,
		     struct herd_error *err)
{
	struct parsed ps = {0};
	const char *p = expr;
	size_t total = 0;
	int r;

	if (!expr || !*expr)
		return herd_error_set(err, EINVAL, "empty host list");
	for (;;) {
		struct item *items = realloc(ps.items, (ps.count + 1) * sizeof(*items));
		size_t n;
		if (!items) {
			parsed_free(&ps);
			return herd_error_set(err, ENOMEM, "out of memory");
		}
		ps.items = items;
		memset(&ps.items[ps.count], 0, sizeof(ps.items[0]));
		ps.count++;
		r = parse_item(expr, &p, &ps.items[ps.count - 1], max - total, err);
		if (r == 0 && item_product(&ps.items[ps.count - 1], &n) < 0)
			r = -E2BIG;
		if (r == 0 && n > max - total)
			r = -E2BIG;
		if (r < 0) {
			parsed_free(&ps);
			if (r == -E2BIG)
				return herd_error_set(
				    err, E2BIG, "host list expands to more than %zu items", max);
			return r;
		}
		total += n;
		if (*p == '\0')
			break;
		p++; /* ',' */
		if (*p == '\0') {
			parsed_free(&ps);
			return herd_error_set(err, EINVAL, "empty item at column %zu",
					      column(expr, p));
		}
	}
	*ret = ps;
	*ret_total = total;
	return 0;
}

int hostlist_count(const char *expr, size_t max, size_t *ret, struct herd_error *err)
{
	struct parsed ps;
	size_t total;
	int r;

	if (max == 0)
		max = HOSTLIST_MAX_DEFAULT;
	r = parse_all(expr, max, &ps, &total, err);
	if (r < 0)
		return r;
	parsed_free(&ps);
	*ret = total;
	return 0;
}

/* Open-addressing string set, sized once for the known total. */
struct seen {
	const char **slots;
	size_t mask;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns 1 if s was inserted, 0 if already present. */
static int seen_insert(struct seen *set, const char *s)
{
	size_t i = (size_t)hash_str(s) & set->mask;
	while (set->slots[i]) {
		if (strcmp(set->slots[i], s) == 0)
			return 0;
		i = (i + 1) & set->mask;
	}
	set->slots[i] = s;
	return 1;
}

static int expand_item(const struct item *it, struct seen *set, struct strv *out, char *buf,
		       size_t buflen)
{
	size_t idx[64] = {0};
	size_t ngroups = 0;

	for (size_t i = 0; i < it->count; i++)
		if (it->segments[i].is_group)
			ngroups++;
	if (ngroups > ELEMENTSOF(idx))
		return -E2BIG;
	for (;;) {
		size_t len = 0, g = 0;
		for (size_t i = 0; i < it->count; i++) {
			const struct segment *seg = &it->segments[i];
			const char *s = seg->is_group ? seg->values.items[idx[g++]] : seg->text;
			size_t n = seg->is_group ? strlen(s) : seg->text_len;
			if (len + n >= buflen)
				return -ENAMETOOLONG;
			memcpy(buf + len, s, n);
			len += n;
		}
		buf[len] = '\0';
		if (strv_push(out, buf) < 0)
			return -ENOMEM;
		if (!seen_insert(set, out->items[out->count - 1])) {
			free(out->items[--out->count]);
			out->items[out->count] = NULL;
		}
		/* Advance the odometer: rightmost group varies fastest. */
		g = ngroups;
		for (size_t i = it->count; i-- > 0;) {
			const struct segment *seg = &it->segments[i];
			if (!seg->is_group)
				continue;
			g--;
			if (++idx[g] < seg->values.count)
				break;
			idx[g] = 0;
			if (g == 0)
				return 0;
		}
		if (ngroups == 0)
			return 0;
	}
}

int hostlist_expand(const char *expr, size_t max, struct strv *ret, struct herd_error *err)
{
	struct strv out = STRV_INIT;
	struct seen set = {0};
	struct parsed ps;
	size_t total, slots = 16;
	char buf[4096];
	int r;

	if (max == 0)
		max = HOSTLIST_MAX_DEFAULT;
	r = parse_all(expr, max, &ps, &total, err);
	if (r < 0)
		return r;
	while (slots < total * 2)
		slots *= 2;
	set.slots = calloc(slots, sizeof(*set.slots));
	set.mask = slots - 1;
	if (!set.slots) {
		parsed_free(&ps);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ps.count; i++) {
		r = expand_item(&ps.items[i], &set, &out, buf, sizeof(buf));
		if (r < 0)
			break;
	}
	free(set.slots);
	parsed_free(&ps);
	if (r < 0) {
		strv_free(&out);
		if (r == -ENAMETOOLONG)
			return herd_error_set(err, EINVAL,
					      "an expanded item is longer than %zu bytes",
					      sizeof(buf) - 1);
		if (r == -E2BIG)
			return herd_error_set(err, EINVAL, "too many bracket groups in one item");
		return herd_error_set(err, -r, "out of memory");
	}
	*ret = out;
	return 0;
}
