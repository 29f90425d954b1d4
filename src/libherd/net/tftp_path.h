/*
 * tftp_path.h — turn a TFTP filename into a path inside the served root,
 * or refuse it.  Pure string work; opening happens in tftp_root.c.
 *
 * Rules (access violation, TFTP error 2, for every refusal):
 *  - no absolute paths ("/etc/passwd"): TFTP names are relative to the root;
 *  - no ".." component anywhere; "." and empty components are dropped;
 *  - no control bytes (0x01-0x1f, 0x7f) and no backslash: a NUL cannot
 *    occur (the wire format ends the name there), the rest are never in a
 *    boot file's name and show up in attacks and log injection;
 *  - at most TFTP_FILENAME_MAX bytes and 32 components.
 * Symlinks are judged when opening (RESOLVE_BENEATH), not here.
 *
 * Per-device prefixes: the Raspberry Pi bootloader asks for
 * "<serial>/start4.elf" (8 hex digits; TFTP_PREFIX=0), or
 * "dc-a6-32-01-36-c2/..." (MAC; TFTP_PREFIX=2).  tftp_path_device_prefix()
 * recognises those so the server can fall back to the shared file.
 */
#pragma once

#include <stddef.h>

/* Normalise `filename` into `out` (relative, '/'-separated, no leading
 * or trailing slash, never empty).  Returns 0, -EACCES (refused, with
 * *ret_why set to a static reason) or -ENAMETOOLONG. */
int tftp_path_normalize(const char *filename, char *out, size_t cap, const char **ret_why);

/* Length of a leading device component ("1234abcd/", MAC "xx-xx-…/",
 * 16-hex-digit serials) including its slash, or 0 when the normalised path
 * has none or has nothing after it. */
size_t tftp_path_device_prefix(const char *path);
