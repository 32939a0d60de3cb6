//! A short-lived cache of API key lookups, so an authenticated request costs one database
//! read (its own) instead of two.
//!
//! Correctness: handlers that change what a key may do (revoke, roll, role and membership
//! changes) call `invalidate` after their commit. A lookup records the generation *before* it
//! reads, so a read that raced with such a change is never served from the cache. Other
//! replicas do not see the invalidation: their entries expire after `TTL`, which bounds how
//! long a revoked key keeps working elsewhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::tenancy::KeyAuthRow;

pub const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    key: Arc<KeyAuthRow>,
    fetched: Instant,
    generation: u64,
}

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicU64,
}

impl KeyCache {
    /// The cached row for a secret hash, when fresh.
    pub fn get(&self, secret_hash: &str) -> Option<Arc<KeyAuthRow>> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(secret_hash)?;
        (e.generation == self.generation() && e.fetched.elapsed() < TTL).then(|| e.key.clone())
    }

    /// Call before reading the database; pass the result to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn put(&self, secret_hash: String, key: Arc<KeyAuthRow>, generation: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                secret_hash,
                Entry {
                    key,
                    fetched: Instant::now(),
                    generation,
                },
            );
        }
    }

    /// Forgets one entry (after recording the key's last use).
    pub fn forget(&self, secret_hash: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(secret_hash);
        }
    }

    /// Forgets every entry. Call after committing a change to keys, roles or memberships.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
