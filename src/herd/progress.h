/*
 * progress.h — progress display for long operations (downloads, burning
 * several cards at once, verify).
 *
 * One `struct progress` owns a set of bars, one per transfer, and draws
 * them on one FILE (normally stderr, so stdout stays clean for --json):
 *
 *   PROGRESS_TTY    one line per running bar, redrawn in place with ANSI
 *                   cursor movement at most every 100 ms, fitted to the
 *                   terminal width (TIOCGWINSZ, else $COLUMNS, else 80) so
 *                   lines never wrap; at 80 columns:
 *     red01  [===========>           ]  48%   1.2 GiB / 2.5 GiB  85.3 MiB/s  ETA 0:16
 *                   On narrow terminals fields go in this order: the bar,
 *                   the rate, the sizes, the ETA, the percentage; a label
 *                   is cut (marked '~') only down to half the width
 *                   (and 16 columns).
 *   PROGRESS_PLAIN  for logs (CI, pipes): one line per bar every few
 *                   seconds (default 5) and one when it finishes:
 *     red01: 1.2 GiB / 2.5 GiB (48%), 85.3 MiB/s, ETA 0:16
 *   PROGRESS_NONE   prints nothing (--quiet); state is still kept.
 *   PROGRESS_AUTO   TTY if isatty(fileno(out)) and $TERM is not "dumb",
 *                   PLAIN otherwise.
 *
 * A finished bar is printed once as a permanent line ("red01: done,
 * 2.5 GiB in 0:30 (85.3 MiB/s)" or "red01: FAILED at ...: why") and
 * leaves the redrawn block, so the block holds only running bars; when
 * they outnumber the terminal's rows its last line says "... and N more".
 *
 * The rate is an exponential moving average (time constant 3 s) of the
 * throughput measured over intervals of at least 250 ms.
 *
 * Thread safety: every function except progress_new/progress_free takes
 * the object's mutex, so writer threads may call progress_update (and the
 * other bar functions) concurrently on the same object.  progress_free
 * must be called once no other thread uses the object.  The clock
 * callback runs with the mutex held and must not call back into progress.
 *
 * What this does not do: it does not read the keyboard, does not catch
 * SIGWINCH (the width is read again on each redraw) and does not know what
 * else writes to the same terminal — print through progress_message(), or
 * call progress_clear() before printing elsewhere.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum progress_mode {
	PROGRESS_AUTO = 0,
	PROGRESS_TTY,
	PROGRESS_PLAIN,
	PROGRESS_NONE,
};

/* A monotonic clock in nanoseconds; tests inject a fake one. */
typedef uint64_t (*progress_clock_fn)(void *userdata);

/* One bar as the formatter sees it (a snapshot; see progress_get_state). */
struct progress_state {
	const char *label;    /* "red01"; never NULL */
	const char *phase;    /* "verify"; NULL when none */
	const char *note;     /* finished bars: extra text or the failure; may be NULL */
	uint64_t done;	      /* bytes done in the current phase */
	uint64_t total;	      /* bytes expected; 0 = unknown */
	double rate;	      /* smoothed bytes/s; negative = not measured yet */
	uint64_t elapsed_ns;  /* since the bar (or its current phase) started */
	unsigned label_width; /* TTY: pad label + phase to this many columns */
	bool finished;
	bool ok; /* finished bars: success */
};

/* Default interval between lines of one bar in PROGRESS_PLAIN. */
#define PROGRESS_PLAIN_INTERVAL_MS 5000u
/* Minimum interval between two redraws in PROGRESS_TTY. */
#define PROGRESS_REDRAW_INTERVAL_MS 100u

/* Create a display writing to `out` (not owned; never closed).  Returns
 * NULL when out of memory.  Free with progress_free. */
struct progress *progress_new(FILE *out, enum progress_mode mode);
/* Redraw once more (TTY) so the last numbers stay visible, then free.
 * Accepts NULL; returns NULL. */
struct progress *progress_free(struct progress *p);

/* The mode after PROGRESS_AUTO was resolved. */
enum progress_mode progress_get_mode(const struct progress *p);

/* Configuration; call before the first bar is added. */
void progress_set_clock(struct progress *p, progress_clock_fn clock, void *userdata);
void progress_set_plain_interval(struct progress *p, uint64_t interval_ms);
/* Fix the terminal size instead of asking the terminal (tests; 0 = ask). */
void progress_set_terminal_size(struct progress *p, unsigned columns, unsigned rows);

/* Add a bar; `total` 0 means unknown.  Returns the bar's handle (>= 0) or
 * -ENOMEM.  Handles stay valid until progress_free. */
int progress_add(struct progress *p, const char *label, uint64_t total);
/* Bytes done so far in the current phase (absolute, not a delta).
 * Unknown handles and finished bars are ignored. */
void progress_update(struct progress *p, int bar, uint64_t done);
/* The total became known or changed (0 = unknown). */
void progress_set_total(struct progress *p, int bar, uint64_t total);
/* Start a new phase ("verify"): done, rate and elapsed time restart at 0;
 * the total is kept.  NULL clears the phase name. */
void progress_set_phase(struct progress *p, int bar, const char *phase);
/* Finish a bar with success or failure; `note` (may be NULL) is shown on
 * its final line, e.g. the reason of a failure.  A second call is ignored. */
void progress_finish(struct progress *p, int bar, bool ok, const char *note);
/* Sample rates and redraw if due, without new numbers: call it from a
 * main loop so that a stalled transfer shows its rate falling. */
void progress_tick(struct progress *p);

/* Print one line (no newline needed) above the bars (TTY, cut to the
 * width, control characters as '?') or as is (PLAIN); nothing in
 * PROGRESS_NONE.  For informational lines. */
void progress_message(struct progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Erase the bars from the terminal (TTY) so the caller can print; the
 * next update draws them again. */
void progress_clear(struct progress *p);

/* Copy a bar's state into *ret_state; strings point into the object and
 * stay valid until the bar's phase is changed or it is finished.  Returns
 * 0, or -EINVAL for an unknown handle. */
int progress_get_state(struct progress *p, int bar, struct progress_state *ret_state);

/*
 * Pure formatting, unit-tested for exact strings.
 *
 * progress_format_line: one line for `state` into buf (always
 * NUL-terminated when len > 0).  width 0 gives the plain log line; width
 * > 0 gives the TTY line, at most `width` columns (pass the terminal width
 * minus one so the cursor never reaches the last column).  Returns the
 * number of bytes written, not counting the NUL.
 */
size_t progress_format_line(char *buf, size_t len, const struct progress_state *state,
			    unsigned width);
/* "0:07", "12:34", "1:02:03"; ">99:59:59" beyond that. */
void progress_format_duration(char *buf, size_t len, uint64_t seconds);
