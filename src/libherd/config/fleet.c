/*
 * fleet.c — loading the fleet file (YAML, through libfyaml's document
 * API) into validated settings layers, and resolving one host.
 *
 * Loading does all the checking, so every error can name the file and
 * the line of the node at fault; resolution then only stacks layers
 * (defaults, host entry, environment, flags).  The schema is documented
 * in fleet.h; the keys themselves come from the registry in settings.c.
 *
 * libfyaml prints diagnostics to stderr by default.  We give it a
 * diagnostic object with collection on and no output, then turn the
 * first collected error into our message (libherd never prints).
 *
 * Not here: fetching the image, applying settings (recipe/), the CLI.
 */
#include "fleet.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostlist.h"
#include "base/macros.h"
#include "base/parse.h"
#include "validate.h"

struct fleet_host {
	char *name;
	unsigned line; /* of the hosts key that named it */
	struct herd_settings layer;
};

struct fleet {
	char *path;
	struct herd_settings base; /* top-level image + defaults */
	struct fleet_host *hosts;
	size_t count, capacity;
	struct strv names;
	/* Open-addressing index of host names: slot = host index + 1, 0 empty.
	 * Lookups happen once per host on load (duplicates) and on resolve,
	 * so a linear scan would make a 10000-host file quadratic. */
	size_t *index;
	size_t index_size; /* power of two, at least twice `count` */
};

/* One per-host value waiting to be paired: the expansion of `key`'s
 * host-list value, one item per host of the entry. */
struct pending_value {
	const struct settings_key *key;
	unsigned line;
	struct strv values;
};

/* Everything the walk over one settings mapping needs. */
struct layer_parse {
	const char *name; /* file name for messages */
	struct settings_context ctx;
	struct herd_settings *layer;
	unsigned seen_line[SETTINGS_MAX_KEYS]; /* where each key was set in this mapping */
	/* hosts entries only: the entry's hosts, and values to pair with them */
	size_t group_size;
	struct pending_value pending[SETTINGS_MAX_KEYS];
	size_t npending;
};

static void pending_clear(struct layer_parse *lp)
{
	for (size_t i = 0; i < lp->npending; i++)
		strv_free(&lp->pending[i].values);
	lp->npending = 0;
}

/* ---- node helpers ------------------------------------------------------ */

static unsigned node_line(struct fy_node *node, unsigned fallback)
{
	struct fy_token *tok;
	void *iter = NULL;

	if (!node)
		return fallback;
	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR:
		tok = fy_node_get_scalar_token(node);
		if (tok && fy_token_start_mark(tok))
			return (unsigned)fy_token_start_mark(tok)->line + 1;
		return fallback;
	case FYNT_MAPPING: {
		struct fy_node_pair *pair = fy_node_mapping_iterate(node, &iter);
		return pair ? node_line(fy_node_pair_key(pair), fallback) : fallback;
	}
	case FYNT_SEQUENCE:
		return node_line(fy_node_sequence_iterate(node, &iter), fallback);
	}
	return fallback;
}

/* YAML 1.2 core schema nulls, plain style only: "null" in quotes is text. */
static bool node_is_null(struct fy_node *node)
{
	const char *text;
	size_t len;

	if (!node || fy_node_is_null(node))
		return true;
	if (fy_node_get_type(node) != FYNT_SCALAR || fy_node_get_style(node) != FYNS_PLAIN)
		return false;
	text = fy_node_get_scalar(node, &len);
	if (!text)
		return true;
	return len == 0 || (len == 1 && text[0] == '~') ||
	       (len == 4 && (memcmp(text, "null", 4) == 0 || memcmp(text, "Null", 4) == 0 ||
			     memcmp(text, "NULL", 4) == 0));
}

static const char *node_kind(struct fy_node *node)
{
	switch (fy_node_get_type(node)) {
	case FYNT_SEQUENCE:
		return "a list";
	case FYNT_MAPPING:
		return "a mapping";
	default:
		return "a single value";
	}
}

/* The text of a scalar node as a fresh C string.  Refuses aliases,
 * non-scalars and embedded NULs. */
static int node_text(struct layer_parse *lp, struct fy_node *node, unsigned line, const char *what,
		     char **ret, struct herd_error *err)
{
	const char *text;
	size_t len;
	char *copy;

	if (node && fy_node_is_alias(node))
		return herd_error_set(err, EINVAL, "%s:%u: %s: YAML aliases are not supported",
				      lp->name, line, what);
	if (!node || fy_node_get_type(node) != FYNT_SCALAR)
		return herd_error_set(err, EINVAL, "%s:%u: %s: expected a single value, not %s",
				      lp->name, line, what, node ? node_kind(node) : "nothing");
	text = fy_node_get_scalar(node, &len);
	if (!text) {
		text = "";
		len = 0;
	}
	if (memchr(text, '\0', len))
		return herd_error_set(err, EINVAL, "%s:%u: %s: NUL character in value", lp->name,
				      line, what);
	copy = strndup(text, len);
	if (!copy)
		return herd_error_set(err, ENOMEM, "out of memory");
	*ret = copy;
	return 0;
}

/* ---- settings mappings ---------------------------------------------------- */

static int parse_mapping(struct layer_parse *lp, struct fy_node *map, const char *prefix,
			 unsigned line, struct herd_error *err);

/* A key may appear once per mapping, whichever spelling or nesting. */
static int mark_seen(struct layer_parse *lp, const struct settings_key *key, const char *given,
		     unsigned line, struct herd_error *err)
{
	size_t idx = settings_key_index(key);

	if (lp->seen_line[idx])
		return herd_error_set(err, EINVAL,
				      "%s:%u: '%s' sets %s again (already set at line %u)",
				      lp->name, line, given, key->name, lp->seen_line[idx]);
	lp->seen_line[idx] = line;
	return 0;
}

static int parse_files(struct layer_parse *lp, const struct settings_key *key, struct fy_node *seq,
		       unsigned line, struct herd_error *err)
{
	static const char *const fields[] = {"path", "content", "source", "mode", "owner"};
	struct herd_file_list list = {0};
	const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE, .line = line};
	struct fy_node *item;
	void *iter = NULL;
	int r = 0, n;

	if (fy_node_get_type(seq) != FYNT_SEQUENCE)
		return herd_error_set(err, EINVAL, "%s:%u: files: expected a list, not %s",
				      lp->name, line, node_kind(seq));
	n = fy_node_sequence_item_count(seq);
	if (n > 0 && !(list.items = calloc((size_t)n, sizeof(*list.items))))
		return herd_error_set(err, ENOMEM, "out of memory");

	while ((item = fy_node_sequence_iterate(seq, &iter))) {
		struct herd_file_spec *spec = &list.items[list.count++];
		unsigned item_line = node_line(item, line);
		struct fy_node_pair *pair;
		void *piter = NULL;

		if (fy_node_get_type(item) != FYNT_MAPPING) {
			r = herd_error_set(
			    err, EINVAL,
			    "%s:%u: files: each entry must be a mapping with path and "
			    "content or source",
			    lp->name, item_line);
			goto fail;
		}
		while ((pair = fy_node_mapping_iterate(item, &piter))) {
			struct fy_node *knode = fy_node_pair_key(pair);
			struct fy_node *vnode = fy_node_pair_value(pair);
			unsigned kline = node_line(knode, item_line);
			unsigned vline = node_line(vnode, kline);
			_cleanup_free_ char *name = NULL;
			_cleanup_free_ char *value = NULL;
			size_t f;

			r = node_text(lp, knode, kline, "files", &name, err);
			if (r < 0)
				goto fail;
			for (f = 0; f < ELEMENTSOF(fields); f++)
				if (strcmp(name, fields[f]) == 0)
					break;
			if (f == ELEMENTSOF(fields)) {
				r = herd_error_set(err, EINVAL,
						   "%s:%u: files: unknown key '%s' (path, content, "
						   "source, mode, owner)",
						   lp->name, kline, name);
				goto fail;
			}
			char what[32];
			snprintf(what, sizeof(what), "files.%s", name);
			r = node_text(lp, vnode, vline, what, &value, err);
			if (r < 0)
				goto fail;
			if (f == 0) {
				if (!validate_image_path(value)) {
					r = herd_error_set(
					    err, EINVAL,
					    "%s:%u: files.path: '%s' is not an absolute "
					    "path without '.' or '..'",
					    lp->name, vline, value);
					goto fail;
				}
				free(spec->path);
				spec->path = TAKE_PTR(value);
			} else if (f == 1) {
				free(spec->content);
				spec->content = TAKE_PTR(value);
			} else if (f == 2) {
				char *resolved = NULL;
				r = validate_file_ref_value(value, &lp->ctx, &resolved, err);
				if (r < 0) {
					herd_error_prefix(err, r, "%s:%u: files.source", lp->name,
							  vline);
					goto fail;
				}
				free(spec->source);
				spec->source = resolved;
			} else if (f == 3) {
				if (parse_mode(value, &spec->mode) < 0) {
					r = herd_error_set(
					    err, EINVAL,
					    "%s:%u: files.mode: '%s' is not an octal "
					    "mode like 0644",
					    lp->name, vline, value);
					goto fail;
				}
				spec->has_mode = true;
			} else {
				if (!validate_owner(value)) {
					r = herd_error_set(
					    err, EINVAL,
					    "%s:%u: files.owner: '%s' is not user or "
					    "user:group",
					    lp->name, vline, value);
					goto fail;
				}
				free(spec->owner);
				spec->owner = TAKE_PTR(value);
			}
		}
		if (!spec->path || !spec->content == !spec->source) {
			r = herd_error_set(err, EINVAL,
					   "%s:%u: files: an entry needs a path and exactly one of "
					   "content or source",
					   lp->name, item_line);
			goto fail;
		}
	}
	settings_take_files(lp->layer, key, &list, &origin);
	return 0;
fail:
	settings_file_list_free(&list);
	return r;
}

/* A list item written as a mapping (wireguard.peers: {public_key: K,
 * allowed_ips: [a, b]}) becomes the item's text form "k=v k=v", a
 * sequence value joined with ','; the key's validator then checks it. */
static int mapping_item_text(struct layer_parse *lp, const struct settings_key *key,
			     struct fy_node *map, unsigned line, char **ret, struct herd_error *err)
{
	struct fy_node_pair *pair;
	void *iter = NULL;
	size_t len = 0, cap = 256;
	char *out = malloc(cap);
	int r;

	if (!out)
		return herd_error_set(err, ENOMEM, "out of memory");
	out[0] = '\0';
	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *knode = fy_node_pair_key(pair), *vnode = fy_node_pair_value(pair);
		unsigned kline = node_line(knode, line);
		struct strv parts = STRV_INIT;
		_cleanup_free_ char *name = NULL;

		r = node_text(lp, knode, kline, key->name, &name, err);
		if (r < 0)
			goto fail;
		if (vnode && fy_node_get_type(vnode) == FYNT_SEQUENCE) {
			struct fy_node *it;
			void *sit = NULL;
			while ((it = fy_node_sequence_iterate(vnode, &sit))) {
				char *t = NULL;
				r = node_text(lp, it, node_line(it, kline), key->name, &t, err);
				if (r < 0 || strv_push_take(&parts, t) < 0) {
					strv_free(&parts);
					r = r < 0 ? r
						  : herd_error_set(err, ENOMEM, "out of memory");
					goto fail;
				}
			}
		} else {
			char *t = NULL;
			r = node_text(lp, vnode, node_line(vnode, kline), key->name, &t, err);
			if (r < 0 || strv_push_take(&parts, t) < 0) {
				strv_free(&parts);
				r = r < 0 ? r : herd_error_set(err, ENOMEM, "out of memory");
				goto fail;
			}
		}
		size_t need = len + strlen(name) + 3;
		for (size_t i = 0; i < parts.count; i++)
			need += strlen(parts.items[i]) + 1;
		if (need > cap) {
			char *n = realloc(out, need * 2);
			if (!n) {
				strv_free(&parts);
				r = herd_error_set(err, ENOMEM, "out of memory");
				goto fail;
			}
			out = n;
			cap = need * 2;
		}
		len += (size_t)snprintf(out + len, cap - len, "%s%s=", len ? " " : "", name);
		for (size_t i = 0; i < parts.count; i++)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "",
						parts.items[i]);
		strv_free(&parts);
	}
	*ret = out;
	return 0;
fail:
	free(out);
	return r;
}

static int parse_list(struct layer_parse *lp, const struct settings_key *key, struct fy_node *value,
		      unsigned line, struct herd_error *err)
{
	const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE, .line = line};
	struct strv items = STRV_INIT;
	struct fy_node *item;
	void *iter = NULL;
	int r;

	if (fy_node_get_type(value) == FYNT_MAPPING)
		return herd_error_set(err, EINVAL, "%s:%u: %s: expected a list, not a mapping",
				      lp->name, line, key->name);
	if (fy_node_get_type(value) == FYNT_SEQUENCE) {
		while ((item = fy_node_sequence_iterate(value, &iter))) {
			char *text = NULL;
			if (fy_node_get_type(item) == FYNT_MAPPING && !fy_node_is_alias(item))
				r = mapping_item_text(lp, key, item, node_line(item, line), &text,
						      err);
			else
				r = node_text(lp, item, node_line(item, line), key->name, &text,
					      err);
			if (r < 0)
				goto out;
			if (strv_push_take(&items, text) < 0) {
				r = herd_error_set(err, ENOMEM, "out of memory");
				goto out;
			}
		}
	} else {
		/* A single scalar is a one-item list: `dns: 10.1.1.1`. */
		char *text = NULL;
		r = node_text(lp, value, line, key->name, &text, err);
		if (r < 0)
			goto out;
		if (strv_push_take(&items, text) < 0) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	r = settings_set_list(lp->layer, key, &items, &lp->ctx, &origin, err);
	if (r < 0)
		herd_error_prefix(err, r, "%s:%u", lp->name, line);
out:
	strv_free(&items);
	return r;
}

/* A scalar value; per-host keys may carry a host-list expression. */
static int parse_scalar(struct layer_parse *lp, const struct settings_key *key,
			struct fy_node *value, unsigned line, struct herd_error *err)
{
	const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE, .line = line};
	_cleanup_free_ char *text = NULL;
	struct strv expanded = STRV_INIT;
	const char *use;
	int r;

	r = node_text(lp, value, line, key->name, &text, err);
	if (r < 0)
		return r;
	use = text;
	if (key->flags & SETTINGS_KEY_PER_HOST) {
		struct herd_error herr = {0};
		size_t limit = lp->group_size > 1 ? lp->group_size : 1;
		r = hostlist_expand(text, limit, &expanded, &herr);
		if (r == -E2BIG || (r == 0 && expanded.count != 1 && expanded.count != limit)) {
			size_t count = expanded.count;
			strv_free(&expanded);
			if (r == -E2BIG && hostlist_count(text, FLEET_MAX_HOSTS, &count, NULL) < 0)
				count = 0;
			if (lp->group_size == 0)
				return herd_error_set(
				    err, EINVAL,
				    "%s:%u: %s: '%s' gives %zu values; values pair "
				    "with hosts only in a hosts entry",
				    lp->name, line, key->name, text, count);
			return herd_error_set(
			    err, EINVAL, "%s:%u: %s: '%s' gives %s%zu values for %zu hosts",
			    lp->name, line, key->name, text, count ? "" : "more than ",
			    count ? count : limit, lp->group_size);
		}
		if (r < 0) {
			/* Not a host-list expression: let the validator explain. */
			strv_free(&expanded);
		} else if (expanded.count == 1) {
			use = expanded.items[0];
		} else {
			struct pending_value *p = &lp->pending[lp->npending++];
			r = settings_set_text(lp->layer, key, expanded.items[0], false, &lp->ctx,
					      &origin, err);
			if (r < 0) {
				lp->npending--;
				strv_free(&expanded);
				return herd_error_prefix(err, r, "%s:%u", lp->name, line);
			}
			p->key = key;
			p->line = line;
			p->values = expanded;
			return 0;
		}
	}
	r = settings_set_text(lp->layer, key, use, false, &lp->ctx, &origin, err);
	strv_free(&expanded);
	if (r < 0)
		return herd_error_prefix(err, r, "%s:%u", lp->name, line);
	return 0;
}

static int parse_key(struct layer_parse *lp, const char *given, const char *full,
		     struct fy_node *value, unsigned kline, struct herd_error *err)
{
	const struct settings_key *key = settings_key_find(full);
	unsigned vline = node_line(value, kline);
	int r;

	if (value && fy_node_is_alias(value))
		return herd_error_set(err, EINVAL, "%s:%u: %s: YAML aliases are not supported",
				      lp->name, vline, full);
	if (!key) {
		if (settings_is_section(full)) {
			size_t nkeys;
			const struct settings_key *keys = settings_keys(&nkeys);
			size_t n = strlen(full);
			const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE,
							       .line = kline};

			if (node_is_null(value)) {
				for (size_t i = 0; i < nkeys; i++) {
					if (strncmp(keys[i].name, full, n) != 0 ||
					    keys[i].name[n] != '.')
						continue;
					r = mark_seen(lp, &keys[i], given, kline, err);
					if (r < 0)
						return r;
					settings_clear(lp->layer, &keys[i], &origin);
				}
				return 0;
			}
			if (fy_node_get_type(value) != FYNT_MAPPING)
				return herd_error_set(
				    err, EINVAL, "%s:%u: %s: expected a mapping (or null), not %s",
				    lp->name, vline, full, node_kind(value));
			return parse_mapping(lp, value, full, kline, err);
		}
		const char *suggestion = settings_key_suggest(full);
		if (suggestion)
			return herd_error_set(err, EINVAL,
					      "%s:%u: unknown key '%s' (did you mean '%s'?)",
					      lp->name, kline, full, suggestion);
		return herd_error_set(err, EINVAL, "%s:%u: unknown key '%s'", lp->name, kline,
				      full);
	}

	r = mark_seen(lp, key, full, kline, err);
	if (r < 0)
		return r;
	if (key->type == SETTINGS_RESERVED || (key->flags & SETTINGS_KEY_NO_FILE))
		return herd_error_set(err, EINVAL, "%s:%u: %s: %s", lp->name, kline, key->name,
				      key->hint);
	if (node_is_null(value)) {
		const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE,
						       .line = vline};
		settings_clear(lp->layer, key, &origin);
		return 0;
	}
	switch (key->type) {
	case SETTINGS_FILES:
		return parse_files(lp, key, value, vline, err);
	case SETTINGS_LIST:
		return parse_list(lp, key, value, vline, err);
	default:
		return parse_scalar(lp, key, value, vline, err);
	}
}

static int parse_mapping(struct layer_parse *lp, struct fy_node *map, const char *prefix,
			 unsigned line, struct herd_error *err)
{
	struct fy_node_pair *pair;
	void *iter = NULL;
	int r;

	while ((pair = fy_node_mapping_iterate(map, &iter))) {
		struct fy_node *knode = fy_node_pair_key(pair);
		unsigned kline = node_line(knode, line);
		_cleanup_free_ char *name = NULL;
		char full[160];

		r = node_text(lp, knode, kline, prefix[0] ? prefix : "key", &name, err);
		if (r < 0)
			return r;
		if (snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "", name) >=
		    (int)sizeof(full))
			return herd_error_set(err, EINVAL, "%s:%u: unknown key '%.40s...'",
					      lp->name, kline, name);
		r = parse_key(lp, name, full, fy_node_pair_value(pair), kline, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Parse a settings mapping (or null = nothing) into `layer`. */
static int parse_layer(struct layer_parse *lp, struct herd_settings *layer, struct fy_node *map,
		       const char *what, unsigned line, struct herd_error *err)
{
	lp->layer = layer;
	memset(lp->seen_line, 0, sizeof(lp->seen_line));
	if (node_is_null(map))
		return 0;
	if (fy_node_get_type(map) != FYNT_MAPPING || fy_node_is_alias(map))
		return herd_error_set(err, EINVAL,
				      "%s:%u: %s: expected a mapping of settings, not %s", lp->name,
				      node_line(map, line), what, node_kind(map));
	return parse_mapping(lp, map, "", line, err);
}

/* ---- hosts -------------------------------------------------------------- */

/* FNV-1a: short keys, no adversary worth a keyed hash (the file is the
 * user's own and capped at FLEET_MAX_HOSTS). */
static size_t name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	return (size_t)h;
}

static void index_insert(size_t *index, size_t size, const char *name, size_t host)
{
	size_t i = name_hash(name) & (size - 1);

	while (index[i])
		i = (i + 1) & (size - 1);
	index[i] = host + 1;
}

static int index_reserve(struct fleet *fleet, size_t count)
{
	size_t size = fleet->index_size ? fleet->index_size : 64;
	size_t *index;

	if (count * 2 <= fleet->index_size)
		return 0;
	while (count * 2 > size)
		size *= 2;
	index = calloc(size, sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t h = 0; h < fleet->count; h++)
		index_insert(index, size, fleet->hosts[h].name, h);
	free(fleet->index);
	fleet->index = index;
	fleet->index_size = size;
	return 0;
}

static int fleet_add_host(struct fleet *fleet, const char *name, unsigned line,
			  struct herd_settings *layer)
{
	if (index_reserve(fleet, fleet->count + 1) < 0)
		return -ENOMEM;
	if (fleet->count == fleet->capacity) {
		size_t cap = fleet->capacity ? fleet->capacity * 2 : 16;
		struct fleet_host *hosts = realloc(fleet->hosts, cap * sizeof(*hosts));
		if (!hosts)
			return -ENOMEM;
		fleet->hosts = hosts;
		fleet->capacity = cap;
	}
	if (strv_push(&fleet->names, name) < 0)
		return -ENOMEM;
	struct fleet_host *h = &fleet->hosts[fleet->count];
	h->name = fleet->names.items[fleet->names.count - 1]; /* owned by names */
	h->line = line;
	h->layer = *layer;
	settings_init(layer);
	index_insert(fleet->index, fleet->index_size, h->name, fleet->count);
	fleet->count++;
	return 0;
}

static const struct fleet_host *fleet_find(const struct fleet *fleet, const char *name)
{
	if (!fleet->index_size)
		return NULL;
	for (size_t i = name_hash(name) & (fleet->index_size - 1); fleet->index[i];
	     i = (i + 1) & (fleet->index_size - 1)) {
		const struct fleet_host *h = &fleet->hosts[fleet->index[i] - 1];
		if (strcmp(h->name, name) == 0)
			return h;
	}
	return NULL;
}

static int parse_host_entry(struct fleet *fleet, struct layer_parse *lp, struct fy_node *knode,
			    struct fy_node *value, unsigned hosts_line, struct herd_error *err)
{
	const struct settings_key *hostname_key = settings_key_find("hostname");
	unsigned kline = node_line(knode, hosts_line);
	_cleanup_free_ char *expr = NULL;
	struct strv names = STRV_INIT;
	struct herd_settings group, one;
	struct herd_error herr = {0};
	int r;

	settings_init(&group);
	settings_init(&one);
	r = node_text(lp, knode, kline, "hosts", &expr, err);
	if (r < 0)
		return r;
	r = hostlist_expand(expr, FLEET_MAX_HOSTS, &names, &herr);
	if (r < 0)
		return herd_error_set(err, -r, "%s:%u: hosts: '%s': %s", lp->name, kline, expr,
				      herd_error_message(&herr));
	if (fleet->count + names.count > FLEET_MAX_HOSTS) {
		r = herd_error_set(err, E2BIG, "%s:%u: hosts: more than %d hosts in one file",
				   lp->name, kline, FLEET_MAX_HOSTS);
		goto out;
	}
	for (size_t i = 0; i < names.count; i++) {
		const struct fleet_host *other = fleet_find(fleet, names.items[i]);
		if (other) {
			r = herd_error_set(err, EINVAL,
					   "%s:%u: host '%s' is already defined at line %u",
					   lp->name, kline, names.items[i], other->line);
			goto out;
		}
	}

	lp->group_size = names.count;
	r = parse_layer(lp, &group, value, expr, kline, err);
	if (r < 0)
		goto out;

	for (size_t i = 0; i < names.count; i++) {
		r = settings_copy(&group, &one);
		if (r < 0) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		for (size_t k = 0; k < lp->npending; k++) {
			const struct pending_value *p = &lp->pending[k];
			const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE,
							       .line = p->line};
			r = settings_set_text(&one, p->key, p->values.items[i], false, &lp->ctx,
					      &origin, err);
			if (r < 0) {
				herd_error_prefix(err, r, "%s:%u", lp->name, p->line);
				goto out;
			}
		}
		/* The host's name is its hostname unless the entry says otherwise. */
		if (one.origin[settings_key_index(hostname_key)].source == SETTINGS_SOURCE_NONE) {
			const struct settings_origin origin = {.source = SETTINGS_SOURCE_FILE,
							       .line = kline};
			if (!validate_hostname(names.items[i])) {
				r = herd_error_set(err, EINVAL,
						   "%s:%u: host '%s' is not a valid hostname; set "
						   "'hostname' for it",
						   lp->name, kline, names.items[i]);
				goto out;
			}
			r = settings_set_text(&one, hostname_key, names.items[i], false, &lp->ctx,
					      &origin, err);
			if (r < 0)
				goto out;
		}
		r = fleet_add_host(fleet, names.items[i], kline, &one);
		if (r < 0) {
			r = herd_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	r = 0;
out:
	pending_clear(lp);
	lp->group_size = 0;
	settings_free(&group);
	settings_free(&one);
	strv_free(&names);
	return r;
}

static int parse_hosts(struct fleet *fleet, struct layer_parse *lp, struct fy_node *hosts,
		       unsigned line, struct herd_error *err)
{
	struct fy_node_pair *pair;
	void *iter = NULL;
	int r;

	if (node_is_null(hosts))
		return 0;
	if (fy_node_get_type(hosts) != FYNT_MAPPING)
		return herd_error_set(err, EINVAL,
				      "%s:%u: hosts: expected a mapping of host lists to settings, "
				      "not %s",
				      lp->name, node_line(hosts, line), node_kind(hosts));
	while ((pair = fy_node_mapping_iterate(hosts, &iter))) {
		r = parse_host_entry(fleet, lp, fy_node_pair_key(pair), fy_node_pair_value(pair),
				     line, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- document ------------------------------------------------------------ */

static int yaml_error(const char *name, struct fy_diag *diag, struct herd_error *err)
{
	struct fy_diag_error *e;
	void *iter = NULL;

	while ((e = fy_diag_errors_iterate(diag, &iter)))
		if (e->msg)
			return herd_error_set(err, EINVAL, "%s:%d: %s", name,
					      e->line > 0 ? e->line : 1, e->msg);
	return herd_error_set(err, EINVAL, "%s: empty or unreadable YAML document", name);
}

static int parse_document(struct fleet *fleet, struct layer_parse *lp, struct fy_node *root,
			  struct herd_error *err)
{
	struct fy_node *hosts = NULL;
	unsigned hosts_line = 1;
	struct fy_node_pair *pair;
	void *iter = NULL;
	int r;

	if (!root || fy_node_get_type(root) != FYNT_MAPPING)
		return herd_error_set(err, EINVAL,
				      "%s:%u: the fleet file must be a mapping with 'defaults' and "
				      "'hosts'",
				      lp->name, node_line(root, 1));

	/* Top-level `image` and `defaults` form one layer: image may be
	 * given in either place, but not both. */
	lp->layer = &fleet->base;
	memset(lp->seen_line, 0, sizeof(lp->seen_line));
	while ((pair = fy_node_mapping_iterate(root, &iter))) {
		struct fy_node *knode = fy_node_pair_key(pair);
		struct fy_node *value = fy_node_pair_value(pair);
		unsigned kline = node_line(knode, 1);
		_cleanup_free_ char *name = NULL;

		r = node_text(lp, knode, kline, "key", &name, err);
		if (r < 0)
			return r;
		if (strcmp(name, "image") == 0) {
			r = parse_key(lp, name, name, value, kline, err);
		} else if (strcmp(name, "defaults") == 0) {
			if (node_is_null(value))
				continue;
			if (fy_node_get_type(value) != FYNT_MAPPING)
				return herd_error_set(err, EINVAL,
						      "%s:%u: defaults: expected a mapping of "
						      "settings, not %s",
						      lp->name, node_line(value, kline),
						      node_kind(value));
			r = parse_mapping(lp, value, "", kline, err);
		} else if (strcmp(name, "hosts") == 0) {
			hosts = value;
			hosts_line = kline;
			r = 0;
		} else if (settings_key_find(name) || settings_is_section(name)) {
			r = herd_error_set(err, EINVAL,
					   "%s:%u: '%s' belongs under 'defaults' or a host entry",
					   lp->name, kline, name);
		} else {
			r = herd_error_set(
			    err, EINVAL,
			    "%s:%u: unknown key '%s' (expected image, defaults, hosts)", lp->name,
			    kline, name);
		}
		if (r < 0)
			return r;
	}
	return parse_hosts(fleet, lp, hosts, hosts_line, err);
}

/* YAML 1.2 §5.1: a stream is UTF-8 made of printable characters (tab,
 * LF, CR, x20-x7E, x85, xA0-xD7FF, xE000-xFFFD, x10000-x10FFFF).  We check
 * this before libfyaml sees the bytes: besides giving a clear message,
 * libfyaml 0.7.12 loops forever on invalid UTF-8 inside a directive
 * (found by fuzz_fleet; input "%\xb6\n"). */
static int check_characters(const char *name, const unsigned char *p, size_t len,
			    struct herd_error *err)
{
	unsigned line = 1;

	for (size_t i = 0; i < len;) {
		uint32_t c = p[i];
		size_t n = 1;

		if (c >= 0x80) {
			uint32_t min;
			if ((c & 0xe0) == 0xc0) {
				n = 2, c &= 0x1f, min = 0x80;
			} else if ((c & 0xf0) == 0xe0) {
				n = 3, c &= 0x0f, min = 0x800;
			} else if ((c & 0xf8) == 0xf0) {
				n = 4, c &= 0x07, min = 0x10000;
			} else {
				goto bad_utf8;
			}
			if (i + n > len)
				goto bad_utf8;
			for (size_t k = 1; k < n; k++) {
				if ((p[i + k] & 0xc0) != 0x80)
					goto bad_utf8;
				c = c << 6 | (p[i + k] & 0x3f);
			}
			if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
				goto bad_utf8;
		}
		if (!(c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0x7e) ||
		      c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
		      c >= 0x10000))
			return herd_error_set(
			    err, EINVAL, "%s:%u: control character U+%04X is not allowed in YAML",
			    name, line, (unsigned)c);
		if (c == '\n')
			line++;
		i += n;
	}
	return 0;
bad_utf8:
	return herd_error_set(err, EINVAL, "%s:%u: invalid UTF-8", name, line);
}

int fleet_load_memory(const char *name, const char *base_dir, const void *data, size_t len,
		      char *const *envp, struct fleet **ret, struct herd_error *err)
{
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_document *doc = NULL;
	struct fleet *fleet = NULL;
	struct layer_parse *lp = NULL;
	int r;

	if (len > FLEET_MAX_BYTES)
		return herd_error_set(err, EFBIG, "%s: larger than %u bytes", name,
				      FLEET_MAX_BYTES);

	r = check_characters(name, data, len, err);
	if (r < 0)
		return r;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		return herd_error_set(err, ENOMEM, "out of memory");
	fy_diag_set_collect_errors(diag, true);

	fleet = calloc(1, sizeof(*fleet));
	lp = calloc(1, sizeof(*lp));
	if (!fleet || !lp || !(fleet->path = strdup(name)) ||
	    !(fleet->base.origin_file = strdup(name))) {
		r = herd_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	lp->name = name;
	settings_context_init(&lp->ctx, envp, base_dir);

	const struct fy_parse_cfg pcfg = {
	    .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
	    .diag = diag,
	};
	doc = fy_document_build_from_string(&pcfg, data, len);
	if (!doc) {
		r = yaml_error(name, diag, err);
		goto out;
	}
	r = parse_document(fleet, lp, fy_document_root(doc), err);
	if (r < 0)
		goto out;
	*ret = TAKE_PTR(fleet);
	r = 0;
out:
	if (lp)
		pending_clear(lp);
	free(lp);
	fleet_free(fleet);
	fy_document_destroy(doc);
	fy_diag_destroy(diag);
	return r;
}

int fleet_load(const char *path, char *const *envp, struct fleet **ret, struct herd_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ char *dir = NULL;
	const char *slash;
	struct stat st;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return herd_error_set(err, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > FLEET_MAX_BYTES)
		return herd_error_set(err, EFBIG, "%s: larger than %u bytes", path,
				      FLEET_MAX_BYTES);
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return herd_error_set(err, ENOMEM, "out of memory");
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return herd_error_set(err, errno, "%s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';

	/* Relative references resolve against the file's own directory. */
	slash = strrchr(path, '/');
	if (slash) {
		dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
		if (!dir)
			return herd_error_set(err, ENOMEM, "out of memory");
	}
	return fleet_load_memory(path, dir, data, len, envp, ret, err);
}

struct fleet *fleet_free(struct fleet *fleet)
{
	if (!fleet)
		return NULL;
	for (size_t i = 0; i < fleet->count; i++)
		settings_free(&fleet->hosts[i].layer);
	free(fleet->hosts);
	free(fleet->index);
	strv_free(&fleet->names);
	settings_free(&fleet->base);
	free(fleet->path);
	free(fleet);
	return NULL;
}

const struct strv *fleet_hosts(const struct fleet *fleet)
{
	return &fleet->names;
}

bool fleet_has_host(const struct fleet *fleet, const char *host)
{
	return fleet_find(fleet, host) != NULL;
}

const char *fleet_path(const struct fleet *fleet)
{
	return fleet->path;
}

int fleet_resolve_host(const struct fleet *fleet, const char *host,
		       const struct herd_settings *overrides, char *const *envp,
		       struct herd_settings *ret, struct herd_error *err)
{
	struct settings_context ctx;
	struct herd_settings out;
	int r;

	settings_init(&out);
	if (fleet) {
		const struct fleet_host *h = host ? fleet_find(fleet, host) : NULL;
		if (!h)
			return herd_error_set(err, ENOENT, "host '%s' is not in %s",
					      host ? host : "(none)", fleet->path);
		if (settings_copy(&fleet->base, &out) < 0 || settings_merge(&out, &h->layer) < 0)
			goto oom;
	}
	/* Environment paths are the user's shell's: relative to the cwd. */
	settings_context_init(&ctx, envp, NULL);
	r = settings_apply_env(&out, envp, &ctx, err);
	if (r < 0) {
		settings_free(&out);
		return r;
	}
	if (overrides && settings_merge(&out, overrides) < 0)
		goto oom;
	*ret = out;
	return 0;
oom:
	settings_free(&out);
	return herd_error_set(err, ENOMEM, "out of memory");
}
