/*
 * FastPT from C: page tables inside the program's own buffer acting as guest RAM. Maps a
 * 2 MiB page and eight 4 KiB pages, translates, write-protects (and reads the flush plan),
 * unprotects, harvests dirty pages, and checks every result: exit 0 only if all match.
 *
 *   dotnet publish src/FastPT.Native -c Release -r linux-x64
 *   make -C examples/c run
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpt.h"

static int failures;

/* A call that must succeed: on failure, print the status and fastpt's message. */
#define CHECK_OK(call)                                                                                   \
    do {                                                                                                 \
        fastpt_status s_ = (call);                                                                       \
        if (s_ != FASTPT_OK) {                                                                           \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, fastpt_status_name(s_), \
                    fastpt_last_error());                                                                \
            failures++;                                                                                  \
        }                                                                                                \
    } while (0)

#define EXPECT_EQ(got, want)                                                                             \
    do {                                                                                                 \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                            \
        if (g_ != w_) {                                                                                  \
            fprintf(stderr, "%s:%d: %s is 0x%" PRIx64 ", expected 0x%" PRIx64 "\n", __FILE__, __LINE__, \
                    #got, g_, w_);                                                                       \
            failures++;                                                                                  \
        }                                                                                                \
    } while (0)

enum {
    RAM_SIZE = 8 << 20,          /* the guest's RAM: our own buffer */
    TABLE_POOL = 16 * 4096,      /* its first 64 KiB hold the page tables */
};
static const uint64_t RAM_BASE = UINT64_C(0x10000000); /* the buffer's guest-physical address */
static const uint64_t VA = UINT64_C(0x40000000);

int main(void)
{
    if (fastpt_abi_version() != FASTPT_ABI_VERSION) {
        fprintf(stderr, "libfastpt ABI %u, this program was built for %u\n", fastpt_abi_version(), FASTPT_ABI_VERSION);
        return 2;
    }
    uint8_t *ram = aligned_alloc(4096, RAM_SIZE);
    if (ram == NULL)
        return 2;
    memset(ram, 0, RAM_SIZE);

    fastpt_table *table = NULL;
    fastpt_flush *flush = NULL;
    CHECK_OK(fastpt_table_create_in_guest_memory(ram, RAM_BASE, TABLE_POOL, NULL, &table));
    CHECK_OK(fastpt_flush_create(&flush));
    if (table == NULL || flush == NULL)
        return 1;

    /* VA .. +2 MiB -> guest-physical RAM_BASE + 2 MiB as one 2 MiB leaf; the next 32 KiB as 4 KiB pages. */
    fastpt_map_result m;
    CHECK_OK(fastpt_map_range(table, VA, VA + FASTPT_PAGE_2M, RAM_BASE + FASTPT_PAGE_2M,
                              FASTPT_PAGE_WRITABLE | FASTPT_PAGE_USER, 0, &m));
    EXPECT_EQ(m.leaves_2m, 1);
    CHECK_OK(fastpt_map_range(table, VA + FASTPT_PAGE_2M, VA + FASTPT_PAGE_2M + 8 * 4096, RAM_BASE + TABLE_POOL,
                              FASTPT_PAGE_WRITABLE | FASTPT_PAGE_USER, 0, &m));
    EXPECT_EQ(m.leaves_4k, 8);

    /* The tables are in our buffer: the root is CR3 = RAM_BASE, its entry links a table in the pool. */
    fastpt_table_info info;
    CHECK_OK(fastpt_table_get_info(table, &info));
    EXPECT_EQ(info.root, RAM_BASE);
    EXPECT_EQ(info.tables_in_use, 4); /* root, PDPT, PD, one PTE table */
    uint64_t root_entry = ((const uint64_t *)ram)[(VA >> 39) & 511];
    uint64_t pdpt = root_entry & UINT64_C(0x000FFFFFFFFFF000);
    EXPECT_EQ(root_entry & 1, 1);
    EXPECT_EQ(pdpt > RAM_BASE && pdpt < RAM_BASE + TABLE_POOL, 1);

    /* Translate a write, then use the physical address as the guest's CPU would: it lands in our buffer. */
    fastpt_translation t;
    CHECK_OK(fastpt_translate(table, VA + 0x1234, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    EXPECT_EQ(t.success, 1);
    EXPECT_EQ(t.physical, RAM_BASE + FASTPT_PAGE_2M + 0x1234);
    EXPECT_EQ(t.page_size, FASTPT_PAGE_2M);
    ram[t.physical - RAM_BASE] = 0x5a;
    CHECK_OK(fastpt_translate(table, VA + FASTPT_PAGE_2M + 3 * 4096 + 8, FASTPT_ACCESS_READ, NULL, 0, &t));
    EXPECT_EQ(t.physical, RAM_BASE + TABLE_POOL + 3 * 4096 + 8);
    EXPECT_EQ(t.page_size, FASTPT_PAGE_4K);

    /* Write-protect everything: 512 + 8 pages lose R/W; the flush plan says what a TLB may still hold. */
    uint64_t end = VA + FASTPT_PAGE_2M + 8 * 4096;
    fastpt_walk_result w;
    CHECK_OK(fastpt_write_protect(table, VA, end, flush, &w));
    EXPECT_EQ(w.status, FASTPT_WALK_COMPLETE);
    EXPECT_EQ(w.entries_changed, 520);
    fastpt_flush_range ranges[4];
    size_t count = 0;
    CHECK_OK(fastpt_flush_ranges(flush, ranges, 4, &count));
    EXPECT_EQ(count, 1);
    EXPECT_EQ(ranges[0].start, VA);
    EXPECT_EQ(ranges[0].end, end);

    /* A write now faults (#PF: present, write, user); a read does not. */
    CHECK_OK(fastpt_translate(table, VA + FASTPT_PAGE_2M + 3 * 4096, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    EXPECT_EQ(t.success, 0);
    EXPECT_EQ(t.error_code, FASTPT_PF_PRESENT | FASTPT_PF_WRITE | FASTPT_PF_USER);
    CHECK_OK(fastpt_translate(table, VA + FASTPT_PAGE_2M + 3 * 4096, FASTPT_ACCESS_READ, NULL, 0, &t));
    EXPECT_EQ(t.success, 1);

    /* Unprotect, write the fourth 4 KiB page, and harvest the dirty bits: one bit per 4 KiB page. */
    CHECK_OK(fastpt_flush_clear(flush));
    CHECK_OK(fastpt_unprotect(table, VA, end, flush, &w));
    EXPECT_EQ(w.entries_changed, 520);
    CHECK_OK(fastpt_translate(table, VA + FASTPT_PAGE_2M + 3 * 4096, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    EXPECT_EQ(t.success, 1);
    uint64_t dirty[9];
    CHECK_OK(fastpt_harvest(table, VA, end, dirty, 9, 0, flush, &w));
    for (int i = 0; i < 8; i++)
        EXPECT_EQ(dirty[i], UINT64_MAX); /* the 2 MiB page written first: all its 512 pages */
    EXPECT_EQ(dirty[8], UINT64_C(1) << 3);
    CHECK_OK(fastpt_harvest(table, VA, end, dirty, 9, 0, flush, &w)); /* harvested bits are cleared */
    for (int i = 0; i < 9; i++)
        EXPECT_EQ(dirty[i], 0);

    CHECK_OK(fastpt_unmap_range(table, VA, end, flush, &w));
    CHECK_OK(fastpt_translate(table, VA, FASTPT_ACCESS_READ, NULL, 0, &t));
    EXPECT_EQ(t.success, 0);
    EXPECT_EQ(t.error_code, FASTPT_PF_USER); /* not present */
    CHECK_OK(fastpt_table_verify(table));

    CHECK_OK(fastpt_flush_close(flush));
    CHECK_OK(fastpt_table_close(table));
    EXPECT_EQ(fastpt_debug_open_handles(), 0);
    EXPECT_EQ(ram[RAM_BASE + FASTPT_PAGE_2M + 0x1234 - RAM_BASE], 0x5a);
    free(ram);

    if (failures != 0) {
        fprintf(stderr, "example: %d checks failed\n", failures);
        return 1;
    }
    printf("example: map, translate, write-protect, flush plan, unprotect, harvest, unmap: all checks passed\n");
    return 0;
}
