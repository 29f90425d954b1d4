/*
 * test_store_oslist.c — Raspberry Pi Imager OS lists: nested subitems,
 * field types, malformed documents, and `latest` selection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store/oslist.h"

static const char fixture[] =
    "{\"imager\": {\"latest_version\": \"1.9\"}, \"os_list\": ["
    " {\"name\": \"Raspberry Pi OS (64-bit)\", \"url\": "
    "\"http://h/2024-11-19-raspios-bookworm-arm64.img.xz\","
    "  \"release_date\": \"2024-11-19\", \"extract_size\": 6000000000, \"extract_sha256\": \"aa\","
    "  \"image_download_size\": 1200000000, \"image_download_sha256\": \"bb\","
    "  \"devices\": [\"pi5-64bit\", \"pi4-64bit\", \"pi3-64bit\"]},"
    " {\"name\": \"Raspberry Pi OS (other)\", \"subitems\": ["
    "   {\"name\": \"Raspberry Pi OS Lite (64-bit)\", \"url\": "
    "\"http://h/2024-11-19-raspios-bookworm-arm64-lite.img.xz\","
    "    \"release_date\": \"2024-11-19\", \"devices\": [\"pi5-64bit\", \"pi4-64bit\"]},"
    "   {\"name\": \"Raspberry Pi OS Lite (32-bit)\", \"url\": "
    "\"http://h/2024-11-19-raspios-bookworm-armhf-lite.img.xz\","
    "    \"release_date\": \"2024-11-19\", \"devices\": [\"pi4-32bit\", \"pi3-32bit\"]},"
    "   {\"name\": \"Raspberry Pi OS (Legacy, 64-bit) Lite\", \"url\": "
    "\"http://h/2024-10-22-raspios-bullseye-arm64-lite.img.xz\","
    "    \"release_date\": \"2024-10-22\", \"devices\": [\"pi4-64bit\", \"pi3-64bit\"]},"
    "   {\"name\": \"Raspberry Pi OS Full (64-bit)\", \"url\": \"http://h/full.img.xz\","
    "    \"release_date\": \"2024-12-01\"},"
    "   {\"name\": \"Nested\", \"subitems\": [{\"name\": \"Raspberry Pi OS Lite (64-bit) beta\","
    "     \"url\": \"http://h/2025-01-01-beta-arm64-lite.img.xz\", \"release_date\": "
    "\"2025-01-01\","
    "     \"devices\": [\"pi5-64bit\"]}]}"
    " ]},"
    " {\"name\": \"Other OS\", \"subitems_url\": \"http://h/other.json\"},"
    " {\"name\": \"Ubuntu\", \"url\": \"http://h/ubuntu.img.xz\", \"release_date\": "
    "\"2025-02-02\"},"
    " {\"name\": \"Erase\", \"url\": \"\"}, 42, \"junk\""
    "]}";

static void test_parse(void **state)
{
	struct store_os_list list;
	(void)state;

	assert_int_equal(store_os_list_parse(fixture, strlen(fixture), &list, NULL), 0);
	assert_int_equal(list.count, 7);
	assert_string_equal(list.images[0].name, "Raspberry Pi OS (64-bit)");
	assert_true(list.images[0].extract_size == 6000000000ull);
	assert_true(list.images[0].download_size == 1200000000ull);
	assert_string_equal(list.images[0].extract_sha256, "aa");
	assert_string_equal(list.images[0].download_sha256, "bb");
	assert_int_equal(list.images[0].devices.count, 3);
	assert_string_equal(list.images[1].release_date, "2024-11-19");
	assert_string_equal(list.images[4].extract_sha256, "");
	assert_string_equal(list.images[5].name, "Raspberry Pi OS Lite (64-bit) beta");
	assert_string_equal(list.images[6].name, "Ubuntu");
	store_os_list_free(&list);
	store_os_list_free(&list); /* twice is harmless */
}

static void test_latest(void **state)
{
	struct store_os_list list;
	const struct store_os_image *img = NULL;
	struct store_os_filter f = {.model = "pi4", .variant = STORE_OS_LITE, .arch = "arm64"};
	struct herd_error err = {0};
	(void)state;

	assert_int_equal(store_os_list_parse(fixture, strlen(fixture), &list, NULL), 0);
	assert_int_equal(store_os_list_latest(&list, &f, &img, NULL), 0);
	assert_string_equal(img->name, "Raspberry Pi OS Lite (64-bit)");
	f.model = "pi5"; /* the beta is newer and only for pi5 */
	assert_int_equal(store_os_list_latest(&list, &f, &img, NULL), 0);
	assert_string_equal(img->name, "Raspberry Pi OS Lite (64-bit) beta");
	f.model = "pi4";
	f.arch = "armhf";
	assert_int_equal(store_os_list_latest(&list, &f, &img, NULL), 0);
	assert_string_equal(img->name, "Raspberry Pi OS Lite (32-bit)");
	f.variant = STORE_OS_DESKTOP;
	f.arch = "arm64";
	assert_int_equal(store_os_list_latest(&list, &f, &img, NULL), 0);
	assert_string_equal(img->name, "Raspberry Pi OS (64-bit)");
	f.model = "pi2";
	img = NULL;
	assert_int_equal(store_os_list_latest(&list, &f, &img, &err), -ENOENT);
	assert_null(img);
	assert_non_null(strstr(err.message, "pi2"));
	/* Ubuntu is never "latest" Raspberry Pi OS, however new. */
	f = (struct store_os_filter){0};
	assert_int_equal(store_os_list_latest(&list, &f, &img, NULL), 0);
	assert_string_equal(img->name, "Raspberry Pi OS Lite (64-bit) beta");
	store_os_list_free(&list);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"os_list\": {}}",
	    "{\"os_list\": [ {\"subitems\": 3} ]}",
	    "{\"os_list\": [], \"os_list\": []}",
	    "{\"os_list\": [1,]}",
	    "null",
	    "{\"os_list\": [{\"subitems\": [{\"subitems\": [{\"subitems\": [{\"subitems\": "
	    "[{\"subitems\": [{\"subitems\": [{\"subitems\": [{\"subitems\": [{\"subitems\": "
	    "[{\"subitems\": []}]}]}]}]}]}]}]}]}]}]}",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store_os_list list = {0};
		struct herd_error err = {0};
		assert_int_equal(store_os_list_parse(bad[i], strlen(bad[i]), &list, &err), -EINVAL);
		assert_true(err.message[0] != '\0');
		assert_null(list.images);
	}
	/* Wrong types of optional fields read as absent. */
	{
		static const char odd[] =
		    "{\"os_list\": [{\"name\": 5, \"url\": \"http://x/a.img\","
		    " \"extract_size\": \"big\", \"devices\": [1, \"pi4\"]}]}";
		struct store_os_list list;
		assert_int_equal(store_os_list_parse(odd, strlen(odd), &list, NULL), 0);
		assert_int_equal(list.count, 1);
		assert_string_equal(list.images[0].name, "");
		assert_int_equal(list.images[0].extract_size, 0);
		assert_int_equal(list.images[0].devices.count, 1);
		store_os_list_free(&list);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_latest),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
