/*
 * fuzz_recipe_text.c — libFuzzer harness for the recipe's parsers of
 * outside text: the OpenSSH public key check (key files come from users)
 * and the line/word editors (they run over whatever /etc/hosts,
 * /etc/locale.gen, /etc/dhcpcd.conf and cmdline.txt the image holds).
 *
 * Invariants: accepted key text re-checks to itself; every edit ends in a
 * newline, holds the new line exactly once, and is a fixed point (editing
 * the result again gives the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const char *text, const char *key, const char *line, unsigned flags)
{
	char *a = NULL, *b = NULL;

	if (recipe_edit_lines(text, key, line, flags, &a) < 0)
		return;
	if (a[0] && a[strlen(a) - 1] != '\n')
		abort();
	if (recipe_edit_lines(a, key, line, flags, &b) < 0 || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herd_error err = {0};
	char *text, *keys = NULL, *again = NULL, *w1 = NULL, *w2 = NULL;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (recipe_check_public_keys(text, size, &keys, &err) == 0) {
		if (recipe_check_public_keys(keys, strlen(keys), &again, &err) != 0 ||
		    strcmp(keys, again) != 0)
			abort();
		free(keys);
		free(again);
	} else if (!err.message[0]) {
		abort();
	}

	check_fixed_point(text, "127.0.1.1", "127.0.1.1\tred07", 0);
	check_fixed_point(text, "de_DE.UTF-8 ", "de_DE.UTF-8 UTF-8", RECIPE_LINE_COMMENTED);
	check_fixed_point(text, "herd eth0", "interface eth0\nstatic ip_address=10.0.0.2/24\n",
			  RECIPE_LINE_BLOCK);
	check_fixed_point(text, "X=", NULL, 0);
	if (recipe_edit_word(text, "cfg80211.ieee80211_regdom=", "cfg80211.ieee80211_regdom=DE",
			     &w1) == 0) {
		if (recipe_edit_word(w1, "cfg80211.ieee80211_regdom=",
				     "cfg80211.ieee80211_regdom=DE", &w2) != 0 ||
		    strcmp(w1, w2) != 0)
			abort();
		free(w1);
		free(w2);
	}
	free(text);
	return 0;
}
