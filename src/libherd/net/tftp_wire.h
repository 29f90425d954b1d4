/*
 * tftp_wire.h — TFTP packets: parse what clients send, build what the
 * server sends.  Pure functions over byte buffers; no sockets, no files.
 *
 * Covers RFC 1350 (RRQ/WRQ/DATA/ACK/ERROR) and the option extension
 * RFC 2347 (OACK) with the options herd negotiates: blksize (RFC 2348),
 * tsize and timeout (RFC 2349), windowsize (RFC 7440).  Every length
 * comes from the packet and is checked before use; parsing walks a cursor
 * over the buffer and never casts it to a struct.
 *
 * Not here: what to do with a request (tftp_transfer.h decides which
 * blocks to send; tftp_server.c owns sockets and files).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_OP_RRQ = 1,
	TFTP_OP_WRQ = 2,
	TFTP_OP_DATA = 3,
	TFTP_OP_ACK = 4,
	TFTP_OP_ERROR = 5,
	TFTP_OP_OACK = 6, /* RFC 2347 */
};

/* RFC 1350 section 5 error codes, plus 8 from RFC 2347. */
enum tftp_error_code {
	TFTP_ERR_UNDEFINED = 0,
	TFTP_ERR_NOT_FOUND = 1,
	TFTP_ERR_ACCESS = 2,
	TFTP_ERR_DISK_FULL = 3,
	TFTP_ERR_ILLEGAL = 4,
	TFTP_ERR_UNKNOWN_TID = 5,
	TFTP_ERR_EXISTS = 6,
	TFTP_ERR_NO_USER = 7,
	TFTP_ERR_OPTION = 8,
};

enum tftp_mode {
	TFTP_MODE_OCTET = 1,
	TFTP_MODE_NETASCII = 2,
};

#define TFTP_BLKSIZE_DEFAULT 512u
#define TFTP_BLKSIZE_MIN     8u	    /* RFC 2348 */
#define TFTP_BLKSIZE_MAX     65464u /* RFC 2348: 65535 - 20 (IP) - 8 (UDP) - 4 (TFTP) + ... */
#define TFTP_WINDOWSIZE_MAX  65535u /* RFC 7440 */
#define TFTP_TIMEOUT_MIN     1u	    /* RFC 2349: seconds */
#define TFTP_TIMEOUT_MAX     255u
/* RFC 2347: "the request packet ... must not exceed 512 octets". */
#define TFTP_REQUEST_MAX       512u
#define TFTP_FILENAME_MAX      255u
#define TFTP_DATA_HEADER       4u
#define TFTP_ERROR_MESSAGE_MAX 128u

/* A parsed RRQ or WRQ.  Options are recorded only when present and valid;
 * an invalid or unknown option is ignored (RFC 2347: the server simply
 * does not acknowledge it) and counted in `ignored_options`. */
struct tftp_request {
	enum tftp_opcode opcode; /* RRQ or WRQ */
	char filename[TFTP_FILENAME_MAX + 1];
	enum tftp_mode mode;
	bool has_blksize, has_tsize, has_timeout, has_windowsize;
	uint32_t blksize;    /* 8..65464 */
	uint64_t tsize;	     /* what the client sent (0 in an RRQ) */
	uint32_t timeout;    /* seconds, 1..255 */
	uint32_t windowsize; /* 1..65535 */
	unsigned ignored_options;
};

/* Parse an RRQ/WRQ.  On failure returns -EBADMSG (malformed: truncated,
 * missing NUL, unpaired option, too long), -EPROTO (not a request opcode)
 * or -EINVAL (bad mode, filename too long), and sets *ret_code to the
 * error code to answer with and *ret_why to a static description.
 * ret_code/ret_why may be NULL. */
int tftp_parse_request(const uint8_t *buf, size_t len, struct tftp_request *ret,
		       enum tftp_error_code *ret_code, const char **ret_why);

/* A parsed packet from a client during a transfer: ACK or ERROR (others
 * are reported with their opcode and no payload). */
struct tftp_packet {
	enum tftp_opcode opcode;
	uint16_t block;	     /* ACK, DATA */
	uint16_t error_code; /* ERROR */
	char error_message[TFTP_ERROR_MESSAGE_MAX + 1];
};

/* Parse any packet's header: -EBADMSG when shorter than its opcode needs,
 * -EPROTO for an unknown opcode. */
int tftp_parse_packet(const uint8_t *buf, size_t len, struct tftp_packet *ret);

/* The options the server acknowledges, in RFC 2347 OACK order. */
struct tftp_oack {
	bool blksize, tsize, timeout, windowsize;
	uint32_t blksize_value, timeout_value, windowsize_value;
	uint64_t tsize_value;
};

/* Builders return the packet length, or -ENOSPC when cap is too small. */
int tftp_build_oack(uint8_t *buf, size_t cap, const struct tftp_oack *oack);
int tftp_build_error(uint8_t *buf, size_t cap, enum tftp_error_code code, const char *message);
int tftp_build_ack(uint8_t *buf, size_t cap, uint16_t block);
/* The 4-byte DATA header; the payload follows it (often as a second iovec). */
void tftp_build_data_header(uint8_t out[TFTP_DATA_HEADER], uint16_t block);
/* A request, for tests and the fuzz harness's round trip. */
int tftp_build_request(uint8_t *buf, size_t cap, enum tftp_opcode opcode, const char *filename,
		       const char *mode, const char *const *options, size_t option_count);

const char *tftp_error_code_name(enum tftp_error_code code);
