//! What the outbox workers share (webhook deliveries, emails): a tick that sends every due
//! item, a few at a time, each on its own, and the loop that ticks.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::app::AppState;
use crate::http::error::ApiResult;

/// A due item: its tenant, environment and id, and the `next_attempt_at` it was read with
/// (what its claim compares).
pub type Due = (String, String, String, i64);

/// Sends each of `due` with `send`, `in_flight` at a time; returns how many it acted on
/// (`send` answered true). One failing is logged, naming `what`, and holds no other back.
pub async fn send_all<F, Fut>(
    state: &AppState,
    due: Vec<Due>,
    in_flight: usize,
    what: &'static str,
    send: F,
) -> usize
where
    F: Fn(AppState, Due) -> Fut,
    Fut: Future<Output = ApiResult<bool>> + Send + 'static,
{
    let mut running: JoinSet<bool> = JoinSet::new();
    let mut done = 0;
    for item in due {
        while running.len() >= in_flight {
            done += usize::from(matches!(running.join_next().await, Some(Ok(true))));
        }
        let id = item.2.clone();
        let sending = send(state.clone(), item);
        running.spawn(async move {
            match sending.await {
                Ok(acted) => acted,
                Err(e) => {
                    tracing::error!(id = %id, error = %e, "{what} failed");
                    false
                }
            }
        });
    }
    while let Some(r) = running.join_next().await {
        done += usize::from(r.is_ok_and(|acted| acted));
    }
    done
}

/// Runs `tick` every `every` until the process ends; failures are logged, naming `what`,
/// and retried next tick.
pub async fn run<F, Fut>(state: AppState, every: Duration, what: &'static str, tick: F)
where
    F: Fn(AppState) -> Fut,
    Fut: Future<Output = ApiResult<usize>>,
{
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match tick(state.clone()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(done = n, "{what}"),
            Err(e) => tracing::error!(error = %e, "{what} failed; retrying next tick"),
        }
    }
}
