/*
 * devices.h — the block devices a user could burn, read from sysfs and
 * /proc/self/mountinfo, with herd's verdict on each.
 *
 * For every /sys/block/<name> (ram, zram and empty devices skipped) we
 * report the /dev path, vendor/model/serial, size, bus (usb, sd, mmc,
 * nvme, virtio, ata, scsi, loop, virtual), removable, read-only, the
 * mounted partitions and whether herd would write to it, with the reason
 * when not.  Native SD slots (mmcblk* with device/type "SD"), whose
 * `removable` reads 0, count as removable SD cards; so do USB devices
 * (hotplug).
 *
 * The sysfs root comes from the options (the CLI passes $HERD_SYSFS_ROOT,
 * default /sys) and so do the mountinfo and swaps files, so tests run
 * against fake trees in tests/unit/data/sysfs/.  libudev/libblkid are not
 * used: sysfs has everything listed above.  Nothing here opens a device.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/strv.h"

#define BURN_DEFAULT_MAX_SIZE	(256ull << 30) /* 256 GiB */
#define BURN_DEVICE_MAX_DEVNUMS 64

struct burn_device {
	char name[64]; /* "sdb", "mmcblk0" */
	char path[96]; /* "/dev/sdb" */
	char vendor[64];
	char model[128];
	char serial[128];
	char bus[16];	/* "usb", "sd", "mmc", "nvme", "virtio", "ata", "scsi", "loop", "virtual" */
	uint64_t size;	/* bytes */
	dev_t devnum;	/* of the whole disk */
	bool removable; /* removable flag, USB (hotplug) or a native SD slot */
	bool read_only;
	bool system;	    /* holds /, /boot, /boot/firmware, /boot/efi, /usr, /var or swap */
	struct strv mounts; /* "/dev/sdb1 on /media/pi/boot" */
	bool writable;	    /* herd would write to it with the options given */
	char reason[160];   /* why not, "" when writable */
	/* the disk, its partitions and their holders (dm, md) one level up */
	dev_t devnums[BURN_DEVICE_MAX_DEVNUMS];
	size_t n_devnums;
};

struct burn_device_list {
	struct burn_device *items;
	size_t count;
};

struct burn_devices_options {
	const char *sysfs_root; /* NULL = "/sys" */
	const char *mountinfo;	/* NULL = "/proc/self/mountinfo" */
	const char *swaps;	/* NULL = "/proc/swaps" */
	uint64_t max_size;	/* 0 = BURN_DEFAULT_MAX_SIZE */
	bool force;		/* allow non-removable and oversized devices */
};

/* Scan every block device.  On success *ret holds a fresh list (free with
 * burn_device_list_free), sorted by name. */
int burn_devices_scan(const struct burn_devices_options *opts, struct burn_device_list *ret,
		      struct herd_error *err);
void burn_device_list_free(struct burn_device_list *list);

/* The disk with device number `devnum` in `list`, or NULL. */
const struct burn_device *burn_device_find(const struct burn_device_list *list, dev_t devnum);
/* True when `devnum` is the disk, one of its partitions or their holders. */
bool burn_device_contains(const struct burn_device *dev, dev_t devnum);
