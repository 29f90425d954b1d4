/*
 * fuzz_recipe_system.c — libFuzzer harness for the system settings'
 * parsers of image text and user input: the config.txt and cmdline.txt
 * editors (they run over whatever the boot partition holds), the unit
 * file [Install] parser, and the port, peer and unit-name validators.
 *
 * Input: the first line is the key/word/line to apply, the rest is the
 * file text.  Invariants: every edit is a fixed point (editing the result
 * again gives the same bytes); cmdline edits keep everything after the
 * first line byte for byte; removing after setting leaves no line with
 * the key; accepted peers re-parse to the same normal form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/validate.h"
#include "recipe/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fixed_config(const char *text, const char *key, const char *line)
{
	char *a = NULL, *b = NULL;

	if (recipe_config_txt_edit(text, key, line, &a) < 0)
		return;
	if (recipe_config_txt_edit(a, key, line, &b) < 0 || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
}

static void fixed_cmdline(const char *text, const char *key, const char *word)
{
	char *a = NULL, *b = NULL;
	const char *rest = strchr(text, '\n');

	if (recipe_cmdline_edit(text, key, word, &a) < 0)
		return;
	if (recipe_cmdline_edit(a, key, word, &b) < 0 || strcmp(a, b) != 0)
		abort();
	if (rest && (!strchr(a, '\n') || strcmp(strchr(a, '\n'), rest) != 0))
		abort();
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl, *text, keybuf[256], norm[2048];
	struct recipe_unit_install u;
	struct herd_port_range pr;
	struct herd_wg_peer p, q;
	size_t klen;

	if (size > 65536)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	text = nl ? nl + 1 : buf + size;
	if (nl)
		*nl = '\0';

	/* The first line as a config.txt line and key. */
	if (validate_config_key(buf, &klen) == 0 && klen < sizeof(keybuf) && !strchr(buf, '\n')) {
		memcpy(keybuf, buf, klen);
		keybuf[klen] = '\0';
		fixed_config(text, keybuf, buf);
		fixed_config(text, keybuf, NULL);
	}
	/* ... as a kernel parameter. */
	if (validate_cmdline_key_len(buf, &klen) == 0 && klen < sizeof(keybuf) &&
	    !strpbrk(buf, " \t\r")) {
		memcpy(keybuf, buf, klen);
		keybuf[klen] = '\0';
		fixed_cmdline(text, keybuf, buf);
		fixed_cmdline(text, keybuf, NULL);
	}
	/* ... as a port, a peer, a unit name. */
	validate_port_spec(buf, &pr);
	if (validate_wg_peer(buf, &p, norm, sizeof(norm)) == 0) {
		if (validate_wg_peer_format(&p, norm, sizeof(norm)) == 0) {
			char again[2048];
			if (validate_wg_peer(norm, &q, again, sizeof(again)) != 0 ||
			    validate_wg_peer_format(&q, again, sizeof(again)) != 0 ||
			    strcmp(norm, again) != 0)
				abort();
		}
	}
	if (validate_unit_name(buf, norm, sizeof(norm)) == 0 && !validate_unit_suffix(norm))
		abort();
	/* The rest as a unit file. */
	if (recipe_unit_parse_install(text, &u) == 0)
		recipe_unit_install_free(&u);
	free(buf);
	return 0;
}
