/*
 * settings_cli.c — getopt long options generated from the settings
 * registry (see settings_cli.h), the option loop the settings-taking
 * commands share (settings_cli_next), and the password prompt.
 *
 * Paths given on the command line are the shell's: relative to the
 * current directory, "~/" expanded with HOME (for --sshkey=~/k.pub, which
 * the shell leaves alone).
 *
 * Passwords: --passwd asks on /dev/tty (echo off, twice); --passwd-stdin
 * reads one line from standard input instead, for scripts and pipes —
 * never implied, so a missing terminal is an error rather than a silent
 * read of whatever stdin holds.  --passwd-scheme picks yescrypt (default)
 * or sha512.  The clear text lives only in fixed buffers here, is hashed
 * with libcrypt (config/password.h) into password_hash and wiped with
 * explicit_bzero(); it is never stored, printed or logged.
 */
#include "settings_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/macros.h"
#include "cli.h"
#include "config/fleet.h"
#include "config/password.h"

extern char **environ;

/* The two flags that are not registry keys, after the registry's. */
enum {
	EXTRA_PASSWD_STDIN = 0,
	EXTRA_PASSWD_SCHEME,
	EXTRA_COUNT,
};

#define PASSWORD_MAX 1024

size_t settings_cli_option_count(void)
{
	size_t nkeys, n = 0;
	const struct settings_key *keys = settings_keys(&nkeys);

	for (size_t i = 0; i < nkeys; i++)
		n += (keys[i].flag != NULL) + (keys[i].negated_flag != NULL);
	return n + EXTRA_COUNT;
}

int settings_cli_add_options(struct option *buf, size_t cap)
{
	size_t nkeys, n = 0;
	const struct settings_key *keys = settings_keys(&nkeys);

	if (cap < settings_cli_option_count())
		return -ENOBUFS;
	for (size_t i = 0; i < nkeys; i++) {
		const struct settings_key *k = &keys[i];
		bool takes_value = k->type != SETTINGS_BOOL && k->type != SETTINGS_RESERVED &&
				   k->type != SETTINGS_PROMPT;
		if (k->flag)
			buf[n++] =
			    (struct option){k->flag, takes_value ? required_argument : no_argument,
					    NULL, SETTINGS_CLI_OPT_BASE + (int)(2 * i)};
		if (k->negated_flag)
			buf[n++] = (struct option){k->negated_flag, no_argument, NULL,
						   SETTINGS_CLI_OPT_BASE + (int)(2 * i + 1)};
	}
	buf[n++] = (struct option){"passwd-stdin", no_argument, NULL,
				   SETTINGS_CLI_OPT_BASE + (int)(2 * nkeys + EXTRA_PASSWD_STDIN)};
	buf[n++] = (struct option){"passwd-scheme", required_argument, NULL,
				   SETTINGS_CLI_OPT_BASE + (int)(2 * nkeys + EXTRA_PASSWD_SCHEME)};
	return (int)n;
}

int settings_cli_parse(int opt, const char *value, struct herd_settings *overrides,
		       struct herd_error *err)
{
	const struct settings_origin flag = {.source = SETTINGS_SOURCE_FLAG};
	struct settings_context ctx;
	size_t nkeys, idx;
	const struct settings_key *keys = settings_keys(&nkeys);
	const struct settings_key *k;
	bool negated;
	int r;

	if (opt < SETTINGS_CLI_OPT_BASE ||
	    (size_t)(opt - SETTINGS_CLI_OPT_BASE) >= 2 * nkeys + EXTRA_COUNT)
		return 0;
	settings_context_init(&ctx, environ, NULL);
	if ((size_t)(opt - SETTINGS_CLI_OPT_BASE) >= 2 * nkeys) {
		size_t extra = (size_t)(opt - SETTINGS_CLI_OPT_BASE) - 2 * nkeys;
		enum password_scheme scheme;
		if (extra == EXTRA_PASSWD_SCHEME) {
			if (password_scheme_parse(value, &scheme) < 0)
				return herd_error_set(err, EINVAL,
						      "--passwd-scheme: '%s' is not yescrypt or "
						      "sha512",
						      value);
			overrides->password_scheme = scheme;
			return 1;
		}
		k = settings_key_find("password");
		r = settings_set_text(overrides, k, "stdin", false, &ctx, &flag, err);
		return r < 0 ? settings_error_rename(err, r, k, "passwd-stdin", "--") : 1;
	}
	idx = (size_t)(opt - SETTINGS_CLI_OPT_BASE) / 2;
	negated = (opt - SETTINGS_CLI_OPT_BASE) % 2;
	k = &keys[idx];

	if (k->type == SETTINGS_RESERVED)
		return herd_error_set(err, EINVAL, "--%s: %s", k->flag, k->hint);
	if (k->type == SETTINGS_PROMPT)
		value = "tty";
	if (k->type == SETTINGS_BOOL)
		value = negated ? "false" : "true";
	r = settings_set_text(overrides, k, value, true, &ctx, &flag, err);
	if (r < 0)
		return settings_error_rename(err, r, k, negated ? k->negated_flag : k->flag, "--");
	return 1;
}

void settings_cli_print_help(FILE *out)
{
	size_t nkeys;
	const struct settings_key *keys = settings_keys(&nkeys);

	fputs("Settings (each also the [key] in the fleet file and HERD_<KEY> in the\n"
	      "environment, upper-cased with '.' as '_': HERD_WIFI_PSK; --passwd excepted):\n",
	      out);
	for (size_t i = 0; i < nkeys; i++) {
		const struct settings_key *k = &keys[i];
		char left[64];

		if (!k->flag)
			continue;
		if (k->negated_flag)
			snprintf(left, sizeof(left), "--%s, --%s", k->flag, k->negated_flag);
		else if (k->type == SETTINGS_RESERVED || k->type == SETTINGS_PROMPT)
			snprintf(left, sizeof(left), "--%s", k->flag);
		else
			snprintf(left, sizeof(left), "--%s %s", k->flag,
				 k->metavar ? k->metavar : "VALUE");
		fprintf(out, "  %-28s %s [%s]\n", left, k->help, k->name);
		if (k->type == SETTINGS_PROMPT)
			fprintf(out,
				"  %-28s read it from standard input (one line), no prompt\n"
				"  %-28s hash --passwd with yescrypt (default) or sha512 ($6$)\n",
				"--passwd-stdin", "--passwd-scheme NAME");
	}
	/* The rest exist in the file and the environment only. */
	fputs("Without a flag (fleet file, and HERD_<KEY> except files):\n ", out);
	size_t col = 1;
	for (size_t i = 0; i < nkeys; i++) {
		size_t n = strlen(keys[i].name);
		if (keys[i].flag)
			continue;
		if (col + n + 1 > 78) {
			fputs("\n ", out);
			col = 1;
		}
		fprintf(out, " %s", keys[i].name);
		col += n + 1;
	}
	fputc('\n', out);
}

int settings_cli_options(const struct option *own, size_t own_count, struct option *buf, size_t cap)
{
	int r;

	if (own_count + 1 > cap)
		return -ENOBUFS;
	memcpy(buf, own, own_count * sizeof(*own));
	r = settings_cli_add_options(buf + own_count, cap - own_count - 1);
	if (r < 0)
		return r;
	buf[own_count + (size_t)r] = (struct option){0};
	return 0;
}

int settings_cli_next(struct cli *cli, const struct settings_cli_getopt *g, int *ret_exit)
{
	struct herd_error err = {0};
	int opt, r;

	while ((opt = getopt_long(g->argc, g->argv, g->optstring, g->options, NULL)) != -1) {
		/* Before cli_common_option(): its --help prints cmd->usage,
		 * which lacks the Settings section. */
		if (opt == 'h') {
			g->usage(stdout);
			*ret_exit = EXIT_OK;
			return SETTINGS_CLI_EXIT;
		}
		r = settings_cli_parse(opt, optarg, g->overrides, &err);
		if (r < 0) {
			*ret_exit = cli_usage_error(cli, "%s", herd_error_message(&err));
			return SETTINGS_CLI_EXIT;
		}
		if (r > 0)
			continue;
		/* No command's own option uses a common letter ('J', 'v',
		 * 'q') or getopt's '?' / ':', so taking these first is the
		 * same as asking the command first. */
		switch (cli_common_option(cli, g->cmd, opt, g->argv)) {
		case CLI_HANDLED:
			continue;
		case CLI_HELP_SHOWN:
			*ret_exit = EXIT_OK;
			return SETTINGS_CLI_EXIT;
		case CLI_BAD_OPTION:
			*ret_exit = EXIT_USAGE;
			return SETTINGS_CLI_EXIT;
		case CLI_NOT_COMMON:
			break;
		}
		return opt;
	}
	return SETTINGS_CLI_END;
}

/* One line from fd into buf (without the newline); the line must fit.
 * 0 at a complete line (or EOF after some text), -errno otherwise. */
static int read_line(int fd, char *buf, size_t cap, struct herd_error *err)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return herd_error_set(err, errno, "cannot read the password: %s",
					      strerror(errno));
		if (got == 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			/* Drain the rest of the line so it does not reach a shell. */
			while (read(fd, &c, 1) == 1 && c != '\n')
				;
			return herd_error_set(err, EINVAL, "the password is longer than %d bytes",
					      PASSWORD_MAX);
		}
		buf[n++] = c;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return herd_error_set(err, EINVAL, "the password is empty");
	return 0;
}

static int prompt(int fd, const char *text, char *buf, size_t cap, struct herd_error *err)
{
	size_t len = strlen(text);

	if (write(fd, text, len) != (ssize_t)len)
		return herd_error_set(err, EIO, "cannot write to the terminal");
	int r = read_line(fd, buf, cap, err);
	if (write(fd, "\n", 1) != 1 && r == 0)
		return herd_error_set(err, EIO, "cannot write to the terminal");
	return r;
}

/* Ask twice on /dev/tty with echo off. */
static int read_tty(char *buf, size_t cap, struct herd_error *err)
{
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	char again[PASSWORD_MAX + 2];
	struct termios old, quiet;
	int r;

	if (fd < 0)
		return herd_error_set(err, ENOTTY,
				      "--passwd: no terminal to ask on (use --passwd-stdin to read "
				      "the password from standard input)");
	if (tcgetattr(fd, &old) < 0)
		return herd_error_set(err, ENOTTY, "--passwd: /dev/tty is not a terminal");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
		return herd_error_set(err, errno, "--passwd: cannot turn echo off: %s",
				      strerror(errno));
	r = prompt(fd, "Password: ", buf, cap, err);
	if (r == 0)
		r = prompt(fd, "Password (again): ", again, sizeof(again), err);
	if (r == 0 && strcmp(buf, again) != 0)
		r = herd_error_set(err, EINVAL, "the passwords do not match");
	explicit_bzero(again, sizeof(again));
	tcsetattr(fd, TCSAFLUSH, &old);
	return r < 0 ? herd_error_prefix(err, -r, "--passwd") : 0;
}

int settings_cli_read_password(struct herd_settings *overrides, struct herd_error *err)
{
	const struct settings_origin flag = {.source = SETTINGS_SOURCE_FLAG};
	const struct settings_key *input = settings_key_find("password");
	const struct settings_key *hash_key = settings_key_find("password_hash");
	bool from_stdin = strcmp(overrides->password_input, "stdin") == 0;
	char clear[PASSWORD_MAX + 2];
	char *hash = NULL;
	int r;

	if (settings_is_set(overrides, hash_key))
		return herd_error_set(err, EINVAL, "--%s and --password-hash: give one of them",
				      from_stdin ? "passwd-stdin" : "passwd");
	if (from_stdin) {
		r = read_line(STDIN_FILENO, clear, sizeof(clear), err);
		if (r < 0)
			herd_error_prefix(err, -r, "--passwd-stdin");
	} else {
		r = read_tty(clear, sizeof(clear), err);
	}
	if (r == 0) {
		r = password_hash(clear, (enum password_scheme)overrides->password_scheme, &hash,
				  err);
		if (r < 0)
			herd_error_prefix(err, -r, "--passwd");
	}
	explicit_bzero(clear, sizeof(clear));
	if (r < 0)
		return r;
	r = settings_set_text(overrides, hash_key, hash, false, NULL, &flag, err);
	explicit_bzero(hash, strlen(hash));
	free(hash);
	if (r < 0)
		return r;
	/* The request is done: nothing of it travels further. */
	free(overrides->password_input);
	overrides->password_input = NULL;
	overrides->origin[settings_key_index(input)] = (struct settings_origin){0};
	return 0;
}

int settings_cli_resolve(struct cli *cli, const char *config, const char *host,
			 struct herd_settings *overrides, struct herd_settings *ret)
{
	struct herd_error err = {0};
	struct fleet *fleet = NULL;
	int r;

	if (config && !host) {
		settings_free(overrides);
		return cli_usage_error(cli, "--config needs --host NAME (see 'herd config hosts')");
	}
	if (host && !config) {
		settings_free(overrides);
		return cli_usage_error(cli, "--host needs --config FILE");
	}
	if (overrides->password_input) {
		r = settings_cli_read_password(overrides, &err);
		if (r < 0) {
			settings_free(overrides);
			return cli_fail_error(&err);
		}
	}
	if (config && fleet_load(config, environ, &fleet, &err) < 0) {
		settings_free(overrides);
		return cli_fail_error(&err);
	}
	r = fleet_resolve_host(fleet, host, overrides, environ, ret, &err);
	settings_free(overrides);
	fleet_free(fleet);
	if (r < 0)
		return cli_fail_error(&err);
	return -1;
}
