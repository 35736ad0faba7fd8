//! FastPT from Rust through its C ABI (include/fastpt.h), declared by hand below: page tables
//! inside our own buffer acting as guest RAM; map, translate, write-protect, read the flush
//! plan, unprotect, harvest dirty pages. Every result is checked; exit 1 on any mismatch.

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::process::ExitCode;

// ---- the part of include/fastpt.h this program uses ---------------------------------------

type Status = i32;
const FASTPT_OK: Status = 0;
const FASTPT_ERR_MISALIGNED: Status = 3;
const FASTPT_ERR_BUFFER_TOO_SMALL: Status = 5;
const FASTPT_ABI_VERSION: u32 = 1;

#[repr(C)]
struct Table {
    _opaque: [u8; 0],
}
#[repr(C)]
struct Flush {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Default)]
struct MapResult {
    leaves_4k: i64,
    leaves_2m: i64,
    leaves_1g: i64,
    tables_allocated: i32,
    reserved: i32,
}

#[repr(C)]
#[derive(Default)]
struct WalkResult {
    status: i32,
    tables_allocated: i32,
    tables_freed: i32,
    huge_splits: i32,
    walk_end: u64,
    entries_changed: i64,
}

#[repr(C)]
#[derive(Default)]
struct TableInfo {
    root: u64,
    tables_in_use: i64,
    levels: u32,
    reserved: u32,
}

#[repr(C)]
#[derive(Default)]
struct Translation {
    physical: u64,
    page_size: u64,
    error_code: u32,
    fault_level: i32,
    success: i32,
    outside_guest_memory: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct FlushRange {
    start: u64,
    end: u64,
}

const PAGE_WRITABLE: u64 = 1 << 1;
const PAGE_USER: u64 = 1 << 2;
const PAGE_4K: u64 = 1 << 12;
const PAGE_2M: u64 = 1 << 21;
const ACCESS_READ: u32 = 0;
const ACCESS_WRITE: u32 = 1;
const PF_PRESENT: u32 = 1;
const PF_WRITE: u32 = 2;
const PF_USER: u32 = 4;

extern "C" {
    fn fastpt_abi_version() -> u32;
    fn fastpt_last_error() -> *const c_char;
    fn fastpt_debug_open_handles() -> i64;
    fn fastpt_table_create_in_guest_memory(host: *mut c_void, guest_physical_base: u64, length: u64,
        options: *const c_void, table: *mut *mut Table) -> Status;
    fn fastpt_table_close(table: *mut Table) -> Status;
    fn fastpt_table_get_info(table: *mut Table, info: *mut TableInfo) -> Status;
    fn fastpt_flush_create(flush: *mut *mut Flush) -> Status;
    fn fastpt_flush_close(flush: *mut Flush) -> Status;
    fn fastpt_flush_clear(flush: *mut Flush) -> Status;
    fn fastpt_flush_ranges(flush: *mut Flush, ranges: *mut FlushRange, capacity: usize, count: *mut usize) -> Status;
    fn fastpt_map_range(table: *mut Table, start: u64, end: u64, physical: u64, flags: u64, largest_page: u64,
        result: *mut MapResult) -> Status;
    fn fastpt_write_protect(table: *mut Table, start: u64, end: u64, flush: *mut Flush, result: *mut WalkResult) -> Status;
    fn fastpt_unprotect(table: *mut Table, start: u64, end: u64, flush: *mut Flush, result: *mut WalkResult) -> Status;
    fn fastpt_harvest(table: *mut Table, start: u64, end: u64, bitmap: *mut u64, bitmap_words: usize, flags: u32,
        flush: *mut Flush, result: *mut WalkResult) -> Status;
    fn fastpt_translate(table: *mut Table, va: u64, access: u32, cpu: *const c_void, flags: u32,
        result: *mut Translation) -> Status;
}

// ---- checks -------------------------------------------------------------------------------

struct Checks {
    failures: u32,
}

impl Checks {
    fn ok(&mut self, what: &str, status: Status) {
        self.status(what, status, FASTPT_OK);
    }

    fn status(&mut self, what: &str, got: Status, want: Status) {
        if got != want {
            let message = unsafe { CStr::from_ptr(fastpt_last_error()) }.to_string_lossy().into_owned();
            eprintln!("{what}: status {got}, expected {want}: {message}");
            self.failures += 1;
        }
    }

    fn eq(&mut self, what: &str, got: u64, want: u64) {
        if got != want {
            eprintln!("{what} is {got:#x}, expected {want:#x}");
            self.failures += 1;
        }
    }
}

const RAM_SIZE: usize = 8 << 20;
const TABLE_POOL: u64 = 16 * 4096;
const RAM_BASE: u64 = 0x1000_0000;
const VA: u64 = 0x4000_0000;

fn main() -> ExitCode {
    let mut c = Checks { failures: 0 };
    if unsafe { fastpt_abi_version() } != FASTPT_ABI_VERSION {
        eprintln!("libfastpt speaks ABI {}, this program {FASTPT_ABI_VERSION}", unsafe { fastpt_abi_version() });
        return ExitCode::from(2);
    }
    // Guest RAM: a 4 KiB-aligned buffer of our own (Vec<u8> only promises byte alignment).
    let mut backing = vec![0u64; (RAM_SIZE + 4096) / 8];
    let offset = (4096 - (backing.as_ptr() as usize & 4095)) & 4095;
    let ram = unsafe { (backing.as_mut_ptr() as *mut u8).add(offset) };

    let mut table: *mut Table = std::ptr::null_mut();
    let mut flush: *mut Flush = std::ptr::null_mut();
    unsafe {
        c.ok("create table", fastpt_table_create_in_guest_memory(ram.cast(), RAM_BASE, TABLE_POOL, std::ptr::null(), &mut table));
        c.ok("create flush", fastpt_flush_create(&mut flush));
        if table.is_null() || flush.is_null() {
            return ExitCode::FAILURE;
        }

        let mut m = MapResult::default();
        c.ok("map 2 MiB", fastpt_map_range(table, VA, VA + PAGE_2M, RAM_BASE + PAGE_2M, PAGE_WRITABLE | PAGE_USER, 0, &mut m));
        c.eq("2 MiB leaves", m.leaves_2m as u64, 1);
        let end = VA + PAGE_2M + 8 * PAGE_4K;
        c.ok("map 4 KiB", fastpt_map_range(table, VA + PAGE_2M, end, RAM_BASE + TABLE_POOL, PAGE_WRITABLE | PAGE_USER, 0, &mut m));
        c.eq("4 KiB leaves", m.leaves_4k as u64, 8);

        // The tables live in our buffer: CR3 is its base, and the root's entry links into it.
        let mut info = TableInfo::default();
        c.ok("info", fastpt_table_get_info(table, &mut info));
        c.eq("root", info.root, RAM_BASE);
        c.eq("tables", info.tables_in_use as u64, 4);
        let root_entry = *(ram as *const u64).add(((VA >> 39) & 511) as usize);
        let pdpt = root_entry & 0x000F_FFFF_FFFF_F000;
        c.eq("root entry links into the pool", (pdpt > RAM_BASE && pdpt < RAM_BASE + TABLE_POOL) as u64, 1);

        let mut t = Translation::default();
        c.ok("translate", fastpt_translate(table, VA + 0x1234, ACCESS_WRITE, std::ptr::null(), 0, &mut t));
        c.eq("success", t.success as u64, 1);
        c.eq("physical", t.physical, RAM_BASE + PAGE_2M + 0x1234);
        c.eq("page size", t.page_size, PAGE_2M);
        *ram.add((t.physical - RAM_BASE) as usize) = 0x5a; // the guest's store, where the walk says

        let mut w = WalkResult::default();
        c.ok("write-protect", fastpt_write_protect(table, VA, end, flush, &mut w));
        c.eq("pages protected", w.entries_changed as u64, 520);
        let mut ranges = [FlushRange::default(); 4];
        let mut count = 0usize;
        c.ok("flush range count", fastpt_flush_ranges(flush, std::ptr::null_mut(), 0, &mut count));
        c.eq("flush range count", count as u64, 1);
        c.ok("flush ranges", fastpt_flush_ranges(flush, ranges.as_mut_ptr(), ranges.len(), &mut count));
        c.eq("flush start", ranges[0].start, VA);
        c.eq("flush end", ranges[0].end, end);

        c.ok("translate", fastpt_translate(table, VA + PAGE_2M + 3 * PAGE_4K, ACCESS_WRITE, std::ptr::null(), 0, &mut t));
        c.eq("write faults", t.success as u64, 0);
        c.eq("error code", t.error_code as u64, (PF_PRESENT | PF_WRITE | PF_USER) as u64);
        c.ok("translate", fastpt_translate(table, VA + PAGE_2M + 3 * PAGE_4K, ACCESS_READ, std::ptr::null(), 0, &mut t));
        c.eq("read allowed", t.success as u64, 1);

        c.ok("clear", fastpt_flush_clear(flush));
        c.ok("unprotect", fastpt_unprotect(table, VA, end, flush, &mut w));
        c.ok("translate", fastpt_translate(table, VA + PAGE_2M + 3 * PAGE_4K, ACCESS_WRITE, std::ptr::null(), 0, &mut t));
        c.eq("write allowed again", t.success as u64, 1);
        let mut dirty = [0u64; 9];
        c.ok("harvest", fastpt_harvest(table, VA, end, dirty.as_mut_ptr(), dirty.len(), 0, flush, &mut w));
        for (i, word) in dirty.iter().take(8).enumerate() {
            c.eq(&format!("dirty[{i}]"), *word, u64::MAX);
        }
        c.eq("dirty[8]", dirty[8], 1 << 3);
        c.status("harvest into a short bitmap", fastpt_harvest(table, VA, end, dirty.as_mut_ptr(), 8, 0, flush, &mut w),
            FASTPT_ERR_BUFFER_TOO_SMALL);
        c.status("misaligned write-protect", fastpt_write_protect(table, VA + 1, end, flush, &mut w), FASTPT_ERR_MISALIGNED);

        c.ok("close flush", fastpt_flush_close(flush));
        c.ok("close table", fastpt_table_close(table));
        c.eq("open handles", fastpt_debug_open_handles() as u64, 0);
        c.eq("the guest's byte", *ram.add((PAGE_2M + 0x1234) as usize) as u64, 0x5a);
    }
    drop(backing);

    if c.failures != 0 {
        eprintln!("rust example: {} checks failed", c.failures);
        return ExitCode::FAILURE;
    }
    println!("rust example: map, translate, write-protect, flush plan, unprotect, harvest: all checks passed");
    ExitCode::SUCCESS
}
