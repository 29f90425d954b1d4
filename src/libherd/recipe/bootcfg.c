/*
 * bootcfg.c — config.txt and cmdline.txt on the boot partition:
 * config.set / config.remove / config.dtoverlay and cmdline.set /
 * cmdline.remove.
 *
 * Both files sit at the root of the FAT boot partition (mounted at
 * /boot/firmware since bookworm, /boot before; the firmware reads them
 * from the partition, so that is where we edit them).
 *
 * config.txt ("config.txt" in the Raspberry Pi documentation) is a list of
 * property=value lines grouped by conditional filters: "[pi4]", "[cm5]",
 * "[all]".  Lines before the first filter and after any "[all]" apply to
 * every board; that is the only context these settings edit, so a
 * board-specific line under "[pi4]" is never replaced by a global one.
 * dtoverlay= and dtparam= may appear many times, so their key includes the
 * overlay or parameter name: config.dtoverlay replaces an overlay of the
 * same name (new parameters) and otherwise adds it once.
 *
 * cmdline.txt is one line of blank-separated kernel parameters (the
 * firmware reads only the first line).  A parameter is matched by its
 * name: "console" matches "console=tty1" but not "consoleblank=0".
 *
 * The edits run at execution time (RECIPE_CONFIG_TXT / RECIPE_CMDLINE
 * operations), on the file as earlier operations left it, so they compose
 * with the Wi-Fi regulatory domain word and anything else that touches
 * the same files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define CONFIG_TXT  "/config.txt"
#define CMDLINE_TXT "/cmdline.txt"

/* ---- config.txt ----------------------------------------------------------- */

/* Does the line (without its newline) set `key`?  Lines of any length:
 * a long one missed here would be added again on every edit. */
static bool config_line_has_key(const char *s, size_t n, const char *key)
{
	_cleanup_free_ char *line = NULL;
	size_t klen;

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0 || *s == '#')
		return false;
	line = strndup(s, n);
	if (!line || validate_config_key(line, &klen) < 0)
		return false;
	return klen == strlen(key) && memcmp(line, key, klen) == 0 &&
	       (line[klen] == '=' || line[klen] == '\0' || line[klen] == ',');
}

int recipe_config_txt_edit(const char *text, const char *key, const char *line, char **ret)
{
	struct recipe_text b = {0};
	const char *p = text ? text : "";
	bool all = true, done = false, final_nl = true;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *s = p;
		size_t m = n;

		final_nl = nl != NULL;
		while (m && (*s == ' ' || *s == '\t')) {
			s++;
			m--;
		}
		if (m && *s == '[') {
			/* A filter line; "[all]" brings back the global context. */
			all = m >= 5 && memcmp(s, "[all]", 5) == 0;
		} else if (all && config_line_has_key(p, n, key)) {
			if (!done && line) {
				recipe_text_put(&b, line, strlen(line));
				if (nl)
					recipe_text_put(&b, "\n", 1);
			}
			done = true;
			p += n + (nl ? 1 : 0);
			continue;
		}
		recipe_text_put(&b, p, n + (nl ? 1 : 0));
		p += n + (nl ? 1 : 0);
	}
	if (!done && line) {
		if (!final_nl && b.len)
			recipe_text_put(&b, "\n", 1);
		if (!all)
			recipe_text_put(&b, "[all]\n", 6);
		recipe_text_put(&b, line, strlen(line));
		recipe_text_put(&b, "\n", 1);
	}
	return recipe_text_take(&b, ret);
}

/* ---- cmdline.txt ---------------------------------------------------------- */

static bool word_has_key(const char *w, size_t n, const char *key)
{
	size_t k = strlen(key);

	return n >= k && memcmp(w, key, k) == 0 && (n == k || w[k] == '=');
}

int recipe_cmdline_edit(const char *text, const char *key, const char *word, char **ret)
{
	struct recipe_text b = {0};
	const char *p = text ? text : "";
	const char *eol = p + strcspn(p, "\n");
	const char *q = p, *last_end;
	bool done = false, emitted = false;

	/* Leading blanks stay. */
	while (q < eol && (*q == ' ' || *q == '\t'))
		q++;
	recipe_text_put(&b, p, (size_t)(q - p));
	last_end = q;
	while (q < eol) {
		const char *sep = last_end;
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q >= eol)
			break;
		const char *w = q;
		while (q < eol && *q != ' ' && *q != '\t' && *q != '\r')
			q++;
		size_t n = (size_t)(q - w);
		const char *emit = w;
		size_t emit_len = n;
		if (word_has_key(w, n, key)) {
			if (done || !word) {
				done = true;
				last_end = q;
				continue;
			}
			emit = word;
			emit_len = strlen(word);
			done = true;
		}
		/* Keep the blanks that stood before this word, unless it is now
		 * the first word (its predecessor was dropped). */
		if (emitted)
			recipe_text_put(&b, sep == w ? " " : sep, sep == w ? 1 : (size_t)(w - sep));
		recipe_text_put(&b, emit, emit_len);
		emitted = true;
		last_end = q;
	}
	if (!done && word) {
		if (emitted)
			recipe_text_put(&b, " ", 1);
		recipe_text_put(&b, word, strlen(word));
	}
	/* Trailing blanks, the newline (or its absence) and any later lines. */
	recipe_text_put(&b, last_end, strlen(last_end));
	return recipe_text_take(&b, ret);
}

/* ---- the plan --------------------------------------------------------------- */

static bool is_set(const struct herd_settings *s, const char *name)
{
	const struct settings_key *key = settings_key_find(name);

	return key && settings_is_set(s, key);
}

static int add_config(struct recipe *r, const char *setting, const char *key, const char *line,
		      struct herd_error *err)
{
	if (recipe_add(r, RECIPE_CONFIG_TXT, RECIPE_BOOT, setting, CONFIG_TXT, line, 0, key,
		       RECIPE_LINE_CREATE, 0755, 0, 0) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int plan_config(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	char key[200], line[1100];
	size_t n;
	int k;

	for (size_t i = 0; i < s->config_remove.count; i++) {
		const char *v = s->config_remove.items[i];
		if (validate_config_key(v, &n) < 0 || v[n])
			return herd_error_set(err, EINVAL, "config.remove: '%s' is not a key", v);
		for (size_t j = 0; j < s->config_set.count; j++)
			if (validate_config_key(s->config_set.items[j], &n) == 0 &&
			    n == strlen(v) && memcmp(s->config_set.items[j], v, n) == 0)
				return herd_error_set(err, EINVAL,
						      "config: %s is in both config.set and "
						      "config.remove",
						      v);
		k = add_config(r, "config.remove", v, NULL, err);
		if (k < 0)
			return k;
	}
	for (size_t i = 0; i < s->config_set.count; i++) {
		const char *v = s->config_set.items[i];
		if (validate_config_key(v, &n) < 0 || n >= sizeof(key) ||
		    strncmp(v, "dtoverlay=", 10) == 0)
			return herd_error_set(err, EINVAL, "config.set: '%s' is not KEY=VALUE", v);
		memcpy(key, v, n);
		key[n] = '\0';
		k = add_config(r, "config.set", key, v, err);
		if (k < 0)
			return k;
	}
	for (size_t i = 0; i < s->config_dtoverlay.count; i++) {
		const char *v = s->config_dtoverlay.items[i];
		size_t name = strcspn(v, ",");
		if (name == 0 || name > 64 || strlen(v) > 1000)
			return herd_error_set(err, EINVAL,
					      "config.dtoverlay: '%s' is not NAME[,PARAMS]", v);
		snprintf(key, sizeof(key), "dtoverlay=%.*s", (int)name, v);
		snprintf(line, sizeof(line), "dtoverlay=%s", v);
		k = add_config(r, "config.dtoverlay", key, line, err);
		if (k < 0)
			return k;
	}
	return 0;
}

static int plan_cmdline(struct recipe *r, const struct herd_settings *s, struct herd_error *err)
{
	char key[200];
	size_t n;

	for (size_t i = 0; i < s->cmdline_remove.count; i++) {
		const char *v = s->cmdline_remove.items[i];
		if (validate_cmdline_key_len(v, &n) < 0 || v[n])
			return herd_error_set(err, EINVAL,
					      "cmdline.remove: '%s' is not a parameter name", v);
		for (size_t j = 0; j < s->cmdline_set.count; j++)
			if (word_has_key(s->cmdline_set.items[j], strlen(s->cmdline_set.items[j]),
					 v))
				return herd_error_set(err, EINVAL,
						      "cmdline: %s is in both cmdline.set and "
						      "cmdline.remove",
						      v);
		if (recipe_add(r, RECIPE_CMDLINE, RECIPE_BOOT, "cmdline.remove", CMDLINE_TXT, NULL,
			       0, v, 0, 0755, 0, 0) < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->cmdline_set.count; i++) {
		const char *v = s->cmdline_set.items[i];
		if (validate_cmdline_key_len(v, &n) < 0 || n >= sizeof(key) || strpbrk(v, " \t\n"))
			return herd_error_set(err, EINVAL, "cmdline.set: '%s' is not KEY[=VALUE]",
					      v);
		memcpy(key, v, n);
		key[n] = '\0';
		if (recipe_add(r, RECIPE_CMDLINE, RECIPE_BOOT, "cmdline.set", CMDLINE_TXT, v, 0,
			       key, 0, 0755, 0, 0) < 0)
			return herd_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int bootcfg_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
		 struct herd_error *err)
{
	bool config = s->config_set.count || s->config_remove.count || s->config_dtoverlay.count;
	bool cmdline = s->cmdline_set.count || s->cmdline_remove.count;
	struct vfs_stat st;
	int k;

	if (!config && !cmdline)
		return 0;
	if (!t->boot)
		return herd_error_set(
		    err, ENOENT, "%s: the image has no boot partition (config.txt, cmdline.txt)",
		    config ? (is_set(s, "config.set")	   ? "config.set"
			      : is_set(s, "config.remove") ? "config.remove"
							   : "config.dtoverlay")
			   : (is_set(s, "cmdline.set") ? "cmdline.set" : "cmdline.remove"));
	if (config) {
		k = plan_config(r, s, err);
		if (k < 0)
			return k;
	}
	if (cmdline) {
		/* Unlike config.txt, an empty cmdline.txt would not boot: the
		 * file has to be there already. */
		if (vfs_stat(t->boot, CMDLINE_TXT, &st, NULL) < 0 || st.type != VFS_FILE)
			return herd_error_set(
			    err, ENOENT, "%s: the boot partition has no cmdline.txt",
			    s->cmdline_set.count ? "cmdline.set" : "cmdline.remove");
		k = plan_cmdline(r, s, err);
		if (k < 0)
			return k;
	}
	return 0;
}
