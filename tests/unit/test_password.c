/*
 * test_password.c — config/password.c: yescrypt by default and SHA-512
 * on request, each hash verified by hashing the same clear text again
 * with the hash as setting (crypt_r, as PAM does); fresh salts; bad
 * input refused; scheme names.
 */
#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/password.h"
#include "config/validate.h"

static void verify(const char *clear, const char *hash)
{
	struct crypt_data *d = calloc(1, sizeof(*d));
	const char *again;

	assert_non_null(d);
	again = crypt_r(clear, hash, d);
	assert_non_null(again);
	assert_string_equal(again, hash);
	again = crypt_r("wrong", hash, d);
	assert_true(again == NULL || strcmp(again, hash) != 0);
	free(d);
}

static void test_schemes(void **state)
{
	struct herd_error err = {0};
	char *y = NULL, *y2 = NULL, *s = NULL;

	assert_int_equal(password_hash("correct horse", PASSWORD_YESCRYPT, &y, &err), 0);
	assert_memory_equal(y, "$y$", 3);
	assert_true(validate_crypt_hash(y));
	verify("correct horse", y);
	assert_int_equal(password_hash("correct horse", PASSWORD_YESCRYPT, &y2, &err), 0);
	assert_string_not_equal(y, y2); /* fresh salt each time */
	assert_int_equal(password_hash("correct horse", PASSWORD_SHA512, &s, &err), 0);
	assert_memory_equal(s, "$6$", 3);
	assert_true(validate_crypt_hash(s));
	verify("correct horse", s);
	free(y);
	free(y2);
	free(s);
}

static void test_bad(void **state)
{
	struct herd_error err = {0};
	char *h = NULL, big[1100];
	enum password_scheme sc;

	assert_int_equal(password_hash("", PASSWORD_YESCRYPT, &h, &err), -EINVAL);
	assert_non_null(strstr(herd_error_message(&err), "empty"));
	assert_int_equal(password_hash("a\nb", PASSWORD_YESCRYPT, &h, &err), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(password_hash(big, PASSWORD_SHA512, &h, &err), -EINVAL);
	assert_null(h);

	assert_int_equal(password_scheme_parse("yescrypt", &sc), 0);
	assert_int_equal(sc, PASSWORD_YESCRYPT);
	assert_int_equal(password_scheme_parse("sha512", &sc), 0);
	assert_int_equal(sc, PASSWORD_SHA512);
	assert_int_equal(password_scheme_parse("md5", &sc), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schemes),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
