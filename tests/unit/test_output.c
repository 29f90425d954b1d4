/*
 * test_output.c — table and JSON printers and format_size
 * (src/herd/output.c): exact output captured with open_memstream,
 * format_size at every unit boundary, JSON indentation and order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "output.h"

static void check_size(unsigned long long bytes, const char *want)
{
	char buf[32];

	format_size(buf, sizeof(buf), bytes);
	assert_string_equal(buf, want);
}

static void test_format_size(void **state)
{
	char small[4];

	check_size(0, "0 B");
	check_size(1, "1 B");
	check_size(1023, "1023 B");
	check_size(1024, "1.0 KiB");
	check_size(1535, "1.5 KiB");
	check_size(10239, "10.0 KiB");	 /* 9.999 rounds to 10.0, one decimal below 100 */
	check_size(102348, "99.9 KiB");	 /* 99.949 */
	check_size(102350, "100 KiB");	 /* 99.951 rounds to 100: no decimal */
	check_size(1048063, "1023 KiB"); /* 1023.499 */
	check_size(1048064, "1.0 MiB");	 /* 1023.5 would print "1024 KiB" */
	check_size(1048575, "1.0 MiB");
	check_size(1048576, "1.0 MiB");
	check_size(3670016, "3.5 MiB");
	check_size(2684354560ull, "2.5 GiB");
	check_size(1ull << 40, "1.0 TiB");
	check_size(1ull << 50, "1.0 PiB");
	check_size((1ull << 50) - 1, "1.0 PiB");
	check_size(1ull << 60, "1.0 EiB");
	check_size(UINT64_MAX, "16.0 EiB");
	format_size(small, sizeof(small), 1024);
	assert_string_equal(small, "1.0"); /* truncated, terminated */
}

static char *print_table(const struct table *t)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	assert_non_null(f);
	table_print(t, f);
	fclose(f);
	return data;
}

static void test_table_alignment(void **state)
{
	struct table *t = table_new(3);
	const char *r1[] = {"red01", "29.7 GiB", "SanDisk Ultra"};
	const char *r2[] = {"blue001", "512 MiB", NULL};
	char *out;

	assert_non_null(t);
	table_set_header(t, 0, "NAME", TABLE_LEFT);
	table_set_header(t, 1, "SIZE", TABLE_RIGHT);
	table_set_header(t, 2, "MODEL", TABLE_LEFT);
	table_set_header(t, 3, "IGNORED", TABLE_LEFT); /* out of range: ignored */
	assert_int_equal(table_add_row(t, r1), 0);
	assert_int_equal(table_add_row(t, r2), 0);
	out = print_table(t);
	/* widths fit the widest cell, two spaces apart, numbers right,
	 * NULL as "-", no trailing blanks */
	assert_string_equal(out, "NAME         SIZE  MODEL\n"
				 "red01    29.7 GiB  SanDisk Ultra\n"
				 "blue001   512 MiB  -\n");
	free(out);
	table_free(t);
}

static void test_table_trailing_blanks(void **state)
{
	struct table *t = table_new(3);
	const char *r1[] = {"a", "", ""};
	const char *r2[] = {"", "", "z"};
	const char *r3[] = {"long-name", "12", ""};
	char *out;

	table_set_header(t, 0, "A", TABLE_LEFT);
	table_set_header(t, 1, "N", TABLE_RIGHT);
	table_set_header(t, 2, "LAST", TABLE_LEFT);
	table_add_row(t, r1);
	table_add_row(t, r2);
	table_add_row(t, r3);
	out = print_table(t);
	/* empty cells keep the columns aligned and leave nothing at the end */
	assert_string_equal(out, "A           N  LAST\n"
				 "a\n"
				 "               z\n"
				 "long-name  12\n");
	free(out);
	table_free(t);
}

static void test_table_right_last(void **state)
{
	struct table *t = table_new(2);
	const char *r1[] = {"x", "1"};
	const char *r2[] = {"y", "1000"};
	char *out;

	table_set_header(t, 0, "K", TABLE_LEFT);
	table_set_header(t, 1, "COUNT", TABLE_RIGHT);
	table_add_row(t, r1);
	table_add_row(t, r2);
	out = print_table(t);
	assert_string_equal(out, "K  COUNT\n"
				 "x      1\n"
				 "y   1000\n");
	free(out);
	table_free(t);
}

static void test_table_sanitized_utf8(void **state)
{
	struct table *t = table_new(2);
	const char *r1[] = {"\xc2\xb5SD", "evil\033[2J\nrow"}; /* µSD */
	const char *r2[] = {"card", "ok"};
	char *out;

	table_set_header(t, 0, "DEV", TABLE_LEFT);
	table_set_header(t, 1, "MODEL", TABLE_LEFT);
	table_add_row(t, r1);
	table_add_row(t, r2);
	out = print_table(t);
	/* "µSD" is 3 columns wide, like "DEV"; control bytes become '?' */
	assert_string_equal(out, "DEV   MODEL\n"
				 "\xc2\xb5SD   evil?[2J?row\n"
				 "card  ok\n");
	free(out);
	table_free(t);
}

static void test_table_no_header_many_rows(void **state)
{
	struct table *t = table_new(2);
	char *out, *want;
	size_t want_len = 0;
	FILE *f = open_memstream(&want, &want_len);

	/* more rows than the first allocation (16) */
	for (int i = 0; i < 40; i++) {
		char k[16], v[16];
		const char *row[] = {k, v};

		snprintf(k, sizeof(k), "key%d", i);
		snprintf(v, sizeof(v), "%d", i * i);
		assert_int_equal(table_add_row(t, row), 0);
		fprintf(f, "%-5s  %s\n", k, v);
	}
	fclose(f);
	out = print_table(t);
	/* no titles: no header line */
	assert_string_equal(out, want);
	free(out);
	free(want);
	table_free(t);
	assert_null(table_free(NULL));
}

static char *dump(json_t *value, int *ret_rc)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	assert_non_null(f);
	*ret_rc = output_json_to(f, value);
	fclose(f);
	return data;
}

static void test_json(void **state)
{
	json_t *obj = json_object();
	json_t *arr = json_array();
	char *out;
	int rc;

	/* keys in insertion order, indented by 2, trailing newline */
	json_object_set_new(obj, "name", json_string("red01"));
	json_object_set_new(obj, "size", json_integer(31914983424));
	json_object_set_new(obj, "mounted", json_false());
	json_array_append_new(arr, json_string("/dev/sdb1"));
	json_object_set_new(obj, "partitions", arr);
	out = dump(obj, &rc);
	assert_int_equal(rc, EXIT_OK);
	assert_string_equal(out, "{\n"
				 "  \"name\": \"red01\",\n"
				 "  \"size\": 31914983424,\n"
				 "  \"mounted\": false,\n"
				 "  \"partitions\": [\n"
				 "    \"/dev/sdb1\"\n"
				 "  ]\n"
				 "}\n");
	free(out);

	/* a bare value is valid JSON too (needs JSON_ENCODE_ANY) */
	out = dump(json_string("a\"b\n"), &rc);
	assert_int_equal(rc, EXIT_OK);
	assert_string_equal(out, "\"a\\\"b\\n\"\n");
	free(out);
	out = dump(json_array(), &rc);
	assert_int_equal(rc, EXIT_OK);
	assert_string_equal(out, "[]\n");
	free(out);

	/* NULL means building the value failed: an error, nothing printed */
	out = dump(NULL, &rc);
	assert_int_equal(rc, EXIT_FAIL);
	assert_string_equal(out, "");
	free(out);
}

/* output_json_strv writes to stdout: point fd 1 at a temporary file. */
static char *capture_stdout_strv(const struct strv *v, int *ret_rc)
{
	FILE *tmp = tmpfile();
	int saved;
	long n;
	char *data;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	*ret_rc = output_json_strv(v);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	fseek(tmp, 0, SEEK_END);
	n = ftell(tmp);
	rewind(tmp);
	data = calloc(1, (size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return data;
}

static void test_json_strv(void **state)
{
	struct strv v = STRV_INIT;
	char *out;
	int rc;

	out = capture_stdout_strv(&v, &rc);
	assert_int_equal(rc, EXIT_OK);
	assert_string_equal(out, "[]\n");
	free(out);
	assert_int_equal(strv_push(&v, "red01"), 0);
	assert_int_equal(strv_push(&v, "red02"), 0);
	out = capture_stdout_strv(&v, &rc);
	assert_int_equal(rc, EXIT_OK);
	assert_string_equal(out, "[\n  \"red01\",\n  \"red02\"\n]\n");
	free(out);
	/* not UTF-8: jansson refuses the string; a clear failure, no output */
	assert_int_equal(strv_push(&v, "bad\xff"), 0);
	out = capture_stdout_strv(&v, &rc);
	assert_int_equal(rc, EXIT_FAIL);
	assert_string_equal(out, "");
	free(out);
	strv_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_size),
	    cmocka_unit_test(test_table_alignment),
	    cmocka_unit_test(test_table_trailing_blanks),
	    cmocka_unit_test(test_table_right_last),
	    cmocka_unit_test(test_table_sanitized_utf8),
	    cmocka_unit_test(test_table_no_header_many_rows),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_json_strv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
