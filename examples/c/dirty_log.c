/*
 * A VMM's dirty log from C: a stage-2 table (guest-physical -> host) with 4 KiB pages and a
 * 2 MiB leaf, logged as one slot, in both modes. The "vCPU" is fastpt_translate: in the
 * write-protect mode its write faults go to fastpt_dirty_log_write_fault and are retried, as a
 * VMM does with a write-protection exit. Then the bad input a VMM could pass is refused with a
 * status and a message, changing nothing. Exit 0 only if every check holds.
 *
 *   dotnet publish src/FastPT.Native -c Release -r linux-x64
 *   make -C examples/c run
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fastpt.h"

static int failures;

#define CHECK(call, want)                                                                                \
    do {                                                                                                 \
        fastpt_status s_ = (call);                                                                       \
        if (s_ != (want)) {                                                                              \
            fprintf(stderr, "%s:%d: %s -> %s (%s), expected %s\n", __FILE__, __LINE__, #call,            \
                    fastpt_status_name(s_), fastpt_last_error(), fastpt_status_name(want));              \
            failures++;                                                                                  \
        } else if ((want) != FASTPT_OK && fastpt_last_error()[0] == '\0') {                              \
            fprintf(stderr, "%s:%d: %s -> %s without a message\n", __FILE__, __LINE__, #call,            \
                    fastpt_status_name(s_));                                                             \
            failures++;                                                                                  \
        }                                                                                                \
    } while (0)
#define CHECK_OK(call) CHECK(call, FASTPT_OK)

#define EXPECT_EQ(got, want)                                                                             \
    do {                                                                                                 \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                            \
        if (g_ != w_) {                                                                                  \
            fprintf(stderr, "%s:%d: %s is 0x%" PRIx64 ", expected 0x%" PRIx64 "\n", __FILE__, __LINE__, \
                    #got, g_, w_);                                                                       \
            failures++;                                                                                  \
        }                                                                                                \
    } while (0)

static const uint64_t GPA = UINT64_C(0x100000000); /* the slot: 512 4 KiB pages, then a 2 MiB leaf */
static const uint64_t SLOT_SIZE = FASTPT_PAGE_2M * 2;
enum { SLOT_PAGES = 1024, WORDS = SLOT_PAGES / 64 };

static fastpt_table *table;
static fastpt_flush *flush;

/* The vCPU's write to gpa: a write fault goes to the log (write-protect mode) and the write is retried. */
static void guest_write(fastpt_dirty_log *log, uint64_t gpa)
{
    fastpt_translation t;
    CHECK_OK(fastpt_translate(table, gpa, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    if (!t.success && log != NULL) {
        EXPECT_EQ(t.error_code, FASTPT_PF_PRESENT | FASTPT_PF_WRITE | FASTPT_PF_USER);
        uint32_t outcome = 99;
        CHECK_OK(fastpt_dirty_log_write_fault(log, gpa, flush, &outcome));
        EXPECT_EQ(outcome, FASTPT_FAULT_RESOLVED);
        /* here a VMM invalidates the plan's ranges (INVEPT / INVLPG) before resuming the vCPU */
        CHECK_OK(fastpt_translate(table, gpa, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    }
    EXPECT_EQ(t.success, 1);
}

static int count_bits(const uint64_t *bitmap, int words)
{
    int n = 0;
    for (int i = 0; i < words; i++)
        for (uint64_t w = bitmap[i]; w != 0; w &= w - 1)
            n++;
    return n;
}

/* One mode: write three pages (one in the 2 MiB leaf), get, clear, write one again, get. */
static void run(uint32_t mode)
{
    fastpt_dirty_log *log = NULL;
    CHECK_OK(fastpt_dirty_log_create(table, mode, 0, &log));
    CHECK_OK(fastpt_dirty_log_add_slot(log, 7, GPA, SLOT_SIZE, flush));
    fastpt_dirty_log *faulting = mode == FASTPT_DIRTY_LOG_WRITE_PROTECT ? log : NULL; /* whose faults the vCPU reports */
    uint64_t pages = 0;
    CHECK_OK(fastpt_dirty_log_pages(log, 7, &pages));
    EXPECT_EQ(pages, SLOT_PAGES);

    if (mode == FASTPT_DIRTY_LOG_WRITE_PROTECT) {
        /* add_slot took write access away: a write faults until the log hands it back */
        fastpt_translation t;
        CHECK_OK(fastpt_translate(table, GPA + 5 * 4096, FASTPT_ACCESS_WRITE, NULL, 0, &t));
        EXPECT_EQ(t.success, 0);
    }
    guest_write(faulting, GPA + 5 * 4096);
    guest_write(faulting, GPA + 63 * 4096);
    guest_write(faulting, GPA + FASTPT_PAGE_2M + 0x1234); /* the 2 MiB leaf: all 512 pages */

    uint64_t bitmap[WORDS];
    memset(bitmap, 0, sizeof bitmap);
    CHECK_OK(fastpt_flush_clear(flush));
    CHECK_OK(fastpt_dirty_log_get(log, 7, bitmap, WORDS, flush));
    EXPECT_EQ(bitmap[0], (UINT64_C(1) << 5) | (UINT64_C(1) << 63));
    EXPECT_EQ(count_bits(bitmap, WORDS), 2 + 512);
    EXPECT_EQ(bitmap[8], UINT64_MAX);

    uint64_t cleared = 0;
    CHECK_OK(fastpt_dirty_log_clear(log, 7, 0, bitmap, WORDS, flush, &cleared));
    EXPECT_EQ(cleared, 2 + 512);
    size_t ranges = 0;
    CHECK_OK(fastpt_flush_ranges(flush, NULL, 0, &ranges));
    EXPECT_EQ(ranges > 0, 1); /* D cleared or write access taken: a TLB may hold the old entries */

    memset(bitmap, 0, sizeof bitmap);
    CHECK_OK(fastpt_dirty_log_get(log, 7, bitmap, WORDS, flush));
    EXPECT_EQ(count_bits(bitmap, WORDS), 0);
    guest_write(faulting, GPA + 63 * 4096);
    CHECK_OK(fastpt_dirty_log_get(log, 7, bitmap, WORDS, flush));
    EXPECT_EQ(bitmap[0], UINT64_C(1) << 63);
    EXPECT_EQ(count_bits(bitmap, WORDS), 1);

    CHECK_OK(fastpt_dirty_log_remove_slot(log, 7, flush));
    if (mode == FASTPT_DIRTY_LOG_WRITE_PROTECT) {
        fastpt_translation t;
        CHECK_OK(fastpt_translate(table, GPA + 5 * 4096, FASTPT_ACCESS_WRITE, NULL, 0, &t));
        EXPECT_EQ(t.success, 1); /* write access is back */
    }
    CHECK_OK(fastpt_dirty_log_close(log));
}

/* Bad input from a VMM: refused with a status and a message, nothing changes. */
static void bad_input(void)
{
    fastpt_dirty_log *log = NULL, *dlog = NULL;
    uint64_t bitmap[WORDS + 1], pages = 0, cleared = 0;
    uint32_t outcome = 0;
    memset(bitmap, 0, sizeof bitmap);

    CHECK(fastpt_dirty_log_create(NULL, 0, 0, &log), FASTPT_ERR_INVALID_HANDLE);
    CHECK(fastpt_dirty_log_create(table, 2, 0, &log), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_create(table, 0, 8, &log), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_create(table, 0, 0, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_create((fastpt_table *)flush, 0, 0, &log), FASTPT_ERR_INVALID_HANDLE);
    CHECK_OK(fastpt_dirty_log_create(table, FASTPT_DIRTY_LOG_WRITE_PROTECT, 0, &log));
    CHECK_OK(fastpt_dirty_log_create(table, FASTPT_DIRTY_LOG_DIRTY_BIT, FASTPT_DIRTY_LOG_PAGE_4K, &dlog));

    CHECK(fastpt_dirty_log_add_slot(log, 1, GPA + 1, 4096, flush), FASTPT_ERR_MISALIGNED);
    CHECK(fastpt_dirty_log_add_slot(log, 1, GPA, 100, flush), FASTPT_ERR_MISALIGNED);
    CHECK(fastpt_dirty_log_add_slot(log, 1, GPA, 0, flush), FASTPT_ERR_INVALID_RANGE);
    CHECK(fastpt_dirty_log_add_slot(log, 1, UINT64_C(0x800000000000), 4096, flush), FASTPT_ERR_INVALID_RANGE);
    CHECK(fastpt_dirty_log_add_slot(log, 1, GPA, SLOT_SIZE, NULL), FASTPT_ERR_INVALID_HANDLE);
    CHECK(fastpt_dirty_log_add_slot(log, 0x80000000u, GPA, SLOT_SIZE, flush), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK_OK(fastpt_dirty_log_add_slot(log, 1, GPA, SLOT_SIZE, flush));
    CHECK(fastpt_dirty_log_add_slot(log, 1, GPA + SLOT_SIZE, 4096, flush), FASTPT_ERR_INVALID_ARGUMENT); /* in use */
    CHECK(fastpt_dirty_log_add_slot(log, 2, GPA + 4096, 4096, flush), FASTPT_ERR_INVALID_ARGUMENT);      /* overlaps */

    CHECK(fastpt_dirty_log_pages(log, 3, &pages), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_pages(log, 1, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_get(log, 1, bitmap, WORDS - 1, flush), FASTPT_ERR_BUFFER_TOO_SMALL);
    CHECK(fastpt_dirty_log_get(log, 1, NULL, WORDS, flush), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_get(log, 9, bitmap, WORDS, flush), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_clear(log, 1, 3, bitmap, 1, flush, &cleared), FASTPT_ERR_MISALIGNED);
    CHECK(fastpt_dirty_log_clear(log, 1, 0, bitmap, WORDS + 1, flush, &cleared), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_clear(log, 1, 0, NULL, 1, flush, &cleared), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_write_fault(log, GPA, flush, NULL), FASTPT_ERR_INVALID_ARGUMENT);
    CHECK(fastpt_dirty_log_write_fault(dlog, GPA, flush, &outcome), FASTPT_ERR_INVALID_ARGUMENT); /* a D-bit log */
    CHECK(fastpt_dirty_log_write_fault((fastpt_dirty_log *)table, GPA, flush, &outcome), FASTPT_ERR_INVALID_HANDLE);

    /* Faults that are not the log's, reported as such. */
    CHECK_OK(fastpt_dirty_log_write_fault(log, GPA + 2 * SLOT_SIZE, flush, &outcome));
    EXPECT_EQ(outcome, FASTPT_FAULT_OUTSIDE_SLOTS);

    /* Nothing above changed the log: no page is pending, every page still protected. */
    CHECK_OK(fastpt_dirty_log_get(log, 1, bitmap, WORDS, flush));
    EXPECT_EQ(count_bits(bitmap, WORDS), 0);
    fastpt_translation t;
    CHECK_OK(fastpt_translate(table, GPA, FASTPT_ACCESS_WRITE, NULL, 0, &t));
    EXPECT_EQ(t.success, 0);

    /* Closing the table first leaves the log refusing every call instead of touching freed tables. */
    CHECK_OK(fastpt_dirty_log_close(dlog));
    CHECK_OK(fastpt_dirty_log_remove_slot(log, 1, flush));
    CHECK_OK(fastpt_table_close(table));
    CHECK(fastpt_dirty_log_get(log, 1, bitmap, WORDS, flush), FASTPT_ERR_INVALID_HANDLE);
    CHECK(fastpt_dirty_log_write_fault(log, GPA, flush, &outcome), FASTPT_ERR_INVALID_HANDLE);
    CHECK_OK(fastpt_dirty_log_close(log));
    CHECK(fastpt_dirty_log_close(log), FASTPT_ERR_INVALID_HANDLE);
    table = NULL;
}

int main(void)
{
    fastpt_options options;
    memset(&options, 0, sizeof options);
    options.flags = FASTPT_OPTION_SHARED_TABLES; /* as beside running vCPUs */
    CHECK_OK(fastpt_table_create(&options, &table));
    CHECK_OK(fastpt_flush_create(&flush));
    if (table == NULL || flush == NULL)
        return 1;
    /* Guest RAM backed at host 0x7f00_0000_0000 (never touched here): 2 MiB in 4 KiB pages... */
    CHECK_OK(fastpt_map_range(table, GPA, GPA + FASTPT_PAGE_2M, UINT64_C(0x7f0000000000),
                              FASTPT_PAGE_WRITABLE | FASTPT_PAGE_USER, FASTPT_PAGE_4K, NULL));
    /* ...and one 2 MiB leaf. */
    CHECK_OK(fastpt_map_range(table, GPA + FASTPT_PAGE_2M, GPA + SLOT_SIZE, UINT64_C(0x7f0000200000),
                              FASTPT_PAGE_WRITABLE | FASTPT_PAGE_USER, 0, NULL));

    run(FASTPT_DIRTY_LOG_DIRTY_BIT);
    run(FASTPT_DIRTY_LOG_WRITE_PROTECT);
    CHECK_OK(fastpt_table_verify(table));
    bad_input();
    CHECK_OK(fastpt_flush_close(flush));
    EXPECT_EQ(fastpt_debug_open_handles(), 0);

    if (failures != 0) {
        fprintf(stderr, "dirty_log: %d checks failed\n", failures);
        return 1;
    }
    printf("dirty_log: D-bit and write-protect logs (slots, get, clear, write faults) and their bad input: all checks passed\n");
    return 0;
}
