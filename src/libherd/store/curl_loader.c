/*
 * curl_loader.c — dlopen() of libcurl on first use (see curl_loader.h).
 */
#include "store/curl_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct herd_curl_api api; /* written once under load_once, then read-only */
static char load_error[256];
static int load_status = -ELIBACC;

static void load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load libcurl: %s", dlerror());
		return;
	}
	api.easy_init = (CURL * (*)(void)) dlsym(h, "curl_easy_init");
	api.easy_setopt = (CURLcode(*)(CURL *, CURLoption, ...))dlsym(h, "curl_easy_setopt");
	api.easy_perform = (CURLcode(*)(CURL *))dlsym(h, "curl_easy_perform");
	api.easy_getinfo = (CURLcode(*)(CURL *, CURLINFO, ...))dlsym(h, "curl_easy_getinfo");
	api.easy_cleanup = (void (*)(CURL *))dlsym(h, "curl_easy_cleanup");
	api.easy_strerror = (const char *(*)(CURLcode))dlsym(h, "curl_easy_strerror");
	if (!api.easy_init || !api.easy_setopt || !api.easy_perform || !api.easy_getinfo ||
	    !api.easy_cleanup || !api.easy_strerror) {
		snprintf(load_error, sizeof(load_error), "libcurl.so.4 lacks curl_easy_* symbols");
		return;
	}
	load_status = 0;
}

int herd_curl_load(struct herd_error *err)
{
	pthread_once(&load_once, load);
	if (load_status < 0)
		return herd_error_set(err, ELIBACC, "%s", load_error);
	return 0;
}

const struct herd_curl_api *herd_curl(void)
{
	return &api;
}
