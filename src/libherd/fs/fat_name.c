/*
 * fat_name.c — FAT names and times.
 *
 * Long names (VFAT, fatgen103 "FAT Long Directory Entries") are UTF-16;
 * herd's paths are UTF-8, so names are converted both ways here, with
 * non-BMP characters as surrogate pairs and every malformed sequence
 * refused.  Lookups fold ASCII case only (A-Z = a-z), like Linux vfat with
 * the utf8 option; other letters compare exactly.
 *
 * Short (8.3) names follow fatgen103 "Basis-Name Generation" as Linux vfat
 * implements it: upper-case, characters a short name cannot hold become
 * '_', spaces and leading dots are dropped, the base comes from the part
 * before the last dot and the extension from after it.  A name that fits
 * 8.3 with each part in a single case gets no long name; its lowercase
 * parts are recorded in the NT flags (byte 12: 0x08 base, 0x10 extension)
 * as Windows NT and Linux do.  Otherwise a "~N" tail is added, N counting
 * up until the short name is unused in the directory.  Bytes >= 0x80 in
 * short names read from disk are shown as '_' (no OEM code page).
 *
 * Times are stored as UTC (FAT has no time zone; we never apply local
 * time), clamped to 1980..2107.  Two-second resolution for modification
 * time; creation time has the extra 10 ms field (byte 13).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fat_internal.h"

static bool lfn_char_forbidden(uint32_t c)
{
	return c < 0x20 || c == '"' || c == '*' || c == '/' || c == ':' || c == '<' || c == '>' ||
	       c == '?' || c == '\\' || c == '|' || c == 0x7f;
}

int fat_name_to_utf16(const char *name, uint16_t *units, size_t *ret_count, struct herd_error *err)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = 0, len = strlen(name);

	if (len == 0)
		return herd_error_set(err, EINVAL, "FAT: empty name");
	if (name[len - 1] == '.' || name[len - 1] == ' ')
		return herd_error_set(err, EINVAL, "FAT: name '%s' ends with a dot or space", name);
	while (*s) {
		uint32_t c;
		size_t extra;
		if (*s < 0x80) {
			c = *s;
			extra = 0;
		} else if ((*s & 0xe0) == 0xc0) {
			c = *s & 0x1f;
			extra = 1;
		} else if ((*s & 0xf0) == 0xe0) {
			c = *s & 0x0f;
			extra = 2;
		} else if ((*s & 0xf8) == 0xf0) {
			c = *s & 0x07;
			extra = 3;
		} else {
			return herd_error_set(err, EINVAL, "FAT: name is not valid UTF-8");
		}
		s++;
		for (size_t i = 0; i < extra; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return herd_error_set(err, EINVAL, "FAT: name is not valid UTF-8");
			c = (c << 6) | (*s & 0x3f);
		}
		/* Refuse overlong forms, surrogates and values above U+10FFFF. */
		if ((extra == 1 && c < 0x80) || (extra == 2 && c < 0x800) ||
		    (extra == 3 && c < 0x10000) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return herd_error_set(err, EINVAL, "FAT: name is not valid UTF-8");
		if (lfn_char_forbidden(c))
			return herd_error_set(
			    err, EINVAL, "FAT: name '%s' has a character FAT cannot store", name);
		if (n + (c >= 0x10000 ? 2 : 1) > FAT_LFN_MAX_UNITS)
			return herd_error_set(err, ENAMETOOLONG,
					      "FAT: name longer than 255 UTF-16 units");
		if (c >= 0x10000) {
			c -= 0x10000;
			units[n++] = (uint16_t)(0xd800 | (c >> 10));
			units[n++] = (uint16_t)(0xdc00 | (c & 0x3ff));
		} else {
			units[n++] = (uint16_t)c;
		}
	}
	*ret_count = n;
	return 0;
}

int fat_utf16_to_name(const uint16_t *units, size_t count, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < count; i++) {
		uint32_t c = units[i];
		if (c >= 0xd800 && c <= 0xdbff) {
			if (i + 1 >= count || units[i + 1] < 0xdc00 || units[i + 1] > 0xdfff)
				return -EILSEQ;
			c = 0x10000 + ((c - 0xd800) << 10) + (units[i + 1] - 0xdc00u);
			i++;
		} else if (c >= 0xdc00 && c <= 0xdfff) {
			return -EILSEQ;
		}
		if (c == 0 || c == '/')
			return -EILSEQ;
		if (o + 5 > outlen)
			return -ENAMETOOLONG;
		if (c < 0x80) {
			out[o++] = (char)c;
		} else if (c < 0x800) {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			out[o++] = (char)(0xe0 | (c >> 12));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | (c >> 18));
			out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	if (o == 0 || o >= outlen)
		return -EILSEQ;
	out[o] = '\0';
	return 0;
}

/* fatgen103 "The ChkSum function": rotate right, add. */
uint8_t fat_lfn_checksum(const uint8_t shortname[11])
{
	uint8_t sum = 0;

	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + shortname[i]);
	return sum;
}

static char short_display_char(uint8_t c, bool lower)
{
	if (c < 0x20 || c >= 0x7f || c == '/')
		return '_';
	if (lower && c >= 'A' && c <= 'Z')
		return (char)(c + 32);
	return (char)c;
}

void fat_short_to_name(const uint8_t sn[11], uint8_t nt, char *out, size_t outlen)
{
	size_t o = 0, base = 8, ext = 3;

	while (base > 0 && sn[base - 1] == ' ')
		base--;
	while (ext > 0 && sn[8 + ext - 1] == ' ')
		ext--;
	for (size_t i = 0; i < base && o + 1 < outlen; i++) {
		/* fatgen103: 0x05 in byte 0 stands for a real 0xE5. */
		uint8_t c = (i == 0 && sn[0] == 0x05) ? 0xe5 : sn[i];
		out[o++] = short_display_char(c, nt & FAT_NT_LOWER_BASE);
	}
	if (ext && o + 1 < outlen)
		out[o++] = '.';
	for (size_t i = 0; i < ext && o + 1 < outlen; i++)
		out[o++] = short_display_char(sn[8 + i], nt & FAT_NT_LOWER_EXT);
	if (o == 0 && outlen > 1)
		out[o++] = '_';
	out[o] = '\0';
}

/* Characters allowed in a short name besides A-Z and 0-9 (fatgen103). */
static bool short_char_ok(uint16_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c < 0x80 && strchr("$%'-_@~`!(){}^#&", (int)c) && c != 0;
}

static uint16_t upper(uint16_t c)
{
	return c >= 'a' && c <= 'z' ? (uint16_t)(c - 32) : c;
}

/* Case of a name part: 1 = has lower, 2 = has upper. */
static unsigned part_case(const uint16_t *u, size_t n)
{
	unsigned cs = 0;

	for (size_t i = 0; i < n; i++) {
		if (u[i] >= 'a' && u[i] <= 'z')
			cs |= 1;
		else if (u[i] >= 'A' && u[i] <= 'Z')
			cs |= 2;
	}
	return cs;
}

/* Does the name fit 8.3 exactly (ignoring case)? */
static bool fits_83(const uint16_t *u, size_t n, size_t *ret_dot)
{
	size_t dot = n;

	for (size_t i = 0; i < n; i++) {
		if (u[i] == '.') {
			if (dot != n)
				return false;
			dot = i;
		} else if (!short_char_ok(upper(u[i]))) {
			return false;
		}
	}
	if (dot == 0 || dot > 8 || (dot < n && (n - dot - 1 == 0 || n - dot - 1 > 3)))
		return false;
	*ret_dot = dot;
	return true;
}

static bool short_exists(const uint8_t *existing, size_t count, const uint8_t sn[11])
{
	for (size_t i = 0; i < count; i++)
		if (memcmp(existing + 11 * i, sn, 11) == 0)
			return true;
	return false;
}

int fat_make_short_name(const uint16_t *u, size_t n, const uint8_t *existing, size_t existing_count,
			uint8_t sn[11], uint8_t *ret_nt, bool *ret_needs_lfn,
			struct herd_error *err)
{
	uint8_t base[8], ext[3];
	size_t base_len = 0, ext_len = 0, dot, start = 0, last_dot = n;
	uint8_t *used;
	bool lossy = false;

	memset(sn, ' ', 11);
	if (fits_83(u, n, &dot)) {
		unsigned bc = part_case(u, dot);
		unsigned ec = dot < n ? part_case(u + dot + 1, n - dot - 1) : 0;
		for (size_t i = 0; i < dot; i++)
			sn[i] = (uint8_t)upper(u[i]);
		for (size_t i = dot + 1; i < n; i++)
			sn[8 + i - dot - 1] = (uint8_t)upper(u[i]);
		if (sn[0] == FAT_DELETED)
			sn[0] = 0x05;
		if (bc != 3 && ec != 3) {
			*ret_nt =
			    (bc == 1 ? FAT_NT_LOWER_BASE : 0) | (ec == 1 ? FAT_NT_LOWER_EXT : 0);
			*ret_needs_lfn = false;
			return 0;
		}
		/* Mixed case ("Config.txt"): same short name, plus an LFN. */
		if (!short_exists(existing, existing_count, sn)) {
			*ret_nt = 0;
			*ret_needs_lfn = true;
			return 0;
		}
	}

	/* Basis name: skip leading dots, base before the last dot. */
	while (start < n && (u[start] == '.' || u[start] == ' ')) {
		start++;
		lossy = true;
	}
	for (size_t i = start; i < n; i++)
		if (u[i] == '.')
			last_dot = i;
	for (size_t i = start; i < last_dot; i++) {
		uint16_t c = upper(u[i]);
		if (c == ' ' || c == '.') {
			lossy = true;
			continue;
		}
		if (!short_char_ok(c)) {
			c = '_';
			lossy = true;
		}
		if (base_len < 8)
			base[base_len++] = (uint8_t)c;
		else
			lossy = true;
	}
	for (size_t i = last_dot + 1; i < n; i++) {
		uint16_t c = upper(u[i]);
		if (c == ' ') {
			lossy = true;
			continue;
		}
		if (!short_char_ok(c)) {
			c = '_';
			lossy = true;
		}
		if (ext_len < 3)
			ext[ext_len++] = (uint8_t)c;
		else
			lossy = true;
	}
	if (base_len == 0) {
		base[0] = '_';
		base_len = 1;
		lossy = true;
	}
	memset(sn, ' ', 11);
	memcpy(sn + 8, ext, ext_len);
	if (!lossy) {
		memcpy(sn, base, base_len);
		if (!short_exists(existing, existing_count, sn)) {
			*ret_nt = 0;
			*ret_needs_lfn = true;
			return 0;
		}
	}
	/* Numeric tail "~N": the base shrinks so base + tail fit 8 bytes.
	 * For each tail width, one pass over the directory marks the tails
	 * already taken; the smallest free one wins.  At most existing_count
	 * tails can be taken, so only those below existing_count + 2 matter
	 * and the work stays linear in the directory size. */
	used = calloc(existing_count / 8 + 1, 1);
	if (!used)
		return herd_error_set(err, ENOMEM, "FAT: out of memory");
	for (uint32_t width = 1, low = 1; width <= 6; width++, low *= 10) {
		size_t keep = base_len < 7 - width ? base_len : 7 - width;
		uint32_t high = low * 10 - 1, limit = (uint32_t)existing_count + 1;
		memset(used, 0, existing_count / 8 + 1);
		for (size_t i = 0; i < existing_count; i++) {
			const uint8_t *e = existing + 11 * i;
			uint32_t v = 0;
			bool match = memcmp(e, base, keep) == 0 && e[keep] == '~' &&
				     memcmp(e + 8, ext, ext_len) == 0;
			for (size_t j = 0; match && j < width; j++) {
				uint8_t c = e[keep + 1 + j];
				match = c >= '0' && c <= '9';
				v = v * 10 + (uint32_t)(c - '0');
			}
			for (size_t j = keep + 1 + width; match && j < 8; j++)
				match = e[j] == ' ';
			for (size_t j = ext_len; match && j < 3; j++)
				match = e[8 + j] == ' ';
			if (match && v >= low && v - low < existing_count + 1)
				used[(v - low) / 8] |= (uint8_t)(1u << ((v - low) % 8));
		}
		for (uint32_t v = low; v <= high; v++) {
			if (v - low < limit && (used[(v - low) / 8] & (1u << ((v - low) % 8))))
				continue;
			char digits[8];
			snprintf(digits, sizeof(digits), "~%u", v);
			memset(sn, ' ', 8);
			memcpy(sn, base, keep);
			memcpy(sn + keep, digits, width + 1);
			free(used);
			*ret_nt = 0;
			*ret_needs_lfn = true;
			return 0;
		}
	}
	free(used);
	return herd_error_set(err, ENOSPC, "FAT: no free short name for this long name");
}

bool fat_name_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
		if (!x)
			return true;
	}
}

void fat_time_encode(int64_t t, uint16_t *ret_date, uint16_t *ret_time, uint8_t *ret_tenth)
{
	struct tm tm;
	time_t tt;

	/* 1980-01-01 .. 2107-12-31 23:59:58 UTC */
	if (t < 315532800)
		t = 315532800;
	if (t > 4354819198LL)
		t = 4354819198LL;
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	*ret_date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
	*ret_time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
	if (ret_tenth)
		*ret_tenth = (uint8_t)((tm.tm_sec % 2) * 100);
}

int64_t fat_time_decode(uint16_t date, uint16_t time)
{
	struct tm tm = {0};
	unsigned mon = (date >> 5) & 0x0f, day = date & 0x1f;

	if (date == 0 || mon < 1 || mon > 12 || day < 1)
		return 0;
	tm.tm_year = (date >> 9) + 80;
	tm.tm_mon = (int)mon - 1;
	tm.tm_mday = (int)day;
	tm.tm_hour = time >> 11;
	tm.tm_min = (time >> 5) & 0x3f;
	tm.tm_sec = (time & 0x1f) * 2;
	return (int64_t)timegm(&tm);
}
