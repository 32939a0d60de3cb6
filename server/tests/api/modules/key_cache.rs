//! The key cache: hits until invalidated, and never serves a read that raced a change.

use std::sync::Arc;

use neoforge_server::tenancy::key_cache::KeyCache;
use store::tenancy::KeyAuthRow;

fn row() -> Arc<KeyAuthRow> {
    Arc::new(KeyAuthRow {
        id: "key_1".into(),
        tenant_id: "org_1".into(),
        env: "test".into(),
        scopes: String::new(),
        created_by: "usr_1".into(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        role: Some("owner".into()),
        custom_permissions: None,
    })
}

#[test]
fn hits_until_invalidated() {
    let cache = KeyCache::default();
    let g = cache.generation();
    cache.put("h".into(), row(), g);
    assert!(cache.get("h").is_some());
    assert!(cache.get("other").is_none());
    cache.invalidate();
    assert!(cache.get("h").is_none());
}

#[test]
fn a_read_that_raced_a_change_is_not_served() {
    let cache = KeyCache::default();
    let before_read = cache.generation();
    cache.invalidate(); // a revoke commits while the lookup is reading
    cache.put("h".into(), row(), before_read);
    assert!(cache.get("h").is_none());
}
