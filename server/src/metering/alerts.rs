//! Usage alerts, checked beside ingestion rather than inside its transactions. Writers note
//! whose usage grew; one task takes what has gathered since its last round and checks those
//! customers' metered features (`quotas::alert`: reads on a reader, writes only thresholds
//! newly reached). A burst of commits costs one check per customer, and no commit waits
//! for one. An alert comes moments after the events that reach its threshold (if the server
//! stops in between, with the customer's next event). Billing settles the alerts before it
//! ends periods (`settle`), so a threshold reached in a period is checked in that period.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::quotas;
use crate::tenancy::Scope;
use domain::clock::Clock;
use store::Db;

/// Customer → the meters whose usage grew.
pub type Touched = BTreeMap<String, BTreeSet<String>>;

/// The least time between two rounds, so that a steady stream of events is checked a few
/// times a second, not once per commit.
const ROUND_GAP: Duration = Duration::from_millis(250);

pub struct Alerts {
    db: Db,
    clock: Clock,
    pending: Mutex<Vec<(Scope, Touched)>>,
    wake: Notify,
    /// Held by the round in progress: one at a time.
    rounds: tokio::sync::Mutex<()>,
}

impl Alerts {
    /// The alerts and their task.
    pub fn start(db: Db, clock: Clock) -> Arc<Alerts> {
        let alerts = Arc::new(Alerts {
            db,
            clock,
            pending: Mutex::default(),
            wake: Notify::new(),
            rounds: tokio::sync::Mutex::default(),
        });
        tokio::spawn(run(alerts.clone()));
        alerts
    }

    /// Notes that `touched` grew in `scope`.
    pub fn note(&self, scope: &Scope, touched: Touched) {
        if touched.is_empty() {
            return;
        }
        let mut pending = self.pending();
        match pending.iter_mut().find(|(s, _)| s == scope) {
            Some((_, all)) => {
                for (customer, meters) in touched {
                    all.entry(customer).or_default().extend(meters);
                }
            }
            None => pending.push((scope.clone(), touched)),
        }
        drop(pending);
        self.wake.notify_one();
    }

    /// Checks everything noted so far, and returns once it is checked: one round, after the
    /// one in progress.
    pub async fn settle(&self) {
        let _one = self.rounds.lock().await;
        let pending = std::mem::take(&mut *self.pending());
        for (scope, touched) in pending {
            let now = self.clock.now_ms();
            if let Err(e) = quotas::alert(&self.db, &scope, &touched, now).await {
                tracing::error!(error = %e, org = %scope.org_id, "checking usage alerts failed");
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(Scope, Touched)>> {
        // A poisoned lock only means a panic elsewhere mid-push; the list is still whole.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn run(alerts: Arc<Alerts>) {
    loop {
        alerts.wake.notified().await;
        alerts.settle().await;
        tokio::time::sleep(ROUND_GAP).await;
    }
}
