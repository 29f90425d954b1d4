/*
 * parse.h — bounded number parsing for anything that comes from outside
 * (command line, fleet file, environment, packets).  Like OpenBSD's
 * strtonum: the whole string must be a number within [min, max].
 * Nothing here uses atoi/strtol without checking the end pointer.
 */
#pragma once

#include <stdint.h>

/* Decimal only; leading '+' and whitespace are refused.  Returns 0,
 * -EINVAL (not a number) or -ERANGE (outside [min, max]).  *ret is
 * written only on success. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret);

/* Sizes like "4M", "512K", "1G", "4096", "2MiB": binary multiples.
 * Returns 0, -EINVAL or -ERANGE. */
int parse_size(const char *s, uint64_t *ret);

/* Octal file mode "0644" / "644" / "4755", at most 07777. */
int parse_mode(const char *s, uint32_t *ret);

/* The value (0-63) of one character of the standard base64 alphabet
 * (RFC 4648 §4), or -1 for any other character, '=' included. */
int parse_base64_char(char c);
