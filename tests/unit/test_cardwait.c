/*
 * test_cardwait.c — burn/cardwait.c: the card-present test reads the
 * device's size from a fake sysfs tree (dev/block/MAJ:MIN/size) made in a
 * temp dir for a block device node that exists on this machine (skipped
 * when /dev has none); the swap wait ends on "gone then present" (a
 * thread plays the user), on a line typed with a card present, and on
 * the cancel flag.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "burn/cardwait.h"

static char tmpdir[] = "/tmp/herd-cardwait-XXXXXX";
static char node[300];	    /* a block device node in /dev */
static char size_path[600]; /* its fake sysfs size file */

static void set_size(const char *text)
{
	FILE *f = fopen(size_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool find_block_node(void)
{
	DIR *d = opendir("/dev");
	struct dirent *de;
	struct stat st;
	char dir[400];

	if (!d)
		return false;
	while ((de = readdir(d))) {
		snprintf(node, sizeof(node), "/dev/%s", de->d_name);
		if (stat(node, &st) == 0 && S_ISBLK(st.st_mode)) {
			closedir(d);
			snprintf(dir, sizeof(dir), "%s/dev", tmpdir);
			mkdir(dir, 0755);
			snprintf(dir, sizeof(dir), "%s/dev/block", tmpdir);
			mkdir(dir, 0755);
			snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", tmpdir, major(st.st_rdev),
				 minor(st.st_rdev));
			mkdir(dir, 0755);
			snprintf(size_path, sizeof(size_path), "%s/size", dir);
			return true;
		}
	}
	closedir(d);
	return false;
}

static void test_media_present(void **state)
{
	if (!node[0])
		skip();
	assert_int_equal(burn_media_present("/nonexistent/dev", tmpdir), 0);
	assert_int_equal(burn_media_present("/dev/null", tmpdir), 0); /* not a block device */
	unlink(size_path);
	assert_int_equal(burn_media_present(node, tmpdir), 0); /* no sysfs entry */
	set_size("0\n");
	assert_int_equal(burn_media_present(node, tmpdir), 0);
	set_size("62333952\n");
	assert_int_equal(burn_media_present(node, tmpdir), 1);
	set_size("garbage\n");
	assert_int_equal(burn_media_present(node, tmpdir), 0);
}

static void *swap_card(void *arg)
{
	(void)arg;
	sleep_ms(120);
	set_size("0\n"); /* out */
	sleep_ms(120);
	set_size("1024\n"); /* the next one in */
	return NULL;
}

static void count_removed(void *userdata)
{
	(*(int *)userdata)++;
}

static void test_wait_for_swap(void **state)
{
	int removed = 0;
	struct burn_wait_options o = {.sysfs_root = tmpdir,
				      .input_fd = -1,
				      .poll_ms = 20,
				      .on_removed = count_removed,
				      .userdata = &removed};
	pthread_t t;

	if (!node[0])
		skip();
	set_size("1024\n"); /* the burnt card is still in */
	assert_int_equal(pthread_create(&t, NULL, swap_card, NULL), 0);
	assert_int_equal(burn_wait_card_swap(node, &o, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(removed, 1);
	assert_int_equal(burn_media_present(node, tmpdir), 1);
}

static void test_enter_with_card_in(void **state)
{
	struct burn_wait_options o = {.sysfs_root = tmpdir, .poll_ms = 20};
	int p[2];

	if (!node[0])
		skip();
	set_size("1024\n");
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "\n", 1), 1);
	o.input_fd = p[0];
	assert_int_equal(burn_wait_card_swap(node, &o, NULL), 0);
	close(p[0]);
	close(p[1]);
}

static void test_cancel(void **state)
{
	atomic_int cancel;
	struct burn_wait_options o = {
	    .sysfs_root = tmpdir, .input_fd = -1, .poll_ms = 20, .cancel = &cancel};

	atomic_init(&cancel, 1);
	/* Never present: only the cancel flag ends it. */
	assert_int_equal(burn_wait_card_swap("/nonexistent/dev", &o, NULL), -EINTR);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	find_block_node();
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_media_present),
	    cmocka_unit_test(test_wait_for_swap),
	    cmocka_unit_test(test_enter_with_card_in),
	    cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
