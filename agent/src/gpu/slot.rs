//! The run slot: one benchmark at a time, the flag that stops it (on request, or when
//! the agent stops), and waiting until it is free.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The run holding the benchmark slot, and the flag that stops it.
struct Slot {
    id: String,
    cancel: Arc<AtomicBool>,
}

/// The one benchmark that may run at a time. Cheap to clone.
#[derive(Clone, Default)]
pub struct Gpu {
    running: Arc<Mutex<Option<Slot>>>,
}

impl Gpu {
    /// The id of the run in progress.
    pub fn running(&self) -> Option<String> {
        self.running
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|s| s.id.clone()))
    }

    /// Claims the benchmark slot for `id` and returns its cancel flag; `Err` with the id
    /// holding it.
    pub(super) fn try_start(&self, id: &str) -> Result<Arc<AtomicBool>, String> {
        let mut slot = self
            .running
            .lock()
            .map_err(|_| "benchmark state poisoned".to_owned())?;
        if let Some(other) = slot.as_ref() {
            return Err(other.id.clone());
        }
        let cancel = Arc::new(AtomicBool::new(false));
        *slot = Some(Slot {
            id: id.to_owned(),
            cancel: Arc::clone(&cancel),
        });
        Ok(cancel)
    }

    /// Asks run `id` to stop; false when it is not the one running.
    pub fn cancel(&self, id: &str) -> bool {
        let Ok(slot) = self.running.lock() else {
            return false;
        };
        match slot.as_ref() {
            Some(s) if s.id == id => {
                s.cancel.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Asks whatever runs to stop (the agent is stopping).
    pub fn cancel_all(&self) {
        if let Ok(Some(s)) = self.running.lock().as_deref() {
            s.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Waits until no run holds the slot, at most `limit`; true when idle. A cancelled
    /// run returns within about a second and then stores its record.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.running().is_some() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        true
    }

    /// Frees the slot; the run's record is stored by then.
    pub(super) fn finish(&self) {
        if let Ok(mut slot) = self.running.lock() {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_at_a_time() {
        let gpu = Gpu::default();
        let a = gpu.try_start("a").expect("free slot");
        assert_eq!(gpu.try_start("b").err(), Some("a".to_owned()));
        assert_eq!(gpu.running().as_deref(), Some("a"));
        // Cancelling another id does nothing; the running one's flag is set.
        assert!(!gpu.cancel("b"));
        assert!(!a.load(Ordering::Relaxed));
        assert!(gpu.cancel("a"));
        assert!(a.load(Ordering::Relaxed));
        gpu.finish();
        assert!(!gpu.cancel("a"), "nothing runs");
        assert!(gpu.try_start("b").is_ok());
    }
}
