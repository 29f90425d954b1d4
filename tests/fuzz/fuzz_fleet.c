/*
 * fuzz_fleet.c — libFuzzer harness for the fleet file loader.
 *
 * Bytes → fleet_load_memory (base directory "/nonexistent", so file
 * references fail cleanly and nothing outside is read except the zoneinfo
 * check) → resolve every host, with a small environment block.  Checks:
 * a failed load leaves a message and no fleet; every listed host
 * resolves; a resolved host has a hostname unless one was nulled; every
 * key formats.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *envp[] = {"HOME=/nonexistent", "HERD_ZONEINFO_DIR=/nonexistent", NULL};
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	const struct settings_key *hostname = settings_key_find("hostname");
	int r;

	if (size > 65536)
		return 0;
	r = fleet_load_memory("fuzz.yaml", "/nonexistent", data, size, envp, &fleet, &err);
	if (r < 0) {
		if (fleet || err.message[0] == '\0')
			abort();
		return 0;
	}
	const struct strv *hosts = fleet_hosts(fleet);
	for (size_t i = 0; i < hosts->count; i++) {
		struct herd_settings s;
		if (fleet_resolve_host(fleet, hosts->items[i], NULL, envp, &s, &err) < 0)
			abort();
		if (!settings_is_set(&s, hostname) &&
		    !s.origin[settings_key_index(hostname)].cleared)
			abort();
		/* Formatting every key must work on whatever was loaded. */
		size_t nkeys;
		const struct settings_key *keys = settings_keys(&nkeys);
		for (size_t k = 0; k < nkeys; k++) {
			char src[256];
			free(settings_format_value(&s, &keys[k]));
			settings_format_source(&s, &keys[k], src, sizeof(src));
			if (src[0] == '\0')
				abort();
		}
		settings_free(&s);
	}
	fleet_free(fleet);
	return 0;
}
