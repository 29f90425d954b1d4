/*
 * check.h — `herd image check`: is an image consistent, and does it carry
 * a host's settings?  Read-only; the image is never changed.
 *
 * Three kinds of checks, each problem one line:
 *
 *   filesystems  both partitions mount, and vfs_check() finds them
 *                consistent (FAT cross-links and free count; ext4 state,
 *                group and superblock counts against the bitmaps);
 *   structure    what herd (or anyone) writes is well-formed, whatever the
 *                settings: /etc/hostname and its 127.0.1.1 line, passwd /
 *                shadow / group entries agree, ~/.ssh 0700 and
 *                authorized_keys 0600 owned by the user with parseable keys,
 *                sshd drop-ins, the /etc/localtime link, NetworkManager
 *                keyfiles (INI, 0600 root), dhcpcd.conf static lines,
 *                wpa_supplicant.conf, and on the boot partition the
 *                cloud-init seed (YAML) and firstrun.sh with its cmdline.txt
 *                words;
 *   settings     with a host's settings: the recipe that `herd customize`
 *                would apply is planned against the image and every
 *                operation must already hold (content, mode, owner, link
 *                target, line present).  An idempotent recipe makes this
 *                exact: an image customized with these settings has no
 *                operation left to do.
 *
 * Running fsck.fat / e2fsck is the CLI's business (libherd does not start
 * programs); this module does not print.
 */
#pragma once

#include "base/error.h"
#include "base/strv.h"
#include "config/settings.h"
#include "image/image.h"

/* Check the image at `path`; `settings` may be NULL (filesystems and
 * structure only).  Problems are appended to *problems, one line each
 * ("root: /home/pi/.ssh/authorized_keys: mode 0644, want 0600").  Returns
 * the number of problems (0 = clean) or -errno with err set when the
 * image cannot be read at all. */
int check_image(const char *path, const struct herd_settings *settings, struct strv *problems,
		struct herd_error *err);

/* The same on an open image. */
int check_image_open(struct image *img, const struct herd_settings *settings, struct strv *problems,
		     struct herd_error *err);
