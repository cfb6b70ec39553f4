//! The resource report of one execution (`usage` in the result): CPU time of the execution's
//! thread (`CLOCK_THREAD_CPUTIME_ID`) and wall time, both from the start of the job (not the
//! worker's bootstrap), and the peak of the memory the thread holds. The engine allocates through
//! the process allocator, jemalloc (`src/allocator.rs`), which counts the
//! bytes each thread allocated and freed: their difference is what the thread holds — the engine's
//! heap (V8's heap and ArrayBuffer memory) plus the worker's own state. One sampler thread reads those
//! counters every millisecond while executions run (never walking a heap); the job's start and
//! end are sampled too. Without jemalloc (other platforms, the library's unit tests) the peak is 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// What `usage` reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_time_ms: f64,
    pub peak_memory: u64,
    pub wall_time_ms: f64,
}

/// CPU time of the calling thread, in milliseconds.
pub fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1_000_000.0
}

/// The calling thread's jemalloc counters (bytes allocated, bytes freed), as pointers the
/// sampler may read while the thread lives.
#[derive(Clone, Copy)]
struct Counters {
    allocated: *const u64,
    deallocated: *const u64,
}

// SAFETY: the pointers are only read (volatile), and only while the owning thread is registered
// (a `Meter` unregisters before its thread can end).
unsafe impl Send for Counters {}

impl Counters {
    #[cfg(target_os = "linux")]
    fn of_this_thread() -> Option<Counters> {
        fn pointer(name: &[u8]) -> Option<*const u64> {
            let mut value: *mut u64 = std::ptr::null_mut();
            let mut len = std::mem::size_of::<*mut u64>();
            // SAFETY: mallctl writes a pointer-sized value into `value`; `name` is NUL-terminated.
            let rc = unsafe {
                tikv_jemalloc_sys::mallctl(
                    name.as_ptr().cast(),
                    (&mut value as *mut *mut u64).cast(),
                    &mut len,
                    std::ptr::null_mut(),
                    0,
                )
            };
            (rc == 0 && !value.is_null()).then_some(value as *const u64)
        }
        Some(Counters { allocated: pointer(b"thread.allocatedp\0")?, deallocated: pointer(b"thread.deallocatedp\0")? })
    }

    #[cfg(not(target_os = "linux"))]
    fn of_this_thread() -> Option<Counters> {
        None
    }

    /// Bytes the thread holds now.
    fn held(&self) -> u64 {
        // SAFETY: see `unsafe impl Send`; a torn read is impossible for an aligned u64 here and a
        // stale one only makes one sample late.
        let (allocated, deallocated) = unsafe { (self.allocated.read_volatile(), self.deallocated.read_volatile()) };
        allocated.saturating_sub(deallocated)
    }
}

struct Entry {
    id: u64,
    counters: Counters,
    peak: Arc<AtomicU64>,
}

struct Sampler {
    entries: Mutex<Vec<Entry>>,
    wake: Condvar,
}

const SAMPLE_EVERY: Duration = Duration::from_millis(1);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

static SAMPLER: LazyLock<Arc<Sampler>> = LazyLock::new(|| {
    let sampler = Arc::new(Sampler { entries: Mutex::new(Vec::new()), wake: Condvar::new() });
    let running = sampler.clone();
    let _ = std::thread::Builder::new().name("usage-sampler".into()).spawn(move || {
        let mut entries = running.entries.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if entries.is_empty() {
                entries = running.wake.wait(entries).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            for entry in entries.iter() {
                entry.peak.fetch_max(entry.counters.held(), Ordering::Relaxed);
            }
            drop(entries);
            std::thread::sleep(SAMPLE_EVERY);
            entries = running.entries.lock().unwrap_or_else(|p| p.into_inner());
        }
    });
    sampler
});

/// Measures one job on the calling thread, from `start` to `finish` (or drop).
pub struct Meter {
    cpu_start: f64,
    wall_start: Instant,
    counters: Option<Counters>,
    peak: Arc<AtomicU64>,
    id: u64,
}

impl Meter {
    pub fn start() -> Meter {
        let counters = Counters::of_this_thread();
        let peak = Arc::new(AtomicU64::new(counters.map_or(0, |c| c.held())));
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Some(counters) = counters {
            let sampler = &*SAMPLER;
            sampler.entries.lock().unwrap_or_else(|p| p.into_inner()).push(Entry { id, counters, peak: peak.clone() });
            sampler.wake.notify_one();
        }
        Meter { cpu_start: thread_cpu_ms(), wall_start: Instant::now(), counters, peak, id }
    }

    pub fn finish(self) -> Usage {
        if let Some(counters) = self.counters {
            self.peak.fetch_max(counters.held(), Ordering::Relaxed);
        }
        Usage {
            cpu_time_ms: thread_cpu_ms() - self.cpu_start,
            peak_memory: self.peak.load(Ordering::Relaxed),
            wall_time_ms: self.wall_start.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if self.counters.is_some() {
            SAMPLER.entries.lock().unwrap_or_else(|p| p.into_inner()).retain(|e| e.id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_follows_work_not_sleep() {
        let meter = Meter::start();
        std::thread::sleep(Duration::from_millis(30));
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let usage = meter.finish();
        assert!(x > 0);
        assert!(usage.wall_time_ms >= 90.0, "{usage:?}");
        assert!(usage.cpu_time_ms >= 40.0 && usage.cpu_time_ms < usage.wall_time_ms, "{usage:?}");
    }
}
