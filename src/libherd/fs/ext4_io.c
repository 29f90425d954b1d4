/*
 * ext4_io.c — a libext2fs io_manager over a herd blockdev.
 *
 * libext2fs does all its I/O through an io_manager (ext2_io.h): open a
 * channel by name, then read and write blocks of the current block size.
 * Ours forwards every call to blockdev_pread/pwrite, so an ext4 edit can
 * land in a copy-on-write overlay, a partition view or a memory blockdev
 * exactly like a FAT edit does.
 *
 * There is no cache here: libext2fs already keeps the superblock, group
 * descriptors and bitmaps in memory, and the blockdev below is a file,
 * an overlay or memory.  There is no global state either: the blockdev is
 * carried in the channel name (see ext4_io_channel_name) and everything
 * else lives in the channel's private data.
 *
 * Error codes: blockdev failures come back as the positive errno (which
 * is how unix_io reports them too), except reads or writes past the end of
 * the device, which become EXT2_ET_SHORT_READ / EXT2_ET_SHORT_WRITE.  The
 * blockdev's message is kept for ext4.c to quote.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>

#include "fs/ext4_private.h"

#define EXT4_IO_NAME_PREFIX "herd-blockdev:"

struct ext4_io {
	struct blockdev *bd;
	struct struct_io_stats stats;
	struct herd_error last_error;
};

void ext4_io_channel_name(struct blockdev *bd, char *buf, size_t len)
{
	snprintf(buf, len, EXT4_IO_NAME_PREFIX "%" PRIxPTR, (uintptr_t)bd);
}

/* Decode what ext4_io_channel_name() wrote.  Only names we produced reach
 * this manager (ext4.c is its only user), but parse strictly anyway. */
static struct blockdev *ext4_io_parse_name(const char *name)
{
	size_t prefix = strlen(EXT4_IO_NAME_PREFIX);
	uintptr_t value = 0;
	const char *p;

	if (!name || strncmp(name, EXT4_IO_NAME_PREFIX, prefix) != 0)
		return NULL;
	p = name + prefix;
	if (*p == '\0' || strlen(p) > 2 * sizeof(uintptr_t))
		return NULL;
	for (; *p; p++) {
		unsigned digit;

		if (*p >= '0' && *p <= '9')
			digit = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			digit = (unsigned)(*p - 'a' + 10);
		else
			return NULL;
		value = (value << 4) | digit;
	}
	return (struct blockdev *)value;
}

static struct ext4_io *ext4_io_of(io_channel channel)
{
	return channel->private_data;
}

const char *ext4_io_last_error(io_channel channel)
{
	if (!channel || channel->magic != EXT2_ET_MAGIC_IO_CHANNEL || !channel->private_data)
		return "";
	return ext4_io_of(channel)->last_error.message;
}

void ext4_io_clear_error(io_channel channel)
{
	if (channel && channel->magic == EXT2_ET_MAGIC_IO_CHANNEL && channel->private_data)
		herd_error_clear(&ext4_io_of(channel)->last_error);
}

static errcode_t ext4_io_open(const char *name, int flags, io_channel *ret_channel)
{
	struct blockdev *bd = ext4_io_parse_name(name);
	struct ext4_io *io = NULL;
	io_channel channel = NULL;

	if (!bd || !ret_channel)
		return EXT2_ET_BAD_DEVICE_NAME;
	if ((flags & IO_FLAG_RW) && !blockdev_writable(bd))
		return EROFS;

	channel = calloc(1, sizeof(*channel));
	io = calloc(1, sizeof(*io));
	if (!channel || !io)
		goto nomem;
	channel->name = strdup(name);
	if (!channel->name)
		goto nomem;

	io->bd = blockdev_ref(bd);
	io->stats.num_fields = 2;
	channel->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	channel->manager = (io_manager)&ext4_io_manager;
	channel->block_size = 1024;
	channel->refcount = 1;
	channel->private_data = io;
	*ret_channel = channel;
	return 0;

nomem:
	if (channel)
		free(channel->name);
	free(channel);
	free(io);
	return EXT2_ET_NO_MEMORY;
}

static errcode_t ext4_io_close(io_channel channel)
{
	struct ext4_io *io;

	if (!channel || channel->magic != EXT2_ET_MAGIC_IO_CHANNEL)
		return EXT2_ET_MAGIC_IO_CHANNEL;
	if (--channel->refcount > 0)
		return 0;
	io = ext4_io_of(channel);
	if (io)
		blockdev_unref(io->bd);
	free(io);
	free(channel->name);
	free(channel);
	return 0;
}

static errcode_t ext4_io_set_blksize(io_channel channel, int blksize)
{
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	channel->block_size = blksize;
	return 0;
}

/* ext2_io.h: a negative count means a byte count, a positive one blocks. */
static errcode_t ext4_io_span(io_channel channel, unsigned long long block, int count,
			      uint64_t *ret_offset, size_t *ret_size)
{
	uint64_t size, bs = (uint64_t)channel->block_size;

	if (count < 0)
		size = (uint64_t) - (int64_t)count;
	else
		size = (uint64_t)count * bs;
	if (block > UINT64_MAX / bs || size > SIZE_MAX)
		return EXT2_ET_INVALID_ARGUMENT;
	*ret_offset = block * bs;
	*ret_size = (size_t)size;
	return 0;
}

static errcode_t ext4_io_code(struct ext4_io *io, int r, uint64_t offset, size_t size, bool writing)
{
	uint64_t end = blockdev_size(io->bd);

	if (offset > end || size > end - offset)
		return writing ? EXT2_ET_SHORT_WRITE : EXT2_ET_SHORT_READ;
	return r == 0 ? 0 : -r;
}

static errcode_t ext4_io_read_blk64(io_channel channel, unsigned long long block, int count,
				    void *data)
{
	struct ext4_io *io = ext4_io_of(channel);
	uint64_t offset;
	size_t size;
	errcode_t code;
	int r;

	code = ext4_io_span(channel, block, count, &offset, &size);
	if (code)
		return code;
	r = blockdev_pread(io->bd, data, size, offset, &io->last_error);
	if (r == 0) {
		io->stats.bytes_read += size;
		return 0;
	}
	code = ext4_io_code(io, r, offset, size, false);
	if (channel->read_error)
		code =
		    channel->read_error(channel, (unsigned long)block, count, data, size, 0, code);
	return code;
}

static errcode_t ext4_io_write_at(io_channel channel, uint64_t offset, size_t size,
				  const void *data, unsigned long long block, int count)
{
	struct ext4_io *io = ext4_io_of(channel);
	errcode_t code;
	int r;

	r = blockdev_pwrite(io->bd, data, size, offset, &io->last_error);
	if (r == 0) {
		io->stats.bytes_written += size;
		return 0;
	}
	code = ext4_io_code(io, r, offset, size, true);
	if (channel->write_error)
		code =
		    channel->write_error(channel, (unsigned long)block, count, data, size, 0, code);
	return code;
}

static errcode_t ext4_io_write_blk64(io_channel channel, unsigned long long block, int count,
				     const void *data)
{
	uint64_t offset;
	size_t size;
	errcode_t code;

	code = ext4_io_span(channel, block, count, &offset, &size);
	if (code)
		return code;
	return ext4_io_write_at(channel, offset, size, data, block, count);
}

static errcode_t ext4_io_read_blk(io_channel channel, unsigned long block, int count, void *data)
{
	return ext4_io_read_blk64(channel, block, count, data);
}

static errcode_t ext4_io_write_blk(io_channel channel, unsigned long block, int count,
				   const void *data)
{
	return ext4_io_write_blk64(channel, block, count, data);
}

/* Used by libext2fs for the superblock when the block size is unknown:
 * offset and count are in bytes. */
static errcode_t ext4_io_write_byte(io_channel channel, unsigned long offset, int count,
				    const void *data)
{
	if (count < 0)
		return EXT2_ET_INVALID_ARGUMENT;
	return ext4_io_write_at(channel, offset, (size_t)count, data, offset, count);
}

static errcode_t ext4_io_flush(io_channel channel)
{
	struct ext4_io *io = ext4_io_of(channel);
	int r = blockdev_flush(io->bd, &io->last_error);

	return r < 0 ? -r : 0;
}

/* We take no options ("unix_io" knows "offset" and "cache"; partitions are
 * views here, and caching is the blockdev's business). */
static errcode_t ext4_io_set_option(io_channel channel, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t ext4_io_get_stats(io_channel channel, io_stats *ret_stats)
{
	if (ret_stats)
		*ret_stats = &ext4_io_of(channel)->stats;
	return 0;
}

/* Discarding is an optimisation libext2fs tolerates failing; writing
 * zeros instead would only grow an overlay. */
static errcode_t ext4_io_discard(io_channel channel, unsigned long long block,
				 unsigned long long count)
{
	return EXT2_ET_UNIMPLEMENTED;
}

static errcode_t ext4_io_cache_readahead(io_channel channel, unsigned long long block,
					 unsigned long long count)
{
	return EXT2_ET_OP_NOT_SUPPORTED;
}

/* ext2fs_zero_blocks2() falls back to writing zero buffers itself when
 * this is unimplemented, which is exactly what we would do. */
static errcode_t ext4_io_zeroout(io_channel channel, unsigned long long block,
				 unsigned long long count)
{
	return EXT2_ET_UNIMPLEMENTED;
}

/* Never written: the cast in ext4_io_open and ext4.c only satisfies
 * libext2fs' non-const io_manager typedef. */
const struct struct_io_manager ext4_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "herd blockdev I/O manager",
    .open = ext4_io_open,
    .close = ext4_io_close,
    .set_blksize = ext4_io_set_blksize,
    .read_blk = ext4_io_read_blk,
    .write_blk = ext4_io_write_blk,
    .flush = ext4_io_flush,
    .write_byte = ext4_io_write_byte,
    .set_option = ext4_io_set_option,
    .get_stats = ext4_io_get_stats,
    .read_blk64 = ext4_io_read_blk64,
    .write_blk64 = ext4_io_write_blk64,
    .discard = ext4_io_discard,
    .cache_readahead = ext4_io_cache_readahead,
    .zeroout = ext4_io_zeroout,
};

const char *ext4_strerror(errcode_t code)
{
	long index = code - et_ext2_error_table.base;

	if (index >= 0 && index < et_ext2_error_table.n_msgs)
		return et_ext2_error_table.msgs[index];
	if (code > 0 && code < 4096)
		return strerror((int)code);
	return error_message(code);
}

int ext4_errno(errcode_t code)
{
	if (code == 0)
		return 0;
	if (code > 0 && code < 4096)
		return -(int)code;
	switch (code) {
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_EA_NO_SPACE:
	case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
		return -ENOSPC;
	case EXT2_ET_FILE_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_RO_FILSYS:
		return -EROFS;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	case EXT2_ET_SYMLINK_LOOP:
		return -ELOOP;
	case EXT2_ET_DIR_EXISTS:
	case EXT2_ET_FILE_EXISTS:
		return -EEXIST;
	case EXT2_ET_INVALID_ARGUMENT:
	case EXT2_ET_BAD_DEVICE_NAME:
		return -EINVAL;
	case EXT2_ET_UNIMPLEMENTED:
	case EXT2_ET_OP_NOT_SUPPORTED:
	case EXT2_ET_UNSUPP_FEATURE:
	case EXT2_ET_RO_UNSUPP_FEATURE:
		return -EOPNOTSUPP;
	case EXT2_ET_SHORT_READ:
	case EXT2_ET_SHORT_WRITE:
		return -EIO;
	case EXT2_ET_BAD_MAGIC:
	case EXT2_ET_CORRUPT_SUPERBLOCK:
	case EXT2_ET_SB_CSUM_INVALID:
	case EXT2_ET_BAD_DESC_SIZE:
	case EXT2_ET_GDESC_BAD_BLOCK_MAP:
	case EXT2_ET_GDESC_BAD_INODE_MAP:
	case EXT2_ET_GDESC_BAD_INODE_TABLE:
	case EXT2_ET_BLOCK_BITMAP_CSUM_INVALID:
	case EXT2_ET_INODE_BITMAP_CSUM_INVALID:
	case EXT2_ET_INODE_CSUM_INVALID:
	case EXT2_ET_DIR_CSUM_INVALID:
	case EXT2_ET_EXTENT_CSUM_INVALID:
	case EXT2_ET_EXT_ATTR_CSUM_INVALID:
	case EXT2_ET_DIR_CORRUPTED:
	case EXT2_ET_EXTENT_HEADER_BAD:
	case EXT2_ET_EXTENT_INDEX_BAD:
	case EXT2_ET_EXTENT_LEAF_BAD:
	case EXT2_ET_BAD_INODE_NUM:
	case EXT2_ET_BAD_BLOCK_NUM:
	case EXT2_ET_UNEXPECTED_BLOCK_SIZE:
	case EXT2_ET_CORRUPT_JOURNAL_SB:
	case EXT2_ET_INLINE_DATA_NO_SPACE:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}
