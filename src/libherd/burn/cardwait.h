/*
 * cardwait.h — one reader, many cards: wait until the card in a reader is
 * taken out and another one put in.
 *
 * The truth is the device itself: its node exists, is a block device and
 * its sysfs size (/sys/dev/block/MAJ:MIN/size under opts->sysfs_root) is
 * not zero.  A card reader keeps its /dev/sdX and reads size 0 without a
 * card; a USB stick's node goes away; a loop device reads size 0 once
 * detached.  A libudev monitor on the block subsystem (when udevd runs)
 * wakes the wait as soon as something changes; without udev the state is
 * polled every opts->poll_ms, so the wait works in containers and tests
 * too, only a little later.
 *
 * Two ways to end a wait: the card was seen gone and then present again
 * (a swap), or, when opts->input_fd is given (a terminal), a line typed
 * on it while a card is present ("insert the next card and press Enter").
 * Nothing is printed here: opts->on_removed tells the caller the card
 * has gone.  The wait opens nothing for writing and does not check the
 * new card's safety: the caller does, as for the first card.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "base/error.h"

struct burn_wait_options {
	const char *sysfs_root; /* NULL = "/sys" */
	atomic_int *cancel;	/* non-zero ends the wait with -EINTR */
	int input_fd;		/* -1: none; else a line on it confirms a present card */
	unsigned poll_ms;	/* 0 = 250 */
	void (*on_removed)(void *userdata);
	void *userdata;
};

/* Is there a card in `path` now?  1 yes, 0 no (no node, not a block
 * device, or size 0). */
int burn_media_present(const char *path, const char *sysfs_root);

/* Wait for the card in `path` to be swapped (see above).  Returns 0 when
 * a new card is in (or a line confirmed a present card), -EINTR when
 * cancelled, -errno with err filled on another failure. */
int burn_wait_card_swap(const char *path, const struct burn_wait_options *opts,
			struct herd_error *err);
