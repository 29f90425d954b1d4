/*
 * dhcp_wire.c — parse and build DHCPv4 packets (see dhcp_wire.h).
 *
 * Parsing runs in two steps: a bounds-checked walk of the option areas
 * (options field, then `file`, then `sname` when option 52 says they are
 * overloaded — the order RFC 3396 §7 gives for concatenation) that records
 * each piece, then one copy that lays the pieces of every code end to end
 * into option_data.  The walk never reads past the area it is in, so a
 * length byte pointing outside is an error, not a read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/endian.h"
#include "net/dhcp_wire.h"

struct option_piece {
	uint8_t code;
	uint8_t length;
	uint16_t offset;
};

/* Every piece takes at least 2 bytes of a packet of at most DHCP_PACKET_MAX. */
#define PIECES_MAX (DHCP_PACKET_MAX / 2 + 1)

/* Walk [start, end) of buf; append pieces.  END stops the walk; running
 * off the end without END is fine (the area is padded or simply full). */
static int walk_options(const uint8_t *buf, size_t start, size_t end, const char *area,
			struct option_piece *pieces, size_t *count, struct herd_error *err)
{
	size_t i = start;

	while (i < end) {
		uint8_t code = buf[i];
		if (code == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (code == DHCP_OPT_END)
			return 0;
		if (i + 1 >= end)
			return herd_error_set(err, EBADMSG, "%s: option %u has no length byte",
					      area, code);
		size_t length = buf[i + 1];
		if (i + 2 + length > end)
			return herd_error_set(err, EBADMSG,
					      "%s: option %u length %zu runs past the end", area,
					      code, length);
		if (*count >= PIECES_MAX)
			return herd_error_set(err, EBADMSG, "too many options");
		pieces[*count] = (struct option_piece){
		    .code = code, .length = (uint8_t)length, .offset = (uint16_t)(i + 2)};
		(*count)++;
		i += 2 + length;
	}
	return 0;
}

static void copy_field(char *dst, const uint8_t *src, size_t size)
{
	size_t n = 0;
	while (n < size && src[n] != '\0')
		n++;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int dhcp_packet_parse(const uint8_t *buf, size_t len, struct dhcp_packet *ret,
		      struct herd_error *err)
{
	struct option_piece pieces[PIECES_MAX];
	size_t count = 0, main_count, fill[256];
	uint8_t overload = 0;
	int r;

	if (len < DHCP_OPTIONS_OFFSET)
		return herd_error_set(err, EBADMSG, "packet of %zu bytes is too short", len);
	if (len > DHCP_PACKET_MAX)
		return herd_error_set(err, EBADMSG, "packet of %zu bytes is too long", len);
	if (get_be32(buf + DHCP_HEADER_SIZE) != DHCP_MAGIC_COOKIE)
		return herd_error_set(err, EBADMSG, "no DHCP magic cookie");
	if (buf[2] > 16)
		return herd_error_set(err, EBADMSG, "hardware address length %u", buf[2]);

	r = walk_options(buf, DHCP_OPTIONS_OFFSET, len, "options", pieces, &count, err);
	if (r < 0)
		return r;
	main_count = count;

	/* RFC 2132 §9.3: option 52 lives in the options field only. */
	for (size_t i = 0; i < main_count; i++) {
		if (pieces[i].code != DHCP_OPT_OVERLOAD)
			continue;
		if (pieces[i].length != 1 || buf[pieces[i].offset] < 1 || buf[pieces[i].offset] > 3)
			return herd_error_set(err, EBADMSG, "bad option overload (52)");
		overload = buf[pieces[i].offset];
	}
	if (overload & 1) {
		r = walk_options(buf, 108, 236, "file", pieces, &count, err);
		if (r < 0)
			return r;
	}
	if (overload & 2) {
		r = walk_options(buf, 44, 108, "sname", pieces, &count, err);
		if (r < 0)
			return r;
	}

	memset(ret->option_present, 0, sizeof(ret->option_present));
	memset(ret->option_length, 0, sizeof(ret->option_length));
	for (size_t i = 0; i < count; i++) {
		ret->option_present[pieces[i].code] = true;
		ret->option_length[pieces[i].code] += pieces[i].length;
	}
	/* The pieces come from a packet of at most DHCP_PACKET_MAX bytes, so
	 * their sum fits option_data. */
	size_t offset = 0;
	for (size_t c = 0; c < 256; c++) {
		ret->option_offset[c] = (uint16_t)offset;
		fill[c] = offset;
		offset += ret->option_length[c];
	}
	for (size_t i = 0; i < count; i++) {
		memcpy(ret->option_data + fill[pieces[i].code], buf + pieces[i].offset,
		       pieces[i].length);
		fill[pieces[i].code] += pieces[i].length;
	}

	ret->op = buf[0];
	ret->htype = buf[1];
	ret->hlen = buf[2];
	ret->hops = buf[3];
	ret->xid = get_be32(buf + 4);
	ret->secs = get_be16(buf + 8);
	ret->flags = get_be16(buf + 10);
	ret->ciaddr = get_be32(buf + 12);
	ret->yiaddr = get_be32(buf + 16);
	ret->siaddr = get_be32(buf + 20);
	ret->giaddr = get_be32(buf + 24);
	memcpy(ret->chaddr, buf + 28, 16);
	if (overload & 2)
		ret->sname[0] = '\0';
	else
		copy_field(ret->sname, buf + 44, 64);
	if (overload & 1)
		ret->file[0] = '\0';
	else
		copy_field(ret->file, buf + 108, 128);

	ret->message_type = 0;
	if (ret->option_present[DHCP_OPT_MESSAGE_TYPE]) {
		if (ret->option_length[DHCP_OPT_MESSAGE_TYPE] != 1)
			return herd_error_set(err, EBADMSG, "message type option of %u bytes",
					      ret->option_length[DHCP_OPT_MESSAGE_TYPE]);
		ret->message_type = ret->option_data[ret->option_offset[DHCP_OPT_MESSAGE_TYPE]];
	}
	return 0;
}

const uint8_t *dhcp_packet_option(const struct dhcp_packet *p, uint8_t code, size_t *ret_len)
{
	if (!p->option_present[code])
		return NULL;
	if (ret_len)
		*ret_len = p->option_length[code];
	return p->option_data + p->option_offset[code];
}

static int option_fixed(const struct dhcp_packet *p, uint8_t code, size_t want, const uint8_t **ret)
{
	size_t n;
	const uint8_t *v = dhcp_packet_option(p, code, &n);
	if (!v)
		return -ENOENT;
	if (n != want)
		return -EBADMSG;
	*ret = v;
	return 0;
}

int dhcp_packet_option_ip(const struct dhcp_packet *p, uint8_t code, uint32_t *ret)
{
	return dhcp_packet_option_u32(p, code, ret);
}

int dhcp_packet_option_u32(const struct dhcp_packet *p, uint8_t code, uint32_t *ret)
{
	const uint8_t *v;
	int r = option_fixed(p, code, 4, &v);
	if (r < 0)
		return r;
	*ret = get_be32(v);
	return 0;
}

int dhcp_packet_option_u16(const struct dhcp_packet *p, uint8_t code, uint16_t *ret)
{
	const uint8_t *v;
	int r = option_fixed(p, code, 2, &v);
	if (r < 0)
		return r;
	*ret = get_be16(v);
	return 0;
}

bool dhcp_packet_requests(const struct dhcp_packet *p, uint8_t code)
{
	size_t n;
	const uint8_t *v = dhcp_packet_option(p, DHCP_OPT_PARAMETER_LIST, &n);
	if (!v)
		return false;
	return memchr(v, code, n) != NULL;
}

const char *dhcp_message_type_name(uint8_t type)
{
	static const char *const names[] = {"BOOTP", "DISCOVER", "OFFER",   "REQUEST", "DECLINE",
					    "ACK",   "NAK",	 "RELEASE", "INFORM"};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "UNKNOWN";
}

void dhcp_builder_init(struct dhcp_builder *b, uint8_t *buf, size_t capacity, uint8_t op,
		       const struct dhcp_packet *request)
{
	b->buf = buf;
	b->capacity = capacity;
	b->length = DHCP_OPTIONS_OFFSET;
	b->overflow = capacity < DHCP_BOOTP_MIN;
	if (b->overflow)
		return;
	memset(buf, 0, DHCP_OPTIONS_OFFSET);
	buf[0] = op;
	buf[1] = request->htype;
	buf[2] = request->hlen;
	put_be32(buf + 4, request->xid);
	/* RFC 2131 §4.3.1 table 3: flags and giaddr come from the client. */
	put_be16(buf + 10, request->flags);
	put_be32(buf + 24, request->giaddr);
	memcpy(buf + 28, request->chaddr, 16);
	put_be32(buf + DHCP_HEADER_SIZE, DHCP_MAGIC_COOKIE);
}

void dhcp_builder_set_yiaddr(struct dhcp_builder *b, uint32_t ip)
{
	if (!b->overflow)
		put_be32(b->buf + 16, ip);
}

void dhcp_builder_set_siaddr(struct dhcp_builder *b, uint32_t ip)
{
	if (!b->overflow)
		put_be32(b->buf + 20, ip);
}

void dhcp_builder_set_ciaddr(struct dhcp_builder *b, uint32_t ip)
{
	if (!b->overflow)
		put_be32(b->buf + 12, ip);
}

static void set_field(struct dhcp_builder *b, size_t offset, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (b->overflow)
		return;
	if (n > size - 1)
		n = size - 1;
	memset(b->buf + offset, 0, size);
	memcpy(b->buf + offset, s, n);
}

void dhcp_builder_set_sname(struct dhcp_builder *b, const char *s)
{
	set_field(b, 44, 64, s);
}

void dhcp_builder_set_file(struct dhcp_builder *b, const char *s)
{
	set_field(b, 108, 128, s);
}

void dhcp_builder_add(struct dhcp_builder *b, uint8_t code, const void *data, size_t len)
{
	const uint8_t *src = data;

	/* An empty option still takes code + length; a long one is split. */
	do {
		size_t piece = len > 255 ? 255 : len;
		/* Keep one byte for END. */
		if (b->overflow || b->length + 2 + piece + 1 > b->capacity) {
			b->overflow = true;
			return;
		}
		b->buf[b->length] = code;
		b->buf[b->length + 1] = (uint8_t)piece;
		if (piece)
			memcpy(b->buf + b->length + 2, src, piece);
		b->length += 2 + piece;
		src += piece;
		len -= piece;
	} while (len > 0);
}

void dhcp_builder_add_u8(struct dhcp_builder *b, uint8_t code, uint8_t v)
{
	dhcp_builder_add(b, code, &v, 1);
}

void dhcp_builder_add_u32(struct dhcp_builder *b, uint8_t code, uint32_t v)
{
	uint8_t be[4];
	put_be32(be, v);
	dhcp_builder_add(b, code, be, 4);
}

void dhcp_builder_add_ip(struct dhcp_builder *b, uint8_t code, uint32_t ip)
{
	dhcp_builder_add_u32(b, code, ip);
}

void dhcp_builder_add_string(struct dhcp_builder *b, uint8_t code, const char *s)
{
	dhcp_builder_add(b, code, s, strlen(s));
}

int dhcp_builder_finish(struct dhcp_builder *b)
{
	if (b->overflow || b->length + 1 > b->capacity)
		return -EMSGSIZE;
	b->buf[b->length++] = DHCP_OPT_END;
	if (b->length < DHCP_BOOTP_MIN) {
		memset(b->buf + b->length, 0, DHCP_BOOTP_MIN - b->length);
		b->length = DHCP_BOOTP_MIN;
	}
	return (int)b->length;
}

const char *dhcp_ip_string(uint32_t ip, char buf[static 16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

const char *dhcp_mac_string(const uint8_t mac[static 6], char buf[static 18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

int dhcp_ip_parse(const char *s, uint32_t *ret)
{
	uint32_t ip = 0;

	for (int part = 0; part < 4; part++) {
		unsigned value = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			value = value * 10 + (unsigned)(*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || digits > 3 || value > 255)
			return -EINVAL;
		ip = ip << 8 | value;
		if (part < 3) {
			if (*s != '.')
				return -EINVAL;
			s++;
		}
	}
	if (*s != '\0')
		return -EINVAL;
	*ret = ip;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dhcp_mac_parse(const char *s, uint8_t ret[static 6])
{
	uint8_t mac[6];

	for (int i = 0; i < 6; i++) {
		int hi = hex_value(s[0]), lo = hi < 0 ? -1 : hex_value(s[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5) {
			if (*s != ':' && *s != '-')
				return -EINVAL;
			s++;
		}
	}
	if (*s != '\0')
		return -EINVAL;
	memcpy(ret, mac, 6);
	return 0;
}
