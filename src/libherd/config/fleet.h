/*
 * fleet.h — the fleet file: settings for many hosts in one YAML document.
 *
 *   image: raspios-lite-arm64@2025-10-01   # optional, same as defaults.image
 *   defaults: { <settings> }                # apply to every host
 *   hosts:
 *     red[01-04]: { ipaddr: 10.1.1.[11-14] }  # key: a host-list expression
 *     blue01: { ipaddr: 10.1.1.30, wifi: null }
 *
 * Settings mappings use the registry names of settings.h, nested by
 * section (`ssh: { enabled: true }`) or dotted (`ssh.enabled: true`).
 * In a hosts entry, a value of a per-host key (hostname, ipaddr,
 * network.gateway) that is itself a host-list expression pairs with the
 * entry's hosts by position; a value that expands to one item applies to
 * every host; any other count is an error.  `null` unsets a key or a whole
 * section (`wifi: null`) inherited from defaults.  A host's hostname is
 * its name in `hosts` unless the entry sets `hostname`.
 *
 * Errors are one line, "<path>:<line>: <key>: <why>", with the path as the
 * caller gave it and the line of the offending node; YAML syntax errors
 * too (libfyaml's diagnostics are collected, never printed).  A host named
 * under two keys is an error naming both lines.  Aliases, anchors and
 * merge keys are refused: a fleet file should read the same to a person
 * as to herd.  File references (ssh.authorized_keys, wifi.psk_file,
 * files[].source) are resolved against the file's directory and must
 * exist when the file is loaded.
 *
 * Resolution precedence, lowest first: defaults (and top-level image) <
 * the host's entry < HERD_<KEY> environment variables < command-line
 * overrides.  Relative paths in the environment resolve against the
 * current directory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"
#include "config/settings.h"

#define FLEET_MAX_BYTES (4u << 20) /* a fleet file larger than this is a mistake */
#define FLEET_MAX_HOSTS 10000

struct fleet;

/* Load and validate `path`.  `envp` supplies HOME (for "~/") and
 * HERD_ZONEINFO_DIR; it may be NULL.  *ret is written only on success. */
int fleet_load(const char *path, char *const *envp, struct fleet **ret, struct herd_error *err);
/* The same from memory: `name` is used in messages and sources,
 * `base_dir` (NULL = current directory) anchors relative file references. */
int fleet_load_memory(const char *name, const char *base_dir, const void *data, size_t len,
		      char *const *envp, struct fleet **ret, struct herd_error *err);
/* Accepts NULL; returns NULL. */
struct fleet *fleet_free(struct fleet *fleet);

/* The hosts in file order (each entry's expansion in order). */
const struct strv *fleet_hosts(const struct fleet *fleet);
bool fleet_has_host(const struct fleet *fleet, const char *host);
const char *fleet_path(const struct fleet *fleet);

/* Resolve the settings of `host`: defaults < host entry < environment
 * (`envp`, may be NULL) < `overrides` (may be NULL; keys with source NONE
 * are ignored).  `fleet` may be NULL: then only the environment and the
 * overrides apply and `host` is not used (it may be NULL).  A host that is not in a given fleet is
 * -ENOENT: a typo must not quietly produce an unconfigured card.  *ret is initialised by this call
 * and written only on success; free it with settings_free(). */
int fleet_resolve_host(const struct fleet *fleet, const char *host,
		       const struct herd_settings *overrides, char *const *envp,
		       struct herd_settings *ret, struct herd_error *err);
