/*
 * dhcp_wire.h — DHCPv4 packets on the wire (RFC 2131 §2 / RFC 2132 / RFC 3396).
 *
 * dhcp_packet_parse() turns received bytes into a struct dhcp_packet: the
 * fixed BOOTP header, then every option, with option overload (RFC 2132
 * §9.3: options continued in `file` and `sname`) and long-option
 * concatenation (RFC 3396: the same code several times is one option)
 * resolved, so callers ask dhcp_packet_option(p, code) and get one byte
 * string.  Every length from the wire is checked before use; nothing is
 * cast to a struct.
 *
 * struct dhcp_builder writes a reply: header, options (long values split
 * into RFC 3396 pieces), END, padding to the BOOTP minimum of 300 bytes.
 *
 * Not here: what the options mean for a server (dhcp_server.c), the Pi and
 * PXE specifics (dhcp_pxe.h), sockets (dhcp.c).  All addresses in these
 * structs are in host byte order.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* BOOTP header (236 bytes) + magic cookie. */
#define DHCP_HEADER_SIZE    236
#define DHCP_OPTIONS_OFFSET 240
#define DHCP_MAGIC_COOKIE   0x63825363u
/* Largest datagram we parse: an Ethernet MTU minus IP and UDP headers
 * would be 1472; jumbo frames are not a DHCP thing.  Bigger input is
 * refused, not truncated. */
#define DHCP_PACKET_MAX 1500
/* RFC 2131 §2: a client must accept 576-byte IP datagrams, so a reply of
 * up to 548 bytes of DHCP payload always fits; larger only when the client
 * said so with option 57. */
#define DHCP_REPLY_MIN_MAX 548
#define DHCP_BOOTP_MIN	   300

#define DHCP_OP_REQUEST 1
#define DHCP_OP_REPLY	2

#define DHCP_FLAG_BROADCAST 0x8000u

enum dhcp_message_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8,
};

enum dhcp_option_code {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_HOSTNAME = 12,
	DHCP_OPT_DOMAIN = 15,
	DHCP_OPT_BROADCAST = 28,
	DHCP_OPT_VENDOR_SPECIFIC = 43,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MESSAGE_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PARAMETER_LIST = 55,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_MESSAGE_SIZE = 57,
	DHCP_OPT_RENEWAL_TIME = 58,
	DHCP_OPT_REBINDING_TIME = 59,
	DHCP_OPT_VENDOR_CLASS = 60,
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_USER_CLASS = 77,
	DHCP_OPT_TFTP_SERVER = 66,
	DHCP_OPT_BOOTFILE = 67,
	DHCP_OPT_CLIENT_ARCH = 93,
	DHCP_OPT_CLIENT_NDI = 94,
	DHCP_OPT_CLIENT_UUID = 97,
	DHCP_OPT_IPXE_ENCAP = 175, /* iPXE's own encapsulated options */
	DHCP_OPT_END = 255,
};

struct dhcp_packet {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	/* NUL-terminated copies; empty when the field carries overloaded options. */
	char sname[65];
	char file[129];
	uint8_t message_type; /* option 53, 0 when absent (plain BOOTP) */

	/* Options, concatenated per RFC 3396: code c is option_data[option_offset[c]
	 * .. + option_length[c]] when option_present[c]. */
	bool option_present[256];
	uint16_t option_offset[256];
	uint16_t option_length[256];
	uint8_t option_data[DHCP_PACKET_MAX];
};

/* Parse len bytes.  Refuses (-EBADMSG, with a reason in err): shorter than
 * 240 bytes, longer than DHCP_PACKET_MAX, bad cookie, hlen > 16, an option
 * running past its field, a bad overload value, a message type option of
 * the wrong size.  A missing END is tolerated (many clients pad instead).
 * Does not look at op: the server decides what it answers. */
int dhcp_packet_parse(const uint8_t *buf, size_t len, struct dhcp_packet *ret,
		      struct herd_error *err);

/* The option's bytes (and length), or NULL when absent. */
const uint8_t *dhcp_packet_option(const struct dhcp_packet *p, uint8_t code, size_t *ret_len);
/* Option holding exactly one IPv4 address / a 32-bit number / 16-bit
 * number.  Return 0, or -ENOENT (absent) / -EBADMSG (wrong size). */
int dhcp_packet_option_ip(const struct dhcp_packet *p, uint8_t code, uint32_t *ret);
int dhcp_packet_option_u32(const struct dhcp_packet *p, uint8_t code, uint32_t *ret);
int dhcp_packet_option_u16(const struct dhcp_packet *p, uint8_t code, uint16_t *ret);
/* True when option 55 lists code. */
bool dhcp_packet_requests(const struct dhcp_packet *p, uint8_t code);

/* Message type name ("DISCOVER"...), "BOOTP" for 0, "UNKNOWN" otherwise. */
const char *dhcp_message_type_name(uint8_t type);

/* Reply writer over a caller's buffer.  Errors are sticky: after an
 * overflow every add is a no-op and dhcp_builder_finish returns -EMSGSIZE. */
struct dhcp_builder {
	uint8_t *buf;
	size_t capacity;
	size_t length;
	bool overflow;
};

/* Start a packet: header fields from the arguments, the rest zero, the
 * cookie.  capacity must be at least DHCP_BOOTP_MIN. */
void dhcp_builder_init(struct dhcp_builder *b, uint8_t *buf, size_t capacity, uint8_t op,
		       const struct dhcp_packet *request);
void dhcp_builder_set_yiaddr(struct dhcp_builder *b, uint32_t ip);
void dhcp_builder_set_siaddr(struct dhcp_builder *b, uint32_t ip);
void dhcp_builder_set_ciaddr(struct dhcp_builder *b, uint32_t ip);
/* Copies at most 63 / 127 bytes; the field stays NUL-terminated. */
void dhcp_builder_set_sname(struct dhcp_builder *b, const char *s);
void dhcp_builder_set_file(struct dhcp_builder *b, const char *s);

/* Add an option; values longer than 255 bytes are split into several
 * options with the same code (RFC 3396 §5). */
void dhcp_builder_add(struct dhcp_builder *b, uint8_t code, const void *data, size_t len);
void dhcp_builder_add_u8(struct dhcp_builder *b, uint8_t code, uint8_t v);
void dhcp_builder_add_u32(struct dhcp_builder *b, uint8_t code, uint32_t v);
void dhcp_builder_add_ip(struct dhcp_builder *b, uint8_t code, uint32_t ip);
void dhcp_builder_add_string(struct dhcp_builder *b, uint8_t code, const char *s);

/* Append END, pad to DHCP_BOOTP_MIN; return the length or -EMSGSIZE. */
int dhcp_builder_finish(struct dhcp_builder *b);

/* Dotted quad into buf (at least 16 bytes); returns buf. */
const char *dhcp_ip_string(uint32_t ip, char buf[static 16]);
/* "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns buf. */
const char *dhcp_mac_string(const uint8_t mac[static 6], char buf[static 18]);
/* Parse "a.b.c.d" (exactly four decimal parts 0-255) / "aa:bb:cc:dd:ee:ff"
 * (also with '-').  Return 0 or -EINVAL. */
int dhcp_ip_parse(const char *s, uint32_t *ret);
int dhcp_mac_parse(const char *s, uint8_t ret[static 6]);
