/*
 * devices.c — enumerate block devices from sysfs and decide which ones
 * herd may write (see devices.h).  Only reads text attributes and
 * resolves symlinks under the sysfs root; never opens a device node.
 *
 * Sources (Linux Documentation/ABI/stable/sysfs-block):
 *   /sys/block/<disk>/{dev,size,removable,ro}    size is in 512-byte units
 *   /sys/block/<disk>/<part>/{partition,dev}     one directory per partition
 *   /sys/block/<disk>[/<part>]/holders/<dm-N>    stacked devices (LVM, LUKS, md)
 *   /sys/block/<disk>/device/{vendor,model,serial,type,name}
 * The bus is read from where the disk sits in the device tree (the path
 * the /sys/block/<disk> symlink resolves to: .../usb1/..., .../mmc_host/...,
 * .../nvme/..., .../virtio0/...).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/macros.h"
#include "base/parse.h"
#include "burn/devices.h"

struct scan_entry {
	struct burn_device dev;
	struct strv names; /* disk, partition and holder names (for /proc/swaps) */
};

/* Read a small sysfs attribute, trimmed of surrounding blanks.  Returns 0,
 * or -errno (buf set to "" then). */
static int read_attr(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t start = 0;

	if (len == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	while (buf[start] && isspace((unsigned char)buf[start]))
		start++;
	if (start)
		memmove(buf, buf + start, strlen(buf + start) + 1);
	return 0;
}

static int read_attrf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int read_attrf(char *buf, size_t len, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return read_attr(path, buf, len);
}

/* "8:16" → dev_t. */
static int parse_devnum(const char *s, dev_t *ret)
{
	char major[16];
	const char *colon = strchr(s, ':');
	uint32_t ma, mi;

	if (!colon || (size_t)(colon - s) >= sizeof(major))
		return -EINVAL;
	memcpy(major, s, (size_t)(colon - s));
	major[colon - s] = '\0';
	if (parse_u32(major, 0, 0xfffff, &ma) < 0 || parse_u32(colon + 1, 0, 0xfffff, &mi) < 0)
		return -EINVAL;
	*ret = makedev(ma, mi);
	return 0;
}

static void add_devnum(struct burn_device *dev, dev_t d)
{
	if (burn_device_contains(dev, d) || dev->n_devnums >= BURN_DEVICE_MAX_DEVNUMS)
		return;
	dev->devnums[dev->n_devnums++] = d;
}

bool burn_device_contains(const struct burn_device *dev, dev_t devnum)
{
	for (size_t i = 0; i < dev->n_devnums; i++)
		if (dev->devnums[i] == devnum)
			return true;
	return false;
}

/* Holders of <dir> (dm, md on top of a disk or partition): one level. */
static void add_holders(struct scan_entry *e, const char *root, const char *dir)
{
	char path[PATH_MAX], attr[32];
	DIR *d;
	struct dirent *de;

	if ((size_t)snprintf(path, sizeof(path), "%s/holders", dir) >= sizeof(path))
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		dev_t devnum;
		if (de->d_name[0] == '.')
			continue;
		if (read_attrf(attr, sizeof(attr), "%s/block/%s/dev", root, de->d_name) == 0 &&
		    parse_devnum(attr, &devnum) == 0) {
			add_devnum(&e->dev, devnum);
			strv_push(&e->names, de->d_name);
		}
	}
	closedir(d);
}

/* Partitions are subdirectories named after the disk holding a `partition` file. */
static void add_partitions(struct scan_entry *e, const char *root, const char *diskdir)
{
	char path[PATH_MAX], attr[32];
	DIR *d = opendir(diskdir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		dev_t devnum;
		if (strncmp(de->d_name, e->dev.name, strlen(e->dev.name)) != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", diskdir, de->d_name) >=
		    sizeof(path))
			continue;
		if (read_attrf(attr, sizeof(attr), "%s/partition", path) < 0)
			continue;
		if (read_attrf(attr, sizeof(attr), "%s/dev", path) == 0 &&
		    parse_devnum(attr, &devnum) == 0) {
			add_devnum(&e->dev, devnum);
			strv_push(&e->names, de->d_name);
			add_holders(e, root, path);
		}
	}
	closedir(d);
}

static bool path_has(const char *real, const char *part)
{
	return strstr(real, part) != NULL;
}

/* Bus and removability from where the disk sits in the device tree. */
static void classify(struct burn_device *dev, const char *diskdir)
{
	char real[PATH_MAX], type[32];

	if (!realpath(diskdir, real))
		real[0] = '\0';
	if (strncmp(dev->name, "loop", 4) == 0)
		snprintf(dev->bus, sizeof(dev->bus), "loop");
	else if (path_has(real, "/usb"))
		snprintf(dev->bus, sizeof(dev->bus), "usb");
	else if (strncmp(dev->name, "mmcblk", 6) == 0 || path_has(real, "/mmc_host/")) {
		/* A native slot: `removable` reads 0 because the slot, not the
		 * medium, is what the kernel sees; device/type tells SD from eMMC. */
		read_attrf(type, sizeof(type), "%s/device/type", diskdir);
		snprintf(dev->bus, sizeof(dev->bus), "%s", strcmp(type, "MMC") == 0 ? "mmc" : "sd");
	} else if (strncmp(dev->name, "nvme", 4) == 0 || path_has(real, "/nvme"))
		snprintf(dev->bus, sizeof(dev->bus), "nvme");
	else if (path_has(real, "/virtio"))
		snprintf(dev->bus, sizeof(dev->bus), "virtio");
	else if (path_has(real, "/devices/virtual/"))
		snprintf(dev->bus, sizeof(dev->bus), "virtual");
	else if (path_has(real, "/ata"))
		snprintf(dev->bus, sizeof(dev->bus), "ata");
	else
		snprintf(dev->bus, sizeof(dev->bus), "scsi");
	if (strcmp(dev->bus, "usb") == 0 || strcmp(dev->bus, "sd") == 0)
		dev->removable = true;

	/* USB serial numbers live on the USB device, a few levels up. */
	if (!dev->serial[0] && strcmp(dev->bus, "usb") == 0 && real[0]) {
		char *slash;
		for (int level = 0; level < 12 && (slash = strrchr(real, '/')) && slash != real;
		     level++) {
			char probe[32];
			*slash = '\0';
			if (read_attrf(probe, sizeof(probe), "%s/idVendor", real) == 0 &&
			    read_attrf(dev->serial, sizeof(dev->serial), "%s/serial", real) == 0)
				break;
			dev->serial[0] = '\0';
		}
	}
}

static int scan_disk(const char *root, const char *name, struct scan_entry *e)
{
	char diskdir[PATH_MAX], attr[64];
	uint64_t sectors = 0;

	memset(e, 0, sizeof(*e));
	if ((size_t)snprintf(diskdir, sizeof(diskdir), "%s/block/%s", root, name) >=
		sizeof(diskdir) ||
	    strlen(name) >= sizeof(e->dev.name))
		return -ENAMETOOLONG;
	snprintf(e->dev.name, sizeof(e->dev.name), "%s", name);
	snprintf(e->dev.path, sizeof(e->dev.path), "/dev/%s", name);
	if (read_attrf(attr, sizeof(attr), "%s/dev", diskdir) < 0 ||
	    parse_devnum(attr, &e->dev.devnum) < 0)
		return -ENOENT;
	if (read_attrf(attr, sizeof(attr), "%s/size", diskdir) == 0)
		parse_u64(attr, 0, UINT64_MAX / 512, &sectors);
	e->dev.size = sectors * 512; /* always 512-byte units, whatever the sector size */
	if (read_attrf(attr, sizeof(attr), "%s/removable", diskdir) == 0)
		e->dev.removable = strcmp(attr, "1") == 0;
	if (read_attrf(attr, sizeof(attr), "%s/ro", diskdir) == 0)
		e->dev.read_only = strcmp(attr, "1") == 0;
	read_attrf(e->dev.vendor, sizeof(e->dev.vendor), "%s/device/vendor", diskdir);
	if (read_attrf(e->dev.model, sizeof(e->dev.model), "%s/device/model", diskdir) < 0)
		read_attrf(e->dev.model, sizeof(e->dev.model), "%s/device/name", diskdir);
	read_attrf(e->dev.serial, sizeof(e->dev.serial), "%s/device/serial", diskdir);
	if (!e->dev.vendor[0])
		read_attrf(e->dev.vendor, sizeof(e->dev.vendor), "%s/device/manfid", diskdir);
	add_devnum(&e->dev, e->dev.devnum);
	if (strv_push(&e->names, name) < 0)
		return -ENOMEM;
	add_holders(e, root, diskdir);
	add_partitions(e, root, diskdir);
	classify(&e->dev, diskdir);
	return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

static bool is_system_mount(const char *mp)
{
	static const char *const system[] = {"/",	  "/boot", "/boot/firmware",
					     "/boot/efi", "/usr",  "/var"};
	for (size_t i = 0; i < ELEMENTSOF(system); i++)
		if (strcmp(mp, system[i]) == 0)
			return true;
	return false;
}

/* proc(5) mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw". */
static void apply_mountinfo(struct scan_entry *entries, size_t n, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *fields[6] = {0}, *save = NULL, *tok, *source = NULL, *dash;
		size_t nf = 0;
		dev_t devnum;

		dash = strstr(line, " - ");
		if (dash) {
			char *fstype = strtok_r(dash + 3, " \n", &save);
			source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
			*dash = '\0';
		}
		save = NULL;
		for (tok = strtok_r(line, " \n", &save); tok && nf < 6;
		     tok = strtok_r(NULL, " \n", &save))
			fields[nf++] = tok;
		if (nf < 5 || parse_devnum(fields[2], &devnum) < 0)
			continue;
		unescape(fields[4]);
		for (size_t i = 0; i < n; i++) {
			char desc[PATH_MAX + 128];
			if (!burn_device_contains(&entries[i].dev, devnum))
				continue;
			snprintf(desc, sizeof(desc), "%s on %s", source ? source : fields[2],
				 fields[4]);
			strv_push(&entries[i].dev.mounts, desc);
			if (is_system_mount(fields[4]))
				entries[i].dev.system = true;
		}
	}
	free(line);
	fclose(f);
}

/* /proc/swaps: "Filename Type Size Used Priority"; match by device name. */
static void apply_swaps(struct scan_entry *entries, size_t n, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *file = strtok_r(line, " \t\n", &save), *base;
		if (!file || strncmp(file, "/dev/", 5) != 0)
			continue;
		base = strrchr(file, '/') + 1;
		for (size_t i = 0; i < n; i++)
			if (strv_contains(&entries[i].names, base)) {
				char desc[PATH_MAX];
				entries[i].dev.system = true;
				snprintf(desc, sizeof(desc), "%s (swap)", file);
				strv_push(&entries[i].dev.mounts, desc);
			}
	}
	free(line);
	fclose(f);
}

static void decide(struct burn_device *dev, const struct burn_devices_options *opts)
{
	uint64_t max = opts->max_size ? opts->max_size : BURN_DEFAULT_MAX_SIZE;

	dev->writable = false;
	if (dev->system)
		snprintf(dev->reason, sizeof(dev->reason), "system disk (%s)",
			 dev->mounts.count ? dev->mounts.items[0] : "holds the running system");
	else if (dev->mounts.count)
		snprintf(dev->reason, sizeof(dev->reason), "mounted: %s%s", dev->mounts.items[0],
			 dev->mounts.count > 1 ? ", ..." : "");
	else if (dev->read_only)
		snprintf(dev->reason, sizeof(dev->reason), "read-only");
	else if (dev->size == 0)
		snprintf(dev->reason, sizeof(dev->reason), "no medium");
	else if (dev->size > max && !opts->force)
		snprintf(dev->reason, sizeof(dev->reason), "too large (over %llu GiB; --force)",
			 (unsigned long long)(max >> 30));
	else if (!dev->removable && !opts->force)
		snprintf(dev->reason, sizeof(dev->reason), "not removable (--force)");
	else {
		dev->reason[0] = '\0';
		dev->writable = true;
	}
}

static int compare_entries(const void *a, const void *b)
{
	const struct scan_entry *x = a, *y = b;
	return strcmp(x->dev.name, y->dev.name);
}

static bool skipped_name(const char *name)
{
	return name[0] == '.' || strncmp(name, "ram", 3) == 0 || strncmp(name, "zram", 4) == 0;
}

int burn_devices_scan(const struct burn_devices_options *opts, struct burn_device_list *ret,
		      struct herd_error *err)
{
	const char *root = opts && opts->sysfs_root ? opts->sysfs_root : "/sys";
	struct burn_devices_options defaults = {0};
	struct scan_entry *entries = NULL;
	size_t n = 0, cap = 0;
	char blockdir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!opts)
		opts = &defaults;
	if ((size_t)snprintf(blockdir, sizeof(blockdir), "%s/block", root) >= sizeof(blockdir))
		return herd_error_set(err, ENAMETOOLONG, "%s: path too long", root);
	d = opendir(blockdir);
	if (!d)
		return herd_error_set(err, errno, "%s: %s", blockdir, strerror(errno));
	while ((de = readdir(d))) {
		struct scan_entry e;
		if (skipped_name(de->d_name))
			continue;
		if (scan_disk(root, de->d_name, &e) < 0) {
			strv_free(&e.names);
			strv_free(&e.dev.mounts);
			continue;
		}
		/* Unused loop devices have size 0: not worth a line. */
		if (strcmp(e.dev.bus, "loop") == 0 && e.dev.size == 0) {
			strv_free(&e.names);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct scan_entry *m = realloc(entries, ncap * sizeof(*m));
			if (!m) {
				strv_free(&e.names);
				closedir(d);
				for (size_t i = 0; i < n; i++) {
					strv_free(&entries[i].names);
					strv_free(&entries[i].dev.mounts);
				}
				free(entries);
				return herd_error_set(err, ENOMEM, "out of memory");
			}
			entries = m;
			cap = ncap;
		}
		entries[n++] = e;
	}
	closedir(d);

	apply_mountinfo(entries, n, opts->mountinfo ? opts->mountinfo : "/proc/self/mountinfo");
	apply_swaps(entries, n, opts->swaps ? opts->swaps : "/proc/swaps");
	if (n)
		qsort(entries, n, sizeof(*entries), compare_entries);

	ret->items = n ? calloc(n, sizeof(*ret->items)) : NULL;
	if (n && !ret->items) {
		for (size_t i = 0; i < n; i++) {
			strv_free(&entries[i].names);
			strv_free(&entries[i].dev.mounts);
		}
		free(entries);
		return herd_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		decide(&entries[i].dev, opts);
		ret->items[i] = entries[i].dev;
		strv_free(&entries[i].names);
	}
	ret->count = n;
	free(entries);
	return 0;
}

void burn_device_list_free(struct burn_device_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		strv_free(&list->items[i].mounts);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

const struct burn_device *burn_device_find(const struct burn_device_list *list, dev_t devnum)
{
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].devnum == devnum)
			return &list->items[i];
	return NULL;
}
