/*
 * cmd_image_check.c — `herd image check IMAGE [--config FILE --host NAME]
 * [--json]`: is the image consistent, and does it carry that host's
 * settings?
 *
 * libherd's check_image() does herd's own checks (filesystems, structure,
 * settings; check/check.h).  This file adds the independent witnesses when
 * they are installed: `fsck.fat -n` on a sparse copy of the boot partition
 * (it takes no offset) and `e2fsck -fn` on the root partition in place
 * ("IMAGE?offset=N", the unix_io option), both read-only.  Problems are
 * printed one per line on stdout (--json: an array of strings); the exit
 * status is 1 when there is any, 0 when the image is clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/macros.h"
#include "check/check.h"
#include "cli.h"
#include "cmd_image_store.h"
#include "cmd_image_check.h"
#include "output.h"
#include "settings_cli.h"
#include "store/store.h"

struct check_args {
	const char *config, *host;
	bool no_fsck;
};

static int on_option(struct cli *cli, void *ctx, int opt, const char *arg)
{
	struct check_args *a = ctx;

	switch (opt) {
	case 'c':
		a->config = arg;
		return 0;
	case 'H':
		a->host = arg;
		return 0;
	case 'N':
		a->no_fsck = true;
		return 0;
	}
	return EXIT_USAGE;
}

/* A program from PATH or the sbin directories (fsck tools live there and
 * a normal user's PATH may lack them). */
static bool find_tool(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];

	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (char *d = dirs; d && *d;) {
		char *colon = strchr(d, ':');
		if (colon)
			*colon = '\0';
		if (*d && (size_t)snprintf(buf, len, "%s/%s", d, name) < len &&
		    access(buf, X_OK) == 0)
			return true;
		d = colon ? colon + 1 : NULL;
	}
	return false;
}

/* Run argv with stdout+stderr into a temp file; returns the exit status
 * (or -1) and the first line of output that says something. */
static int run_tool(char *const argv[], char *out, size_t outlen)
{
	char log[] = "/tmp/herd-check-log.XXXXXX";
	int fd = mkostemp(log, O_CLOEXEC), status = -1;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	unlink(log);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return status;
	}
	rewind(f);
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* Skip banners; keep the first line that names a problem. */
		if (!line[0] || strncmp(line, "fsck.fat ", 9) == 0 ||
		    strncmp(line, "e2fsck ", 7) == 0 || strstr(line, "Pass ") ||
		    strstr(line, "files, ") || strstr(line, "files,"))
			continue;
		snprintf(out, outlen, "%s", line);
		break;
	}
	fclose(f);
	return status;
}

/* Copy a partition to a sparse temp file (only non-zero 64 KiB blocks). */
static int copy_partition(const char *image, uint64_t start, uint64_t size, char *tmp)
{
	int in = open(image, O_RDONLY | O_CLOEXEC), out = mkostemp(tmp, O_CLOEXEC);
	static const size_t bs = 64u << 10;
	unsigned char *buf = malloc(bs);
	int r = 0;

	if (in < 0 || out < 0 || !buf || ftruncate(out, (off_t)size) < 0)
		r = -1;
	for (uint64_t off = 0; r == 0 && off < size; off += bs) {
		size_t n = size - off < bs ? (size_t)(size - off) : bs;
		if (pread(in, buf, n, (off_t)(start + off)) != (ssize_t)n) {
			r = -1;
			break;
		}
		size_t z = 0;
		while (z < n && !buf[z])
			z++;
		if (z < n && pwrite(out, buf, n, (off_t)off) != (ssize_t)n)
			r = -1;
	}
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static void external_checks(const char *path, struct strv *problems)
{
	struct herd_error err = {0};
	struct image *img = NULL;
	unsigned boot = 0, root = 0;
	char tool[512], msg[512], line[1024];

	if (image_open(path, IMAGE_READ_ONLY, &img, &err) < 0)
		return;
	bool have_boot = image_find_partition(img, "boot", &boot, NULL) == 0 && boot > 0;
	bool have_root = image_find_partition(img, "root", &root, NULL) == 0 && root > 0;
	for (unsigned i = 0; i < img->table.count; i++) {
		const struct ptable_partition *p = &img->table.partitions[i];
		if (have_boot && p->number == boot && find_tool("fsck.fat", tool, sizeof(tool))) {
			char tmp[] = "/tmp/herd-check-boot.XXXXXX";
			if (copy_partition(path, p->start, p->size, tmp) == 0) {
				char *argv[] = {tool, (char *)"-n", tmp, NULL};
				int st = run_tool(argv, msg, sizeof(msg));
				if (st != 0) {
					snprintf(line, sizeof(line), "boot: fsck.fat -n: %s",
						 msg[0] ? msg : "reports errors");
					strv_push(problems, line);
				}
			}
			unlink(tmp);
		}
		if (have_root && p->number == root && find_tool("e2fsck", tool, sizeof(tool))) {
			char spec[4200];
			snprintf(spec, sizeof(spec), "%s?offset=%llu", path,
				 (unsigned long long)p->start);
			char *argv[] = {tool, (char *)"-fn", spec, NULL};
			int st = run_tool(argv, msg, sizeof(msg));
			/* e2fsck(8): 0 clean, 1/2 corrected (impossible with -n), 4+ errors. */
			if (st != 0) {
				snprintf(line, sizeof(line), "root: e2fsck -fn: %s",
					 msg[0] ? msg : "reports errors");
				strv_push(problems, line);
			}
		}
	}
	image_close(img);
}

static int check_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"host", required_argument, NULL, 'H'},
	    {"no-fsck", no_argument, NULL, 'N'},
	    {0},
	};
	struct check_args a = {0};
	struct herd_settings overrides, resolved, *settings = NULL;
	struct herd_error err = {0};
	struct strv problems = STRV_INIT;
	struct store_entry *entry = NULL;
	_cleanup_free_ char *path = NULL;
	int r = cli_parse(cli, &cmd_image_check, argc, argv, "c:", options, on_option, &a);

	if (r >= 0)
		return r;
	if (optind + 1 != argc)
		return cli_usage_error(cli,
				       optind >= argc ? "missing IMAGE" : "too many arguments");
	if (a.config || a.host) {
		settings_init(&overrides);
		r = settings_cli_resolve(cli, a.config, a.host, &overrides, &resolved);
		if (r >= 0)
			return r;
		settings = &resolved;
	}
	r = image_store_resolve(cli, argv[optind], &path, &entry);
	if (r >= 0)
		goto out;
	r = check_image(path, settings, &problems, &err);
	if (r < 0) {
		r = cli_fail("%s: %s", argv[optind], herd_error_message(&err));
		goto out;
	}
	if (!a.no_fsck)
		external_checks(path, &problems);
	if (cli->json) {
		output_json_strv(&problems);
	} else {
		for (size_t i = 0; i < problems.count; i++)
			printf("%s\n", problems.items[i]);
	}
	if (problems.count) {
		r = cli_fail("%s: %zu problem%s", argv[optind], problems.count,
			     problems.count == 1 ? "" : "s");
	} else {
		cli_info(cli, "%s: ok%s", argv[optind], settings ? " (settings present)" : "");
		r = EXIT_OK;
	}
out:
	strv_free(&problems);
	store_entry_close(entry);
	if (settings)
		settings_free(settings);
	return r;
}

const struct cli_command cmd_image_check = {
    .name = "check",
    .summary = "filesystems consistent and a host's settings present",
    .usage = "Usage: herd image check IMAGE [--config FILE --host NAME] [--no-fsck] [--json]\n"
	     "\n"
	     "Check IMAGE without changing it: both filesystems consistent (herd's own\n"
	     "checks, then fsck.fat -n and e2fsck -fn when installed), the files herd\n"
	     "writes well-formed (hostname and /etc/hosts, passwd/shadow/group, ~/.ssh\n"
	     "0700 and authorized_keys 0600 owned by the user, sshd drop-in, timezone\n"
	     "link, NetworkManager keyfiles, dhcpcd.conf, wpa_supplicant.conf, the\n"
	     "cloud-init seed and firstrun.sh), and with --config/--host every setting\n"
	     "of that host present: what 'herd customize' would still change is listed.\n"
	     "\n"
	     "Prints one problem per line (--json: an array of strings).\n"
	     "\n"
	     "Options:\n"
	     "  -c, --config FILE   fleet file; with --host, check that host's settings\n"
	     "  --host NAME         the host whose settings must be present\n"
	     "  --no-fsck           skip fsck.fat and e2fsck\n"
	     "\n"
	     "Exit status: 0 clean, 1 problems found (or the image cannot be read), 2 usage "
	     "error.\n",
    .run = check_run,
};
