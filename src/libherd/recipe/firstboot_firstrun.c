/*
 * firstboot_firstrun.c — the firstrun backend: the offline backend's root
 * filesystem changes, replayed at first boot by a shell script on the boot
 * partition, for images whose first-boot machinery is the older Raspberry
 * Pi Imager mechanism:
 *
 *   cmdline.txt gets "systemd.run=<boot>/firstrun.sh
 *   systemd.run_success_action=reboot systemd.unit=kernel-command-line.target"
 *   (systemd.run= is systemd's kernel-command-line service, see
 *   systemd-run-generator(8)); the kernel boots into that target, the
 *   script runs once, deletes itself, takes exactly those three words out
 *   of cmdline.txt again, and the board reboots into the configured system.
 *
 * Same settings, same result: the script is generated from the offline
 * plan itself.  Every root operation becomes shell with the same effect —
 * file contents travel as base64 (coreutils `base64 -d`) so any byte is
 * safe, modes and owners are numeric as the planner resolved them, and the
 * line edits (SET_LINE, SET_WORD) are evaluated here against the image's
 * current files, so the script writes the edited file whole.  Boot
 * partition operations of the plan stay as they are.  Nothing on the root
 * filesystem changes now.
 *
 * The boot partition's mount point comes from the image's /etc/fstab:
 * /boot/firmware on bookworm and later, /boot before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/macros.h"
#include "recipe/recipe_internal.h"

#define TEXT_MAX (16u << 20)

/* Files as the script will have left them, for the line edits. */
struct sim_file {
	char *path;
	char *text; /* NULL = absent */
	uint32_t mode, uid, gid;
};

struct sim {
	struct sim_file *files;
	size_t count;
};

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->count; i++) {
		free(s->files[i].path);
		free(s->files[i].text);
	}
	free(s->files);
}

static struct sim_file *sim_get(struct sim *s, struct vfs *root, const char *path)
{
	struct vfs_stat st;

	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	struct sim_file *n = realloc(s->files, (s->count + 1) * sizeof(*n));
	if (!n)
		return NULL;
	s->files = n;
	struct sim_file *f = &s->files[s->count];
	*f = (struct sim_file){.path = strdup(path)};
	if (!f->path)
		return NULL;
	if (vfs_stat(root, path, &st, NULL) == 0 && st.type == VFS_FILE &&
	    vfs_read_all(root, path, TEXT_MAX, &f->text, NULL, NULL) == 0) {
		f->mode = st.mode & 07777;
		f->uid = st.uid;
		f->gid = st.gid;
	}
	s->count++;
	return f;
}

/* A shell word in single quotes ('\'' for a quote inside). */
static void sq(struct recipe_text *t, const char *s)
{
	recipe_text_put(t, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			recipe_text_put(t, "'\\''", 4);
		else
			recipe_text_put(t, s, 1);
	}
	recipe_text_put(t, "'", 1);
}

static void emit_write(struct recipe_text *t, const char *path, const char *data, size_t len,
		       uint32_t mode, uint32_t uid, uint32_t gid)
{
	if (len == 0) {
		recipe_textf(t, ": >");
		sq(t, path);
		recipe_text_put(t, "\n", 1);
	} else {
		recipe_textf(t, "base64 -d >");
		sq(t, path);
		recipe_textf(t, " <<'HERD_EOF'\n");
		/* 57 input bytes per line = 76 characters, as base64(1). */
		unsigned char line[80];
		for (size_t i = 0; i < len; i += 57) {
			size_t n = len - i < 57 ? len - i : 57;
			int w = EVP_EncodeBlock(line, (const unsigned char *)data + i, (int)n);
			recipe_text_put(t, (const char *)line, (size_t)w);
			recipe_text_put(t, "\n", 1);
		}
		recipe_textf(t, "HERD_EOF\n");
	}
	recipe_textf(t, "chmod %04o ", mode);
	sq(t, path);
	recipe_textf(t, "\nchown %u:%u ", uid, gid);
	sq(t, path);
	recipe_text_put(t, "\n", 1);
}

static int emit_op(struct recipe_text *t, struct sim *sim, struct vfs *root,
		   const struct recipe_op *op)
{
	struct sim_file *f;
	char *text = NULL;
	int k;

	switch (op->type) {
	case RECIPE_WRITE:
		emit_write(t, op->path, op->data, op->len, op->mode, op->uid, op->gid);
		if ((f = sim_get(sim, root, op->path))) {
			free(f->text);
			f->text = strndup(op->data, op->len);
			f->mode = op->mode;
			f->uid = op->uid;
			f->gid = op->gid;
		}
		break;
	case RECIPE_MKDIR:
		/* Like the executor: only a missing directory gets mode and owner. */
		recipe_textf(t, "if [ ! -d ");
		sq(t, op->path);
		recipe_textf(t, " ]; then mkdir -p ");
		sq(t, op->path);
		recipe_textf(t, " && chmod %04o ", op->mode);
		sq(t, op->path);
		recipe_textf(t, " && chown %u:%u ", op->uid, op->gid);
		sq(t, op->path);
		recipe_textf(t, "; fi\n");
		break;
	case RECIPE_SYMLINK:
		recipe_textf(t, "ln -sfn ");
		sq(t, op->data);
		recipe_text_put(t, " ", 1);
		sq(t, op->path);
		recipe_text_put(t, "\n", 1);
		break;
	case RECIPE_CHMOD:
		recipe_textf(t, "chmod %04o ", op->mode);
		sq(t, op->path);
		recipe_text_put(t, "\n", 1);
		break;
	case RECIPE_CHOWN:
		recipe_textf(t, "chown %u:%u ", op->uid, op->gid);
		sq(t, op->path);
		recipe_text_put(t, "\n", 1);
		break;
	case RECIPE_SET_LINE:
	case RECIPE_SET_WORD:
		f = sim_get(sim, root, op->path);
		if (!f)
			return -ENOMEM;
		if (!f->text && !(op->flags & RECIPE_LINE_CREATE) && op->type == RECIPE_SET_LINE)
			return -ENOENT;
		if (!f->text) {
			f->mode = op->mode;
			f->uid = op->uid;
			f->gid = op->gid;
		}
		k = op->type == RECIPE_SET_WORD
			? recipe_edit_word(f->text, op->key, op->data, &text)
			: recipe_edit_lines(f->text, op->key, op->data, op->flags, &text);
		if (k < 0)
			return k;
		emit_write(t, op->path, text, strlen(text), f->mode, f->uid, f->gid);
		free(f->text);
		f->text = text;
		break;
	case RECIPE_CONFIG_TXT:
	case RECIPE_CMDLINE:
		/* Boot-partition edits: applied directly, never scripted. */
		return -EINVAL;
	case RECIPE_REMOVE:
		recipe_textf(t, "rm -f ");
		sq(t, op->path);
		recipe_text_put(t, "\n", 1);
		if ((f = sim_get(sim, root, op->path))) {
			free(f->text);
			f->text = NULL;
		}
		break;
	case RECIPE_RENAME:
		recipe_textf(t, "if [ -e ");
		sq(t, op->path);
		recipe_textf(t, " ] || [ -L ");
		sq(t, op->path);
		recipe_textf(t, " ]; then mv ");
		sq(t, op->path);
		recipe_text_put(t, " ", 1);
		sq(t, op->data);
		recipe_textf(t, "; fi\n");
		break;
	case RECIPE_COPY_TREE:
		/* cp -n: what exists is not replaced, as in the executor. */
		recipe_textf(t, "if [ -d ");
		sq(t, op->data);
		recipe_textf(t, " ]; then cp -a -n ");
		sq(t, op->data);
		recipe_textf(t, "/. ");
		sq(t, op->path);
		recipe_textf(t, "/ && chown -R %u:%u ", op->uid, op->gid);
		sq(t, op->path);
		recipe_textf(t, "; fi\n");
		break;
	}
	return 0;
}

/* Where the running system mounts the boot partition: the mount point
 * of the vfat line in /etc/fstab; without one, /boot/firmware from
 * bookworm on, /boot before (Raspberry Pi OS moved it in bookworm). */
static const char *boot_mount(struct vfs *root, const struct image_os *os)
{
	_cleanup_free_ char *fstab = NULL;

	if (vfs_read_all(root, "/etc/fstab", 1u << 20, &fstab, NULL, NULL) == 0) {
		for (char *line = fstab; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			char dev[256], dir[256];
			if (line[0] != '#' && sscanf(line, "%255s %255s", dev, dir) == 2) {
				if (strcmp(dir, "/boot/firmware") == 0)
					return "/boot/firmware";
				if (strcmp(dir, "/boot") == 0)
					return "/boot";
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	if (strcmp(os->codename, "bookworm") == 0 || strcmp(os->codename, "trixie") == 0)
		return "/boot/firmware";
	return "/boot";
}

int firstboot_firstrun_convert(struct recipe *r, const struct recipe_target *t,
			       const struct herd_settings *s, struct herd_error *err)
{
	struct recipe_text script = {0};
	struct sim sim = {0};
	struct recipe_op *ops = r->ops;
	size_t count = r->count;
	const char *boot;
	char word[300], *text = NULL;
	struct vfs_stat st;
	int k = 0;

	if (!t->boot || vfs_stat(t->boot, "/cmdline.txt", &st, NULL) < 0)
		return herd_error_set(err, ENOENT,
				      "firstboot.backend firstrun: the image has no boot partition "
				      "with cmdline.txt");
	boot = boot_mount(t->root, &r->os);
	recipe_textf(&script,
		     "#!/bin/sh\n"
		     "# Written by herd (firstrun backend)%s%s.  Run once at first boot by\n"
		     "# systemd.run= on the kernel command line: applies the settings to the\n"
		     "# root filesystem, removes itself and its words from cmdline.txt, and\n"
		     "# the system reboots.\n"
		     "\n"
		     "set +e\n"
		     "\n",
		     s->hostname ? " for " : "", s->hostname ? s->hostname : "");
	for (size_t i = 0; i < count && k >= 0; i++) {
		if (ops[i].part != RECIPE_ROOT)
			continue;
		recipe_textf(&script, "# %s\n", ops[i].setting);
		k = emit_op(&script, &sim, t->root, &ops[i]);
		if (k < 0)
			herd_error_set(err, -k, "%s: %s: cannot plan the edit", ops[i].setting,
				       ops[i].path);
	}
	sim_free(&sim);
	recipe_textf(&script, "\nrm -f %s/firstrun.sh\n", boot);
	recipe_textf(&script,
		     "sed -i -e 's| systemd.run=[^ ]*||g' -e 's| systemd.run_success_action=[^ "
		     "]*||g' -e 's| systemd.unit=kernel-command-line.target||g' %s/cmdline.txt\n"
		     "exit 0\n",
		     boot);
	if (k < 0) {
		recipe_text_free(&script);
		return k;
	}
	if (recipe_text_take(&script, &text) < 0)
		return herd_error_set(err, ENOMEM, "out of memory");

	/* Keep the boot operations; the root ones now live in the script. */
	size_t kept = 0;
	for (size_t i = 0; i < count; i++) {
		if (ops[i].part == RECIPE_BOOT) {
			ops[kept++] = ops[i];
			continue;
		}
		free(ops[i].path);
		free(ops[i].data);
		free(ops[i].key);
	}
	r->count = kept;
	snprintf(word, sizeof(word), "systemd.run=%s/firstrun.sh", boot);
	k = recipe_add_text(r, "firstboot.backend", RECIPE_BOOT, "/firstrun.sh", text, 0755, 0, 0);
	if (k >= 0)
		k = recipe_add(r, RECIPE_SET_WORD, RECIPE_BOOT, "firstboot.backend", "/cmdline.txt",
			       word, 0, "systemd.run=", 0, 0755, 0, 0);
	if (k >= 0)
		k = recipe_add(r, RECIPE_SET_WORD, RECIPE_BOOT, "firstboot.backend", "/cmdline.txt",
			       "systemd.run_success_action=reboot", 0,
			       "systemd.run_success_action=", 0, 0755, 0, 0);
	if (k >= 0)
		k = recipe_add(r, RECIPE_SET_WORD, RECIPE_BOOT, "firstboot.backend", "/cmdline.txt",
			       "systemd.unit=kernel-command-line.target", 0, "systemd.unit=", 0,
			       0755, 0, 0);
	free(text);
	return k < 0 ? herd_error_set(err, ENOMEM, "out of memory") : 0;
}
