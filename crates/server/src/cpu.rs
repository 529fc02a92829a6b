//! CPU-heavy work (parsing an inventory, matching it, scoring findings) runs on tokio's
//! blocking threads, at most one job per core at a time, so the async workers that answer
//! `/api/v1/health`, page loads and logins are never the ones doing it.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2),
    )
});

/// Runs `work` off the async runtime once a core is free; a panic in it is resumed here.
pub(crate) async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
