/*
 * http.c — the HTTP service (see http.h).
 *
 * Files: the URL path goes through the same rules and confinement as a
 * TFTP filename (tftp_root.h, with its own root handle owned by the
 * libmicrohttpd thread, so nothing is shared with the event loop).  A
 * file in a directory is answered with MHD_create_response_from_fd_at_
 * offset64, which libmicrohttpd sends with sendfile(2); a file inside an
 * image is read through the block engine in 256 KiB pieces by a response
 * callback.
 *
 * Range (RFC 9110 section 14): one "bytes=" range (first-last, first-,
 * -suffix) gets 206 with Content-Range; an unsatisfiable one gets 416; a
 * list of several ranges is answered with the whole file (200), which the
 * RFC allows.  The header itself is parsed by http_range.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/parse.h"
#include "net/http.h"
#include "net/http_range.h"
#include "net/netlog.h"
#include "net/serve.h"
#include "net/tftp_root.h"

#define HTTP_ROUTES_MAX 64
#define HTTP_READ_CHUNK (256 * 1024)

struct http_route {
	const char *method;
	char *path;
	enum http_route_match match;
	http_route_fn fn;
	void *userdata;
};

struct http_server {
	const struct netlog *log;
	struct MHD_Daemon *daemon;
	int listen_fd;
	struct tftp_root *root; /* used only on the libmicrohttpd thread */
	struct http_route routes[HTTP_ROUTES_MAX];
	size_t nroutes;
	char listen[128];
};

int http_respond_text(struct MHD_Connection *conn, unsigned status, const char *content_type,
		      const char *body)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static int route_healthz(struct http_server *server, struct MHD_Connection *conn,
			 const char *method, const char *path, void *userdata)
{
	return http_respond_text(conn, MHD_HTTP_OK, "text/plain", "ok\n");
}

struct file_reader {
	struct tftp_file *file;
	uint64_t base;
};

static ssize_t file_reader_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct file_reader *fr = cls;
	ssize_t n = tftp_file_read(fr->file, fr->base + pos, buf, max);

	if (n <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

static void file_reader_free(void *cls)
{
	struct file_reader *fr = cls;

	tftp_file_unref(fr->file);
	free(fr);
}

static int route_files(struct http_server *server, struct MHD_Connection *conn, const char *method,
		       const char *path, void *userdata)
{
	struct tftp_file *file = NULL;
	struct MHD_Response *resp = NULL;
	enum tftp_error_code code;
	const char *why = "not found", *range_header;
	const union MHD_ConnectionInfo *ci;
	char peer[INET6_ADDRSTRLEN] = "?", content_range[96];
	uint64_t first = 0, last = 0, length;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result r;
	int range;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
			  sizeof(peer));
	else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
			  peer, sizeof(peer));

	if (!server->root || tftp_root_open_file(server->root, path[0] == '/' ? path + 1 : path,
						 TFTP_MODE_OCTET, &file, &code, &why) < 0) {
		bool denied = server->root && code == TFTP_ERR_ACCESS;

		netlog(server->log, NETLOG_INFO, "http", "%s %s %s: %s", peer, method, path,
		       server->root ? why : "no root served");
		return http_respond_text(conn, denied ? MHD_HTTP_FORBIDDEN : MHD_HTTP_NOT_FOUND,
					 "text/plain", denied ? "forbidden\n" : "not found\n");
	}

	range_header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	range = http_range_parse(range_header, file->size, &first, &last);
	if (range < 0) {
		snprintf(content_range, sizeof(content_range), "bytes */%llu",
			 (unsigned long long)file->size);
		tftp_file_unref(file);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
		r = MHD_queue_response(conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
		MHD_destroy_response(resp);
		netlog(server->log, NETLOG_INFO, "http", "%s %s %s: range '%s' not satisfiable",
		       peer, method, path, range_header);
		return r;
	}
	if (range == 0) {
		first = 0;
		length = file->size;
	} else {
		length = last - first + 1;
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(content_range, sizeof(content_range), "bytes %llu-%llu/%llu",
			 (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)file->size);
	}

	if (file->fd >= 0) {
		/* A real file: libmicrohttpd sends it with sendfile and closes
		 * the descriptor when done. */
		int fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 3);

		if (fd >= 0) {
			resp = MHD_create_response_from_fd_at_offset64(length, fd, first);
			if (!resp)
				close(fd);
		}
		tftp_file_unref(file);
	} else {
		struct file_reader *fr = calloc(1, sizeof(*fr));

		if (fr) {
			fr->file = file;
			fr->base = first;
			resp = MHD_create_response_from_callback(
			    length, HTTP_READ_CHUNK, file_reader_read, fr, file_reader_free);
			if (!resp)
				file_reader_free(fr);
		} else {
			tftp_file_unref(file);
		}
	}
	if (!resp)
		return http_respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
					 "out of resources\n");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (status == MHD_HTTP_PARTIAL_CONTENT)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	netlog(server->log, NETLOG_INFO, "http", "%s %s %s: %u, %llu bytes", peer, method, path,
	       status, (unsigned long long)length);
	return r;
}

static bool route_matches(const struct http_route *route, const char *method, const char *path)
{
	if (route->method ? strcmp(route->method, method) != 0
			  : (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
		return false;
	if (route->match == HTTP_ROUTE_EXACT)
		return strcmp(route->path, path) == 0;
	return strncmp(route->path, path, strlen(route->path)) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *server = cls;

	/* libmicrohttpd calls once with the headers, then for the body;
	 * answer on the second call so a body never arrives unasked. */
	if (*con_cls == NULL) {
		*con_cls = server; /* any non-NULL marker */
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* no route takes a body yet: discard */
		return MHD_YES;
	}
	for (size_t i = 0; i < server->nroutes; i++)
		if (route_matches(&server->routes[i], method, url))
			return server->routes[i].fn(server, conn, method, url,
						    server->routes[i].userdata) == MHD_YES
				   ? MHD_YES
				   : MHD_NO;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return route_files(server, conn, method, url, NULL) == MHD_YES ? MHD_YES : MHD_NO;
	return http_respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				 "method not allowed\n") == MHD_YES
		   ? MHD_YES
		   : MHD_NO;
}

/* libmicrohttpd's log callback (MHD_OPTION_EXTERNAL_LOGGER): fmt is a
 * printf format from the library. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *server = cls;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	netlog(server->log, NETLOG_WARN, "http", "%s", line);
}

int http_server_add_route(struct http_server *server, const char *method, const char *path,
			  enum http_route_match match, http_route_fn fn, void *userdata)
{
	struct http_route *route;

	if (server->nroutes >= HTTP_ROUTES_MAX)
		return -ENOSPC;
	route = &server->routes[server->nroutes];
	route->path = strdup(path);
	if (!route->path)
		return -ENOMEM;
	route->method = method;
	route->match = match;
	route->fn = fn;
	route->userdata = userdata;
	server->nroutes++;
	return 0;
}

/* "ADDR:PORT", ":PORT" or "PORT" (IPv4, all addresses by default), or
 * "[ADDR6]:PORT" (IPv6; "[::]:PORT" also takes IPv4 as mapped addresses). */
static int parse_listen(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len,
			struct herd_error *err)
{
	const char *colon = strrchr(spec, ':');
	char host[INET6_ADDRSTRLEN] = "0.0.0.0";
	bool v6 = spec[0] == '[';
	uint32_t port;

	memset(ret, 0, sizeof(*ret));
	if (v6) {
		const char *close = strchr(spec, ']');
		size_t n = close ? (size_t)(close - spec - 1) : 0;

		if (!close || close[1] != ':' || n == 0 || n >= sizeof(host))
			return herd_error_set(err, EINVAL, "http: '%s': expected [ADDR6]:PORT",
					      spec);
		memcpy(host, spec + 1, n);
		host[n] = '\0';
		colon = close + 1;
	} else if (colon) {
		size_t n = (size_t)(colon - spec);

		if (n >= INET_ADDRSTRLEN)
			return herd_error_set(err, EINVAL, "http: '%s': bad address", spec);
		if (n > 0) {
			memcpy(host, spec, n);
			host[n] = '\0';
		}
	}
	if (parse_u32(colon ? colon + 1 : spec, 1, 65535, &port) < 0)
		return herd_error_set(err, EINVAL, "http: '%s': expected ADDR:PORT", spec);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ret;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return herd_error_set(
			    err, EINVAL, "http: '%s': '%s' is not an IPv6 address", spec, host);
		*ret_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ret;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return herd_error_set(
			    err, EINVAL, "http: '%s': '%s' is not an IPv4 address", spec, host);
		*ret_len = sizeof(*a);
	}
	return 0;
}

void http_server_free(struct http_server *server)
{
	if (!server)
		return;
	if (server->daemon)
		MHD_stop_daemon(server->daemon);
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	tftp_root_free(server->root);
	for (size_t i = 0; i < server->nroutes; i++)
		free(server->routes[i].path);
	free(server);
}

int http_server_new(struct evloop *loop, const struct serve_config *cfg, const struct netlog *log,
		    struct http_server **ret, struct herd_error *err)
{
	struct tftp_root_limits limits = {.no_cache = true};
	const char *root = cfg->http.root ? cfg->http.root : cfg->tftp.root;
	struct http_server *server;
	struct sockaddr_storage addr;
	socklen_t addr_len = 0;
	int one = 1, r;

	if (!cfg->http.listen)
		return herd_error_set(err, EINVAL, "http: no listen address");
	r = parse_listen(cfg->http.listen, &addr, &addr_len, err);
	if (r < 0)
		return r;
	server = calloc(1, sizeof(*server));
	if (!server)
		return herd_error_set(err, ENOMEM, "http: out of memory");
	server->log = log;
	server->listen_fd = -1;
	snprintf(server->listen, sizeof(server->listen), "%s", cfg->http.listen);
	if (root) {
		r = tftp_root_open(root, &limits, &server->root, err);
		if (r < 0) {
			herd_error_prefix(err, -r, "http: root");
			goto fail;
		}
	}
	r = http_server_add_route(server, NULL, "/healthz", HTTP_ROUTE_EXACT, route_healthz, NULL);
	if (r < 0) {
		herd_error_set(err, -r, "http: routes: %s", strerror(-r));
		goto fail;
	}

	/* Bind here, as root, before privileges are dropped. */
	server->listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (server->listen_fd < 0) {
		r = herd_error_set(err, errno, "http: socket: %m");
		goto fail;
	}
	(void)setsockopt(server->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr.ss_family == AF_INET6) {
		/* "[::]:PORT" takes IPv4 too, whatever net.ipv6.bindv6only says. */
		int zero = 0;
		(void)setsockopt(server->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(server->listen_fd, (struct sockaddr *)&addr, addr_len) < 0 ||
	    listen(server->listen_fd, 256) < 0) {
		r = herd_error_set(err, errno, "http: listen on %s: %m", cfg->http.listen);
		goto fail;
	}
	server->daemon = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, server,
	    MHD_OPTION_LISTEN_SOCKET, server->listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
	if (!server->daemon) {
		r = herd_error_set(err, EIO, "http: cannot start libmicrohttpd on %s",
				   cfg->http.listen);
		goto fail;
	}
	server->listen_fd = -1; /* the daemon owns it now */
	netlog(log, NETLOG_INFO, "http", "serving %s on %s", root ? root : "/healthz only",
	       cfg->http.listen);
	*ret = server;
	return 0;
fail:
	http_server_free(server);
	return r;
}

void http_server_quiesce(struct http_server *server)
{
	if (!server || !server->daemon)
		return;
	/* Stop accepting; MHD hands the listening socket back to us. */
	int fd = MHD_quiesce_daemon(server->daemon);

	if (fd >= 0)
		close(fd);
}
