/*
 * recipe.h — one host's settings as an ordered list of file operations on
 * an image's named partitions, and the executor that applies them.
 *
 * A recipe is built in two steps that are kept apart on purpose:
 *
 *   recipe_plan()     reads the image (os-release, /etc/passwd, /etc/group,
 *                     what the network stack is, whether a zone exists)
 *                     and turns the settings into operations.  It never
 *                     writes, so `herd customize --dryrun` prints exactly
 *                     what would be done and unit tests can check the list.
 *   recipe_execute()  applies the operations in order through vfs.  The
 *                     caller opened the image with IMAGE_OVERLAY and
 *                     commits only when everything succeeded, so a failure
 *                     half-way leaves the image untouched.
 *
 * recipe_customize() does both on an image path, with the overlay and the
 * final commit.
 *
 * Idempotency is a property of the operations: generated content never
 * holds a timestamp or a random value (NetworkManager connection UUIDs are
 * name-based, RFC 4122 version 5), and edits of existing text files
 * replace the lines they own (matched by key or by a marker comment)
 * instead of appending again.  Writing identical bytes is skipped, so a
 * second run changes nothing.
 *
 * This is the offline backend: the result is correct before first boot.
 * What cannot be done offline without a chroot (installing packages,
 * arbitrary commands) becomes a oneshot systemd unit that runs once and
 * removes itself.  Settings an image's OS is not understood for are
 * skipped with a warning; recipe->warnings lists them for the CLI.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "config/settings.h"
#include "fs/vfs.h"
#include "image/image.h"

enum recipe_part {
	RECIPE_ROOT = 0,
	RECIPE_BOOT,
};

enum recipe_op_type {
	RECIPE_WRITE,	   /* path: data/len, mode, uid, gid (existing files get them too) */
	RECIPE_MKDIR,	   /* mkdir -p path with mode, uid, gid (missing parts only) */
	RECIPE_SYMLINK,	   /* path -> data (a symlink already there is replaced) */
	RECIPE_CHMOD,	   /* path, mode */
	RECIPE_CHOWN,	   /* path, uid, gid */
	RECIPE_SET_LINE,   /* text file path: lines matching `key` become `data` (see below) */
	RECIPE_SET_WORD,   /* one-line file (cmdline.txt): the word starting with `key` becomes data
			    */
	RECIPE_REMOVE,	   /* path (file or symlink; a missing one is fine) */
	RECIPE_RENAME,	   /* path -> data (a missing source is fine when the target exists) */
	RECIPE_COPY_TREE,  /* copy directory data (same partition) into path, owned uid:gid,
			      without replacing what exists (home from /etc/skel) */
	RECIPE_CONFIG_TXT, /* config.txt: the [all]-section line with `key` becomes data
			      (NULL data removes it); see recipe_config_txt_edit() */
	RECIPE_CMDLINE,	   /* cmdline.txt: the parameter `key` becomes the word data
			      (NULL data removes it); see recipe_cmdline_edit() */
};

/* RECIPE_SET_LINE matching: a line matches when it starts with `key`
 * (after "#" and blanks too, with RECIPE_LINE_COMMENTED); the first match
 * is replaced by `data`, later ones are dropped, and without a match the
 * line is appended.  NULL data deletes the matching lines.  With
 * RECIPE_LINE_BLOCK, `key` is a marker: the lines from "# <key> begin" to
 * "# <key> end" are replaced by the markers around `data` (several lines). */
enum {
	RECIPE_LINE_COMMENTED = 1 << 0,
	RECIPE_LINE_BLOCK = 1 << 1,
	RECIPE_LINE_CREATE = 1 << 2, /* create the file (mode, uid, gid) when missing */
};

struct recipe_op {
	enum recipe_op_type type;
	enum recipe_part part;
	char *path;
	char *data; /* content, link target, line, new name; NUL-terminated */
	size_t len; /* RECIPE_WRITE: bytes of data */
	char *key;  /* SET_LINE / SET_WORD */
	unsigned flags;
	uint32_t mode, uid, gid;
	const char *setting; /* registry name of the setting it serves ("hostname") */
	bool changed;	     /* set by recipe_execute(): the image differs afterwards */
};

struct recipe {
	struct recipe_op *ops;
	size_t count, capacity;
	struct strv warnings; /* one line each, for cli_warn */
	struct image_os os;
	bool os_known; /* Debian, Raspberry Pi OS or Ubuntu */
	enum recipe_network {
		RECIPE_NET_NONE = 0,
		RECIPE_NET_NETWORKMANAGER,
		RECIPE_NET_DHCPCD,
		RECIPE_NET_NETPLAN,
		RECIPE_NET_NETWORKD,
	} network;
	/* wireguard.*: the interface's public key (base64), "" when not
	 * configured; key_generated when the plan made a new private key
	 * (a dry run then shows a key that will not be used). */
	char wireguard_public_key[45];
	bool wireguard_key_generated;
	/* firstboot.backend: off = edit the root filesystem (this file's
	 * description); cloud-init = a NoCloud seed on the boot partition;
	 * firstrun = the same root edits as a firstrun.sh run once by
	 * systemd.run= (older Raspberry Pi OS).  The first-boot backends
	 * change files on the boot partition only. */
	enum recipe_firstboot {
		RECIPE_FIRSTBOOT_OFF = 0,
		RECIPE_FIRSTBOOT_CLOUD_INIT,
		RECIPE_FIRSTBOOT_FIRSTRUN,
	} firstboot;
};

/* The filesystems a recipe reads and writes; boot may be NULL (then
 * settings that need it are refused or skipped with a warning). */
struct recipe_target {
	struct vfs *root;
	struct vfs *boot;
};

/* Build the recipe for `s` on `t` (read only).  `os` may be NULL when the
 * image has no os-release (the recipe then holds portable settings only).
 * Errors name the setting: "ssh.authorized_keys: key.pub line 1: ...". */
int recipe_plan(const struct recipe_target *t, const struct image_os *os,
		const struct herd_settings *s, struct recipe **ret, struct herd_error *err);
struct recipe *recipe_free(struct recipe *r);

struct recipe_exec_options {
	/* Testing hook: fail with -EIO before operation number fail_at
	 * (1-based); 0 = never. */
	size_t fail_at;
};

/* Apply every operation in order; stops at the first failure (the caller
 * then drops its overlay).  Returns the number of operations that changed
 * something. */
int recipe_execute(const struct recipe_target *t, struct recipe *r,
		   const struct recipe_exec_options *opt, struct herd_error *err);

/* Plan and (unless dryrun) execute on an already open image, flushing
 * its filesystems; nothing is committed (the caller owns the image and
 * its overlay).  `name` is used in messages. */
int recipe_apply_image(struct image *img, const char *name, const struct herd_settings *s,
		       bool dryrun, const struct recipe_exec_options *opt, struct recipe **ret,
		       struct herd_error *err);

/* Open `path` with an overlay, plan, and (unless dryrun) execute and
 * commit.  *ret receives the recipe (with `changed` flags and warnings)
 * on success.  On failure nothing was written to the image. */
int recipe_customize(const char *path, const struct herd_settings *s, bool dryrun,
		     const struct recipe_exec_options *opt, struct recipe **ret,
		     struct herd_error *err);

/* One line describing an operation ("write root:/etc/hostname 0644 0:0 (6 bytes)"). */
void recipe_op_describe(const struct recipe_op *op, char *buf, size_t len);
const char *recipe_network_name(enum recipe_network n);
const char *recipe_firstboot_name(enum recipe_firstboot f);

/* ---- helpers shared with the planner and tests ---------------------- */

/* Apply one SET_LINE edit to `text` (may be NULL = empty); *ret is a new
 * malloc'ed, NUL-terminated text ending in a newline. */
int recipe_edit_lines(const char *text, const char *key, const char *line, unsigned flags,
		      char **ret);
/* Replace or append the word starting with `key` in a one-line file. */
int recipe_edit_word(const char *text, const char *key, const char *word, char **ret);

/* WPA-PSK key from a passphrase (IEEE 802.11i-2004 H.4: PBKDF2-HMAC-SHA1,
 * 4096 iterations, the SSID as salt, 32 bytes) as 64 lowercase hex digits
 * plus NUL.  -EINVAL when the passphrase is not 8..63 printable ASCII. */
int recipe_wpa_psk(const char *passphrase, const char *ssid, char ret[65]);

/* Check an OpenSSH public key file's text: one or more lines
 * "type base64 [comment]" of a known type whose blob names that type;
 * blank lines and # comments are skipped.  *ret gets the key lines, each
 * ending in "\n".  Errors: "line N: why". */
int recipe_check_public_keys(const char *text, size_t len, char **ret, struct herd_error *err);

/* config.txt (Raspberry Pi firmware): set or remove the line whose key is
 * `key` ("gpu_mem", "dtparam=audio", "dtoverlay=disable-bt") in the
 * sections that apply to every board — before the first [filter] and
 * after each [all].  The first such line becomes `line`, later ones are
 * dropped; without one, `line` is appended (after an "[all]" line when
 * the file ends under another filter).  NULL line removes.  Lines under
 * other filters and comments are kept.  *ret is malloc'ed. */
int recipe_config_txt_edit(const char *text, const char *key, const char *line, char **ret);
/* cmdline.txt: the first line's parameter `key` ("quiet", "console")
 * becomes `word` (first occurrence; later ones dropped; appended when
 * missing); NULL word removes every occurrence.  Everything else — other
 * parameters, their spacing, the trailing newline or its absence, later
 * lines — is kept byte for byte. */
int recipe_cmdline_edit(const char *text, const char *key, const char *word, char **ret);

/* A unit file's [Install] section (systemd.unit(5)): lists from
 * WantedBy=, RequiredBy=, Alias=, Also= (blank-separated, repeated keys
 * accumulate, an empty assignment resets), and DefaultInstance=. */
struct recipe_unit_install {
	struct strv wanted_by, required_by, alias, also;
	char *default_instance;
};
int recipe_unit_parse_install(const char *text, struct recipe_unit_install *ret);
void recipe_unit_install_free(struct recipe_unit_install *u);

/* /etc/nftables.conf for firewall.allow: an inet filter table whose
 * input chain drops everything but replies, loopback, ICMP/ICMPv6 and
 * the listed ports (merged, sorted); add_ssh adds 22/tcp. */
int recipe_firewall_render(const struct strv *allow, bool add_ssh, char **ret,
			   struct herd_error *err);

/* WireGuard keys (Curve25519, RFC 7748) as base64: the public key of a
 * private one, and a new private key from the OpenSSL CSPRNG. */
int recipe_wg_public_key(const char *private_b64, char ret[45]);
int recipe_wg_generate_key(char ret[45]);
