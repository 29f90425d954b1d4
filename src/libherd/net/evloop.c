/*
 * evloop.c — epoll + a timer heap + a signalfd (see evloop.h).
 *
 * Watches are kept in an array indexed by fd.  Each epoll registration
 * carries the fd and a generation number in its 64-bit data, so an event
 * for a watch that was removed (or removed and re-added for a new socket
 * with the same number) earlier in the same batch is recognised as stale
 * and dropped.  Timers are a binary min-heap of pointers; every timer
 * knows its heap slot, so disarming and re-arming are O(log n) — TFTP
 * re-arms a transfer's timer on every acknowledged window.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "base/macros.h"
#include "evloop.h"

#define EVLOOP_BATCH 64
#define EVLOOP_NSIG  65

struct watch {
	evloop_io_fn fn;
	void *userdata;
	uint32_t generation;
	bool active;
};

struct evloop_timer {
	struct evloop *loop;
	evloop_timer_fn fn;
	void *userdata;
	uint64_t deadline;
	size_t slot; /* index in loop->heap, or SIZE_MAX when disarmed */
};

struct sig_handler {
	evloop_signal_fn fn;
	void *userdata;
};

struct evloop {
	int epfd;
	int sigfd;
	sigset_t sigmask;
	struct watch *watches;
	size_t nwatches;
	uint32_t generation;
	struct evloop_timer **heap;
	size_t nheap, heap_cap;
	struct sig_handler signals[EVLOOP_NSIG];
	uint64_t now;
	bool stopped;
	int stop_code;
};

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int evloop_new(struct evloop **ret, struct herd_error *err)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return herd_error_set(err, ENOMEM, "event loop: out of memory");
	loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int e = errno;
		free(loop);
		return herd_error_set(err, e, "event loop: epoll_create1: %s", strerror(e));
	}
	sigemptyset(&loop->sigmask);
	loop->now = monotonic_us();
	*ret = loop;
	return 0;
}

void evloop_free(struct evloop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->nheap; i++)
		loop->heap[i]->slot = SIZE_MAX;
	free(loop->heap);
	free(loop->watches);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop);
}

static int watch_reserve(struct evloop *loop, int fd)
{
	size_t n;
	struct watch *w;

	if ((size_t)fd < loop->nwatches)
		return 0;
	n = loop->nwatches ? loop->nwatches : 64;
	while (n <= (size_t)fd)
		n *= 2;
	w = realloc(loop->watches, n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + loop->nwatches, 0, (n - loop->nwatches) * sizeof(*w));
	loop->watches = w;
	loop->nwatches = n;
	return 0;
}

static uint64_t watch_key(int fd, uint32_t generation)
{
	return (uint64_t)(uint32_t)fd | (uint64_t)generation << 32;
}

int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, evloop_io_fn fn, void *userdata)
{
	struct epoll_event ev = {.events = events};
	struct watch *w;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (watch_reserve(loop, fd) < 0)
		return -ENOMEM;
	w = &loop->watches[fd];
	if (w->active)
		return -EEXIST;
	w->generation = ++loop->generation;
	ev.data.u64 = watch_key(fd, w->generation);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fn = fn;
	w->userdata = userdata;
	w->active = true;
	return 0;
}

int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events};

	if (fd < 0 || (size_t)fd >= loop->nwatches || !loop->watches[fd].active)
		return -ENOENT;
	ev.data.u64 = watch_key(fd, loop->watches[fd].generation);
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del_fd(struct evloop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nwatches || !loop->watches[fd].active)
		return -ENOENT;
	loop->watches[fd].active = false;
	/* The fd may already be closed by a careless owner: nothing to undo then. */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- timers: binary min-heap on deadline ---- */

static void heap_place(struct evloop *loop, size_t i, struct evloop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void heap_up(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->deadline <= t->deadline)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct evloop *loop, size_t i)
{
	struct evloop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap &&
		    loop->heap[child + 1]->deadline < loop->heap[child]->deadline)
			child++;
		if (t->deadline <= loop->heap[child]->deadline)
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

static void heap_remove(struct evloop *loop, struct evloop_timer *t)
{
	size_t i = t->slot;
	struct evloop_timer *last = loop->heap[--loop->nheap];

	t->slot = SIZE_MAX;
	if (last == t)
		return;
	heap_place(loop, i, last);
	if (i > 0 && loop->heap[(i - 1) / 2]->deadline > last->deadline)
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

struct evloop_timer *evloop_timer_new(struct evloop *loop, evloop_timer_fn fn, void *userdata)
{
	struct evloop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = loop;
	t->fn = fn;
	t->userdata = userdata;
	t->slot = SIZE_MAX;
	return t;
}

void evloop_timer_arm(struct evloop_timer *t, uint64_t deadline_us)
{
	struct evloop *loop = t->loop;

	if (t->slot != SIZE_MAX) {
		uint64_t old = t->deadline;
		t->deadline = deadline_us;
		if (deadline_us < old)
			heap_up(loop, t->slot);
		else
			heap_down(loop, t->slot);
		return;
	}
	if (loop->nheap == loop->heap_cap) {
		size_t n = loop->heap_cap ? loop->heap_cap * 2 : 64;
		struct evloop_timer **h = realloc(loop->heap, n * sizeof(*h));
		if (!h) {
			/* Cannot happen short of OOM; a timer that never fires
			 * is caught by its owner's own limits. */
			return;
		}
		loop->heap = h;
		loop->heap_cap = n;
	}
	t->deadline = deadline_us;
	loop->heap[loop->nheap] = t;
	t->slot = loop->nheap++;
	heap_up(loop, t->slot);
}

void evloop_timer_arm_in(struct evloop_timer *t, uint64_t delay_us)
{
	evloop_timer_arm(t, t->loop->now + delay_us);
}

void evloop_timer_disarm(struct evloop_timer *t)
{
	if (t && t->slot != SIZE_MAX)
		heap_remove(t->loop, t);
}

bool evloop_timer_armed(const struct evloop_timer *t)
{
	return t->slot != SIZE_MAX;
}

void evloop_timer_free(struct evloop_timer *t)
{
	if (!t)
		return;
	evloop_timer_disarm(t);
	free(t);
}

/* ---- signals ---- */

static void on_signalfd(struct evloop *loop, int fd, uint32_t events, void *userdata)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < EVLOOP_NSIG && loop->signals[si.ssi_signo].fn)
			loop->signals[si.ssi_signo].fn(loop, (int)si.ssi_signo,
						       loop->signals[si.ssi_signo].userdata);
	}
}

int evloop_add_signal(struct evloop *loop, int signo, evloop_signal_fn fn, void *userdata)
{
	int fd;

	if (signo <= 0 || signo >= EVLOOP_NSIG || !fn)
		return -EINVAL;
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		int r = evloop_add_fd(loop, fd, EPOLLIN, on_signalfd, NULL);
		if (r < 0) {
			close(fd);
			return r;
		}
		loop->sigfd = fd;
	}
	loop->signals[signo].fn = fn;
	loop->signals[signo].userdata = userdata;
	return 0;
}

/* ---- running ---- */

uint64_t evloop_now_us(struct evloop *loop)
{
	return loop->now;
}

uint64_t evloop_update_now(struct evloop *loop)
{
	loop->now = monotonic_us();
	return loop->now;
}

static int run_timers(struct evloop *loop)
{
	int n = 0;

	while (loop->nheap > 0 && loop->heap[0]->deadline <= loop->now && !loop->stopped) {
		struct evloop_timer *t = loop->heap[0];
		heap_remove(loop, t);
		t->fn(loop, t, t->userdata);
		n++;
	}
	return n;
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event events[EVLOOP_BATCH];
	int n, ran = 0;

	evloop_update_now(loop);
	ran += run_timers(loop);
	if (loop->stopped)
		return ran;
	if (loop->nheap > 0) {
		uint64_t wait_us =
		    loop->heap[0]->deadline > loop->now ? loop->heap[0]->deadline - loop->now : 0;
		/* Round up so a timer is never polled for before it is due. */
		uint64_t wait_ms = (wait_us + 999) / 1000;
		if (timeout_ms < 0 || wait_ms < (uint64_t)timeout_ms)
			timeout_ms = wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms;
	}
	n = epoll_wait(loop->epfd, events, EVLOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? ran : -errno;
	evloop_update_now(loop);
	for (int i = 0; i < n && !loop->stopped; i++) {
		int fd = (int)(uint32_t)events[i].data.u64;
		uint32_t gen = (uint32_t)(events[i].data.u64 >> 32);
		struct watch *w;
		if ((size_t)fd >= loop->nwatches)
			continue;
		w = &loop->watches[fd];
		if (!w->active || w->generation != gen)
			continue; /* removed earlier in this batch */
		w->fn(loop, fd, events[i].events, w->userdata);
		ran++;
	}
	if (!loop->stopped)
		ran += run_timers(loop);
	return ran;
}

int evloop_run(struct evloop *loop)
{
	loop->stopped = false;
	while (!loop->stopped) {
		int r = evloop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return loop->stop_code;
}

void evloop_stop(struct evloop *loop, int code)
{
	loop->stopped = true;
	loop->stop_code = code;
}

bool evloop_stopped(const struct evloop *loop)
{
	return loop->stopped;
}
