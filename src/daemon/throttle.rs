//! Rate limits for log messages a client can cause: at most so many messages of a kind each
//! second, then one line saying how many more were left out. Without it, a
//! client repeating a refused request as fast as it can writes the log as fast as it can.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Level;

/// The length of a window.
const WINDOW: Duration = Duration::from_secs(1);

/// One kind of message and its current window.
#[derive(Debug)]
pub struct Throttle {
    /// What the messages are about, for the "suppressed" line.
    kind: &'static str,
    /// The level of the "suppressed" line (that of the messages).
    level: Level,
    /// Messages logged per window.
    per_second: u32,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// When the current window began; none before the first message.
    start: Option<Instant>,
    logged: u32,
    suppressed: u64,
    /// A task will report the suppressed count when the window ends.
    report_scheduled: bool,
}

impl Throttle {
    /// A throttle for messages about `kind`, logged at `level`, `per_second` of them at most.
    pub const fn new(kind: &'static str, level: Level, per_second: u32) -> Throttle {
        Throttle {
            kind,
            level,
            per_second,
            window: Mutex::new(Window {
                start: None,
                logged: 0,
                suppressed: 0,
                report_scheduled: false,
            }),
        }
    }

    /// Whether one more message may be logged now. The first time one is not, a task is
    /// scheduled to say how many were left out once the window ends.
    pub fn admit(&'static self) -> bool {
        self.admit_at(Instant::now())
    }

    fn admit_at(&'static self, now: Instant) -> bool {
        let mut window = self.lock();
        if window
            .start
            .is_none_or(|start| now.duration_since(start) >= WINDOW)
        {
            self.report(&mut window);
            window.start = Some(now);
            window.logged = 0;
        }
        if window.logged < self.per_second {
            window.logged += 1;
            return true;
        }
        window.suppressed += 1;
        if !window.report_scheduled
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            window.report_scheduled = true;
            let end = window.start.unwrap_or(now) + WINDOW;
            runtime.spawn(async move {
                tokio::time::sleep_until(end.into()).await;
                let mut window = self.lock();
                window.report_scheduled = false;
                self.report(&mut window);
            });
        }
        false
    }

    /// Logs how many messages were left out, if any, and starts counting again.
    fn report(&self, window: &mut Window) {
        let count = std::mem::take(&mut window.suppressed);
        if count == 0 {
            return;
        }
        let kind = self.kind;
        match self.level {
            Level::ERROR => tracing::error!("suppressed {count} more {kind} message(s)"),
            Level::WARN => tracing::warn!("suppressed {count} more {kind} message(s)"),
            Level::INFO => tracing::info!("suppressed {count} more {kind} message(s)"),
            _ => tracing::debug!("suppressed {count} more {kind} message(s)"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_to_the_limit_and_counted() {
        static T: Throttle = Throttle::new("test", Level::WARN, 3);
        let start = Instant::now();
        let admitted = (0..100).filter(|_| T.admit_at(start)).count();
        assert_eq!(admitted, 3);
        assert_eq!(T.lock().suppressed, 97);
        // The next window reports and resets the count, then admits again.
        assert!(T.admit_at(start + WINDOW));
        assert_eq!(T.lock().suppressed, 0);
        assert_eq!(T.lock().logged, 1);
    }
}
