//! Software prefetch: asking the CPU to bring a cache line in before a
//! loop reaches it. Kernels that visit memory in an order the hardware
//! prefetcher cannot guess (hash-table probes, a sort's gather of rows
//! scattered over hundreds of megabytes) otherwise wait out one cache
//! miss per row; issued a few rows ahead, the misses overlap.

/// Hints that the cache line holding `value` will be read soon. Only a
/// hint: it never faults and changes nothing the program can observe.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_address((value as *const T).cast());
}

/// Hints that `bytes` will be read soon: its first two cache lines,
/// which cover the short values (keys, text fields) kernels copy.
#[inline(always)]
pub fn prefetch_bytes(bytes: &[u8]) {
    prefetch_address(bytes.as_ptr());
    if bytes.len() > 64 {
        prefetch_address(bytes.as_ptr().wrapping_add(64));
    }
}

#[inline(always)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults and never reads
    // memory into the program, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
