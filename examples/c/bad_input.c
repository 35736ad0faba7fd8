/*
 * The C boundary refuses bad input with a status and a message, never a crash, and changes
 * nothing: NULL, closed, made-up and wrong-kind handles; misaligned, reversed, empty and
 * non-canonical ranges; a bitmap or buffer too small; NULL out-pointers; unknown flags; bad
 * guest memory; mapping over a mapping; running out of tables. Table memory from the caller's
 * callbacks is all given back at close. Exit 0 only if every case behaves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpt.h"

static int failures;

/* The call must return `want` and leave a non-empty message naming the problem. */
static void expect_status(const char *what, int line, fastpt_status got, fastpt_status want)
{
    const char *message = fastpt_last_error();
    if (got != want) {
        fprintf(stderr, "bad_input.c:%d: %s -> %s, expected %s (%s)\n", line, what, fastpt_status_name(got),
                fastpt_status_name(want), message);
        failures++;
    } else if (want != FASTPT_OK && (message == NULL || message[0] == '\0')) {
        fprintf(stderr, "bad_input.c:%d: %s -> %s without a message\n", line, what, fastpt_status_name(got));
        failures++;
    }
}
#define EXPECT(call, want) expect_status(#call, __LINE__, (call), (want))
#define EXPECT_EQ(got, want)                                                                                \
    do {                                                                                                    \
        if ((uint64_t)(got) != (uint64_t)(want)) {                                                          \
            fprintf(stderr, "bad_input.c:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n", __LINE__, #got,     \
                    (uint64_t)(got), (uint64_t)(want));                                                     \
            failures++;                                                                                     \
        }                                                                                                   \
    } while (0)

/* A pool of tables for the allocator callbacks, counting what is taken and given back. */
enum { POOL_TABLES = 8 };
typedef struct pool {
    uint8_t *memory;
    uint64_t base;
    int used[POOL_TABLES];
    int allocated, released;
} pool;

static int32_t pool_allocate(void *context, uint64_t *physical)
{
    pool *p = context;
    for (int i = 0; i < POOL_TABLES; i++) {
        if (!p->used[i]) {
            p->used[i] = 1;
            p->allocated++;
            *physical = p->base + (uint64_t)i * 4096;
            return 0;
        }
    }
    return 1;
}

static void pool_release(void *context, uint64_t physical)
{
    pool *p = context;
    p->used[(physical - p->base) / 4096] = 0;
    p->released++;
}

static void *pool_address(void *context, uint64_t physical)
{
    pool *p = context;
    if (physical < p->base || physical >= p->base + POOL_TABLES * 4096)
        return NULL;
    return p->memory + (physical - p->base);
}

int main(void)
{
    fastpt_table *table = NULL;
    fastpt_flush *flush = NULL;
    fastpt_walk_result w;
    fastpt_translation t;
    fastpt_table_info info;
    uint64_t bitmap[2];
    const uint64_t va = UINT64_C(0x40000000);
    const fastpt_cpu_mode kernel = {FASTPT_CPU_WRITE_PROTECT | FASTPT_CPU_NXE, 0, 0, 0}; /* CPL 0 */

    EXPECT(fastpt_table_create(NULL, &table), FASTPT_OK);
    EXPECT(fastpt_flush_create(&flush), FASTPT_OK);
    EXPECT(fastpt_map_range(table, va, va + 16 * 4096, 0x100000, FASTPT_PAGE_WRITABLE, FASTPT_PAGE_4K, NULL), FASTPT_OK);
    EXPECT(fastpt_table_get_info(table, &info), FASTPT_OK);
    const int64_t tables = info.tables_in_use;

    /* Handles: NULL, made up, the wrong kind. */
    EXPECT(fastpt_table_get_info(NULL, &info), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_get_info((fastpt_table *)(uintptr_t)0x1234567, &info), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_get_info((fastpt_table *)flush, &info), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_flush_clear((fastpt_flush *)table), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_write_protect(table, va, va + 4096, NULL, &w), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_write_protect(NULL, va, va + 4096, flush, &w), FASTPT_ERR_INVALID_HANDLE);

    /* Ranges: misaligned, reversed, empty, non-canonical, across the hole. */
    EXPECT(fastpt_write_protect(table, va + 1, va + 4096, flush, &w), FASTPT_ERR_MISALIGNED);
    EXPECT(fastpt_write_protect(table, va, va + 4095, flush, &w), FASTPT_ERR_MISALIGNED);
    EXPECT(fastpt_write_protect(table, va + 4096, va, flush, &w), FASTPT_ERR_INVALID_RANGE);
    EXPECT(fastpt_harvest(table, va, va, bitmap, 2, 0, flush, &w), FASTPT_ERR_INVALID_RANGE);
    EXPECT(fastpt_unmap_range(table, UINT64_C(0x0000800000000000), UINT64_C(0x0000800000001000), flush, &w),
           FASTPT_ERR_INVALID_RANGE);
    EXPECT(fastpt_zap(table, UINT64_C(0x00007FFFFFFFF000), UINT64_C(0xFFFF800000001000), 0, flush, &w),
           FASTPT_ERR_INVALID_RANGE);
    EXPECT(fastpt_map_range(table, va, va + 4096, 0x1001, 0, 0, NULL), FASTPT_ERR_MISALIGNED);
    EXPECT(fastpt_translate(table, UINT64_C(0x0000800000000000), FASTPT_ACCESS_READ, NULL, 0, &t),
           FASTPT_ERR_INVALID_RANGE);

    /* Buffers: a bitmap one word short of 65 pages, a flush buffer too small, NULL out-pointers. */
    EXPECT(fastpt_harvest(table, va, va + 65 * 4096, bitmap, 1, 0, flush, &w), FASTPT_ERR_BUFFER_TOO_SMALL);
    EXPECT(fastpt_harvest(table, va, va + 4096, NULL, 1, 0, flush, &w), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_get_info(table, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_translate(table, va, FASTPT_ACCESS_READ, NULL, 0, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_create(NULL, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_flush_create(NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_write_protect(table, va, va + 2 * 4096, flush, &w), FASTPT_OK);
    size_t count = 0;
    EXPECT(fastpt_flush_ranges(flush, NULL, 0, &count), FASTPT_OK);
    EXPECT_EQ(count, 1);
    EXPECT(fastpt_flush_ranges(flush, NULL, 1, &count), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_flush_ranges(flush, NULL, 0, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_unprotect(table, va, va + 2 * 4096, flush, &w), FASTPT_OK);

    /* Values: unknown flags, access kinds, page sizes, options. */
    EXPECT(fastpt_harvest(table, va, va + 4096, bitmap, 1, 0x80, flush, &w), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_zap(table, va, va + 4096, 0x80, flush, &w), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_translate(table, va, 7, NULL, 0, &t), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_map_range(table, va + 64 * 4096, va + 65 * 4096, 0, 0, 12345, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    fastpt_options bad_levels = {0};
    bad_levels.levels = 3;
    fastpt_table *never = NULL;
    EXPECT(fastpt_table_create(&bad_levels, &never), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT_EQ((uintptr_t)never, 0);
    fastpt_options bad_reserved = {0};
    bad_reserved.reserved = 1;
    EXPECT(fastpt_table_create(&bad_reserved, &never), FASTPT_ERR_INVALID_ARGUMENT);
    fastpt_scan_request request = {0};
    request.reserved = 9;
    EXPECT(fastpt_scan(table, va, va + 4096, &request, NULL, 0, flush, NULL), FASTPT_ERR_INVALID_ARGUMENT);

    /* Mapping over a mapping changes nothing. */
    EXPECT(fastpt_map_range(table, va - 4096, va + 4096, 0x200000, 0, 0, NULL), FASTPT_ERR_ALREADY_MAPPED);

    /* None of the refusals above changed the table. */
    EXPECT(fastpt_table_get_info(table, &info), FASTPT_OK);
    EXPECT_EQ(info.tables_in_use, tables);
    EXPECT(fastpt_translate(table, va + 4096, FASTPT_ACCESS_WRITE, &kernel, 0, &t), FASTPT_OK);
    EXPECT_EQ(t.success, 1);
    EXPECT_EQ(t.physical, 0x101000);
    EXPECT(fastpt_table_verify(table), FASTPT_OK);

    /* Guest memory: misaligned, too small, NULL. */
    static uint8_t unaligned_ram[3 * 4096];
    uint8_t *aligned = (uint8_t *)(((uintptr_t)unaligned_ram + 4095) & ~(uintptr_t)4095);
    EXPECT(fastpt_table_create_in_guest_memory(aligned + 8, 0, 4096, NULL, &never), FASTPT_ERR_MISALIGNED);
    EXPECT(fastpt_table_create_in_guest_memory(aligned, 0x800, 4096, NULL, &never), FASTPT_ERR_MISALIGNED);
    EXPECT(fastpt_table_create_in_guest_memory(aligned, 0, 100, NULL, &never), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_create_in_guest_memory(NULL, 0, 4096, NULL, &never), FASTPT_ERR_INVALID_ARGUMENT);

    /* Out of tables: two tables of guest memory hold the root and one more; the map takes none. */
    fastpt_table *small = NULL;
    EXPECT(fastpt_table_create_in_guest_memory(aligned, 0x100000, 2 * 4096, NULL, &small), FASTPT_OK);
    EXPECT(fastpt_map_range(small, va, va + 4096, 0, 0, 0, NULL), FASTPT_ERR_OUT_OF_TABLES);
    EXPECT(fastpt_table_get_info(small, &info), FASTPT_OK);
    EXPECT_EQ(info.tables_in_use, 1);
    EXPECT(fastpt_table_close(small), FASTPT_OK);

    /* Closed handles: a second close and any use are refused. */
    EXPECT(fastpt_table_close(small), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_get_info(small, &info), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_translate(small, va, FASTPT_ACCESS_READ, NULL, 0, &t), FASTPT_ERR_INVALID_HANDLE);
    /* A new table may reuse the closed one's slot: the stale handle still names nothing. */
    fastpt_table *reuse = NULL;
    EXPECT(fastpt_table_create(NULL, &reuse), FASTPT_OK);
    EXPECT(fastpt_table_get_info(small, &info), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_close(small), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_close(reuse), FASTPT_OK);

    /* Callback tables: every table the allocator handed out comes back at close. */
    static uint8_t pool_ram[(POOL_TABLES + 1) * 4096];
    pool p = {0};
    p.memory = (uint8_t *)(((uintptr_t)pool_ram + 4095) & ~(uintptr_t)4095);
    p.base = UINT64_C(0x7000000);
    fastpt_allocator allocator = {&p, pool_allocate, pool_release, pool_address};
    fastpt_table *custom = NULL;
    EXPECT(fastpt_table_create_with_allocator(&allocator, NULL, &custom), FASTPT_OK);
    EXPECT(fastpt_map_range(custom, va, va + 4096, 0x5000, FASTPT_PAGE_WRITABLE, 0, NULL), FASTPT_OK);
    EXPECT(fastpt_translate(custom, va + 8, FASTPT_ACCESS_WRITE, &kernel, 0, &t), FASTPT_OK);
    EXPECT_EQ(t.physical, 0x5008);
    EXPECT_EQ(p.allocated, 4);
    fastpt_allocator incomplete = allocator;
    incomplete.address = NULL;
    EXPECT(fastpt_table_create_with_allocator(&incomplete, NULL, &never), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_create_with_allocator(NULL, NULL, &never), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_create_with_allocator(&allocator, NULL, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_create_in_guest_memory(aligned, 0, 4096, NULL, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT_EQ((uintptr_t)never, 0);
    fastpt_options limited = {0};
    limited.max_tables = 4;
    EXPECT(fastpt_table_create_with_allocator(&allocator, &limited, &never), FASTPT_ERR_INVALID_ARGUMENT);
    EXPECT(fastpt_table_close(custom), FASTPT_OK);
    EXPECT_EQ(p.released, p.allocated);

    EXPECT(fastpt_flush_close(flush), FASTPT_OK);
    EXPECT(fastpt_flush_close(flush), FASTPT_ERR_INVALID_HANDLE);
    EXPECT(fastpt_table_close(table), FASTPT_OK);
    EXPECT_EQ(fastpt_debug_open_handles(), 0);
    EXPECT_EQ(strcmp(fastpt_status_name(FASTPT_ERR_MISALIGNED), "FASTPT_ERR_MISALIGNED"), 0);

    if (failures != 0) {
        fprintf(stderr, "bad_input: %d checks failed\n", failures);
        return 1;
    }
    printf("bad_input: every bad call was refused with a status and a message; nothing leaked\n");
    return 0;
}
