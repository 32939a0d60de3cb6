//! kill -9 of the server binary while clients stream event batches: after a restart, every
//! acknowledged event is counted exactly once, and retrying the unacknowledged batches (and
//! some acknowledged ones) creates no duplicates.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::helpers::{Backend, Binary, eventually, post, scratch_database};

const STREAMS: usize = 4;
const BATCHES_PER_STREAM: usize = 60;
const BATCH: usize = 100;

fn batch(stream: usize, n: usize) -> Value {
    let events: Vec<Value> = (0..BATCH)
        .map(|i| json!({"id": format!("s{stream}-b{n}-{i}"), "type": "api_call", "customer": "acme"}))
        .collect();
    json!({"events": events})
}

async fn acknowledged_events_survive_kill_9(b: Backend) {
    let db = scratch_database(b).await;
    let url = db.url.clone();
    let client = reqwest::Client::new();
    let server = Binary::start(&url, &[]).await;
    let base = server.base.clone();
    let signup = post(
        &client,
        &base,
        "",
        "/v1/users",
        &json!({"email": "k@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect("sign up");
    let session = signup["session"]["token"]
        .as_str()
        .expect("session")
        .to_owned();
    let key = post(
        &client,
        &base,
        &session,
        "/v1/api_keys",
        &json!({"name": "k"}),
    )
    .await
    .expect("key");
    let key = key["secret"].as_str().expect("secret").to_owned();
    post(
        &client,
        &base,
        &key,
        "/v1/customers",
        &json!({"external_id": "acme"}),
    )
    .await
    .expect("customer");
    let meter = post(
        &client,
        &base,
        &key,
        "/v1/meters",
        &json!({"name": "Calls", "event_type": "api_call", "aggregation": "count"}),
    )
    .await
    .expect("meter");
    let meter = meter["id"].as_str().expect("meter id").to_owned();

    // Stream until the server dies under the clients.
    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let streams: Vec<_> = (0..STREAMS)
        .map(|s| {
            let (client, base, key, acked) =
                (client.clone(), base.clone(), key.clone(), acked.clone());
            tokio::spawn(async move {
                for n in 0..BATCHES_PER_STREAM {
                    match post(&client, &base, &key, "/v1/events/batch", &batch(s, n)).await {
                        Some(r) if r["accepted"] == BATCH => {
                            acked.lock().expect("lock").push((s, n))
                        }
                        Some(r) => panic!("a batch was partly refused: {r}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    eventually("20 acknowledged batches", || async {
        acked.lock().expect("lock").len() >= 20
    })
    .await;
    server.kill_9();
    for s in streams {
        s.await.expect("stream");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() < STREAMS * BATCHES_PER_STREAM,
        "the kill came too late to test anything"
    );

    // Restart on the same database; the clients retry what was not acknowledged, and replay
    // a few acknowledged batches too.
    let server = Binary::start(&url, &[]).await;
    let base = server.base.clone();
    let mut accepted = acked.len() * BATCH;
    for s in 0..STREAMS {
        for n in 0..BATCHES_PER_STREAM {
            let r = post(&client, &base, &key, "/v1/events/batch", &batch(s, n))
                .await
                .expect("retry");
            let (new, dup) = (
                r["accepted"].as_u64().expect("accepted"),
                r["duplicates"].as_u64().expect("duplicates"),
            );
            assert_eq!(new + dup, BATCH as u64);
            if acked.contains(&(s, n)) {
                assert_eq!(dup, BATCH as u64, "an acknowledged batch is all duplicates");
            }
            accepted += new as usize;
        }
    }
    let usage = client
        .get(format!(
            "{base}/v1/meters/{meter}/usage?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("usage")
        .json::<Value>()
        .await
        .expect("json");
    let total = STREAMS * BATCHES_PER_STREAM * BATCH;
    assert_eq!(
        usage["data"][0]["value"],
        total.to_string(),
        "every event counted once"
    );
    // Events committed before the kill whose answer was lost came back as duplicates, so
    // new acceptances after the restart can fall short of the total, never exceed it.
    assert!(accepted <= total);
    drop(server);
    drop(db);
}

crate::on_both_backends!(acknowledged_events_survive_kill_9);
