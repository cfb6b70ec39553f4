//! The resource report of one execution (`usage` in the result): CPU time of the execution's
//! thread (`CLOCK_THREAD_CPUTIME_ID`) and wall time, both from the start of the job (not the
//! worker's bootstrap), and the peak memory the isolate held: its JS heap in use plus its
//! `ArrayBuffer` backing stores and WebAssembly memories, as V8 counts them, sampled by the
//! memory checks of `memory.rs` (every few milliseconds while the job runs, and at its end).

use std::time::Instant;

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

/// Measures one job's time on the calling thread, from `start` to `finish`.
pub struct Meter {
    cpu_start: f64,
    wall_start: Instant,
}

impl Meter {
    pub fn start() -> Meter {
        Meter { cpu_start: thread_cpu_ms(), wall_start: Instant::now() }
    }

    /// The job's usage; `peak_memory` comes from the execution's memory checks.
    pub fn finish(self, peak_memory: u64) -> Usage {
        Usage {
            cpu_time_ms: thread_cpu_ms() - self.cpu_start,
            peak_memory,
            wall_time_ms: self.wall_start.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let usage = meter.finish(0);
        assert!(x > 0);
        assert!(usage.wall_time_ms >= 90.0, "{usage:?}");
        assert!(usage.cpu_time_ms >= 40.0 && usage.cpu_time_ms < usage.wall_time_ms, "{usage:?}");
    }
}
