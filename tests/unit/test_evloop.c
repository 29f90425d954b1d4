/*
 * test_evloop.c — the serve event loop: fd callbacks, removal inside a
 * batch, timer order over a few thousand random deadlines, re-arming and
 * disarming, signals through the signalfd, stop codes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/evloop.h"

struct pipe_ctx {
	int fds[2];
	int calls;
	struct pipe_ctx *victim; /* removed by this callback */
};

static void on_read(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct pipe_ctx *p = userdata;
	char buf[16];

	assert_true(events & EPOLLIN);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	p->calls++;
	if (p->victim)
		assert_int_equal(evloop_del_fd(loop, p->victim->fds[0]), 0);
}

static void test_fd_callbacks_and_removal(void **state)
{
	struct evloop *loop;
	struct pipe_ctx a = {0}, b = {0};

	assert_int_equal(evloop_new(&loop, NULL), 0);
	assert_int_equal(pipe(a.fds), 0);
	assert_int_equal(pipe(b.fds), 0);
	assert_int_equal(evloop_add_fd(loop, a.fds[0], EPOLLIN, on_read, &a), 0);
	assert_int_equal(evloop_add_fd(loop, a.fds[0], EPOLLIN, on_read, &a), -EEXIST);
	assert_int_equal(evloop_add_fd(loop, b.fds[0], EPOLLIN, on_read, &b), 0);
	/* Both readable in the same batch; whichever runs first removes the other. */
	a.victim = &b;
	b.victim = &a;
	assert_int_equal(write(a.fds[1], "x", 1), 1);
	assert_int_equal(write(b.fds[1], "y", 1), 1);
	assert_int_equal(evloop_run_once(loop, 1000), 1);
	assert_int_equal(a.calls + b.calls, 1);
	/* The survivor still works, the removed one is gone. */
	a.victim = b.victim = NULL;
	assert_int_equal(write(a.fds[1], "x", 1), 1);
	assert_int_equal(write(b.fds[1], "y", 1), 1);
	assert_int_equal(evloop_run_once(loop, 1000), 1);
	assert_int_equal(a.calls + b.calls, 2);
	assert_true(a.calls == 2 || b.calls == 2);
	assert_int_equal(evloop_del_fd(loop, 12345), -ENOENT);
	evloop_free(loop);
	for (int i = 0; i < 2; i++) {
		close(a.fds[i]);
		close(b.fds[i]);
	}
}

struct order_ctx {
	uint64_t last;
	int fired;
	bool ordered;
};

struct timed {
	struct evloop_timer *t;
	uint64_t deadline;
	struct order_ctx *o;
};

static void on_timed(struct evloop *loop, struct evloop_timer *t, void *userdata)
{
	struct timed *x = userdata;
	(void)t;
	assert_true(evloop_now_us(loop) >= x->deadline);
	if (x->deadline < x->o->last)
		x->o->ordered = false;
	x->o->last = x->deadline;
	x->o->fired++;
}

static void test_timer_order(void **state)
{
	enum { N = 3000 };
	struct evloop *loop;
	struct order_ctx o = {.ordered = true};
	struct timed *ts = calloc(N, sizeof(*ts));
	uint64_t base;
	int armed = 0;

	assert_non_null(ts);
	assert_int_equal(evloop_new(&loop, NULL), 0);
	base = evloop_update_now(loop);
	srand(7);
	for (int i = 0; i < N; i++) {
		ts[i].o = &o;
		ts[i].t = evloop_timer_new(loop, on_timed, &ts[i]);
		assert_non_null(ts[i].t);
		ts[i].deadline = base + (uint64_t)(rand() % 50000);
		evloop_timer_arm(ts[i].t, ts[i].deadline);
	}
	/* Move some, disarm some. */
	for (int i = 0; i < N; i += 3) {
		ts[i].deadline = base + (uint64_t)(rand() % 50000);
		evloop_timer_arm(ts[i].t, ts[i].deadline);
	}
	for (int i = 1; i < N; i += 5)
		evloop_timer_disarm(ts[i].t);
	for (int i = 0; i < N; i++)
		armed += evloop_timer_armed(ts[i].t);
	while (o.fired < armed)
		assert_true(evloop_run_once(loop, 100) >= 0);
	assert_true(o.ordered);
	assert_int_equal(o.fired, armed);
	for (int i = 0; i < N; i++) {
		assert_false(evloop_timer_armed(ts[i].t));
		evloop_timer_free(ts[i].t);
	}
	free(ts);
	evloop_free(loop);
}

static void on_rearm(struct evloop *loop, struct evloop_timer *t, void *userdata)
{
	int *count = userdata;

	if (++*count < 5)
		evloop_timer_arm_in(t, 1000);
	else
		evloop_stop(loop, 42);
}

static void test_rearm_from_callback_and_stop(void **state)
{
	struct evloop *loop;
	struct evloop_timer *t;
	int count = 0;

	assert_int_equal(evloop_new(&loop, NULL), 0);
	t = evloop_timer_new(loop, on_rearm, &count);
	evloop_timer_arm_in(t, 1000);
	assert_int_equal(evloop_run(loop), 42);
	assert_int_equal(count, 5);
	assert_true(evloop_stopped(loop));
	evloop_timer_free(t);
	evloop_free(loop);
}

static void on_signal(struct evloop *loop, int signo, void *userdata)
{
	*(int *)userdata = signo;
	evloop_stop(loop, 0);
}

static void test_signal(void **state)
{
	struct evloop *loop;
	int got = 0;
	sigset_t old;

	sigprocmask(SIG_SETMASK, NULL, &old);
	assert_int_equal(evloop_new(&loop, NULL), 0);
	assert_int_equal(evloop_add_signal(loop, SIGUSR1, on_signal, &got), 0);
	assert_int_equal(evloop_add_signal(loop, 0, on_signal, &got), -EINVAL);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(evloop_run(loop), 0);
	assert_int_equal(got, SIGUSR1);
	evloop_free(loop);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fd_callbacks_and_removal),
	    cmocka_unit_test(test_timer_order),
	    cmocka_unit_test(test_rearm_from_callback_and_stop),
	    cmocka_unit_test(test_signal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
