/*
 * units.c — systemd units enabled, disabled and masked offline, the way
 * `systemctl --root=IMAGE enable|disable|mask` does it: by symlinks
 * under /etc/systemd/system, computed from the unit file's [Install]
 * section (systemd.unit(5), "[Install] Section Options"; systemctl(1)).
 *
 *  - The unit file is looked up in /etc/systemd/system, /lib/systemd/system
 *    and /usr/lib/systemd/system, in that order (the system unit search
 *    path without /run).  An instance "foo@bar.service" without a file of
 *    its own uses the template "foo@.service".  A symlink there that
 *    points at another unit (an alias such as sshd.service) is followed;
 *    one that points at /dev/null means the unit is masked.
 *  - enable: WantedBy=T links /etc/systemd/system/T.wants/NAME -> file,
 *    RequiredBy=T the same under T.requires/, Alias=A links
 *    /etc/systemd/system/A -> file, Also= units are enabled too.  A
 *    template named without an instance is enabled as its
 *    DefaultInstance=.  The specifiers %i %I %p %P %n %N and %% are
 *    expanded in those values.
 *  - disable: every symlink named NAME in a .wants/.requires/.upholds
 *    directory of /etc/systemd/system, and every alias link there that
 *    points at the unit file, is removed; Also= units are disabled too.
 *  - mask: /etc/systemd/system/NAME -> /dev/null.  A regular file of that
 *    name (a local unit) is not replaced: systemctl refuses that as well.
 *
 * Everything is planned from what the image holds; the operations are
 * idempotent (an existing, equal link is left alone; removing a missing
 * link does nothing).  Not handled: user units, presets, unmask, units
 * under /run, drop-in [Install] overrides.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macros.h"
#include "config/validate.h"
#include "recipe/recipe_internal.h"

#define ETC_UNITS     "/etc/systemd/system"
#define UNIT_FILE_MAX (1u << 20)
#define UNIT_DEPTH    8

static const char *const unit_dirs[] = {
    ETC_UNITS,
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
};

/* snprintf that reports truncation (unit names are at most 240
 * characters, so paths fit; a name that does not simply matches nothing). */
static bool __attribute__((format(printf, 3, 4))) fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

static int oom(struct herd_error *err)
{
	return herd_error_set(err, ENOMEM, "out of memory");
}

/* ---- [Install] parsing ------------------------------------------------------ */

void recipe_unit_install_free(struct recipe_unit_install *u)
{
	strv_free(&u->wanted_by);
	strv_free(&u->required_by);
	strv_free(&u->alias);
	strv_free(&u->also);
	free(u->default_instance);
	u->default_instance = NULL;
}

static int push_words(struct strv *list, const char *value)
{
	if (!*value) {
		strv_free(list); /* "WantedBy=" resets the list */
		return 0;
	}
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t");
		if (n && strv_pushn(list, p, n) < 0)
			return -ENOMEM;
		p += n;
	}
	return 0;
}

int recipe_unit_parse_install(const char *text, struct recipe_unit_install *ret)
{
	struct recipe_unit_install u = {STRV_INIT, STRV_INIT, STRV_INIT, STRV_INIT, NULL};
	bool in_install = false;
	const char *p = text ? text : "";
	char line[4096];

	while (*p) {
		size_t len = 0;
		/* A line ending in '\' continues on the next (systemd.syntax(7)). */
		for (;;) {
			size_t n = strcspn(p, "\n");
			bool cont = n && p[n - 1] == '\\';
			size_t take = cont ? n - 1 : n;
			if (len + take + 1 < sizeof(line)) {
				memcpy(line + len, p, take);
				len += take;
			}
			p += n + (p[n] ? 1 : 0);
			if (!cont || !*p)
				break;
			if (len + 1 < sizeof(line))
				line[len++] = ' ';
		}
		line[len] = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
			s[--n] = '\0';
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_install = strcmp(s, "[Install]") == 0;
			continue;
		}
		if (!in_install)
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		char *kend = eq;
		while (kend > s && (kend[-1] == ' ' || kend[-1] == '\t'))
			kend--;
		*kend = '\0';
		char *v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		int r = 0;
		if (strcmp(s, "WantedBy") == 0)
			r = push_words(&u.wanted_by, v);
		else if (strcmp(s, "RequiredBy") == 0)
			r = push_words(&u.required_by, v);
		else if (strcmp(s, "Alias") == 0)
			r = push_words(&u.alias, v);
		else if (strcmp(s, "Also") == 0)
			r = push_words(&u.also, v);
		else if (strcmp(s, "DefaultInstance") == 0) {
			free(u.default_instance);
			u.default_instance = *v ? strdup(v) : NULL;
			if (*v && !u.default_instance)
				r = -ENOMEM;
		}
		if (r < 0) {
			recipe_unit_install_free(&u);
			return r;
		}
	}
	*ret = u;
	return 0;
}

/* ---- names ------------------------------------------------------------------ */

/* Parts of "prefix@instance.suffix" (instance may be empty: a template). */
struct unit_name {
	char full[256];
	char prefix[256];
	char instance[256];
	char suffix[32];
	bool is_template_form; /* has '@' */
};

static void unit_name_split(const char *name, struct unit_name *u)
{
	const char *dot = strrchr(name, '.');
	const char *at = strchr(name, '@');
	size_t plen;

	memset(u, 0, sizeof(*u));
	fmt(u->full, sizeof(u->full), "%s", name);
	fmt(u->suffix, sizeof(u->suffix), "%s", dot ? dot : "");
	plen = at ? (size_t)(at - name) : (size_t)(dot ? dot - name : (ptrdiff_t)strlen(name));
	fmt(u->prefix, sizeof(u->prefix), "%.*s", (int)plen, name);
	if (at) {
		u->is_template_form = true;
		size_t ilen = dot && dot > at ? (size_t)(dot - at - 1) : strlen(at + 1);
		fmt(u->instance, sizeof(u->instance), "%.*s", (int)ilen, at + 1);
	}
}

/* Expand the [Install] specifiers we support; -EINVAL for others. */
static int expand_specifiers(const char *in, const struct unit_name *u, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		const char *add = NULL;
		char one[2] = {*p, '\0'};
		char stem[300];
		if (*p != '%') {
			add = one;
		} else {
			p++;
			switch (*p) {
			case 'i':
			case 'I':
				add = u->instance;
				break;
			case 'p':
			case 'P':
				add = u->prefix;
				break;
			case 'n':
				add = u->full;
				break;
			case 'N':
				fmt(stem, sizeof(stem), "%.*s",
				    (int)(strlen(u->full) - strlen(u->suffix)), u->full);
				add = stem;
				break;
			case '%':
				add = "%";
				break;
			default:
				return -EINVAL;
			}
		}
		size_t n = strlen(add);
		if (o + n + 1 > len)
			return -ENAMETOOLONG;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

/* ---- lookup ----------------------------------------------------------------- */

struct unit_file {
	char path[600]; /* where the unit file is, as links point to it */
	char name[256]; /* its file name (the template's, for an instance) */
	bool masked;	/* /etc/systemd/system/NAME -> /dev/null */
	bool found;
};

static int find_unit(struct vfs *root, const char *name, unsigned depth, struct unit_file *ret,
		     struct herd_error *err)
{
	char path[600], target[600];
	struct vfs_stat st;

	if (depth > UNIT_DEPTH)
		return herd_error_set(err, ELOOP, "%s: too many levels of unit aliases", name);
	for (size_t i = 0; i < ELEMENTSOF(unit_dirs); i++) {
		fmt(path, sizeof(path), "%s/%s", unit_dirs[i], name);
		if (vfs_lstat(root, path, &st, NULL) < 0)
			continue;
		if (st.type == VFS_FILE) {
			fmt(ret->path, sizeof(ret->path), "%s", path);
			fmt(ret->name, sizeof(ret->name), "%s", name);
			ret->found = true;
			return 0;
		}
		if (st.type != VFS_SYMLINK)
			continue;
		if (vfs_readlink(root, path, target, sizeof(target), NULL) < 0)
			continue;
		if (strcmp(target, "/dev/null") == 0) {
			fmt(ret->path, sizeof(ret->path), "%s", path);
			fmt(ret->name, sizeof(ret->name), "%s", name);
			ret->masked = true;
			ret->found = true;
			return 0;
		}
		/* An alias or a linked unit: the file it names, if that is a
		 * regular file; else the unit of that name, searched again. */
		char resolved[1300];
		if (target[0] == '/')
			fmt(resolved, sizeof(resolved), "%s", target);
		else
			fmt(resolved, sizeof(resolved), "%s/%s", unit_dirs[i], target);
		const char *base = strrchr(resolved, '/') + 1;
		if (vfs_stat(root, resolved, &st, NULL) == 0 && st.type == VFS_FILE &&
		    strlen(resolved) < sizeof(ret->path)) {
			fmt(ret->path, sizeof(ret->path), "%s", resolved);
			fmt(ret->name, sizeof(ret->name), "%s", base);
			ret->found = true;
			return 0;
		}
		if (strcmp(base, name) != 0 && validate_unit_suffix(base))
			return find_unit(root, base, depth + 1, ret, err);
	}
	/* An instance without a file of its own runs from its template. */
	struct unit_name u;
	unit_name_split(name, &u);
	if (u.is_template_form && u.instance[0]) {
		char tmpl[300];
		fmt(tmpl, sizeof(tmpl), "%s@%s", u.prefix, u.suffix);
		return find_unit(root, tmpl, depth + 1, ret, err);
	}
	ret->found = false;
	return 0;
}

/* The name the unit's links carry: the name asked for, or, when that was
 * an alias of another unit (sshd.service -> ssh.service), the real one.
 * An instance keeps its own name (its file is the template). */
static const char *canonical_name(const char *name, const struct unit_file *f)
{
	struct unit_name u;
	char tmpl[300];

	if (strcmp(name, f->name) == 0)
		return name;
	unit_name_split(name, &u);
	if (u.is_template_form && fmt(tmpl, sizeof(tmpl), "%s@%s", u.prefix, u.suffix) &&
	    strcmp(tmpl, f->name) == 0)
		return name;
	return f->name;
}

static int unit_not_found(struct herd_error *err, const char *setting, const char *name)
{
	return herd_error_set(err, ENOENT,
			      "%s: unit %s is not in the image (looked in /etc/systemd/system, "
			      "/lib/systemd/system, /usr/lib/systemd/system)",
			      setting, name);
}

static int load_install(struct vfs *root, const struct unit_file *f, const char *setting,
			struct recipe_unit_install *ret, struct herd_error *err)
{
	_cleanup_free_ char *text = NULL;
	int r = vfs_read_all(root, f->path, UNIT_FILE_MAX, &text, NULL, err);

	if (r < 0)
		return herd_error_prefix(err, -r, "%s: %s", setting, f->path);
	if (recipe_unit_parse_install(text, ret) < 0)
		return oom(err);
	return 0;
}

/* ---- enable ----------------------------------------------------------------- */

static int enable_one(struct recipe *r, struct vfs *root, const char *setting, const char *name,
		      struct strv *seen, struct herd_error *err)
{
	struct unit_file f = {0};
	struct recipe_unit_install in = {STRV_INIT, STRV_INIT, STRV_INIT, STRV_INIT, NULL};
	struct unit_name u;
	char link_name[300], path[900], item[300];
	int k;

	if (strv_contains(seen, name))
		return 0;
	if (strv_push(seen, name) < 0)
		return oom(err);
	k = find_unit(root, name, 0, &f, err);
	if (k < 0)
		return k;
	if (!f.found)
		return unit_not_found(err, setting, name);
	if (f.masked)
		return herd_error_set(
		    err, EPERM, "%s: unit %s is masked (%s -> /dev/null); it cannot be enabled",
		    setting, name, f.path);
	k = load_install(root, &f, setting, &in, err);
	if (k < 0)
		return k;

	name = canonical_name(name, &f);
	unit_name_split(name, &u);
	fmt(link_name, sizeof(link_name), "%s", name);
	if (u.is_template_form && !u.instance[0] && (in.wanted_by.count || in.required_by.count)) {
		if (!in.default_instance) {
			recipe_unit_install_free(&in);
			return herd_error_set(err, EINVAL,
					      "%s: %s is a template without DefaultInstance=; name "
					      "an instance (%s@NAME%s)",
					      setting, name, u.prefix, u.suffix);
		}
		fmt(link_name, sizeof(link_name), "%s@%s%s", u.prefix, in.default_instance,
		    u.suffix);
		unit_name_split(link_name, &u);
	}
	/* The link named like the unit must not be a mask. */
	fmt(path, sizeof(path), ETC_UNITS "/%s", link_name);
	char target[64];
	if (vfs_readlink(root, path, target, sizeof(target), NULL) >= 0 &&
	    strcmp(target, "/dev/null") == 0) {
		recipe_unit_install_free(&in);
		return herd_error_set(err, EPERM, "%s: unit %s is masked; it cannot be enabled",
				      setting, link_name);
	}
	if (!in.wanted_by.count && !in.required_by.count && !in.alias.count && !in.also.count) {
		recipe_unit_install_free(&in);
		return recipe_warn(r,
				   "%s: %s has no [Install] section (a static unit, started "
				   "by others): nothing to enable",
				   setting, name) < 0
			   ? oom(err)
			   : 0;
	}

	const struct {
		struct strv *list;
		const char *dir_suffix;
	} deps[] = {{&in.wanted_by, ".wants"}, {&in.required_by, ".requires"}};
	k = 0;
	for (size_t d = 0; k >= 0 && d < ELEMENTSOF(deps); d++) {
		for (size_t i = 0; k >= 0 && i < deps[d].list->count; i++) {
			char dir[700];
			if (expand_specifiers(deps[d].list->items[i], &u, item, sizeof(item)) < 0 ||
			    strchr(item, '/') || !validate_unit_suffix(item)) {
				k = herd_error_set(err, EINVAL, "%s: %s: bad [Install] target '%s'",
						   setting, f.path, deps[d].list->items[i]);
				break;
			}
			fmt(dir, sizeof(dir), ETC_UNITS "/%s%s", item, deps[d].dir_suffix);
			fmt(path, sizeof(path), "%s/%s", dir, link_name);
			if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, setting, dir, NULL, 0, NULL, 0,
				       0755, 0, 0) < 0 ||
			    recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, setting, path, f.path, 0,
				       NULL, 0, 0, 0, 0) < 0)
				k = oom(err);
		}
	}
	for (size_t i = 0; k >= 0 && i < in.alias.count; i++) {
		if (expand_specifiers(in.alias.items[i], &u, item, sizeof(item)) < 0 ||
		    strchr(item, '/') || !validate_unit_suffix(item)) {
			k = herd_error_set(err, EINVAL, "%s: %s: bad Alias= '%s'", setting, f.path,
					   in.alias.items[i]);
			break;
		}
		if (strcmp(item, f.name) == 0)
			continue;
		fmt(path, sizeof(path), ETC_UNITS "/%s", item);
		if (recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, setting, path, f.path, 0, NULL, 0, 0,
			       0, 0) < 0)
			k = oom(err);
	}
	for (size_t i = 0; k >= 0 && i < in.also.count; i++) {
		char norm[300];
		if (expand_specifiers(in.also.items[i], &u, item, sizeof(item)) < 0 ||
		    validate_unit_name(item, norm, sizeof(norm)) < 0) {
			k = herd_error_set(err, EINVAL, "%s: %s: bad Also= '%s'", setting, f.path,
					   in.also.items[i]);
			break;
		}
		k = enable_one(r, root, setting, norm, seen, err);
	}
	recipe_unit_install_free(&in);
	return k < 0 ? k : 0;
}

int units_enable(struct recipe *r, struct vfs *root, const char *setting, const char *name,
		 struct herd_error *err)
{
	struct strv seen = STRV_INIT;
	int k = enable_one(r, root, setting, name, &seen, err);

	strv_free(&seen);
	return k;
}

/* ---- disable ---------------------------------------------------------------- */

struct link_scan {
	struct vfs *root;
	const char *dir;
	const struct unit_name *u; /* match by name; template form: any instance */
	const char *file;	   /* alias links: the target to match */
	struct strv *out;
	int error;
};

static bool name_matches(const char *entry, const struct unit_name *u)
{
	if (!u->is_template_form || u->instance[0])
		return strcmp(entry, u->full) == 0;
	/* A template: every instance "prefix@*.suffix". */
	size_t p = strlen(u->prefix), s = strlen(u->suffix), n = strlen(entry);
	return n > p + 1 + s && memcmp(entry, u->prefix, p) == 0 && entry[p] == '@' &&
	       strcmp(entry + n - s, u->suffix) == 0;
}

static int scan_links(void *userdata, const struct vfs_dirent *e)
{
	struct link_scan *sc = userdata;
	char path[900], target[700];

	if (e->st.type != VFS_SYMLINK)
		return 0;
	fmt(path, sizeof(path), "%s/%s", sc->dir, e->name);
	if (sc->file) {
		/* Aliases: links at the top that point at the unit file. */
		if (vfs_readlink(sc->root, path, target, sizeof(target), NULL) < 0 ||
		    strcmp(target, sc->file) != 0)
			return 0;
	} else if (!name_matches(e->name, sc->u)) {
		return 0;
	}
	if (!strv_contains(sc->out, path) && strv_push(sc->out, path) < 0)
		return -ENOMEM;
	return 0;
}

static int scan_dep_dirs(void *userdata, const struct vfs_dirent *e)
{
	struct link_scan *sc = userdata;
	size_t n = strlen(e->name);
	char dir[700];

	if (e->st.type != VFS_DIR)
		return 0;
	if (!((n > 6 && strcmp(e->name + n - 6, ".wants") == 0) ||
	      (n > 9 && strcmp(e->name + n - 9, ".requires") == 0) ||
	      (n > 8 && strcmp(e->name + n - 8, ".upholds") == 0)))
		return 0;
	fmt(dir, sizeof(dir), ETC_UNITS "/%s", e->name);
	struct link_scan inner = *sc;
	inner.dir = dir;
	inner.file = NULL;
	return vfs_readdir(sc->root, dir, scan_links, &inner, NULL) == -ENOMEM ? -ENOMEM : 0;
}

static int disable_one(struct recipe *r, struct vfs *root, const char *setting, const char *name,
		       struct strv *seen, struct herd_error *err)
{
	struct unit_file f = {0};
	struct recipe_unit_install in = {STRV_INIT, STRV_INIT, STRV_INIT, STRV_INIT, NULL};
	struct strv links = STRV_INIT;
	struct unit_name u;
	struct vfs_stat st;
	int k;

	if (strv_contains(seen, name))
		return 0;
	if (strv_push(seen, name) < 0)
		return oom(err);
	k = find_unit(root, name, 0, &f, err);
	if (k < 0)
		return k;
	if (!f.found)
		return unit_not_found(err, setting, name);
	if (f.masked)
		return 0; /* a masked unit has no links to remove */
	name = canonical_name(name, &f);
	unit_name_split(name, &u);
	if (vfs_stat(root, ETC_UNITS, &st, NULL) == 0 && st.type == VFS_DIR) {
		struct link_scan sc = {.root = root, .dir = ETC_UNITS, .u = &u, .out = &links};
		k = vfs_readdir(root, ETC_UNITS, scan_dep_dirs, &sc, NULL);
		if (k >= 0) {
			sc.file = f.path;
			k = vfs_readdir(root, ETC_UNITS, scan_links, &sc, NULL);
		}
		if (k == -ENOMEM) {
			strv_free(&links);
			return oom(err);
		}
	}
	k = 0;
	for (size_t i = 0; k >= 0 && i < links.count; i++)
		if (strcmp(links.items[i], f.path) != 0 &&
		    recipe_add(r, RECIPE_REMOVE, RECIPE_ROOT, setting, links.items[i], NULL, 0,
			       NULL, 0, 0, 0, 0) < 0)
			k = oom(err);
	strv_free(&links);
	if (k >= 0)
		k = load_install(root, &f, setting, &in, err);
	for (size_t i = 0; k >= 0 && i < in.also.count; i++) {
		char item[300], norm[300];
		if (expand_specifiers(in.also.items[i], &u, item, sizeof(item)) < 0 ||
		    validate_unit_name(item, norm, sizeof(norm)) < 0)
			continue;
		k = disable_one(r, root, setting, norm, seen, err);
	}
	recipe_unit_install_free(&in);
	return k < 0 ? k : 0;
}

/* ---- mask ------------------------------------------------------------------- */

static int mask_one(struct recipe *r, struct vfs *root, const char *name, struct herd_error *err)
{
	char path[300];
	struct vfs_stat st;

	fmt(path, sizeof(path), ETC_UNITS "/%s", name);
	if (vfs_lstat(root, path, &st, NULL) == 0 && st.type != VFS_SYMLINK)
		return herd_error_set(err, EEXIST,
				      "systemd.mask: %s is a unit file of its own in "
				      "/etc/systemd/system; remove it rather than mask it",
				      name);
	if (recipe_add(r, RECIPE_MKDIR, RECIPE_ROOT, "systemd.mask", ETC_UNITS, NULL, 0, NULL, 0,
		       0755, 0, 0) < 0 ||
	    recipe_add(r, RECIPE_SYMLINK, RECIPE_ROOT, "systemd.mask", path, "/dev/null", 0, NULL,
		       0, 0, 0, 0) < 0)
		return oom(err);
	return 0;
}

/* ---- the settings ----------------------------------------------------------- */

static int check_conflicts(const struct herd_settings *s, struct herd_error *err)
{
	const struct {
		const struct strv *list;
		const char *name;
	} lists[] = {
	    {&s->systemd_enable, "systemd.enable"},
	    {&s->systemd_disable, "systemd.disable"},
	    {&s->systemd_mask, "systemd.mask"},
	};

	for (size_t a = 0; a < ELEMENTSOF(lists); a++)
		for (size_t b = a + 1; b < ELEMENTSOF(lists); b++)
			for (size_t i = 0; i < lists[a].list->count; i++)
				if (strv_contains(lists[b].list, lists[a].list->items[i]))
					return herd_error_set(
					    err, EINVAL, "systemd: %s is in both %s and %s",
					    lists[a].list->items[i], lists[a].name, lists[b].name);
	return 0;
}

int units_plan(struct recipe *r, const struct recipe_target *t, const struct herd_settings *s,
	       struct herd_error *err)
{
	char norm[256];
	int k = check_conflicts(s, err);

	if (k < 0)
		return k;
	/* Values from the registry are normalized already; a settings object
	 * built by hand is checked again here. */
	const struct strv *lists[] = {&s->systemd_enable, &s->systemd_disable, &s->systemd_mask};
	for (size_t l = 0; l < ELEMENTSOF(lists); l++)
		for (size_t i = 0; i < lists[l]->count; i++)
			if (validate_unit_name(lists[l]->items[i], norm, sizeof(norm)) < 0 ||
			    strcmp(norm, lists[l]->items[i]) != 0)
				return herd_error_set(err, EINVAL,
						      "systemd: '%s' is not a unit name like "
						      "ssh.service",
						      lists[l]->items[i]);
	for (size_t i = 0; i < s->systemd_disable.count; i++) {
		struct strv seen = STRV_INIT;
		k = disable_one(r, t->root, "systemd.disable", s->systemd_disable.items[i], &seen,
				err);
		strv_free(&seen);
		if (k < 0)
			return k;
	}
	for (size_t i = 0; i < s->systemd_mask.count; i++) {
		k = mask_one(r, t->root, s->systemd_mask.items[i], err);
		if (k < 0)
			return k;
	}
	for (size_t i = 0; i < s->systemd_enable.count; i++) {
		k = units_enable(r, t->root, "systemd.enable", s->systemd_enable.items[i], err);
		if (k < 0)
			return k;
	}
	return 0;
}
