//! The clock expiry deadlines are measured on: monotonic nanoseconds since
//! the map opened (never 0, which means "no deadline"), or a manual clock
//! that tests move by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of "now" for expiry. Cloning shares the clock.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    Monotonic(Instant),
    Manual(Arc<AtomicU64>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Monotonic(_) => f.write_str("Clock::Monotonic"),
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
    /// The system's monotonic clock (`CLOCK_MONOTONIC`), counted from now.
    pub fn monotonic() -> Clock {
        Clock(Kind::Monotonic(Instant::now()))
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
            Kind::Monotonic(base) => base.elapsed().as_nanos() as u64 + 1,
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
    }
}
