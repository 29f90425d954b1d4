/*
 * tftp_wire.c — TFTP packet parsing and building (see tftp_wire.h).
 *
 * A request is "opcode | filename NUL | mode NUL | (name NUL value NUL)*"
 * (RFC 1350 section 5, RFC 2347).  We walk it with a cursor that hands out
 * one NUL-terminated string at a time and refuses to run past the buffer,
 * so a missing final NUL or an option name without a value is a clean
 * -EBADMSG rather than a read past the end.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/endian.h"
#include "base/parse.h"
#include "net/tftp_wire.h"

struct cursor {
	const uint8_t *p;
	size_t left;
};

/* The next NUL-terminated string, or NULL when none is complete. */
static const char *cursor_string(struct cursor *c, size_t *ret_len)
{
	const uint8_t *nul = memchr(c->p, '\0', c->left);
	const char *s = (const char *)c->p;
	size_t n;

	if (!nul)
		return NULL;
	n = (size_t)(nul - c->p);
	c->p += n + 1;
	c->left -= n + 1;
	*ret_len = n;
	return s;
}

static int request_fail(enum tftp_error_code code, const char *why, int r,
			enum tftp_error_code *ret_code, const char **ret_why)
{
	if (ret_code)
		*ret_code = code;
	if (ret_why)
		*ret_why = why;
	return r;
}

/* One option; unknown names and invalid values are ignored (the option is
 * then simply not acknowledged, RFC 2347).  Returns false when ignored. */
static bool request_option(struct tftp_request *req, const char *name, const char *value)
{
	uint64_t v;

	if (strcasecmp(name, "blksize") == 0 && !req->has_blksize) {
		/* RFC 2348: 8..65464.  A larger request is not an error: the
		 * server answers with what it can do, so clamp here. */
		if (parse_u64(value, TFTP_BLKSIZE_MIN, UINT64_MAX, &v) < 0)
			return false;
		req->blksize = v > TFTP_BLKSIZE_MAX ? TFTP_BLKSIZE_MAX : (uint32_t)v;
		req->has_blksize = true;
		return true;
	}
	if (strcasecmp(name, "tsize") == 0 && !req->has_tsize) {
		if (parse_u64(value, 0, UINT64_MAX, &v) < 0)
			return false;
		req->tsize = v;
		req->has_tsize = true;
		return true;
	}
	if (strcasecmp(name, "timeout") == 0 && !req->has_timeout) {
		if (parse_u64(value, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX, &v) < 0)
			return false;
		req->timeout = (uint32_t)v;
		req->has_timeout = true;
		return true;
	}
	if (strcasecmp(name, "windowsize") == 0 && !req->has_windowsize) {
		if (parse_u64(value, 1, TFTP_WINDOWSIZE_MAX, &v) < 0)
			return false;
		req->windowsize = (uint32_t)v;
		req->has_windowsize = true;
		return true;
	}
	return false;
}

int tftp_parse_request(const uint8_t *buf, size_t len, struct tftp_request *ret,
		       enum tftp_error_code *ret_code, const char **ret_why)
{
	struct tftp_request req = {0};
	struct cursor c;
	const char *filename, *mode;
	size_t filename_len, mode_len;
	uint16_t opcode;

	if (len < 2)
		return request_fail(TFTP_ERR_ILLEGAL, "truncated packet", -EBADMSG, ret_code,
				    ret_why);
	opcode = get_be16(buf);
	if (opcode != TFTP_OP_RRQ && opcode != TFTP_OP_WRQ)
		return request_fail(TFTP_ERR_ILLEGAL, "not a read or write request", -EPROTO,
				    ret_code, ret_why);
	if (len > TFTP_REQUEST_MAX)
		return request_fail(TFTP_ERR_ILLEGAL, "request longer than 512 bytes", -EBADMSG,
				    ret_code, ret_why);
	req.opcode = opcode;
	c.p = buf + 2;
	c.left = len - 2;

	filename = cursor_string(&c, &filename_len);
	if (!filename)
		return request_fail(TFTP_ERR_ILLEGAL, "filename not terminated", -EBADMSG, ret_code,
				    ret_why);
	mode = cursor_string(&c, &mode_len);
	if (!mode)
		return request_fail(TFTP_ERR_ILLEGAL, "mode not terminated", -EBADMSG, ret_code,
				    ret_why);
	if (filename_len == 0)
		return request_fail(TFTP_ERR_NOT_FOUND, "empty filename", -EINVAL, ret_code,
				    ret_why);
	if (filename_len > TFTP_FILENAME_MAX)
		return request_fail(TFTP_ERR_ACCESS, "filename too long", -EINVAL, ret_code,
				    ret_why);
	memcpy(req.filename, filename, filename_len + 1);

	/* RFC 1350: mode names are case-insensitive; "mail" is obsolete. */
	if (strcasecmp(mode, "octet") == 0)
		req.mode = TFTP_MODE_OCTET;
	else if (strcasecmp(mode, "netascii") == 0)
		req.mode = TFTP_MODE_NETASCII;
	else
		return request_fail(TFTP_ERR_ILLEGAL, "unsupported transfer mode", -EINVAL,
				    ret_code, ret_why);

	/* RFC 2347 options: name NUL value NUL, repeated.  Some clients
	 * (old PXE ROMs) pad with trailing NULs; an empty name ends the list. */
	while (c.left > 0) {
		const char *name, *value;
		size_t name_len, value_len;

		name = cursor_string(&c, &name_len);
		if (!name)
			return request_fail(TFTP_ERR_ILLEGAL, "option name not terminated",
					    -EBADMSG, ret_code, ret_why);
		if (name_len == 0) {
			/* Only NUL padding may follow. */
			for (size_t i = 0; i < c.left; i++)
				if (c.p[i] != '\0')
					return request_fail(TFTP_ERR_ILLEGAL,
							    "data after empty option name",
							    -EBADMSG, ret_code, ret_why);
			break;
		}
		value = cursor_string(&c, &value_len);
		if (!value)
			return request_fail(TFTP_ERR_ILLEGAL, "option without a value", -EBADMSG,
					    ret_code, ret_why);
		if (!request_option(&req, name, value))
			req.ignored_options++;
	}
	*ret = req;
	return 0;
}

int tftp_parse_packet(const uint8_t *buf, size_t len, struct tftp_packet *ret)
{
	struct tftp_packet pkt = {0};
	uint16_t opcode;

	if (len < 2)
		return -EBADMSG;
	opcode = get_be16(buf);
	switch (opcode) {
	case TFTP_OP_RRQ:
	case TFTP_OP_WRQ:
	case TFTP_OP_OACK:
		break;
	case TFTP_OP_DATA:
	case TFTP_OP_ACK:
		if (len < 4)
			return -EBADMSG;
		pkt.block = get_be16(buf + 2);
		break;
	case TFTP_OP_ERROR: {
		size_t n;

		if (len < 4)
			return -EBADMSG;
		pkt.error_code = get_be16(buf + 2);
		/* The message should be NUL-terminated; take what is there,
		 * up to the first NUL, and keep only printable bytes. */
		n = len - 4;
		if (n > TFTP_ERROR_MESSAGE_MAX)
			n = TFTP_ERROR_MESSAGE_MAX;
		for (size_t i = 0; i < n && buf[4 + i] != '\0'; i++) {
			uint8_t ch = buf[4 + i];
			pkt.error_message[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		}
		break;
	}
	default:
		return -EPROTO;
	}
	pkt.opcode = opcode;
	*ret = pkt;
	return 0;
}

/* Append "name NUL value NUL". */
static int put_option(uint8_t *buf, size_t cap, size_t *pos, const char *name, uint64_t value)
{
	char num[24];
	size_t nl = strlen(name), vl;

	vl = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	if (*pos + nl + 1 + vl + 1 > cap)
		return -ENOSPC;
	memcpy(buf + *pos, name, nl + 1);
	*pos += nl + 1;
	memcpy(buf + *pos, num, vl + 1);
	*pos += vl + 1;
	return 0;
}

int tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_oack *oack)
{
	size_t pos = 2;
	int r = 0;

	if (cap < 2)
		return -ENOSPC;
	put_be16(buf, TFTP_OP_OACK);
	if (oack->blksize)
		r = put_option(buf, cap, &pos, "blksize", oack->blksize_value);
	if (r == 0 && oack->tsize)
		r = put_option(buf, cap, &pos, "tsize", oack->tsize_value);
	if (r == 0 && oack->timeout)
		r = put_option(buf, cap, &pos, "timeout", oack->timeout_value);
	if (r == 0 && oack->windowsize)
		r = put_option(buf, cap, &pos, "windowsize", oack->windowsize_value);
	if (r < 0)
		return r;
	return (int)pos;
}

int tftp_build_error(uint8_t *buf, size_t cap, enum tftp_error_code code, const char *message)
{
	size_t n = strlen(message);

	if (n > TFTP_ERROR_MESSAGE_MAX)
		n = TFTP_ERROR_MESSAGE_MAX;
	if (cap < 4 + n + 1)
		return -ENOSPC;
	put_be16(buf, TFTP_OP_ERROR);
	put_be16(buf + 2, (uint16_t)code);
	memcpy(buf + 4, message, n);
	buf[4 + n] = '\0';
	return (int)(4 + n + 1);
}

int tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block)
{
	if (cap < 4)
		return -ENOSPC;
	put_be16(buf, TFTP_OP_ACK);
	put_be16(buf + 2, block);
	return 4;
}

void tftp_build_data_header(uint8_t out[TFTP_DATA_HEADER], uint16_t block)
{
	put_be16(out, TFTP_OP_DATA);
	put_be16(out + 2, block);
}

int tftp_build_request(uint8_t *buf, size_t cap, enum tftp_opcode opcode, const char *filename,
		       const char *mode, const char *const *options, size_t option_count)
{
	const char *parts[2 + 2 * 16];
	size_t nparts = 0, pos = 2;

	if (option_count > 16 || cap < 2)
		return -EINVAL;
	parts[nparts++] = filename;
	parts[nparts++] = mode;
	for (size_t i = 0; i < 2 * option_count; i++)
		parts[nparts++] = options[i];
	put_be16(buf, (uint16_t)opcode);
	for (size_t i = 0; i < nparts; i++) {
		size_t n = strlen(parts[i]);

		if (pos + n + 1 > cap)
			return -ENOSPC;
		memcpy(buf + pos, parts[i], n + 1);
		pos += n + 1;
	}
	return (int)pos;
}

const char *tftp_error_code_name(enum tftp_error_code code)
{
	static const char *const names[] = {
	    [TFTP_ERR_UNDEFINED] = "not defined",
	    [TFTP_ERR_NOT_FOUND] = "file not found",
	    [TFTP_ERR_ACCESS] = "access violation",
	    [TFTP_ERR_DISK_FULL] = "disk full",
	    [TFTP_ERR_ILLEGAL] = "illegal TFTP operation",
	    [TFTP_ERR_UNKNOWN_TID] = "unknown transfer ID",
	    [TFTP_ERR_EXISTS] = "file already exists",
	    [TFTP_ERR_NO_USER] = "no such user",
	    [TFTP_ERR_OPTION] = "option negotiation failed",
	};

	if ((unsigned)code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown error";
}
