//! One memory budget for upload bytes held before they go to Dropbox, shared by every
//! UploadFiles and WriteResumableUpload call. Without it, many slow or stalled uploads
//! would each hold up to a piece (8 MiB) and the process could be run out of memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::TaskError;

/// The shared budget (one permit per byte).
#[derive(Clone, Debug)]
pub struct UploadBudget {
    bytes: Arc<Semaphore>,
    /// How long a call waits for room before it is told the server is busy.
    wait: Duration,
}

impl UploadBudget {
    pub fn new(bytes: usize, wait: Duration) -> UploadBudget {
        UploadBudget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
            wait,
        }
    }

    /// An empty claim on the budget, for one buffer.
    pub fn claim(&self) -> BufferClaim {
        BufferClaim {
            budget: self.clone(),
            held: None,
        }
    }

    /// Bytes not claimed right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

impl Default for UploadBudget {
    /// Unbounded in practice: for callers (and tests) that set no budget.
    fn default() -> Self {
        UploadBudget::new(Semaphore::MAX_PERMITS, Duration::from_secs(1))
    }
}

/// The bytes one buffer holds of the budget; they return to it when the claim shrinks
/// or is dropped (a finished, failed or abandoned upload).
#[derive(Debug)]
pub struct BufferClaim {
    budget: UploadBudget,
    held: Option<OwnedSemaphorePermit>,
}

impl BufferClaim {
    /// Claims `n` more bytes, waiting a little for room; `ServerBusy` when none comes.
    pub async fn grow(&mut self, n: usize) -> Result<(), TaskError> {
        if n == 0 {
            return Ok(());
        }
        let busy = || TaskError::ServerBusy {
            message: "the server's upload buffer budget is in use by other uploads".into(),
            retry_after: Duration::from_secs(1),
        };
        let count = u32::try_from(n).map_err(|_| busy())?;
        let acquire = self.budget.bytes.clone().acquire_many_owned(count);
        let permit = match tokio::time::timeout(self.budget.wait, acquire).await {
            Ok(Ok(p)) => p,
            // Closed never happens (the semaphore is never closed); treat it as busy.
            Ok(Err(_)) | Err(_) => {
                tracing::info!(bytes = n, "upload buffer budget exhausted");
                return Err(busy());
            }
        };
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }

    /// Grows the claim to at least `target` bytes.
    pub async fn grow_to(&mut self, target: usize) -> Result<(), TaskError> {
        self.grow(target.saturating_sub(self.held())).await
    }

    /// Gives `n` bytes back (they went to Dropbox or were dropped).
    pub fn shrink(&mut self, n: usize) {
        if let Some(held) = &mut self.held {
            if n >= held.num_permits() {
                self.held = None;
            } else {
                drop(held.split(n));
            }
        }
    }

    /// Gives everything back.
    pub fn release(&mut self) {
        self.held = None;
    }

    pub fn held(&self) -> usize {
        self.held
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_return_to_the_budget_and_a_full_budget_says_busy() {
        let budget = UploadBudget::new(100, Duration::from_millis(50));
        let mut a = budget.claim();
        a.grow(60).await.unwrap();
        a.grow(30).await.unwrap();
        assert_eq!((a.held(), budget.available()), (90, 10));
        let mut b = budget.claim();
        assert!(matches!(
            b.grow(20).await,
            Err(TaskError::ServerBusy { .. })
        ));
        a.shrink(50);
        assert_eq!((a.held(), budget.available()), (40, 60));
        a.grow_to(30).await.unwrap();
        assert_eq!(a.held(), 40);
        a.grow_to(45).await.unwrap();
        a.shrink(5);
        b.grow(20).await.unwrap();
        drop(a);
        assert_eq!(budget.available(), 80);
        b.release();
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_waiting_claim_gets_room_freed_meanwhile() {
        let budget = UploadBudget::new(10, Duration::from_secs(30));
        let mut a = budget.claim();
        a.grow(10).await.unwrap();
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut b = budget.claim();
                b.grow(5).await.map(|_| b.held())
            })
        };
        tokio::task::yield_now().await;
        a.shrink(5);
        assert_eq!(waiter.await.unwrap().unwrap(), 5);
    }
}
