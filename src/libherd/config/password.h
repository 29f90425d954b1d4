/*
 * password.h — turning a clear-text password into a crypt(3) hash for
 * password_hash, with libcrypt (libxcrypt): crypt_gensalt_rn() draws the
 * salt from the kernel's random source, crypt_rn() hashes.
 *
 * yescrypt ("$y$") is the default, as Debian's since bullseye; SHA-512
 * ("$6$") is there for images whose PAM predates yescrypt.  The clear
 * text is the caller's: it is never copied, and libcrypt's work area is
 * wiped before returning.  Reading the password (terminal, stdin) is the
 * CLI's job (src/herd/settings_cli.c).
 */
#pragma once

#include "base/error.h"

enum password_scheme {
	PASSWORD_YESCRYPT = 0,
	PASSWORD_SHA512,
};

/* "yescrypt" / "sha512" (also "y", "6", "sha-512").  0 or -EINVAL. */
int password_scheme_parse(const char *s, enum password_scheme *ret);
/* Hash `clear` (1..1024 bytes, no newline) with a fresh random salt;
 * *ret is malloc'ed.  Errors: "password: why". */
int password_hash(const char *clear, enum password_scheme scheme, char **ret,
		  struct herd_error *err);
