/*
 * curl_loader.h — libcurl, loaded when the first download starts.
 *
 * Linking libcurl into herd costs every invocation ~10 ms and ~490 page
 * faults at start-up on our test machines (libcurl pulls in GnuTLS,
 * Kerberos, LDAP, libssh2, nghttp2…), which is half the budget of
 * `herd fs put` (≤ 20 ms).  Only downloads need it, so it is dlopen()ed
 * then: herd_curl_load() resolves the handful of entry points once per
 * process (pthread_once; the table is immutable afterwards) and
 * herd_curl() returns that table.  Headers and types still come from
 * <curl/curl.h>; only the link is deferred.
 */
#pragma once

#include <curl/curl.h>

#include "base/error.h"

struct herd_curl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *curl);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
};

/* Load libcurl.so.4 once.  Returns 0, or -ELIBACC with a message. */
int herd_curl_load(struct herd_error *err);
/* The loaded table; only valid after herd_curl_load() returned 0. */
const struct herd_curl_api *herd_curl(void);
