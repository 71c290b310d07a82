//! A counting global allocator: while a thread measures (see [`measure`]), every allocation it
//! makes is counted, so a target can assert the **largest single allocation** and the **peak
//! of live bytes** a decoder reached on one input. Counters are per thread (tests run targets
//! on parallel threads); other threads and unmeasured code are not counted.
//!
//! The one module of the workspace with `unsafe`: `GlobalAlloc` is an unsafe trait, and its
//! methods only forward to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counted while a thread measures.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK_LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK_SINGLE: Cell<usize> = const { Cell::new(0) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn grow(by: usize, single: usize) {
    let _ = ACTIVE.try_with(|active| {
        if !active.get() {
            return;
        }
        let _ = LIVE.try_with(|live| {
            let now = live
                .get()
                .saturating_add(isize::try_from(by).unwrap_or(isize::MAX));
            live.set(now);
            let _ = PEAK_LIVE.try_with(|peak| peak.set(peak.get().max(now)));
        });
        let _ = PEAK_SINGLE.try_with(|peak| peak.set(peak.get().max(single)));
        let _ = COUNT.try_with(|count| count.set(count.get() + 1));
    });
}

fn shrink(by: usize) {
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            let _ = LIVE.try_with(|live| {
                live.set(
                    live.get()
                        .saturating_sub(isize::try_from(by).unwrap_or(isize::MAX)),
                );
            });
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only `const`-initialised thread-locals without destructors, which
// neither allocate nor unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grow(layout.size(), layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grow(layout.size(), layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size(), new_size);
            } else {
                shrink(layout.size() - new_size);
            }
        }
        new
    }
}

/// What one measured call allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The largest single allocation (or reallocation's new size), in bytes.
    pub peak_single: usize,
    /// The most bytes live at once that the call allocated, in bytes.
    pub peak_live: usize,
    /// Allocations made.
    pub allocations: u64,
    /// The length of what the decoder was given, when it is not the mutated bytes themselves
    /// (text made from them, where each invalid byte became a 3-byte U+FFFD); 0 otherwise.
    pub input_len: usize,
}

impl Usage {
    /// The larger of both figures of two usages.
    pub fn max(self, other: Usage) -> Usage {
        Usage {
            peak_single: self.peak_single.max(other.peak_single),
            peak_live: self.peak_live.max(other.peak_live),
            allocations: self.allocations + other.allocations,
            input_len: self.input_len.max(other.input_len),
        }
    }
}

/// Runs `f` on this thread with its allocations counted. The result is dropped inside the
/// measurement, so what a decoder returns counts as live too. If `f` panics, counting stops
/// and the panic goes on.
pub fn measure<R>(f: impl FnOnce() -> R) -> Usage {
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(false));
        }
    }
    LIVE.with(|c| c.set(0));
    PEAK_LIVE.with(|c| c.set(0));
    PEAK_SINGLE.with(|c| c.set(0));
    COUNT.with(|c| c.set(0));
    let stop = Stop;
    ACTIVE.with(|a| a.set(true));
    drop(f());
    drop(stop);
    Usage {
        peak_single: PEAK_SINGLE.with(Cell::get),
        peak_live: usize::try_from(PEAK_LIVE.with(Cell::get)).unwrap_or(0),
        allocations: COUNT.with(Cell::get),
        input_len: 0,
    }
}

/// [`measure`] for a decoder given `len` bytes of text made from the input.
pub fn measure_text<R>(len: usize, f: impl FnOnce() -> R) -> Usage {
    Usage {
        input_len: len,
        ..measure(f)
    }
}
