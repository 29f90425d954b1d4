/*
 * fuzz_ptable.c — libFuzzer harness for the partition-table readers.
 *
 * The input is a disk image in a memory blockdev.  ptable_read must either
 * fail with a message or return a table whose partitions all lie inside
 * the image and do not overlap; each partition is then opened as a view
 * and its first and last byte read, which must succeed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk/ptable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herd_error err = {0};
	struct blockdev *bd = NULL;
	struct ptable *t;
	int r;

	if (size > (1u << 20))
		return 0;
	if (blockdev_new_memory(data, size, &bd, NULL) < 0)
		return 0;
	t = malloc(sizeof(*t));
	if (!t)
		abort();
	r = ptable_read(bd, t, &err);
	if (r < 0) {
		if (err.message[0] == '\0')
			abort();
	} else {
		if (t->count > PTABLE_MAX_PARTITIONS ||
		    t->meta_count > sizeof(t->meta) / sizeof(t->meta[0]))
			abort();
		if (memchr(t->warning, '\0', sizeof(t->warning)) == NULL)
			abort();
		for (unsigned i = 0; i < t->count; i++) {
			const struct ptable_partition *p = &t->partitions[i];
			struct blockdev *view = NULL;
			uint8_t byte;

			if (p->start > size || p->size > size - p->start)
				abort();
			if (ptable_find(t, p->number) == NULL)
				abort();
			if (memchr(p->name, '\0', sizeof(p->name)) == NULL)
				abort();
			if (ptable_open_partition(bd, t, p->number, &view, &err) < 0)
				abort();
			if (blockdev_size(view) != p->size)
				abort();
			if (p->size > 0) {
				if (blockdev_pread(view, &byte, 1, 0, &err) < 0 ||
				    blockdev_pread(view, &byte, 1, p->size - 1, &err) < 0)
					abort();
			}
			blockdev_unref(view);
		}
	}
	free(t);
	blockdev_unref(bd);
	return 0;
}
