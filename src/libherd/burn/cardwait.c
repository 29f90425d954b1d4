/*
 * cardwait.c — wait for a card swap in one reader (see cardwait.h).
 *
 * The loop polls the device state and sleeps in poll(2) on the udev
 * monitor's socket (when there is one) and the input fd; every wakeup,
 * whatever caused it, re-reads the state, so a lost or unrelated event
 * costs nothing and no event is trusted on its own.  poll() returns
 * early with EINTR when SIGINT arrives (the CLI installs its handler
 * without SA_RESTART), and the cancel flag is checked on every turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/parse.h"
#include "burn/cardwait.h"

int burn_media_present(const char *path, const char *sysfs_root)
{
	char sys[512], buf[64];
	struct stat st;
	ssize_t n;
	uint64_t sectors = 0;
	int fd;

	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	snprintf(sys, sizeof(sys), "%s/dev/block/%u:%u/size", sysfs_root ? sysfs_root : "/sys",
		 major(st.st_rdev), minor(st.st_rdev));
	fd = open(sys, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (parse_u64(buf, 0, UINT64_MAX, &sectors) < 0)
		return 0;
	return sectors > 0;
}

/* A udev monitor on the block subsystem, or NULL when udev is not there
 * (then the loop polls). */
static struct udev_monitor *monitor_open(struct udev **ret_udev)
{
	struct udev *udev = udev_new();
	struct udev_monitor *mon;

	*ret_udev = NULL;
	if (!udev)
		return NULL;
	mon = udev_monitor_new_from_netlink(udev, "udev");
	if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "block", NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		udev_monitor_unref(mon);
		udev_unref(udev);
		return NULL;
	}
	*ret_udev = udev;
	return mon;
}

/* Read what is waiting on the input fd; true when it held a newline (or
 * the input ended: nobody will press Enter any more, so go by the card). */
static bool input_line(int fd, bool *ret_eof)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0)
		*ret_eof = true;
	return n > 0 && memchr(buf, '\n', (size_t)n) != NULL;
}

int burn_wait_card_swap(const char *path, const struct burn_wait_options *opts,
			struct herd_error *err)
{
	struct udev *udev = NULL;
	struct udev_monitor *mon = monitor_open(&udev);
	unsigned poll_ms = opts->poll_ms ? opts->poll_ms : 250;
	bool seen_gone = false, input_eof = opts->input_fd < 0;
	int r = 0;

	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		bool line = false;
		int present;

		if (opts->cancel && atomic_load(opts->cancel)) {
			r = -EINTR;
			break;
		}
		present = burn_media_present(path, opts->sysfs_root);
		if (!present && !seen_gone) {
			seen_gone = true;
			if (opts->on_removed)
				opts->on_removed(opts->userdata);
		}
		if (present && seen_gone)
			break;
		if (mon) {
			pfd[n].fd = udev_monitor_get_fd(mon);
			pfd[n++].events = POLLIN;
		}
		if (!input_eof) {
			pfd[n].fd = opts->input_fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, (int)poll_ms) < 0 && errno != EINTR) {
			r = herd_error_set(err, errno, "waiting for the next card: %s",
					   strerror(errno));
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (mon && pfd[i].fd == udev_monitor_get_fd(mon))
				udev_device_unref(udev_monitor_receive_device(mon));
			else
				line = input_line(opts->input_fd, &input_eof);
		}
		/* Enter with a card in: the user says it is the next one. */
		if (line && burn_media_present(path, opts->sysfs_root))
			break;
	}
	udev_monitor_unref(mon);
	udev_unref(udev);
	return r;
}
