/*
 * evloop.h — the one event loop of `herd serve`: file descriptors, timers
 * and signals on epoll, single-threaded.
 *
 * DHCP, TFTP (one socket per transfer, thousands of timers) and the signal
 * handling of the daemon all run on one loop, so nothing needs locks.  A
 * callback may add, modify or remove any watch or timer, including its
 * own; removed watches are never called again, even later in the same
 * epoll batch.  Timers live in a binary heap keyed by a CLOCK_MONOTONIC
 * deadline in microseconds; arming an armed timer moves it.
 *
 * Not here: threads (libmicrohttpd runs its own), I/O buffering, sockets.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "base/error.h"

struct evloop;
struct evloop_timer;

/* `events` is what epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*evloop_io_fn)(struct evloop *loop, int fd, uint32_t events, void *userdata);
typedef void (*evloop_timer_fn)(struct evloop *loop, struct evloop_timer *timer, void *userdata);
typedef void (*evloop_signal_fn)(struct evloop *loop, int signo, void *userdata);

int evloop_new(struct evloop **ret, struct herd_error *err);
/* Closes nothing it was given: the owners of fds close them. Frees timers. */
void evloop_free(struct evloop *loop);

/* Watch `fd` for `events` (EPOLLIN | EPOLLOUT ...); one watch per fd. */
int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, evloop_io_fn fn, void *userdata);
int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events);
/* Stop watching `fd` (call before closing it). Unknown fds: -ENOENT. */
int evloop_del_fd(struct evloop *loop, int fd);

/* Timers: created disarmed; evloop_timer_free() disarms. */
struct evloop_timer *evloop_timer_new(struct evloop *loop, evloop_timer_fn fn, void *userdata);
/* Fire once at `deadline_us` (evloop_now_us() time base). */
void evloop_timer_arm(struct evloop_timer *timer, uint64_t deadline_us);
/* Fire once `delay_us` after the loop's current time. */
void evloop_timer_arm_in(struct evloop_timer *timer, uint64_t delay_us);
void evloop_timer_disarm(struct evloop_timer *timer);
bool evloop_timer_armed(const struct evloop_timer *timer);
void evloop_timer_free(struct evloop_timer *timer);

/* Deliver `signo` through the loop (blocked for the process, read from a
 * signalfd): handlers run as ordinary callbacks.  Call before starting
 * threads so they inherit the blocked mask. */
int evloop_add_signal(struct evloop *loop, int signo, evloop_signal_fn fn, void *userdata);

/* CLOCK_MONOTONIC in microseconds, cached once per loop iteration. */
uint64_t evloop_now_us(struct evloop *loop);
/* Read the clock afresh and update the cache. */
uint64_t evloop_update_now(struct evloop *loop);

/* Run until evloop_stop(); returns its code (>= 0), or -errno when epoll
 * fails. */
int evloop_run(struct evloop *loop);
/* One iteration: wait at most `timeout_ms` (-1: until something happens,
 * bounded by the next timer), dispatch, return the number of callbacks
 * run or -errno. */
int evloop_run_once(struct evloop *loop, int timeout_ms);
void evloop_stop(struct evloop *loop, int code);
bool evloop_stopped(const struct evloop *loop);
