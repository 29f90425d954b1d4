/*
 * ptable.h — partition tables: MBR (with extended/logical) and GPT
 * (primary + backup header, CRC-checked; protective and hybrid MBR
 * recognised).  One file per format (mbr.c, gpt.c) behind ptable.c, which
 * probes GPT first (a protective MBR points at it), then MBR.
 *
 * The parsed table is plain data; partitions are opened as blockdev views
 * with ptable_open_partition().  Parsing is bounds-checked against the
 * image size: partitions past the end or overlapping are errors (the
 * message names the partitions), a bad primary GPT falls back to the
 * backup and records a warning.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "blk/blockdev.h"

#define PTABLE_MAX_PARTITIONS 128

enum ptable_type {
	PTABLE_NONE = 0, /* no table: the whole device is one filesystem ("superfloppy") */
	PTABLE_MBR,
	PTABLE_GPT,
};

struct ptable_partition {
	unsigned number;    /* 1-based as the kernel numbers them (MBR logicals from 5) */
	uint64_t start;	    /* bytes */
	uint64_t size;	    /* bytes */
	uint8_t mbr_type;   /* MBR type byte, 0 for GPT */
	bool bootable;	    /* MBR active flag / GPT legacy BIOS bootable */
	char type_guid[37]; /* GPT type GUID, lowercase, "" for MBR */
	char partuuid[37];  /* GPT unique GUID, or MBR "<disk-id>-<NN>" */
	/* GPT partition name (UTF-8), "" for MBR: 36 UTF-16 units become at
	 * most 3 UTF-8 bytes each (a surrogate pair: 4 bytes for 2 units). */
	char name[36 * 3 + 1];
};

struct ptable {
	enum ptable_type type;
	uint32_t sector_size; /* 512 (4096-byte-sector GPT is probed too) */
	char disk_id[37];     /* MBR "1a2b3c4d" or GPT disk GUID */
	unsigned count;
	struct ptable_partition partitions[PTABLE_MAX_PARTITIONS];
	bool hybrid_mbr;			    /* GPT with a non-protective MBR beside it */
	uint64_t first_usable_lba, last_usable_lba; /* GPT header fields, 0 for MBR */
	char warning[256]; /* e.g. "primary GPT header CRC mismatch; using backup" */
	/* Byte ranges the table structures occupy (MBR sector, EBR chain, GPT
	 * headers and entry arrays) — for the used-block map. */
	unsigned meta_count;
	struct {
		uint64_t offset, length;
	} meta[PTABLE_MAX_PARTITIONS + 8];
};

/* MBR type bytes of extended-partition containers (DOS, LBA, Linux):
 * they hold the EBR chain, not a filesystem (GPT entries have type 0). */
static inline int ptable_mbr_is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

const char *ptable_type_name(enum ptable_type type);

/* Read the table of `bd`.  PTABLE_NONE is a success (no table found). */
int ptable_read(struct blockdev *bd, struct ptable *ret, struct herd_error *err);

/* The partition with this kernel number, or NULL. */
const struct ptable_partition *ptable_find(const struct ptable *t, unsigned number);

/* A view blockdev over partition `number`. */
int ptable_open_partition(struct blockdev *bd, const struct ptable *t, unsigned number,
			  struct blockdev **ret, struct herd_error *err);
