/*
 * test_progress.c — progress display (src/herd/progress.c): the pure line
 * formatter for exact strings (plain and TTY, unknown totals, 0 bytes,
 * completion, huge sizes, narrow terminals, ETA forms), and the display
 * object with a fake clock: rate smoothing, the plain-mode interval, TTY
 * frames with cursor movement, and concurrent updates from threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "progress.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define MS  (1000000ull)
#define SEC (1000000000ull)

/* ---- pure formatting ---- */

static void check_duration(uint64_t s, const char *want)
{
	char buf[32];

	progress_format_duration(buf, sizeof(buf), s);
	assert_string_equal(buf, want);
}

static void test_duration(void **state)
{
	char small[4];

	check_duration(0, "0:00");
	check_duration(7, "0:07");
	check_duration(59, "0:59");
	check_duration(60, "1:00");
	check_duration(754, "12:34");
	check_duration(3599, "59:59");
	check_duration(3600, "1:00:00");
	check_duration(3723, "1:02:03");
	check_duration(359999, "99:59:59");
	check_duration(360000, ">99:59:59");
	check_duration(UINT64_MAX, ">99:59:59");
	progress_format_duration(small, sizeof(small), 754);
	assert_string_equal(small, "12:"); /* truncated, still terminated */
}

/* 1.2 GiB of 2.5 GiB at 85.3 MiB/s: the example of the design. */
static struct progress_state example(void)
{
	return (struct progress_state){
	    .label = "red01",
	    .done = 1288490189ull,
	    .total = 2684354560ull,
	    .rate = 85.3 * MiB,
	};
}

static const char *fmt(const struct progress_state *st, unsigned width)
{
	static char buf[4096];
	size_t n = progress_format_line(buf, sizeof(buf), st, width);

	assert_int_equal(n, strlen(buf));
	return buf;
}

static void test_plain_lines(void **state)
{
	struct progress_state st = example();

	assert_string_equal(fmt(&st, 0), "red01: 1.2 GiB / 2.5 GiB (48%), 85.3 MiB/s, ETA 0:16");

	/* unknown total: no percentage, no ETA */
	st.total = 0;
	assert_string_equal(fmt(&st, 0), "red01: 1.2 GiB, 85.3 MiB/s");

	/* nothing done, rate not measured yet */
	st = example();
	st.done = 0;
	st.rate = -1;
	assert_string_equal(fmt(&st, 0), "red01: 0 B / 2.5 GiB (0%)");
	/* measured, but stalled: a rate, no ETA */
	st.rate = 0;
	assert_string_equal(fmt(&st, 0), "red01: 0 B / 2.5 GiB (0%), 0 B/s");

	/* one byte short is 99%, never 100% */
	st = example();
	st.done = st.total - 1;
	assert_string_equal(fmt(&st, 0), "red01: 2.5 GiB / 2.5 GiB (99%), 85.3 MiB/s, ETA 0:01");
	st.done = st.total;
	assert_string_equal(fmt(&st, 0), "red01: 2.5 GiB / 2.5 GiB (100%), 85.3 MiB/s");
	st.done = st.total + GiB; /* more than announced: no wrap-around */
	assert_string_equal(fmt(&st, 0), "red01: 3.5 GiB / 2.5 GiB (100%), 85.3 MiB/s");

	/* phases */
	st = example();
	st.phase = "verify";
	assert_string_equal(fmt(&st, 0),
			    "red01 (verify): 1.2 GiB / 2.5 GiB (48%), 85.3 MiB/s, ETA 0:16");
}

static void test_plain_huge(void **state)
{
	struct progress_state st = {
	    .label = "big",
	    .done = UINT64_MAX / 2,
	    .total = UINT64_MAX,
	    .rate = 1.0 * GiB,
	};

	/* 8 EiB left at 1 GiB/s is far beyond 99 hours */
	assert_string_equal(fmt(&st, 0), "big: 8.0 EiB / 16.0 EiB (49%), 1.0 GiB/s, ETA >99:59:59");
	st.done = UINT64_MAX - 1;
	st.rate = 1e30; /* absurd rates are clamped, not undefined */
	assert_string_equal(fmt(&st, 0), "big: 16.0 EiB / 16.0 EiB (99%), 16.0 EiB/s, ETA 0:01");
}

static void test_eta_forms(void **state)
{
	struct progress_state st = {.label = "x", .done = 0, .total = 100 * MiB, .rate = 1.0 * MiB};

	/* 100 s: m:ss */
	assert_string_equal(fmt(&st, 0), "x: 0 B / 100 MiB (0%), 1.0 MiB/s, ETA 1:40");
	/* 7 s: still m:ss */
	st.done = 93 * MiB;
	assert_string_equal(fmt(&st, 0), "x: 93.0 MiB / 100 MiB (93%), 1.0 MiB/s, ETA 0:07");
	/* 2.5 s rounds up to 3 */
	st.rate = 2.8 * MiB;
	assert_string_equal(fmt(&st, 0), "x: 93.0 MiB / 100 MiB (93%), 2.8 MiB/s, ETA 0:03");
	/* 2 h 1 min 40 s: h:mm:ss */
	st.done = 0;
	st.total = 7300 * MiB;
	st.rate = 1.0 * MiB;
	assert_string_equal(fmt(&st, 0), "x: 0 B / 7.1 GiB (0%), 1.0 MiB/s, ETA 2:01:40");
}

static void test_finished_lines(void **state)
{
	struct progress_state st = example();

	st.finished = true;
	st.ok = true;
	st.done = st.total;
	st.elapsed_ns = 30 * SEC;
	/* the final rate is the average over the whole phase */
	assert_string_equal(fmt(&st, 0), "red01: done, 2.5 GiB in 0:30 (85.3 MiB/s)");
	st.note = "verified";
	assert_string_equal(fmt(&st, 0), "red01: done, 2.5 GiB in 0:30 (85.3 MiB/s), verified");
	st.elapsed_ns = 0;
	st.note = NULL;
	assert_string_equal(fmt(&st, 0), "red01: done, 2.5 GiB in 0:00");

	st = example();
	st.finished = true;
	st.phase = "verify";
	st.note = "mismatch at 4096";
	assert_string_equal(fmt(&st, 0),
			    "red01 (verify): FAILED at 1.2 GiB / 2.5 GiB (48%): mismatch at 4096");
	st.total = 0;
	st.note = NULL;
	assert_string_equal(fmt(&st, 0), "red01 (verify): FAILED at 1.2 GiB");

	/* TTY: the same text, cut to the width */
	st = example();
	st.finished = true;
	st.note = "device removed";
	assert_string_equal(fmt(&st, 200),
			    "red01: FAILED at 1.2 GiB / 2.5 GiB (48%): device removed");
	assert_string_equal(fmt(&st, 20), "red01: FAILED at 1.~");
}

static void test_tty_lines(void **state)
{
	struct progress_state st = example();

	/* 79 columns (an 80-column terminal): every field and a 23-wide bar */
	assert_string_equal(fmt(&st, 79),
			    "red01  [===========>           ]  48%   1.2 GiB / 2.5 GiB"
			    "  85.3 MiB/s  ETA 0:16");
	assert_int_equal(strlen(fmt(&st, 79)), 79);
	/* wide terminals: the bar stops at 40 */
	assert_string_equal(fmt(&st, 300), "red01  [===================>                    ]  48%"
					   "   1.2 GiB / 2.5 GiB  85.3 MiB/s  ETA 0:16");
	/* labels of several bars line up */
	st.label_width = 8;
	assert_string_equal(fmt(&st, 79),
			    "red01     [=========>          ]  48%   1.2 GiB / 2.5 GiB"
			    "  85.3 MiB/s  ETA 0:16");
	st.label_width = 0;
	/* phase */
	st.phase = "verify";
	assert_string_equal(fmt(&st, 79),
			    "red01 verify  [=======>        ]  48%   1.2 GiB / 2.5 GiB"
			    "  85.3 MiB/s  ETA 0:16");
	st.phase = NULL;

	/* 0 bytes, no rate yet */
	st.done = 0;
	st.rate = -1;
	assert_string_equal(fmt(&st, 79), "red01  [>                                       ]   0%"
					  "       0 B / 2.5 GiB");
	/* complete but not yet finished */
	st.done = st.total;
	st.rate = 85.3 * MiB;
	assert_string_equal(fmt(&st, 79),
			    "red01  [=================================] 100%   2.5 GiB / 2.5 GiB"
			    "  85.3 MiB/s");
	/* unknown total: no bar, no percentage, no ETA */
	st.total = 0;
	st.done = 5 * MiB;
	assert_string_equal(fmt(&st, 79), "red01   5.0 MiB  85.3 MiB/s");
}

static void test_tty_narrow(void **state)
{
	struct progress_state st = example();

	/* fields go in this order: bar, rate, sizes, ETA, percentage */
	assert_string_equal(fmt(&st, 66),
			    "red01  [====>     ]  48%   1.2 GiB / 2.5 GiB  85.3 MiB/s  ETA 0:16");
	assert_string_equal(fmt(&st, 65), "red01  48%   1.2 GiB / 2.5 GiB  85.3 MiB/s  ETA 0:16");
	assert_string_equal(fmt(&st, 50), "red01  48%   1.2 GiB / 2.5 GiB  ETA 0:16");
	assert_string_equal(fmt(&st, 39), "red01  48%  ETA 0:16");
	assert_string_equal(fmt(&st, 19), "red01  48%");
	assert_string_equal(fmt(&st, 9), "red01");
	assert_string_equal(fmt(&st, 4), "red~");
	assert_string_equal(fmt(&st, 1), "r");

	/* a long label keeps half the width and is cut with '~' */
	st.label = "/dev/disk/by-id/usb-Generic_Flash_Disk_0123456789-0:0";
	assert_string_equal(fmt(&st, 40), "/dev/disk/by-id/usb-Gene~  48%  ETA 0:16");
	assert_string_equal(fmt(&st, 20), "/dev/disk/by-id/usb~");
	assert_string_equal(fmt(&st, 79), "/dev/disk/by-id/usb-Generic_Flash_Disk_0123~"
					  "  48%   1.2 GiB / 2.5 GiB  ETA 0:16");

	/* no line is ever wider than asked */
	for (unsigned w = 1; w <= 300; w++) {
		assert_true(strlen(fmt(&st, w)) <= w);
		st.label = "red01";
		assert_true(strlen(fmt(&st, w)) <= w);
		st.label = "/dev/disk/by-id/usb-Generic_Flash_Disk_0123456789-0:0";
	}
}

static void test_label_sanitized(void **state)
{
	struct progress_state st = example();

	/* an escape sequence in a label must not reach the terminal */
	st.label = "evil\033[2J\n";
	st.total = 0;
	st.rate = -1;
	assert_string_equal(fmt(&st, 0), "evil?[2J?: 1.2 GiB");
	assert_string_equal(fmt(&st, 79), "evil?[2J?   1.2 GiB");
	/* UTF-8 counts characters, not bytes */
	st.label = "gr\xc3\xbcn01"; /* grün01 */
	assert_string_equal(fmt(&st, 10), "gr\xc3\xbcn01");
	assert_string_equal(fmt(&st, 5), "gr\xc3\xbcn~");
}

static void test_small_buffer(void **state)
{
	struct progress_state st = example();
	char buf[10];
	size_t n;

	n = progress_format_line(buf, sizeof(buf), &st, 0);
	assert_string_equal(buf, "red01: 1.");
	assert_int_equal(n, 9);
	assert_int_equal(progress_format_line(buf, 1, &st, 79), 0);
	assert_string_equal(buf, "");
	assert_int_equal(progress_format_line(NULL, 0, &st, 79), 0);
}

/* ---- the display object ---- */

struct fake_clock {
	uint64_t now;
};

static uint64_t fake_now(void *userdata)
{
	return ((struct fake_clock *)userdata)->now;
}

/* Output of a display captured in memory; the FILE stays open for the
 * whole test because the display keeps writing to it. */
struct capture {
	char *data;
	size_t len;
	size_t taken; /* bytes already returned by capture_take */
	FILE *f;
};

static void capture_open(struct capture *c)
{
	c->data = NULL;
	c->len = 0;
	c->taken = 0;
	c->f = open_memstream(&c->data, &c->len);
	assert_non_null(c->f);
}

/* What was written since the last call; the caller frees. */
static char *capture_take(struct capture *c)
{
	char *s;

	fflush(c->f);
	s = strndup(c->data + c->taken, c->len - c->taken);
	assert_non_null(s);
	c->taken = c->len;
	return s;
}

static void capture_close(struct capture *c)
{
	fclose(c->f);
	free(c->data);
}

static double rate_of(struct progress *p, int bar)
{
	struct progress_state st;

	assert_int_equal(progress_get_state(p, bar, &st), 0);
	return st.rate;
}

static void test_rate_smoothing(void **state)
{
	struct fake_clock clk = {0};
	struct progress *p = progress_new(stderr, PROGRESS_NONE);
	double want;
	int bar;

	assert_non_null(p);
	progress_set_clock(p, fake_now, &clk);
	bar = progress_add(p, "red01", 10 * GiB);
	assert_int_equal(bar, 0);

	/* shorter than a sample interval: not measured yet */
	clk.now = 100 * MS;
	progress_update(p, bar, 10 * MiB);
	assert_true(rate_of(p, bar) < 0);
	/* first sample: taken as is (50 MiB in 0.5 s) */
	clk.now = 500 * MS;
	progress_update(p, bar, 50 * MiB);
	assert_true(rate_of(p, bar) == 100.0 * MiB);
	/* a constant rate stays exactly constant */
	for (int i = 1; i <= 20; i++) {
		clk.now = 500 * MS + (uint64_t)i * 500 * MS;
		progress_update(p, bar, 50 * MiB + (uint64_t)i * 50 * MiB);
		assert_true(rate_of(p, bar) == 100.0 * MiB);
	}
	/* a step to 200 MiB/s moves the average by dt / (tau + dt) */
	clk.now += 500 * MS;
	progress_update(p, bar, 1150 * MiB);
	want = 100.0 * MiB + 0.5 / 3.5 * 100.0 * MiB;
	assert_true(rate_of(p, bar) > want - 1 && rate_of(p, bar) < want + 1);
	/* ... and converges within the last seconds */
	for (int i = 1; i <= 30; i++) {
		clk.now += 500 * MS;
		progress_update(p, bar, 1150 * MiB + (uint64_t)i * 100 * MiB);
	}
	assert_true(rate_of(p, bar) > 198.0 * MiB && rate_of(p, bar) < 200.0 * MiB);
	/* a stall shows through progress_tick alone */
	for (int i = 0; i < 40; i++) {
		clk.now += 500 * MS;
		progress_tick(p);
	}
	assert_true(rate_of(p, bar) < 1.0 * MiB);

	/* a new phase restarts the count and the measurement */
	progress_set_phase(p, bar, "verify");
	{
		struct progress_state st;

		assert_int_equal(progress_get_state(p, bar, &st), 0);
		assert_string_equal(st.phase, "verify");
		assert_true(st.done == 0 && st.rate < 0 && st.total == 10 * GiB);
		assert_int_equal(st.elapsed_ns, 0);
	}
	p = progress_free(p);
	assert_null(p);
}

static void test_plain_mode(void **state)
{
	struct fake_clock clk = {0};
	struct capture cap;
	struct progress *p;
	char *out;
	int a, b;

	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_AUTO); /* a memstream is no TTY */
	assert_non_null(p);
	assert_int_equal(progress_get_mode(p), PROGRESS_PLAIN);
	progress_set_clock(p, fake_now, &clk);
	a = progress_add(p, "red01", 100 * MiB);
	b = progress_add(p, "red02", 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);

	/* nothing before the interval has passed */
	for (int i = 1; i < 5; i++) {
		clk.now = (uint64_t)i * SEC;
		progress_update(p, a, (uint64_t)i * 10 * MiB);
		progress_update(p, b, (uint64_t)i * MiB);
	}
	out = capture_take(&cap);
	assert_string_equal(out, "");
	free(out);
	clk.now = 5 * SEC;
	progress_update(p, a, 50 * MiB);
	progress_update(p, b, 5 * MiB);
	progress_update(p, a, 50 * MiB); /* again: already printed */
	out = capture_take(&cap);
	assert_string_equal(out, "red01: 50.0 MiB / 100 MiB (50%), 10.0 MiB/s, ETA 0:05\n"
				 "red02: 5.0 MiB, 1.0 MiB/s\n");
	free(out);

	/* a configurable interval, and the finish line */
	progress_set_plain_interval(p, 1000);
	clk.now = 6 * SEC;
	progress_update(p, a, 60 * MiB);
	progress_finish(p, b, false, "write error: Input/output error");
	progress_finish(p, b, true, NULL); /* second finish ignored */
	progress_update(p, b, 99 * MiB);   /* updates after finish ignored */
	progress_message(p, "checking %s\n", "red01");
	clk.now = 10 * SEC;
	progress_update(p, a, 100 * MiB);
	progress_finish(p, a, true, "verified");
	out = capture_take(&cap);
	assert_string_equal(out, "red01: 60.0 MiB / 100 MiB (60%), 10.0 MiB/s, ETA 0:04\n"
				 "red02: FAILED at 5.0 MiB: write error: Input/output error\n"
				 "checking red01\n"
				 "red01: 100 MiB / 100 MiB (100%), 10.0 MiB/s\n"
				 "red01: done, 100 MiB in 0:10 (10.0 MiB/s), verified\n");
	free(out);

	p = progress_free(p);
	out = capture_take(&cap);
	assert_string_equal(out, "");
	free(out);
	capture_close(&cap);
}

static void test_none_mode(void **state)
{
	struct capture cap;
	struct progress *p;
	struct progress_state st;
	char *out;
	int a;

	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_NONE);
	a = progress_add(p, "red01", 100);
	progress_update(p, a, 50);
	progress_message(p, "hello");
	progress_tick(p);
	assert_int_equal(progress_get_state(p, a, &st), 0);
	assert_true(st.done == 50);
	progress_finish(p, a, true, NULL);
	p = progress_free(p);
	out = capture_take(&cap);
	assert_string_equal(out, "");
	free(out);
	capture_close(&cap);
}

static void test_bad_handles(void **state)
{
	struct progress *p = progress_new(stderr, PROGRESS_NONE);
	struct progress_state st = {.done = 7};

	assert_int_equal(progress_get_state(p, 0, &st), -EINVAL);
	assert_int_equal(progress_get_state(p, -1, &st), -EINVAL);
	assert_true(st.done == 7); /* untouched on failure */
	progress_update(p, 3, 10);
	progress_set_phase(p, -2, "x");
	progress_set_total(p, 5, 10);
	progress_finish(p, 9, true, "x");
	assert_int_equal(progress_add(p, NULL, 0), -EINVAL);
	/* a NULL object is a no-op everywhere */
	progress_update(NULL, 0, 1);
	progress_finish(NULL, 0, true, "x");
	progress_message(NULL, "x");
	progress_tick(NULL);
	progress_clear(NULL);
	assert_int_equal(progress_add(NULL, "x", 1), -EINVAL);
	assert_int_equal(progress_get_state(NULL, 0, &st), -EINVAL);
	assert_int_equal(progress_get_mode(NULL), PROGRESS_NONE);
	assert_null(progress_free(NULL));
	progress_free(p);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && memcmp(s + n - k, tail, k) == 0;
}

static void test_tty_mode(void **state)
{
	struct fake_clock clk = {0};
	struct capture cap;
	struct progress *p;
	char *out;
	int a, b;

	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_TTY);
	assert_int_equal(progress_get_mode(p), PROGRESS_TTY);
	progress_set_clock(p, fake_now, &clk);
	progress_set_terminal_size(p, 50, 24);

	/* adding draws at once; the first frame moves up nothing */
	a = progress_add(p, "red01", 100 * MiB);
	out = capture_take(&cap);
	assert_string_equal(out, "\r\033[J"
				 "red01  [>              ]   0%       0 B / 100 MiB\033[K\n");
	free(out);
	/* a second bar: up one line, erase, both bars; labels line up */
	b = progress_add(p, "red002", 0);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[1A\r\033[J"
				 "red01   [>             ]   0%       0 B / 100 MiB\033[K\n"
				 "red002       0 B\033[K\n");
	free(out);

	/* at most one redraw per 100 ms */
	clk.now = 50 * MS;
	progress_update(p, b, 5 * MiB);
	out = capture_take(&cap);
	assert_string_equal(out, "");
	free(out);
	clk.now = 500 * MS;
	progress_update(p, b, 50 * MiB);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[2A\r\033[J"
				 "red01   [>             ]   0%       0 B / 100 MiB\033[K\n"
				 "red002  50.0 MiB   100 MiB/s\033[K\n");
	free(out);
	clk.now = 600 * MS;
	progress_update(p, a, 50 * MiB);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[2A\r\033[J"
				 "red01   50%  50.0 MiB / 100 MiB  ETA 0:01\033[K\n"
				 "red002  50.0 MiB   100 MiB/s\033[K\n");
	free(out);

	/* a finished bar is printed once above the block, which shrinks */
	clk.now = 1000 * MS;
	progress_finish(p, b, true, NULL);
	clk.now = 3000 * MS;
	{
		struct progress_state st;

		/* the elapsed time of a finished bar stops at its finish */
		assert_int_equal(progress_get_state(p, b, &st), 0);
		assert_true(st.finished && st.ok && st.elapsed_ns == 1000 * MS);
	}
	clk.now = 1000 * MS;
	out = capture_take(&cap);
	assert_string_equal(out, "\033[2A\r\033[J"
				 "red002: done, 50.0 MiB in 0:01 (50.0 MiB/s)\n"
				 "red01  50%  50.0 MiB / 100 MiB  ETA 0:01\033[K\n");
	free(out);

	/* messages go above the block too */
	progress_message(p, "hello %d", 42);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[1A\r\033[J"
				 "hello 42\n"
				 "red01  50%  50.0 MiB / 100 MiB  ETA 0:01\033[K\n");
	free(out);

	/* clear erases the block; the next update draws it at once */
	progress_clear(p);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[1A\r\033[J");
	free(out);
	clk.now += 1 * MS;
	progress_update(p, a, 50 * MiB);
	out = capture_take(&cap);
	assert_string_equal(out, "\r\033[J"
				 "red01  50%  50.0 MiB / 100 MiB  ETA 0:01\033[K\n");
	free(out);

	/* freeing leaves the last state on screen */
	clk.now += 1 * MS;
	progress_free(p);
	out = capture_take(&cap);
	assert_string_equal(out, "\033[1A\r\033[J"
				 "red01  50%  50.0 MiB / 100 MiB  ETA 0:01\033[K\n");
	free(out);
	capture_close(&cap);
}

static void test_tty_more_bars_than_rows(void **state)
{
	struct fake_clock clk = {0};
	struct capture cap;
	struct progress *p;
	char *out, label[16];

	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_TTY);
	progress_set_clock(p, fake_now, &clk);
	progress_set_terminal_size(p, 30, 4); /* 3 lines for the block */
	for (int i = 0; i < 5; i++) {
		snprintf(label, sizeof(label), "n%d", i);
		progress_add(p, label, 0);
	}
	out = capture_take(&cap);
	/* the last frame: two bars and the count of the rest */
	assert_true(ends_with(out, "\033[3A\r\033[J"
				   "n0       0 B\033[K\n"
				   "n1       0 B\033[K\n"
				   "... and 3 more\033[K\n"));
	free(out);
	progress_free(p);
	capture_close(&cap);
}

/*
 * A tiny terminal: just the sequences the display uses (CR, LF as CR+LF
 * like a tty with onlcr, CSI n A, CSI J, CSI K) over an unbounded screen.
 * It checks what a user would see after many frames: the permanent lines
 * in order, the running block below them, nothing left over, and no line
 * reaching the last column.
 */
#define SCREEN_ROWS 64
#define SCREEN_COLS 256

struct screen {
	char row[SCREEN_ROWS][SCREEN_COLS];
	int nrows; /* rows holding text or the cursor */
	int r, c;
	unsigned columns;
};

static void screen_feed(struct screen *sc, const char *s)
{
	while (*s) {
		if (*s == '\r') {
			sc->c = 0;
			s++;
		} else if (*s == '\n') {
			sc->r++;
			sc->c = 0;
			assert_true(sc->r < SCREEN_ROWS);
			if (sc->r >= sc->nrows)
				sc->nrows = sc->r + 1;
			s++;
		} else if (*s == '\033') {
			unsigned n = 0;

			assert_true(s[1] == '[');
			s += 2;
			while (*s >= '0' && *s <= '9')
				n = n * 10 + (unsigned)(*s++ - '0');
			if (*s == 'A') {
				assert_true((int)n <= sc->r); /* never above the screen */
				sc->r -= (int)n;
			} else if (*s == 'J') {
				sc->row[sc->r][sc->c] = '\0';
				for (int i = sc->r + 1; i < SCREEN_ROWS; i++)
					sc->row[i][0] = '\0';
				sc->nrows = sc->r + 1;
			} else if (*s == 'K') {
				sc->row[sc->r][sc->c] = '\0';
			} else {
				fail_msg("unexpected escape sequence %c", *s);
			}
			s++;
		} else {
			size_t len = strlen(sc->row[sc->r]);

			/* writing the last column would wrap on some terminals */
			assert_true((unsigned)sc->c + 1 < sc->columns);
			while ((int)len < sc->c)
				sc->row[sc->r][len++] = ' ';
			sc->row[sc->r][sc->c] = *s;
			if ((int)len <= sc->c)
				sc->row[sc->r][sc->c + 1] = '\0';
			sc->c++;
			s++;
		}
	}
}

static void screen_expect(struct screen *sc, struct capture *cap, const char *const *want,
			  int nwant)
{
	char *out = capture_take(cap);

	screen_feed(sc, out);
	free(out);
	/* the cursor waits at the start of the line below the block */
	assert_int_equal(sc->c, 0);
	assert_int_equal(sc->r, nwant);
	assert_int_equal(sc->nrows, nwant + 1);
	for (int i = 0; i < nwant; i++) {
		size_t n = strlen(want[i]);

		/* a running bar is checked by its start, the rest exactly */
		if (n > 0 && want[i][n - 1] == '*')
			assert_memory_equal(sc->row[i], want[i], n - 1);
		else
			assert_string_equal(sc->row[i], want[i]);
	}
	assert_string_equal(sc->row[nwant], "");
}

static void test_tty_screen(void **state)
{
	struct fake_clock clk = {0};
	struct capture cap;
	struct screen *sc = calloc(1, sizeof(*sc));
	struct progress *p;
	int a, b, c;

	assert_non_null(sc);
	sc->columns = 60;
	sc->nrows = 1;
	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_TTY);
	progress_set_clock(p, fake_now, &clk);
	progress_set_terminal_size(p, 60, 10);

	a = progress_add(p, "red01", 100 * MiB);
	b = progress_add(p, "red02", 100 * MiB);
	c = progress_add(p, "red03", 0);
	{
		const char *want[] = {"red01  [>*", "red02  [>*", "red03       0 B"};
		screen_expect(sc, &cap, want, 3);
	}
	for (int i = 1; i <= 50; i++) {
		clk.now = (uint64_t)i * 100 * MS;
		progress_update(p, a, (uint64_t)i * MiB);
		progress_update(p, b, (uint64_t)i * 2 * MiB);
		progress_update(p, c, (uint64_t)i * 3 * MiB);
	}
	{
		/* red02 and red03 changed after the last redraw (100 ms) */
		const char *want[] = {"red01  50%*", "red02  98%*", "red03   147 MiB*"};
		screen_expect(sc, &cap, want, 3);
	}
	progress_finish(p, b, true, NULL);
	progress_message(p, "a message");
	{
		const char *want[] = {"red02: done, 100 MiB in 0:05 (20.0 MiB/s)", "a message",
				      "red01  50%*", "red03   150 MiB  30.0 MiB/s"};
		screen_expect(sc, &cap, want, 4);
	}
	progress_set_phase(p, a, "verify");
	progress_finish(p, c, false, "gone");
	{
		const char *want[] = {"red02: done, 100 MiB in 0:05 (20.0 MiB/s)", "a message",
				      "red03: FAILED at 150 MiB: gone", "red01 verify  [>*"};
		screen_expect(sc, &cap, want, 4);
	}
	progress_clear(p);
	{
		const char *want[] = {"red02: done, 100 MiB in 0:05 (20.0 MiB/s)", "a message",
				      "red03: FAILED at 150 MiB: gone"};
		screen_expect(sc, &cap, want, 3);
	}
	clk.now += SEC;
	progress_finish(p, a, true, "verified");
	{
		const char *want[] = {"red02: done, 100 MiB in 0:05 (20.0 MiB/s)", "a message",
				      "red03: FAILED at 150 MiB: gone",
				      "red01 (verify): done, 0 B in 0:01 (0 B/s), verified"};
		screen_expect(sc, &cap, want, 4);
	}
	progress_free(p);
	{
		const char *want[] = {"red02: done, 100 MiB in 0:05 (20.0 MiB/s)", "a message",
				      "red03: FAILED at 150 MiB: gone",
				      "red01 (verify): done, 0 B in 0:01 (0 B/s), verified"};
		screen_expect(sc, &cap, want, 4);
	}
	capture_close(&cap);
	free(sc);
}

/* Writer threads update their own bars at once (burn does this). */
struct writer {
	struct progress *p;
	int bar;
};

#define WRITER_STEPS 20000

static void *writer_run(void *arg)
{
	struct writer *w = arg;

	for (uint64_t i = 1; i <= WRITER_STEPS; i++) {
		progress_update(w->p, w->bar, i * 4096);
		if (i % 1000 == 0)
			progress_tick(w->p);
	}
	progress_finish(w->p, w->bar, true, NULL);
	return NULL;
}

static void test_threads(void **state)
{
	struct capture cap;
	struct progress *p;
	struct writer w[4];
	pthread_t th[4];
	char label[16];

	capture_open(&cap);
	p = progress_new(cap.f, PROGRESS_TTY); /* the real clock */
	progress_set_terminal_size(p, 80, 24);
	for (int i = 0; i < 4; i++) {
		snprintf(label, sizeof(label), "red%02d", i);
		w[i].p = p;
		w[i].bar = progress_add(p, label, WRITER_STEPS * 4096ull);
		assert_true(w[i].bar >= 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		struct progress_state st;

		assert_int_equal(progress_get_state(p, w[i].bar, &st), 0);
		assert_true(st.finished && st.ok);
		assert_true(st.done == WRITER_STEPS * 4096ull);
	}
	progress_free(p);
	fflush(cap.f);
	/* each finish line appears exactly once */
	for (int i = 0; i < 4; i++) {
		char want[32];
		const char *first;

		snprintf(want, sizeof(want), "red%02d: done, 78.1 MiB", i);
		first = strstr(cap.data, want);
		assert_non_null(first);
		assert_null(strstr(first + 1, want));
	}
	capture_close(&cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_plain_lines),
	    cmocka_unit_test(test_plain_huge),
	    cmocka_unit_test(test_eta_forms),
	    cmocka_unit_test(test_finished_lines),
	    cmocka_unit_test(test_tty_lines),
	    cmocka_unit_test(test_tty_narrow),
	    cmocka_unit_test(test_label_sanitized),
	    cmocka_unit_test(test_small_buffer),
	    cmocka_unit_test(test_rate_smoothing),
	    cmocka_unit_test(test_plain_mode),
	    cmocka_unit_test(test_none_mode),
	    cmocka_unit_test(test_bad_handles),
	    cmocka_unit_test(test_tty_mode),
	    cmocka_unit_test(test_tty_more_bars_than_rows),
	    cmocka_unit_test(test_tty_screen),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
