//! CPU-heavy work (Argon2, parsing an inventory, matching it) runs on tokio's blocking threads,
//! at most one job per core at a time across the whole process, so the async workers that
//! answer `/api/v1/health`, page loads and logins are never the ones doing it. It lives in the
//! store, the lowest crate with a runtime, because the store hashes passwords and the server
//! parses and matches: one pool for both.

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
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = PERMITS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
