/*
 * fastpt.h: the C ABI of FastPT, batched x86-64 page tables in hardware format.
 *
 * Link against libfastpt.so, built by
 *     dotnet publish src/FastPT.Native -c Release -r linux-x64
 * (NativeAOT: no .NET runtime needed on the target). docs/c-abi.md explains the design;
 * examples/c and examples/rust use every part of it.
 *
 * Conventions
 *  - Every function returns a status (fastpt_status, 0 = FASTPT_OK) unless it says otherwise.
 *    On failure fastpt_last_error() returns a message saying what, where and how to fix it.
 *    No exception, signal or abort crosses this boundary; a refused call changes nothing.
 *  - Handles (fastpt_table *, fastpt_flush *, fastpt_dirty_log *) are opaque and checked on every call: NULL, closed
 *    or made-up handles, or a handle of the wrong kind, give FASTPT_ERR_INVALID_HANDLE.
 *  - Ranges are [start, end): 4 KiB-aligned, non-empty, canonical, on one side of the
 *    non-canonical hole. Addresses are virtual; "physical" means guest-physical for tables in
 *    guest memory.
 *  - Every verb that can change a present entry takes a fastpt_flush (required): it adds the
 *    virtual ranges whose old translations a TLB may still hold. Read them with
 *    fastpt_flush_ranges and invalidate them before relying on the change.
 *  - Thread safety is stated per function. In short: calls on different tables never
 *    interfere; a table takes one call at a time, except fastpt_translate, which may run on
 *    several threads at once and, with FASTPT_OPTION_SHARED_TABLES, beside the protect, harvest,
 *    change-protection and scan verbs. A flush plan is used by one call at a time.
 */
#ifndef FASTPT_H
#define FASTPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define FASTPT_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define FASTPT_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* The ABI this header describes; compare with fastpt_abi_version() at start-up. */
#define FASTPT_ABI_VERSION 1u

/* ---- status codes ---------------------------------------------------------------------- */

typedef int32_t fastpt_status;

#define FASTPT_OK                    0 /* success */
#define FASTPT_ERR_INVALID_HANDLE    1 /* NULL, closed or wrong-kind handle */
#define FASTPT_ERR_INVALID_ARGUMENT  2 /* a value outside its domain: NULL out-pointer, unknown flags, levels, options */
#define FASTPT_ERR_MISALIGNED        3 /* an address or length not 4 KiB-aligned */
#define FASTPT_ERR_INVALID_RANGE     4 /* empty, reversed or non-canonical range */
#define FASTPT_ERR_BUFFER_TOO_SMALL  5 /* a bitmap or output buffer shorter than needed */
#define FASTPT_ERR_ALREADY_MAPPED    6 /* fastpt_map_range found an entry in the range */
#define FASTPT_ERR_OUT_OF_TABLES     7 /* no 4 KiB table left; the result says where the walk stopped */
#define FASTPT_ERR_CORRUPT_TABLES    8 /* an entry links outside the table memory (guest-written tables) */
#define FASTPT_ERR_INTERNAL          9 /* a FastPT bug or out of host memory; please report it */

/* ---- handles and plain structs --------------------------------------------------------- */

typedef struct fastpt_table fastpt_table; /* a page table and the memory its tables live in */
typedef struct fastpt_flush fastpt_flush; /* a flush plan: TLB invalidations owed, as VA ranges */
typedef struct fastpt_dirty_log fastpt_dirty_log; /* a KVM-format dirty log over a table's slots */

#define FASTPT_OPTION_SHARED_TABLES 1u /* a running vCPU or concurrent translates may set A/D meanwhile */

/* Zero-initialise, then set what you need; a NULL options pointer means all defaults. */
typedef struct fastpt_options {
    uint32_t levels;        /* 4 or 5; 0 = 4 */
    uint32_t flags;         /* FASTPT_OPTION_* */
    int32_t parallelism;    /* 0/1 = calling thread, n > 1 = up to n threads, -1 = every core */
    uint32_t reserved;      /* must be 0 */
    int64_t budget_pages;   /* pages a range verb may cover before stopping (FASTPT_WALK_BUDGET_EXHAUSTED); 0 = no limit */
    int64_t max_tables;     /* native tables only: table limit, root included; 0 = no limit */
} fastpt_options;

/*
 * Bring-your-own table memory through callbacks. A table is named by its physical address
 * (what entries hold, 4 KiB-aligned, below 2^52). The callbacks run on the thread of the
 * fastpt call that needs them, never concurrently for one table unless that table is used
 * from several threads as allowed above. FastPT zeroes the tables it is given.
 */
typedef struct fastpt_allocator {
    void *context;
    /* Stores a free table's physical address in *physical; returns 0, or non-zero when none is left. */
    int32_t (*allocate)(void *context, uint64_t *physical);
    /* Takes back a table fastpt no longer uses (also for every table at fastpt_table_close). */
    void (*release)(void *context, uint64_t physical);
    /* The table's 4 KiB-aligned host address, or NULL when physical is not a table of this memory. */
    void *(*address)(void *context, uint64_t physical);
} fastpt_allocator;

typedef struct fastpt_table_info {
    uint64_t root;          /* physical address of the top-level table: the CR3 value */
    int64_t tables_in_use;  /* root included */
    uint32_t levels;
    uint32_t reserved;
} fastpt_table_info;

/* Leaf flags for fastpt_map_range, at their hardware bit positions (Present is implied). */
#define FASTPT_PAGE_WRITABLE      (UINT64_C(1) << 1)
#define FASTPT_PAGE_USER          (UINT64_C(1) << 2)
#define FASTPT_PAGE_WRITE_THROUGH (UINT64_C(1) << 3)
#define FASTPT_PAGE_CACHE_DISABLE (UINT64_C(1) << 4)
#define FASTPT_PAGE_ACCESSED      (UINT64_C(1) << 5)
#define FASTPT_PAGE_DIRTY         (UINT64_C(1) << 6)
#define FASTPT_PAGE_PAT           (UINT64_C(1) << 7)
#define FASTPT_PAGE_GLOBAL        (UINT64_C(1) << 8)
#define FASTPT_PAGE_NO_EXECUTE    (UINT64_C(1) << 63)

/* Page sizes in bytes (fastpt_map_range's largest_page, fastpt_translation.page_size). */
#define FASTPT_PAGE_4K (UINT64_C(1) << 12)
#define FASTPT_PAGE_2M (UINT64_C(1) << 21)
#define FASTPT_PAGE_1G (UINT64_C(1) << 30)

typedef struct fastpt_map_result {
    int64_t leaves_4k;
    int64_t leaves_2m;
    int64_t leaves_1g;
    int32_t tables_allocated;
    int32_t reserved;
} fastpt_map_result;

/* fastpt_walk_result.status */
#define FASTPT_WALK_COMPLETE             0
#define FASTPT_WALK_BUDGET_EXHAUSTED     1 /* options.budget_pages reached: call again from walk_end */
#define FASTPT_WALK_OUT_OF_TABLES        2 /* also returned as FASTPT_ERR_OUT_OF_TABLES */
#define FASTPT_WALK_STOPPED              3
#define FASTPT_WALK_OUTSIDE_GUEST_MEMORY 4 /* also returned as FASTPT_ERR_CORRUPT_TABLES */

typedef struct fastpt_walk_result {
    int32_t status;           /* FASTPT_WALK_* */
    int32_t tables_allocated;
    int32_t tables_freed;
    int32_t huge_splits;
    uint64_t walk_end;        /* where the walk stopped: end when complete */
    int64_t entries_changed;  /* 4 KiB pages changed (a huge leaf counts its pages) */
} fastpt_walk_result;

/* fastpt_harvest flags */
#define FASTPT_HARVEST_ACCESSED           1u /* harvest A instead of D */
#define FASTPT_HARVEST_ACCUMULATE         2u /* OR into the bitmap instead of overwriting it */
#define FASTPT_HARVEST_SPLIT_PARTIAL_HUGE 4u /* split a huge leaf the range covers in part */

/* fastpt_zap flags */
#define FASTPT_ZAP_DROP_MARKERS  1u
#define FASTPT_ZAP_KEEP_UFFD_WP  2u

/* fastpt_protection: Linux's change_protection (for advanced use; see docs/c-abi.md). */
#define FASTPT_CP_TRY_CHANGE_WRITABLE 1u
#define FASTPT_CP_UFFD_WP             4u
#define FASTPT_CP_UFFD_WP_RESOLVE     8u
#define FASTPT_PROT_VMA_WRITABLE 1u
#define FASTPT_PROT_VMA_SHARED   2u
#define FASTPT_PROT_VMA_UFFD_WP  4u
#define FASTPT_PROT_USE_MARKERS  8u
#define FASTPT_PROT_SPLIT_HUGE  16u

typedef struct fastpt_protection {
    uint64_t new_prot;  /* the VMA's new pgprot bits */
    uint32_t cp_flags;  /* FASTPT_CP_* */
    uint32_t flags;     /* FASTPT_PROT_* */
} fastpt_protection;

/* Page categories (PAGEMAP_SCAN's PAGE_IS_*). */
#define FASTPT_PAGE_IS_WPALLOWED (UINT64_C(1) << 0)
#define FASTPT_PAGE_IS_WRITTEN   (UINT64_C(1) << 1)
#define FASTPT_PAGE_IS_FILE      (UINT64_C(1) << 2)
#define FASTPT_PAGE_IS_PRESENT   (UINT64_C(1) << 3)
#define FASTPT_PAGE_IS_SWAPPED   (UINT64_C(1) << 4)
#define FASTPT_PAGE_IS_PFNZERO   (UINT64_C(1) << 5)
#define FASTPT_PAGE_IS_HUGE      (UINT64_C(1) << 6)
#define FASTPT_PAGE_IS_SOFT_DIRTY (UINT64_C(1) << 7)
#define FASTPT_PAGE_IS_GUARD     (UINT64_C(1) << 8)

#define FASTPT_SCAN_WRITE_PROTECT 1u /* write-protect the kept written pages in the same pass */

typedef struct fastpt_scan_request {
    uint64_t mask;          /* categories that must all match (after inversion) */
    uint64_t any_of;        /* at least one of these must match; 0 = no such condition */
    uint64_t inverted;      /* categories tested as "not" */
    uint64_t return_mask;   /* categories reported; 0 = all */
    int64_t max_pages;      /* stop after this many pages; 0 = no limit */
    uint32_t flags;         /* FASTPT_SCAN_* */
    uint32_t reserved;      /* must be 0 */
} fastpt_scan_request;

typedef struct fastpt_page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;    /* FASTPT_PAGE_IS_* */
} fastpt_page_region;

typedef struct fastpt_scan_result {
    int32_t status;         /* FASTPT_WALK_* */
    int32_t region_count;   /* regions written to the caller's buffer */
    int64_t pages_found;
    uint64_t walk_end;      /* where to resume when the buffer or max_pages ran out */
} fastpt_scan_result;

/* fastpt_translate */
#define FASTPT_ACCESS_READ    0u
#define FASTPT_ACCESS_WRITE   1u
#define FASTPT_ACCESS_EXECUTE 2u

#define FASTPT_TRANSLATE_NO_ACCESSED_DIRTY 1u /* do not set A/D (a debugger's peek) */

/* The CPU state a walk depends on; a NULL pointer means user mode with CR0.WP and EFER.NXE. */
#define FASTPT_CPU_USER           1u   /* CPL 3 */
#define FASTPT_CPU_WRITE_PROTECT  2u   /* CR0.WP */
#define FASTPT_CPU_NXE            4u   /* EFER.NXE */
#define FASTPT_CPU_SMEP           8u
#define FASTPT_CPU_SMAP          16u
#define FASTPT_CPU_ALIGNMENT_CHECK 32u /* RFLAGS.AC (SMAP override) */
#define FASTPT_CPU_PROTECTION_KEYS 64u /* CR4.PKE */
#define FASTPT_CPU_NONLEAF_BIT8_RESERVED 128u

typedef struct fastpt_cpu_mode {
    uint32_t flags;                 /* FASTPT_CPU_* */
    uint32_t pkru;
    uint32_t max_physical_bits;     /* MAXPHYADDR; 0 = 52 */
    uint32_t reserved;              /* must be 0 */
} fastpt_cpu_mode;

/* #PF error code bits (fastpt_translation.error_code), as the CPU pushes them. */
#define FASTPT_PF_PRESENT  1u
#define FASTPT_PF_WRITE    2u
#define FASTPT_PF_USER     4u
#define FASTPT_PF_RESERVED 8u
#define FASTPT_PF_FETCH   16u
#define FASTPT_PF_PKEY    32u

typedef struct fastpt_translation {
    uint64_t physical;              /* success: the physical address; outside_guest_memory: the table's address */
    uint64_t page_size;             /* success: FASTPT_PAGE_4K/2M/1G; else 0 */
    uint32_t error_code;            /* page fault: FASTPT_PF_* */
    int32_t fault_level;            /* level of the entry that stopped the walk (0 for a permission fault) */
    int32_t success;                /* 1: translated; 0: a page fault or outside guest memory */
    int32_t outside_guest_memory;   /* 1: a link names a table where the guest has no RAM (not a #PF) */
} fastpt_translation;

typedef struct fastpt_flush_range {
    uint64_t start;
    uint64_t end;
} fastpt_flush_range;

FASTPT_STATIC_ASSERT(sizeof(fastpt_options) == 32, "fastpt_options layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_allocator) == 4 * sizeof(void *), "fastpt_allocator layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_table_info) == 24, "fastpt_table_info layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_map_result) == 32, "fastpt_map_result layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_walk_result) == 32, "fastpt_walk_result layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_protection) == 16, "fastpt_protection layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_scan_request) == 48, "fastpt_scan_request layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_page_region) == 24, "fastpt_page_region layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_scan_result) == 24, "fastpt_scan_result layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_cpu_mode) == 16, "fastpt_cpu_mode layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_translation) == 32, "fastpt_translation layout");
FASTPT_STATIC_ASSERT(sizeof(fastpt_flush_range) == 16, "fastpt_flush_range layout");

/* ---- the library ----------------------------------------------------------------------- */

/* The library's ABI version (FASTPT_ABI_VERSION when they match). Thread-safe. */
uint32_t fastpt_abi_version(void);

/*
 * The message of the last failing call on this thread, NUL-terminated UTF-8; "" when none has
 * failed. Valid until the next failing fastpt call on this thread; never free it. Thread-safe
 * (each thread has its own).
 */
const char *fastpt_last_error(void);

/* The name of a status code ("FASTPT_ERR_MISALIGNED"), a static string. Thread-safe. */
const char *fastpt_status_name(fastpt_status status);

/* Handles open now, tables and flush plans together (a leak check for tests). Thread-safe. */
int64_t fastpt_debug_open_handles(void);

/* ---- tables ---------------------------------------------------------------------------- */

/*
 * A table whose tables are 4 KiB blocks of native memory (entries hold host addresses).
 * options may be NULL. Stores the handle in *table (NULL on failure). Thread-safe.
 */
fastpt_status fastpt_table_create(const fastpt_options *options, fastpt_table **table);

/*
 * A table whose tables are carved out of a region of guest RAM: host is where the region is
 * mapped in this process, guest_physical_base its guest-physical address (both 4 KiB-aligned),
 * length its size. Entries hold guest-physical addresses, so the root is a CR3 a guest can
 * load. The region must stay mapped until fastpt_table_close; options->max_tables must be 0.
 * Thread-safe.
 */
fastpt_status fastpt_table_create_in_guest_memory(void *host, uint64_t guest_physical_base, uint64_t length,
                                                  const fastpt_options *options, fastpt_table **table);

/*
 * A table whose tables come from the caller's callbacks (copied; the context must outlive the
 * table). options->max_tables must be 0. Thread-safe.
 */
fastpt_status fastpt_table_create_with_allocator(const fastpt_allocator *allocator, const fastpt_options *options,
                                                 fastpt_table **table);

/*
 * Returns every table to its memory (the allocator's release, for callback tables) and frees
 * everything the handle owns; the handle is invalid afterwards (a second close is
 * FASTPT_ERR_INVALID_HANDLE). Not concurrently with any other call on the same table.
 */
fastpt_status fastpt_table_close(fastpt_table *table);

/* Root (CR3), tables in use, levels. Not concurrently with a call that changes the table. */
fastpt_status fastpt_table_get_info(fastpt_table *table, fastpt_table_info *info);

/*
 * Checks the tables' structure (reads every table: for tests and debug builds): FASTPT_OK, or
 * FASTPT_ERR_CORRUPT_TABLES with the problems in fastpt_last_error(). Not concurrently with a
 * call that changes the table.
 */
fastpt_status fastpt_table_verify(fastpt_table *table);

/* ---- flush plans ----------------------------------------------------------------------- */

/* A new, empty flush plan. Thread-safe. */
fastpt_status fastpt_flush_create(fastpt_flush **flush);

/* Frees the plan; the handle is invalid afterwards. Not concurrently with a call using the plan. */
fastpt_status fastpt_flush_close(fastpt_flush *flush);

/* Empties the plan for reuse (it keeps its memory). One call at a time per plan. */
fastpt_status fastpt_flush_clear(fastpt_flush *flush);

/*
 * Copies the plan's ranges (ascending, coalesced) into ranges[0..capacity) and stores how many
 * the plan holds in *count. ranges = NULL with capacity 0 asks for the count only; a smaller
 * capacity copies what fits and returns FASTPT_ERR_BUFFER_TOO_SMALL. One call at a time per plan.
 */
fastpt_status fastpt_flush_ranges(fastpt_flush *flush, fastpt_flush_range *ranges, size_t capacity, size_t *count);

/* ---- the verbs ------------------------------------------------------------------------- */

/*
 * Maps [start, end) to physical [physical, physical + end - start) with 1 GiB, 2 MiB and 4 KiB
 * leaves (the largest each step's alignment allows, up to largest_page: FASTPT_PAGE_*, or 0 for
 * 1 GiB). flags: FASTPT_PAGE_*. Refuses, changing nothing, if any entry in the range is in use
 * (FASTPT_ERR_ALREADY_MAPPED) or tables run out. result may be NULL. Needs no flush plan:
 * it only fills empty entries. One call at a time per table.
 */
fastpt_status fastpt_map_range(fastpt_table *table, uint64_t start, uint64_t end, uint64_t physical, uint64_t flags,
                               uint64_t largest_page, fastpt_map_result *result);

/* Clears [start, end) and frees tables it empties. result may be NULL. One call at a time per table. */
fastpt_status fastpt_unmap_range(fastpt_table *table, uint64_t start, uint64_t end, fastpt_flush *flush,
                                 fastpt_walk_result *result);

/*
 * Write-protects [start, end): R/W goes from every present leaf that has it (noted in bit 10,
 * which the CPU ignores), every other bit stays. fastpt_unprotect gives R/W back to exactly
 * those leaves, so a read-only page stays read-only. A huge leaf covered in part is split.
 * result may be NULL. One call at a time per table; with FASTPT_OPTION_SHARED_TABLES also
 * beside fastpt_translate and vCPUs setting A/D.
 */
fastpt_status fastpt_write_protect(fastpt_table *table, uint64_t start, uint64_t end, fastpt_flush *flush,
                                   fastpt_walk_result *result);
fastpt_status fastpt_unprotect(fastpt_table *table, uint64_t start, uint64_t end, fastpt_flush *flush,
                               fastpt_walk_result *result);

/*
 * Dirty (or, with FASTPT_HARVEST_ACCESSED, accessed) harvest-and-clear: bit k of bitmap (64-bit
 * little-endian words) is set for the page at start + k * 4096 whose bit was set, every page of
 * a huge leaf included. bitmap_words must cover the range's pages ((pages + 63) / 64), or
 * FASTPT_ERR_BUFFER_TOO_SMALL. result may be NULL. Threads as fastpt_write_protect.
 */
fastpt_status fastpt_harvest(fastpt_table *table, uint64_t start, uint64_t end, uint64_t *bitmap, size_t bitmap_words,
                             uint32_t flags, fastpt_flush *flush, fastpt_walk_result *result);

/* Clears [start, end) by Linux's zap rule (FASTPT_ZAP_*). result may be NULL. One call at a time per table. */
fastpt_status fastpt_zap(fastpt_table *table, uint64_t start, uint64_t end, uint32_t flags, fastpt_flush *flush,
                         fastpt_walk_result *result);

/* Linux's change_protection over [start, end). result may be NULL. Threads as fastpt_write_protect. */
fastpt_status fastpt_change_protection(fastpt_table *table, uint64_t start, uint64_t end,
                                       const fastpt_protection *protection, fastpt_flush *flush,
                                       fastpt_walk_result *result);

/*
 * PAGEMAP_SCAN over the tables: runs of pages with equal categories that match the request go
 * to regions[0..capacity); when it is full the scan stops and result->walk_end says where to
 * resume. result may be NULL. Threads as fastpt_write_protect.
 */
fastpt_status fastpt_scan(fastpt_table *table, uint64_t start, uint64_t end, const fastpt_scan_request *request,
                          fastpt_page_region *regions, size_t capacity, fastpt_flush *flush,
                          fastpt_scan_result *result);

/*
 * The hardware walk of va for an access (FASTPT_ACCESS_*) in a CPU mode (NULL: user mode, CR0.WP,
 * EFER.NXE): rights combined over all levels, A/D set (unless FASTPT_TRANSLATE_NO_ACCESSED_DIRTY),
 * the #PF error code on a fault. A fault is FASTPT_OK with result->success == 0. Thread-safe
 * against other fastpt_translate calls on the same table; beside changing verbs only with
 * FASTPT_OPTION_SHARED_TABLES (and never beside map, unmap, zap or close).
 */
fastpt_status fastpt_translate(fastpt_table *table, uint64_t va, uint32_t access, const fastpt_cpu_mode *cpu,
                               uint32_t flags, fastpt_translation *result);

/* ---- dirty logs (KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG with manual protect) ------------ */

/* fastpt_dirty_log_create modes: how the log learns of writes */
#define FASTPT_DIRTY_LOG_DIRTY_BIT     0u /* the CPU sets D; get harvests it, clear clears it */
#define FASTPT_DIRTY_LOG_WRITE_PROTECT 1u /* clear write-protects; writes fault into fastpt_dirty_log_write_fault */
/* fastpt_dirty_log_create flags */
#define FASTPT_DIRTY_LOG_PAGE_4K       1u /* report 4 KiB pages: the slot's huge leaves are split */

/* fastpt_dirty_log_write_fault outcomes */
#define FASTPT_FAULT_RESOLVED          0u /* logged and writable again: invalidate the flush plan, retry the write */
#define FASTPT_FAULT_OUTSIDE_SLOTS     1u /* the address is in no slot: not the log's fault, deliver it */
#define FASTPT_FAULT_NOT_LOG_PROTECTED 2u /* not present or mapped read-only: not the log's fault, deliver it */

/*
 * A dirty log over table's input addresses (guest-physical for a VMM's stage-2 tables). It walks
 * as the table's options say: with FASTPT_OPTION_SHARED_TABLES, get and clear run beside vCPUs
 * using the tables. Close the log before its table (a log whose table is closed refuses every
 * call with FASTPT_ERR_INVALID_HANDLE). Thread-safe.
 */
fastpt_status fastpt_dirty_log_create(fastpt_table *table, uint32_t mode, uint32_t flags, fastpt_dirty_log **log);
fastpt_status fastpt_dirty_log_close(fastpt_dirty_log *log);

/*
 * Starts logging [start, start + size) as slot (4 KiB-aligned, canonical, overlapping no other
 * slot); every page starts clean. A write-protect log write-protects the slot here (a huge leaf
 * crossing its edge is split); FASTPT_DIRTY_LOG_PAGE_4K splits its huge leaves. No vCPU may run
 * on the tables meanwhile. remove_slot stops logging it (a write-protect log gives its pages
 * write access back). Bad input: FASTPT_ERR_MISALIGNED, _INVALID_RANGE, _INVALID_ARGUMENT (slot in
 * use, overlap, unknown slot); nothing changes.
 */
fastpt_status fastpt_dirty_log_add_slot(fastpt_dirty_log *log, uint32_t slot, uint64_t start, uint64_t size,
                                        fastpt_flush *flush);
fastpt_status fastpt_dirty_log_remove_slot(fastpt_dirty_log *log, uint32_t slot, fastpt_flush *flush);

/* The slot's page count: its bitmaps have (pages + 63) / 64 words. */
fastpt_status fastpt_dirty_log_pages(fastpt_dirty_log *log, uint32_t slot, uint64_t *pages);

/*
 * KVM_GET_DIRTY_LOG: ORs into bitmap (bit k = the page at start + k * 4096) every page written
 * since its last clear, every page of a written huge leaf included; zero the bitmap first for
 * KVM's overwrite. bitmap_words below the slot's words: FASTPT_ERR_BUFFER_TOO_SMALL.
 * get, clear, add_slot and remove_slot: one call at a time per log.
 */
fastpt_status fastpt_dirty_log_get(fastpt_dirty_log *log, uint32_t slot, uint64_t *bitmap, size_t bitmap_words,
                                   fastpt_flush *flush);

/*
 * KVM_CLEAR_DIRTY_LOG: re-arms the pages set in mask (word i covers pages first_page + 64 i ..
 * + 63; first_page a multiple of 64, else FASTPT_ERR_MISALIGNED) that the log held: they leave
 * it, and a write once flush is invalidated reports them again. Copy a page after clearing it:
 * a write between get and clear is not reported again, as with KVM. *cleared (may be NULL): the
 * pages that left the log.
 */
fastpt_status fastpt_dirty_log_clear(fastpt_dirty_log *log, uint32_t slot, uint64_t first_page, const uint64_t *mask,
                                     size_t mask_words, fastpt_flush *flush, uint64_t *cleared);

/*
 * A write-protect log's write-fault path (a #PF with W|P, an EPT violation on a write at
 * address): *outcome is FASTPT_FAULT_*. RESOLVED: the page is logged and writable again;
 * invalidate flush (a CPU drops the faulting translation itself) and retry the write. Thread-safe:
 * any number of vCPU threads, each with its own flush plan, beside get and clear. On a dirty-bit
 * log: FASTPT_ERR_INVALID_ARGUMENT.
 */
fastpt_status fastpt_dirty_log_write_fault(fastpt_dirty_log *log, uint64_t address, fastpt_flush *flush,
                                           uint32_t *outcome);

#ifdef __cplusplus
}
#endif

#endif /* FASTPT_H */
