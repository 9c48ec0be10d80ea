//! The clock expiry deadlines are measured on: the system's monotonic clock
//! (`CLOCK_MONOTONIC`) in nanoseconds (never 0, which means "no deadline"),
//! or a manual clock that tests move by hand. The monotonic clock has no
//! base of its own, so that a direct reader in another runtime (the Go
//! binding: `runtime.nanotime`) compares deadlines with the same clock
//! (`ns_map_direct_read`, flag `NS_DIRECT_CLOCK`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of "now" for expiry. Cloning shares the clock.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    Monotonic,
    Manual(Arc<AtomicU64>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Monotonic => f.write_str("Clock::Monotonic"),
            Kind::Manual(t) => write!(f, "Clock::Manual({} ns)", t.load(Ordering::Relaxed)),
        }
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::monotonic()
    }
}

impl Clock {
    /// The system's monotonic clock (`CLOCK_MONOTONIC`, the clock of
    /// `std::time::Instant`), in nanoseconds from its own start.
    pub fn monotonic() -> Clock {
        Clock(Kind::Monotonic)
    }

    /// True for [`Clock::monotonic`]: deadlines are `CLOCK_MONOTONIC`
    /// nanoseconds, which another reader of the map's memory can compare
    /// with its own reading of that clock.
    pub fn is_monotonic(&self) -> bool {
        matches!(self.0, Kind::Monotonic)
    }

    /// A clock that stands still until [`Clock::advance`] moves it: for
    /// tests of expiry that must not depend on timing.
    pub fn manual() -> Clock {
        Clock(Kind::Manual(Arc::new(AtomicU64::new(1))))
    }

    /// Moves a manual clock forward (no effect on the monotonic clock).
    pub fn advance(&self, by: Duration) {
        if let Kind::Manual(t) = &self.0 {
            t.fetch_add(by.as_nanos().min(u64::MAX as u128 / 4) as u64, Ordering::SeqCst);
        }
    }

    /// Now, in nanoseconds on this clock; never 0.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        match &self.0 {
            Kind::Monotonic => monotonic_ns(),
            Kind::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// The deadline `ttl` from now (never 0; saturating).
    #[inline]
    pub fn deadline_after(&self, ttl: Duration) -> u64 {
        self.now_ns().saturating_add(ttl.as_nanos().min(u64::MAX as u128) as u64).max(1)
    }

    /// A deadline on this clock as wall-clock milliseconds since the Unix
    /// epoch (for files that outlive the process); 0 stays 0.
    pub fn deadline_to_unix_ms(&self, deadline: u64) -> u64 {
        if deadline == 0 {
            return 0;
        }
        let left = deadline.saturating_sub(self.now_ns());
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        (wall.saturating_add(left) / 1_000_000).max(1)
    }

    /// A wall-clock deadline (ms since the Unix epoch, 0 = none) as a
    /// deadline on this clock; `None` when it has passed already.
    pub fn deadline_from_unix_ms(&self, unix_ms: u64) -> Option<u64> {
        if unix_ms == 0 {
            return Some(0);
        }
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        if unix_ms <= wall {
            return None;
        }
        Some(self.deadline_after(Duration::from_millis(unix_ms - wall)))
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds, at least 1.
#[inline]
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration;
    // CLOCK_MONOTONIC exists on every Linux, so the call cannot fail (and
    // on failure `ts` stays zeroed: the result is then 1, never a deadline
    // in the past of a real reading).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_by_hand_and_deadlines_round_trip() {
        let c = Clock::manual();
        let t0 = c.now_ns();
        assert!(t0 > 0);
        assert_eq!(c.now_ns(), t0);
        let d = c.deadline_after(Duration::from_secs(10));
        assert_eq!(d, t0 + 10_000_000_000);
        c.advance(Duration::from_secs(3));
        assert_eq!(c.now_ns(), t0 + 3_000_000_000);
        let ms = c.deadline_to_unix_ms(d);
        let back = c.deadline_from_unix_ms(ms).unwrap();
        // Millisecond rounding and the wall clock's movement between calls.
        assert!(back.abs_diff(d) < 50_000_000, "{back} vs {d}");
        assert_eq!(c.deadline_from_unix_ms(1), None);
        assert_eq!(c.deadline_from_unix_ms(0), Some(0));
        let m = Clock::monotonic();
        let a = m.now_ns();
        std::thread::sleep(Duration::from_millis(2));
        assert!(m.now_ns() >= a + 2_000_000);
        assert!(m.is_monotonic() && !c.is_monotonic());
    }
}
