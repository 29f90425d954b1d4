/*
 * progress.c — progress bars for downloads, burns and verifies (see
 * progress.h for the modes and the thread-safety contract).
 *
 * Split in two: progress_format_line() and its helpers are pure (a state
 * in, a string out) so the exact text is unit-tested; the object below
 * keeps the bars, measures rates with an injectable clock and decides when
 * to print.  In TTY mode a whole frame (cursor up, every running bar, erase
 * below) is built in memory and written with one fwrite, so a frame is
 * never torn by the terminal and other threads never see half of it.
 *
 * Not here: sizes are formatted by format_size() (output.c), and nothing
 * here reads the keyboard or handles signals.
 */
#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/parse.h"
#include "output.h"

#define NSEC_PER_SEC  1000000000ull
#define NSEC_PER_MSEC 1000000ull

/* Rate smoothing: a sample is the throughput over at least RATE_SAMPLE_NS;
 * samples are folded into an exponential moving average with a time
 * constant of RATE_TAU_S seconds.  The weight dt / (tau + dt) is the
 * first-order form of 1 - exp(-dt / tau): it needs no libm, behaves the
 * same for the short sampling intervals we use, and a constant rate stays
 * exactly constant. */
#define RATE_SAMPLE_NS (250 * NSEC_PER_MSEC)
#define RATE_TAU_S     3.0

/* TTY layout: the bar's inner width lives between these bounds; below the
 * minimum the bar is dropped rather than drawn uselessly short. */
#define BAR_MIN 10u
#define BAR_MAX 40u
/* Labels up to this many columns are cut only when no field is left: a
 * cut host name ("red~") no longer tells two bars apart. */
#define LABEL_KEEP 16u
/* Longest line we format; wider terminals get this many columns. */
#define LINE_MAX_COLUMNS 1000u
#define LINE_BUF	 (LINE_MAX_COLUMNS * 4 + 64)
/* Widths of "1023 KiB" and "1023 KiB/s": sizes and rates are padded to
 * these so the columns of a redrawn line do not jump around. */
#define SIZE_COLUMNS 8
#define RATE_COLUMNS 10

/* ---- pure formatting ------------------------------------------------ */

/* A bounded string builder: appends stop at len - 1 bytes, the buffer is
 * always NUL-terminated, pos is the number of bytes written. */
struct line {
	char *buf;
	size_t len;
	size_t pos;
};

static void line_putc(struct line *l, char c)
{
	if (l->len == 0 || l->pos + 1 >= l->len)
		return;
	l->buf[l->pos++] = c;
	l->buf[l->pos] = '\0';
}

static void line_puts(struct line *l, const char *s)
{
	for (; *s; s++)
		line_putc(l, *s);
}

static void line_spaces(struct line *l, unsigned n)
{
	while (n--)
		line_putc(l, ' ');
}

/* Terminal columns of UTF-8 text: one per character (continuation bytes
 * do not count).  Wide CJK characters would count double on a terminal;
 * labels are host names and device paths, so this is good enough. */
static unsigned text_columns(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* Append at most `max` columns of s, control characters shown as '?' so a
 * label can never move the cursor.  Returns the columns written. */
static unsigned line_put_text(struct line *l, const char *s, unsigned max)
{
	unsigned cols = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c & 0xc0) != 0x80) {
			if (cols == max)
				break;
			cols++;
		}
		line_putc(l, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	return cols;
}

/* Append s cut to `max` columns; a cut is marked with a final '~'. */
static void line_put_cut(struct line *l, const char *s, unsigned max)
{
	if (text_columns(s) <= max || max < 2) {
		line_put_text(l, s, max);
		return;
	}
	line_put_text(l, s, max - 1);
	line_putc(l, '~');
}

void progress_format_duration(char *buf, size_t len, uint64_t seconds)
{
	if (len == 0)
		return;
	if (seconds < 3600)
		snprintf(buf, len, "%u:%02u", (unsigned)(seconds / 60), (unsigned)(seconds % 60));
	else if (seconds < 100 * 3600)
		snprintf(buf, len, "%u:%02u:%02u", (unsigned)(seconds / 3600),
			 (unsigned)(seconds / 60 % 60), (unsigned)(seconds % 60));
	else
		snprintf(buf, len, ">99:59:59");
}

/* Whole percent, rounded down, never 100 before the end. */
static unsigned percent(uint64_t done, uint64_t total)
{
	uint64_t pct;

	if (done >= total)
		return 100;
	/* done * 100 must not overflow: for huge values scale both down by
	 * 2^7 first; they are then above 2^50, so the error is far below
	 * one percent (and dividing total by 100 instead would round up). */
	if (done > UINT64_MAX / 100) {
		done >>= 7;
		total >>= 7;
	}
	pct = done * 100 / total;
	return pct > 99 ? 99 : (unsigned)pct;
}

/* Seconds left, rounded up, or false when it cannot be known. */
static bool eta_seconds(const struct progress_state *st, uint64_t *ret)
{
	double left;

	if (st->total == 0 || st->done >= st->total || !(st->rate > 0))
		return false;
	left = (double)(st->total - st->done) / st->rate;
	if (left > 1e9)
		left = 1e9;
	*ret = (uint64_t)left;
	if ((double)*ret < left)
		(*ret)++;
	return true;
}

static void format_rate(char *buf, size_t len, double rate)
{
	char size[32];

	format_size(size, sizeof(size), rate >= 1.8e19 ? UINT64_MAX : (unsigned long long)rate);
	snprintf(buf, len, "%s/s", size);
}

/* "red01" or "red01 verify" (sep ' ') / "red01 (verify)" (plain). */
static void format_head(char *buf, size_t len, const struct progress_state *st, bool plain)
{
	if (!st->phase)
		snprintf(buf, len, "%s", st->label);
	else if (plain)
		snprintf(buf, len, "%s (%s)", st->label, st->phase);
	else
		snprintf(buf, len, "%s %s", st->label, st->phase);
}

/* The log line; also the final line of a finished bar in TTY mode. */
static void format_plain(struct line *l, const struct progress_state *st)
{
	char head[512], done[32], total[32], rate[32], eta[32];
	uint64_t secs;

	format_head(head, sizeof(head), st, true);
	format_size(done, sizeof(done), st->done);
	format_size(total, sizeof(total), st->total);
	line_put_text(l, head, UINT32_MAX);
	line_puts(l, ": ");
	if (st->finished && st->ok) {
		line_puts(l, "done, ");
		line_puts(l, done);
		progress_format_duration(eta, sizeof(eta), st->elapsed_ns / NSEC_PER_SEC);
		line_puts(l, " in ");
		line_puts(l, eta);
		if (st->elapsed_ns > 0) {
			format_rate(rate, sizeof(rate),
				    (double)st->done * NSEC_PER_SEC / (double)st->elapsed_ns);
			line_puts(l, " (");
			line_puts(l, rate);
			line_puts(l, ")");
		}
		if (st->note && *st->note) {
			line_puts(l, ", ");
			line_put_text(l, st->note, UINT32_MAX);
		}
		return;
	}
	if (st->finished)
		line_puts(l, "FAILED at ");
	line_puts(l, done);
	if (st->total) {
		char pct[16];

		snprintf(pct, sizeof(pct), " (%u%%)", percent(st->done, st->total));
		line_puts(l, " / ");
		line_puts(l, total);
		line_puts(l, pct);
	}
	if (st->finished) {
		if (st->note && *st->note) {
			line_puts(l, ": ");
			line_put_text(l, st->note, UINT32_MAX);
		}
		return;
	}
	if (st->rate >= 0) {
		format_rate(rate, sizeof(rate), st->rate);
		line_puts(l, ", ");
		line_puts(l, rate);
		if (eta_seconds(st, &secs)) {
			progress_format_duration(eta, sizeof(eta), secs);
			line_puts(l, ", ETA ");
			line_puts(l, eta);
		}
	}
}

/* The optional fields of a TTY line, in the order they are dropped when
 * the terminal is too narrow: the bar first, the percentage last. */
enum { FIELD_BAR, FIELD_RATE, FIELD_SIZE, FIELD_ETA, FIELD_PERCENT, FIELD_COUNT };
static const int display_order[] = {FIELD_PERCENT, FIELD_SIZE, FIELD_RATE, FIELD_ETA};

static void format_tty(struct line *l, const struct progress_state *st, unsigned width)
{
	char head[512], field[FIELD_COUNT][96];
	bool on[FIELD_COUNT] = {false};
	unsigned fw, bar_need, lab_raw, lab, need_label, lab_shown, inner;
	uint64_t secs;

	format_head(head, sizeof(head), st, false);
	lab_raw = text_columns(head);
	lab = lab_raw > st->label_width ? lab_raw : st->label_width;

	field[FIELD_BAR][0] = '\0';
	on[FIELD_BAR] = st->total > 0;
	if (st->total > 0) {
		snprintf(field[FIELD_PERCENT], sizeof(field[0]), " %3u%%",
			 percent(st->done, st->total));
		on[FIELD_PERCENT] = true;
	}
	{
		char done[32], total[32];

		format_size(done, sizeof(done), st->done);
		format_size(total, sizeof(total), st->total);
		if (st->total)
			snprintf(field[FIELD_SIZE], sizeof(field[0]), "  %*s / %s", SIZE_COLUMNS,
				 done, total);
		else
			snprintf(field[FIELD_SIZE], sizeof(field[0]), "  %*s", SIZE_COLUMNS, done);
		on[FIELD_SIZE] = true;
	}
	if (st->rate >= 0) {
		char rate[32];

		format_rate(rate, sizeof(rate), st->rate);
		snprintf(field[FIELD_RATE], sizeof(field[0]), "  %*s", RATE_COLUMNS, rate);
		on[FIELD_RATE] = true;
	}
	if (eta_seconds(st, &secs)) {
		char eta[32];

		progress_format_duration(eta, sizeof(eta), secs);
		snprintf(field[FIELD_ETA], sizeof(field[0]), "  ETA %s", eta);
		on[FIELD_ETA] = true;
	}

	/* Drop fields until the label (all of it, or at least half the
	 * width and LABEL_KEEP columns) and the remaining fields fit; with
	 * every field dropped the label alone always fits. */
	need_label = width / 2 > LABEL_KEEP ? width / 2 : LABEL_KEEP;
	if (need_label > lab)
		need_label = lab;
	for (int drop = 0;; drop++) {
		fw = 0;
		for (int f = FIELD_RATE; f < FIELD_COUNT; f++)
			if (on[f])
				fw += (unsigned)strlen(field[f]);
		/* "  [" + inner + "]" */
		bar_need = on[FIELD_BAR] ? 3 + BAR_MIN + 1 : 0;
		if (need_label + fw + bar_need <= width || drop == FIELD_COUNT)
			break;
		on[drop] = false;
	}
	lab_shown = width - fw - bar_need < lab ? width - fw - bar_need : lab;

	line_put_cut(l, head, lab_shown);
	if (lab_shown > lab_raw)
		line_spaces(l, lab_shown - lab_raw);
	if (on[FIELD_BAR]) {
		unsigned fill;

		inner = width - fw - lab_shown - 4;
		if (inner > BAR_MAX)
			inner = BAR_MAX;
		/* How much of the bar is filled, never full before the end. */
		if (st->done >= st->total)
			fill = inner;
		else
			fill = (unsigned)((double)st->done / (double)st->total * inner);
		if (fill >= inner && st->done < st->total)
			fill = inner - 1;
		line_puts(l, "  [");
		for (unsigned i = 0; i < inner; i++)
			line_putc(l, i < fill ? '=' : i == fill ? '>' : ' ');
		line_putc(l, ']');
	}
	/* Display order differs from drop order. */
	for (size_t i = 0; i < sizeof(display_order) / sizeof(display_order[0]); i++)
		if (on[display_order[i]])
			line_puts(l, field[display_order[i]]);
}

size_t progress_format_line(char *buf, size_t len, const struct progress_state *st, unsigned width)
{
	struct line l = {.buf = buf, .len = len, .pos = 0};

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (width > LINE_MAX_COLUMNS)
		width = LINE_MAX_COLUMNS;
	if (width == 0) {
		format_plain(&l, st);
	} else if (st->finished) {
		char full[LINE_BUF];
		struct line fl = {.buf = full, .len = sizeof(full), .pos = 0};

		full[0] = '\0';
		format_plain(&fl, st);
		line_put_cut(&l, full, width);
	} else {
		format_tty(&l, st, width);
	}
	return l.pos;
}
/* ---- the display object ---------------------------------------------- */

struct bar {
	char *label, *phase, *note;
	uint64_t done, total;
	uint64_t start_ns;    /* start of the bar or of its current phase */
	uint64_t sample_ns;   /* start of the current rate sample */
	uint64_t sample_done; /* done at sample_ns */
	double rate;	      /* smoothed bytes/s; -1 until the first sample */
	uint64_t printed_ns;  /* PLAIN: when this bar last printed a line */
	uint64_t end_ns;      /* when it finished: elapsed time stops there */
	bool finished, ok;
};

struct progress {
	pthread_mutex_t lock;
	FILE *out;
	enum progress_mode mode;
	progress_clock_fn clock;
	void *clock_data;
	uint64_t plain_interval_ns;
	unsigned fixed_columns, fixed_rows;
	struct bar *bars;
	size_t nbars, capbars;
	/* TTY: lines of the running block now on screen (the cursor sits on
	 * the line below it), and when it was last drawn. */
	unsigned drawn_lines;
	bool drawn;
	uint64_t drawn_ns;
	/* TTY: the frame being built, reused between redraws. */
	char *frame;
	size_t frame_len, frame_cap;
	bool frame_failed; /* out of memory: this frame is dropped */
};

static uint64_t monotonic_ns(void *userdata)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(struct progress *p)
{
	return p->clock(p->clock_data);
}

static struct bar *bar_get(struct progress *p, int bar)
{
	if (bar < 0 || (size_t)bar >= p->nbars)
		return NULL;
	return &p->bars[bar];
}

/* Fold the throughput since the last sample into the moving average. */
static void bar_sample(struct bar *b, uint64_t now)
{
	double dt, inst, weight;

	if (now < b->sample_ns || now - b->sample_ns < RATE_SAMPLE_NS)
		return;
	dt = (double)(now - b->sample_ns) / NSEC_PER_SEC;
	inst = b->done > b->sample_done ? (double)(b->done - b->sample_done) / dt : 0.0;
	if (b->rate < 0) {
		b->rate = inst;
	} else {
		weight = dt / (RATE_TAU_S + dt);
		b->rate += weight * (inst - b->rate);
	}
	b->sample_ns = now;
	b->sample_done = b->done;
}

static void bar_restart(struct bar *b, uint64_t now)
{
	b->done = 0;
	b->start_ns = now;
	b->sample_ns = now;
	b->sample_done = 0;
	b->rate = -1;
	b->printed_ns = now;
}

static void bar_state(const struct bar *b, uint64_t now, unsigned label_width,
		      struct progress_state *st)
{
	if (b->finished)
		now = b->end_ns;
	*st = (struct progress_state){
	    .label = b->label,
	    .phase = b->phase,
	    .note = b->note,
	    .done = b->done,
	    .total = b->total,
	    .rate = b->rate,
	    .elapsed_ns = now > b->start_ns ? now - b->start_ns : 0,
	    .label_width = label_width,
	    .finished = b->finished,
	    .ok = b->ok,
	};
}

/* Terminal size: the terminal's own answer, else $COLUMNS / $LINES, else
 * 80x24. */
static void terminal_size(struct progress *p, unsigned *ret_columns, unsigned *ret_rows)
{
	struct winsize ws = {0};
	unsigned columns = 0, rows = 0;
	uint32_t v;
	int fd = fileno(p->out);

	if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0) {
		columns = ws.ws_col;
		rows = ws.ws_row;
	}
	if (columns == 0 && parse_u32(getenv("COLUMNS"), 1, 100000, &v) == 0)
		columns = v;
	if (rows == 0 && parse_u32(getenv("LINES"), 1, 100000, &v) == 0)
		rows = v;
	if (p->fixed_columns)
		columns = p->fixed_columns;
	if (p->fixed_rows)
		rows = p->fixed_rows;
	*ret_columns = columns ? columns : 80;
	*ret_rows = rows ? rows : 24;
}

/* The frame buffer: on out of memory the whole frame is dropped, never
 * written half. */
static void frame_add(struct progress *p, const char *s, size_t n)
{
	if (p->frame_failed)
		return;
	if (p->frame_len + n + 1 > p->frame_cap) {
		size_t cap = p->frame_cap ? p->frame_cap : 4096;
		char *f;

		while (cap < p->frame_len + n + 1)
			cap *= 2;
		f = realloc(p->frame, cap);
		if (!f) {
			p->frame_failed = true;
			return;
		}
		p->frame = f;
		p->frame_cap = cap;
	}
	memcpy(p->frame + p->frame_len, s, n);
	p->frame_len += n;
}

static void frame_puts(struct progress *p, const char *s)
{
	frame_add(p, s, strlen(s));
}

/* Write the frame in one piece; a frame lost to ENOMEM only costs a
 * redraw, so the block is assumed unchanged on screen then. */
static bool frame_flush(struct progress *p)
{
	bool ok = !p->frame_failed;

	if (ok && p->frame_len > 0) {
		fwrite(p->frame, 1, p->frame_len, p->out);
		fflush(p->out);
	}
	p->frame_len = 0;
	p->frame_failed = false;
	return ok;
}

/* Move to the first line of the running block (ANSI CUU, CSI n A) and
 * erase from there down (ED, CSI J). */
static void frame_erase_block(struct progress *p)
{
	char esc[32];

	if (p->drawn_lines > 0) {
		snprintf(esc, sizeof(esc), "\033[%uA", p->drawn_lines);
		frame_puts(p, esc);
	}
	frame_puts(p, "\r\033[J");
}

/*
 * TTY: draw the running bars in place.  `above` (may be NULL) is a
 * permanent line — a finished bar or a message — printed first, where the
 * block was, so it scrolls away with the terminal while the block stays
 * below it.  Not forced, the redraw waits PROGRESS_REDRAW_INTERVAL_MS.
 */
static void tty_draw(struct progress *p, uint64_t now, const char *above, bool force)
{
	char line[LINE_BUF];
	unsigned columns, rows, width, max_lines, label_width = 0, lines = 0;
	size_t running = 0, shown = 0;

	if (!force && p->drawn && now - p->drawn_ns < PROGRESS_REDRAW_INTERVAL_MS * NSEC_PER_MSEC)
		return;
	terminal_size(p, &columns, &rows);
	/* One column short of the edge: some terminals wrap when the last
	 * column is written, others wait for the next character. */
	width = columns > 1 ? columns - 1 : 1;
	max_lines = rows > 2 ? rows - 1 : 1;
	for (size_t i = 0; i < p->nbars; i++) {
		const struct bar *b = &p->bars[i];
		char head[512];
		unsigned cols;

		if (b->finished)
			continue;
		running++;
		snprintf(head, sizeof(head), "%s%s%s", b->label, b->phase ? " " : "",
			 b->phase ? b->phase : "");
		cols = text_columns(head);
		if (cols > label_width)
			label_width = cols;
	}

	frame_erase_block(p);
	if (above) {
		struct line l = {.buf = line, .len = sizeof(line), .pos = 0};

		line[0] = '\0';
		line_put_cut(&l, above, width);
		frame_puts(p, line);
		frame_puts(p, "\n");
	}
	for (size_t i = 0; i < p->nbars; i++) {
		struct progress_state st;

		if (p->bars[i].finished)
			continue;
		/* More bars than rows: keep one line for the count of the rest. */
		if (running > max_lines && shown + 1 >= max_lines)
			break;
		bar_state(&p->bars[i], now, label_width, &st);
		progress_format_line(line, sizeof(line), &st, width);
		frame_puts(p, line);
		frame_puts(p, "\033[K\n");
		shown++;
		lines++;
	}
	if (shown < running) {
		snprintf(line, sizeof(line), "... and %zu more", running - shown);
		frame_puts(p, line);
		frame_puts(p, "\033[K\n");
		lines++;
	}
	if (frame_flush(p)) {
		p->drawn_lines = lines;
		p->drawn = true;
		p->drawn_ns = now;
	}
}

/* PLAIN: one line for a bar. */
static void plain_print(struct progress *p, const struct bar *b, uint64_t now)
{
	char line[LINE_BUF];
	struct progress_state st;

	bar_state(b, now, 0, &st);
	progress_format_line(line, sizeof(line), &st, 0);
	fprintf(p->out, "%s\n", line);
	fflush(p->out);
}

/* After a bar changed: sample its rate and print what is due. */
static void bar_changed(struct progress *p, struct bar *b, uint64_t now)
{
	bar_sample(b, now);
	if (p->mode == PROGRESS_TTY) {
		tty_draw(p, now, NULL, false);
	} else if (p->mode == PROGRESS_PLAIN && now - b->printed_ns >= p->plain_interval_ns) {
		plain_print(p, b, now);
		b->printed_ns = now;
	}
}

struct progress *progress_new(FILE *out, enum progress_mode mode)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	if (mode == PROGRESS_AUTO) {
		const char *term = getenv("TERM");
		int fd = fileno(out);

		/* A dumb terminal cannot move the cursor: log lines instead. */
		if (fd >= 0 && isatty(fd) && !(term && strcmp(term, "dumb") == 0))
			mode = PROGRESS_TTY;
		else
			mode = PROGRESS_PLAIN;
	}
	p->out = out;
	p->mode = mode;
	p->clock = monotonic_ns;
	p->plain_interval_ns = PROGRESS_PLAIN_INTERVAL_MS * NSEC_PER_MSEC;
	return p;
}

struct progress *progress_free(struct progress *p)
{
	if (!p)
		return NULL;
	if (p->mode == PROGRESS_TTY && p->drawn_lines > 0)
		tty_draw(p, now_ns(p), NULL, true);
	for (size_t i = 0; i < p->nbars; i++) {
		free(p->bars[i].label);
		free(p->bars[i].phase);
		free(p->bars[i].note);
	}
	free(p->bars);
	free(p->frame);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return NULL;
}

enum progress_mode progress_get_mode(const struct progress *p)
{
	return p ? p->mode : PROGRESS_NONE;
}

void progress_set_clock(struct progress *p, progress_clock_fn clock, void *userdata)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->clock = clock ? clock : monotonic_ns;
	p->clock_data = userdata;
	pthread_mutex_unlock(&p->lock);
}

void progress_set_plain_interval(struct progress *p, uint64_t interval_ms)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->plain_interval_ns = interval_ms * NSEC_PER_MSEC;
	pthread_mutex_unlock(&p->lock);
}

void progress_set_terminal_size(struct progress *p, unsigned columns, unsigned rows)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->fixed_columns = columns;
	p->fixed_rows = rows;
	pthread_mutex_unlock(&p->lock);
}

int progress_add(struct progress *p, const char *label, uint64_t total)
{
	struct bar *b;
	int handle;
	uint64_t now;

	if (!p || !label)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->nbars >= INT32_MAX) {
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	if (p->nbars == p->capbars) {
		size_t cap = p->capbars ? p->capbars * 2 : 8;
		struct bar *bars = realloc(p->bars, cap * sizeof(*bars));

		if (!bars) {
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
		p->bars = bars;
		p->capbars = cap;
	}
	b = &p->bars[p->nbars];
	*b = (struct bar){.total = total};
	b->label = strdup(label);
	if (!b->label) {
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	now = now_ns(p);
	bar_restart(b, now);
	handle = (int)p->nbars++;
	if (p->mode == PROGRESS_TTY)
		tty_draw(p, now, NULL, true);
	pthread_mutex_unlock(&p->lock);
	return handle;
}

void progress_update(struct progress *p, int bar, uint64_t done)
{
	struct bar *b;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	b = bar_get(p, bar);
	if (b && !b->finished) {
		b->done = done;
		bar_changed(p, b, now_ns(p));
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_set_total(struct progress *p, int bar, uint64_t total)
{
	struct bar *b;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	b = bar_get(p, bar);
	if (b && !b->finished) {
		b->total = total;
		bar_changed(p, b, now_ns(p));
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_set_phase(struct progress *p, int bar, const char *phase)
{
	struct bar *b;
	char *copy = NULL;
	uint64_t now;

	if (!p)
		return;
	/* On out of memory the bar simply keeps no phase name. */
	if (phase)
		copy = strdup(phase);
	pthread_mutex_lock(&p->lock);
	b = bar_get(p, bar);
	if (b && !b->finished) {
		free(b->phase);
		b->phase = copy;
		copy = NULL;
		now = now_ns(p);
		bar_restart(b, now);
		if (p->mode == PROGRESS_TTY)
			tty_draw(p, now, NULL, true);
	}
	pthread_mutex_unlock(&p->lock);
	free(copy);
}

void progress_finish(struct progress *p, int bar, bool ok, const char *note)
{
	struct bar *b;
	char *copy = note ? strdup(note) : NULL;
	uint64_t now;

	if (!p) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&p->lock);
	b = bar_get(p, bar);
	if (b && !b->finished) {
		char line[LINE_BUF];
		struct progress_state st;

		now = now_ns(p);
		b->finished = true;
		b->ok = ok;
		b->note = copy;
		copy = NULL;
		b->end_ns = now;
		bar_state(b, now, 0, &st);
		progress_format_line(line, sizeof(line), &st, 0);
		if (p->mode == PROGRESS_TTY)
			tty_draw(p, now, line, true);
		else if (p->mode == PROGRESS_PLAIN)
			plain_print(p, b, now);
	}
	pthread_mutex_unlock(&p->lock);
	free(copy);
}

void progress_tick(struct progress *p)
{
	uint64_t now;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	now = now_ns(p);
	for (size_t i = 0; i < p->nbars; i++) {
		struct bar *b = &p->bars[i];

		if (b->finished)
			continue;
		bar_sample(b, now);
		if (p->mode == PROGRESS_PLAIN && now - b->printed_ns >= p->plain_interval_ns) {
			plain_print(p, b, now);
			b->printed_ns = now;
		}
	}
	if (p->mode == PROGRESS_TTY)
		tty_draw(p, now, NULL, false);
	pthread_mutex_unlock(&p->lock);
}

void progress_message(struct progress *p, const char *fmt, ...)
{
	char line[LINE_BUF];
	size_t n;
	va_list ap;

	if (!p || p->mode == PROGRESS_NONE)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_TTY) {
		tty_draw(p, now_ns(p), line, true);
	} else {
		fprintf(p->out, "%s\n", line);
		fflush(p->out);
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_clear(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_TTY && p->drawn_lines > 0) {
		frame_erase_block(p);
		if (frame_flush(p))
			p->drawn_lines = 0;
		/* Draw again on the next update, whatever the interval. */
		p->drawn = false;
	}
	pthread_mutex_unlock(&p->lock);
}

int progress_get_state(struct progress *p, int bar, struct progress_state *ret_state)
{
	struct bar *b;
	int r = -EINVAL;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	b = bar_get(p, bar);
	if (b) {
		bar_state(b, now_ns(p), 0, ret_state);
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}
