/*
 * password.c — clear text to crypt(3) hash (see password.h).
 *
 * crypt_gensalt_rn() with a NULL random-bytes argument reads the salt
 * from the OS (getrandom), count 0 picks the scheme's default cost.
 * crypt_rn() returns NULL (or, with some versions, a string starting with
 * '*') on failure; both are errors.  struct crypt_data holds the clear
 * text's derived state: it is wiped with explicit_bzero() before leaving.
 */
#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int password_scheme_parse(const char *s, enum password_scheme *ret)
{
	if (strcmp(s, "yescrypt") == 0 || strcmp(s, "y") == 0) {
		*ret = PASSWORD_YESCRYPT;
		return 0;
	}
	if (strcmp(s, "sha512") == 0 || strcmp(s, "sha-512") == 0 || strcmp(s, "6") == 0) {
		*ret = PASSWORD_SHA512;
		return 0;
	}
	return -EINVAL;
}

int password_hash(const char *clear, enum password_scheme scheme, char **ret,
		  struct herd_error *err)
{
	const char *prefix = scheme == PASSWORD_SHA512 ? "$6$" : "$y$";
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	size_t n = strlen(clear);
	char *hash;
	int r = 0;

	if (n == 0)
		return herd_error_set(err, EINVAL, "password: the password is empty");
	if (n > 1024)
		return herd_error_set(err, EINVAL, "password: longer than 1024 bytes");
	if (strchr(clear, '\n') || strchr(clear, '\r'))
		return herd_error_set(err, EINVAL, "password: contains a line break");
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)))
		return herd_error_set(err, errno ? errno : EINVAL,
				      "password: libcrypt cannot make a %s salt",
				      scheme == PASSWORD_SHA512 ? "SHA-512" : "yescrypt");
	/* struct crypt_data is ~32 KiB: not on the stack. */
	data = calloc(1, sizeof(*data));
	if (!data)
		return herd_error_set(err, ENOMEM, "out of memory");
	hash = crypt_rn(clear, salt, data, (int)sizeof(*data));
	if (!hash || hash[0] == '*')
		r = herd_error_set(err, errno ? errno : EINVAL, "password: hashing failed");
	else if (!(hash = strdup(hash)))
		r = herd_error_set(err, ENOMEM, "out of memory");
	explicit_bzero(data, sizeof(*data));
	free(data);
	if (r < 0)
		return r;
	*ret = hash;
	return 0;
}
