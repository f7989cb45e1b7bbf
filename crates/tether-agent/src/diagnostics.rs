//! What the diagnostics handlers share across requests: the background
//! CPU sampler's record of which processes have pegged a CPU and since
//! when (read by `doctor`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tether_diag::doctor::{HogTracker, ProcessSampler};
use tracing::warn;

/// The CPU-hog record, fed by [`Diagnostics::sample`], read by `doctor`.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub hogs: Mutex<HogTracker>,
}

impl Diagnostics {
    /// Samples per-process CPU use every `interval`, marking processes
    /// above `threshold` percent, until the task is aborted.
    pub async fn sample(self: Arc<Self>, interval: Duration, threshold: f32) {
        let sampler = match ProcessSampler::new() {
            Ok(s) => Arc::new(Mutex::new(s)),
            Err(e) => {
                warn!("CPU sampling disabled: {e}");
                return;
            }
        };
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let (sampler, me) = (Arc::clone(&sampler), Arc::clone(&self));
            let sampled = tokio::task::spawn_blocking(move || {
                // A poisoned lock only means an earlier sample panicked;
                // sampling again is safe.
                let facts = sampler.lock().unwrap_or_else(|p| p.into_inner()).sample();
                me.hogs.lock().unwrap_or_else(|p| p.into_inner()).observe(
                    Instant::now(),
                    &facts,
                    threshold,
                );
            })
            .await;
            if let Err(e) = sampled {
                warn!("CPU sample failed: {e}");
            }
        }
    }
}
