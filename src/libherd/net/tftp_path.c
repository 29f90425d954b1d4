/*
 * tftp_path.c — filename checks and per-device prefixes (see tftp_path.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "net/tftp_path.h"
#include "net/tftp_wire.h"

#define TFTP_PATH_MAX_COMPONENTS 32

int tftp_path_normalize(const char *filename, char *out, size_t cap, const char **ret_why)
{
	size_t pos = 0, components = 0;
	const char *p = filename;
	const char *why = NULL;

	if (strlen(filename) > TFTP_FILENAME_MAX)
		return -ENAMETOOLONG;
	for (const char *q = filename; *q; q++) {
		unsigned char ch = (unsigned char)*q;

		if (ch < 0x20 || ch == 0x7f) {
			why = "control character in filename";
			break;
		}
		if (ch == '\\') {
			why = "backslash in filename";
			break;
		}
	}
	if (!why && filename[0] == '/')
		why = "absolute path";
	if (why) {
		if (ret_why)
			*ret_why = why;
		return -EACCES;
	}

	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (ret_why)
				*ret_why = "'..' in path";
			return -EACCES;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (++components > TFTP_PATH_MAX_COMPONENTS) {
				if (ret_why)
					*ret_why = "too many path components";
				return -EACCES;
			}
			if (pos + (pos ? 1 : 0) + n + 1 > cap)
				return -ENAMETOOLONG;
			if (pos)
				out[pos++] = '/';
			memcpy(out + pos, p, n);
			pos += n;
		}
		p = *end ? end + 1 : end;
	}
	if (pos == 0) {
		if (ret_why)
			*ret_why = "no file named";
		return -EACCES;
	}
	out[pos] = '\0';
	return 0;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
			return false;
	return true;
}

static bool is_mac_dashes(const char *s, size_t n)
{
	/* "dc-a6-32-01-36-c2": six hex pairs joined by '-'. */
	if (n != 17)
		return false;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != '-')
				return false;
		} else if (!all_hex(s + i, 1)) {
			return false;
		}
	}
	return true;
}

size_t tftp_path_device_prefix(const char *path)
{
	const char *slash = strchr(path, '/');
	size_t n;

	if (!slash || slash[1] == '\0')
		return 0;
	n = (size_t)(slash - path);
	if (((n == 8 || n == 16) && all_hex(path, n)) || is_mac_dashes(path, n))
		return n + 1;
	return 0;
}
