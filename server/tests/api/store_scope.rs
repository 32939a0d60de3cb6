//! The store's scoped statements (`store::scoped`) below the API, on both backends, through
//! the unscoped connection the background tasks use (on PostgreSQL the owner, which
//! row-level security does not filter): a row of one tenant's environment is read, listed
//! and changed under that scope only. One test per kind of statement whose placeholders
//! the scope helper fixed: reads, updates, inserts with the scope first.

use domain::ids::OrgId;
use domain::tenancy::{Env, Scope};
use store::billing::{self, CustomerRow, PriceRow, ProductRow, TestClockRow};
use store::identity::{self, ConnectionRow};
use store::metering::{self, MeterRow};
use store::webhooks;
use store::{Db, Tx};

use crate::helpers::{Backend, migrated_database};

/// Organization A's sandbox (where rows are written), A's live environment and B's sandbox,
/// in one open transaction on a fresh database.
struct Scopes {
    db: Db,
    sqlite_file: Option<String>,
    tx: Tx,
    a: Scope,
    others: [Scope; 2],
}

async fn scopes(backend: Backend) -> Scopes {
    let (url, sqlite_file) = migrated_database(backend).await;
    let db = Db::connect(&url, 2).await.expect("connect");
    let (a, b) = (OrgId::generate(), OrgId::generate());
    let mut tx = db.write().await.expect("begin");
    for org in [&a, &b] {
        store::tenancy::insert_org(&mut tx, org, "Acme", 1)
            .await
            .expect("org");
    }
    let scope = |org: &OrgId, env| Scope {
        org_id: org.clone(),
        env,
    };
    Scopes {
        a: scope(&a, Env::Test),
        others: [scope(&a, Env::Live), scope(&b, Env::Test)],
        db,
        sqlite_file,
        tx,
    }
}

impl Scopes {
    async fn end(self) {
        self.tx.rollback().await.expect("rollback");
        self.db.close().await;
        if let Some(path) = self.sqlite_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn customer(id: &str, name: &str) -> CustomerRow {
    CustomerRow {
        id: id.to_owned(),
        name: Some(name.to_owned()),
        email: None,
        address: None,
        tax_ids: Default::default(),
        metadata: Default::default(),
        default_payment_method: None,
        currency: None,
        balance: 0,
        test_clock: None,
        created_at: 1,
        updated_at: 1,
        external_id: None,
    }
}

async fn customers_stay_in_their_scope(backend: Backend) {
    let mut s = scopes(backend).await;
    billing::insert_customer(&mut s.tx, &s.a, &customer("cus_1", "Ada"))
        .await
        .expect("insert");
    billing::insert_customer(&mut s.tx, &s.others[0], &customer("cus_2", "Live Ada"))
        .await
        .expect("insert");
    let name = async |tx: &mut Tx, scope: &Scope| {
        billing::get_customer(tx, scope, "cus_1")
            .await
            .expect("get")
            .and_then(|c| c.name)
    };
    let listed = async |tx: &mut Tx, scope: &Scope| -> Vec<String> {
        billing::list_customers(tx, scope, None, None, 10)
            .await
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(name(&mut s.tx, &s.a).await.as_deref(), Some("Ada"));
    assert_eq!(listed(&mut s.tx, &s.a).await, ["cus_1"]);
    assert_eq!(listed(&mut s.tx, &s.others[0]).await, ["cus_2"]);
    for other in &s.others {
        assert_eq!(name(&mut s.tx, other).await, None, "{other:?}");
        // An update names its scope too: from another one it changes nothing.
        billing::update_customer(&mut s.tx, other, &customer("cus_1", "Mallory"))
            .await
            .expect("update");
    }
    assert!(listed(&mut s.tx, &s.others[1]).await.is_empty());
    assert_eq!(name(&mut s.tx, &s.a).await.as_deref(), Some("Ada"));
    billing::update_customer(&mut s.tx, &s.a, &customer("cus_1", "Ada L."))
        .await
        .expect("update");
    assert_eq!(name(&mut s.tx, &s.a).await.as_deref(), Some("Ada L."));
    s.end().await;
}

async fn meters_are_changed_in_their_scope_only(backend: Backend) {
    let mut s = scopes(backend).await;
    let meter = MeterRow {
        id: "mtr_1".to_owned(),
        name: "Tokens".to_owned(),
        event_type: "completion".to_owned(),
        aggregation: domain::metering::Aggregation::Sum.into(),
        value_property: Some("tokens".to_owned()),
        filters: Default::default(),
        group_by: Default::default(),
        created_at: 1,
        updated_at: 1,
        archived_at: None,
    };
    metering::insert_meter(&mut s.tx, &s.a, &meter)
        .await
        .expect("insert");
    let renamed = |name: &str, at: i64| MeterRow {
        name: name.to_owned(),
        updated_at: at,
        archived_at: Some(at),
        ..meter.clone()
    };
    for other in &s.others {
        let found = metering::get_meter(&mut s.tx, other, "mtr_1").await;
        assert!(found.expect("get").is_none(), "{other:?}");
        metering::update_meter(&mut s.tx, other, &renamed("Mallory", 7))
            .await
            .expect("update");
    }
    let stored = async |tx: &mut Tx, scope: &Scope| {
        let m = metering::get_meter(tx, scope, "mtr_1").await.expect("get");
        m.map(|m| (m.name, m.event_type, m.updated_at, m.archived_at))
    };
    let untouched = ("Tokens".to_owned(), "completion".to_owned(), 1, None);
    assert_eq!(stored(&mut s.tx, &s.a).await, Some(untouched));
    metering::update_meter(&mut s.tx, &s.a, &renamed("Tokens v2", 9))
        .await
        .expect("update");
    let changed = ("Tokens v2".to_owned(), "completion".to_owned(), 9, Some(9));
    assert_eq!(stored(&mut s.tx, &s.a).await, Some(changed));
    s.end().await;
}

async fn inserts_put_the_scope_first(backend: Backend) {
    let mut s = scopes(backend).await;
    let product = ProductRow {
        id: "prod_1".to_owned(),
        name: "Pro".to_owned(),
        description: Some("For teams".to_owned()),
        features: Default::default(),
        metadata: Default::default(),
        created_at: 1,
        updated_at: 2,
        archived_at: None,
    };
    let price = PriceRow {
        id: "price_1".to_owned(),
        product_id: "prod_1".to_owned(),
        currency: "usd".to_owned(),
        nickname: Some("Monthly".to_owned()),
        terms: domain::billing::PriceTerms {
            recurring: None,
            model: domain::billing::PriceModel::PerUnit,
            unit_amount: Some(500),
            unit_amount_decimal: None,
            tiers: None,
            package: None,
            trial_days: None,
            metered: None,
            percentage: None,
        }
        .into(),
        created_at: 3,
        archived_at: None,
    };
    let clock = TestClockRow {
        id: "clock_1".to_owned(),
        name: "Trial".to_owned(),
        frozen_time: 1_000,
        created_at: 4,
    };
    billing::insert_product(&mut s.tx, &s.a, &product)
        .await
        .expect("product");
    billing::insert_price(&mut s.tx, &s.a, &price)
        .await
        .expect("price");
    billing::insert_test_clock(&mut s.tx, &s.a, &clock)
        .await
        .expect("test clock");
    let found = billing::get_product(&mut s.tx, &s.a, "prod_1")
        .await
        .expect("get")
        .expect("the product");
    assert_eq!(
        (found.name, found.description, found.updated_at),
        ("Pro".to_owned(), Some("For teams".to_owned()), 2)
    );
    let found = billing::get_price(&mut s.tx, &s.a, "price_1")
        .await
        .expect("get")
        .expect("the price");
    assert_eq!(
        (
            found.product_id,
            found.currency,
            found.nickname,
            found.created_at
        ),
        (
            "prod_1".to_owned(),
            "usd".to_owned(),
            Some("Monthly".to_owned()),
            3
        )
    );
    let found = billing::get_test_clock(&mut s.tx, &s.a, "clock_1")
        .await
        .expect("get")
        .expect("the clock");
    assert_eq!((found.name, found.frozen_time), ("Trial".to_owned(), 1_000));
    for other in &s.others {
        let product = billing::get_product(&mut s.tx, other, "prod_1").await;
        let price = billing::get_price(&mut s.tx, other, "price_1").await;
        let clock = billing::get_test_clock(&mut s.tx, other, "clock_1").await;
        assert!(product.expect("get").is_none(), "{other:?}");
        assert!(price.expect("get").is_none(), "{other:?}");
        assert!(clock.expect("get").is_none(), "{other:?}");
    }
    s.end().await;
}

async fn sso_connections_are_read_and_deleted_in_their_scope(backend: Backend) {
    let mut s = scopes(backend).await;
    let connection = ConnectionRow {
        id: "conn_1".to_owned(),
        tenant_id: s.a.org_id.as_str().to_owned(),
        env: s.a.env.as_str().to_owned(),
        kind: domain::identity::Kind::Oidc.into(),
        name: "Okta".to_owned(),
        status: domain::identity::ConnectionStatus::Active.into(),
        settings: serde_json::json!({}).into(),
        secret_sealed: String::new(),
        default_role: "member".to_owned(),
        role_mappings: Vec::new().into(),
        created_at: 1,
        updated_at: 1,
        last_login_at: None,
        last_error: None,
        last_error_at: None,
    };
    identity::insert_connection(&mut s.tx, &connection)
        .await
        .expect("insert");
    let name = async |tx: &mut Tx, scope: &Scope| {
        let found = identity::get_connection(tx, scope, "conn_1").await;
        found.expect("get").map(|c| c.name)
    };
    for other in &s.others {
        assert_eq!(name(&mut s.tx, other).await, None, "{other:?}");
        identity::delete_connection(&mut s.tx, other, "conn_1")
            .await
            .expect("delete");
    }
    assert_eq!(name(&mut s.tx, &s.a).await.as_deref(), Some("Okta"));
    identity::delete_connection(&mut s.tx, &s.a, "conn_1")
        .await
        .expect("delete");
    assert_eq!(name(&mut s.tx, &s.a).await, None);
    s.end().await;
}

/// A bulk insert puts every row in its scope (`store::insert_rows`).
async fn bulk_inserts_stay_in_their_scope(backend: Backend) {
    let mut s = scopes(backend).await;
    let event = |id: &str, at: i64| webhooks::EventRow {
        id: id.to_owned(),
        event_type: "customer.created".to_owned(),
        data: serde_json::json!({"n": at}).into(),
        created_at: at,
    };
    let events = [event("evt_1", 1), event("evt_2", 2)];
    webhooks::insert_events(&mut s.tx, &s.a, &events)
        .await
        .expect("insert");
    webhooks::insert_events(&mut s.tx, &s.others[1], &[event("evt_3", 3)])
        .await
        .expect("insert");
    let listed = async |tx: &mut Tx, scope: &Scope| -> Vec<(String, i64)> {
        let found = webhooks::list_events(tx, scope, None, None, 10).await;
        let found = found.expect("list").into_iter();
        found.map(|e| (e.id, e.created_at)).collect()
    };
    let pair = |id: &str, at| (id.to_owned(), at);
    assert_eq!(
        listed(&mut s.tx, &s.a).await,
        [pair("evt_2", 2), pair("evt_1", 1)]
    );
    assert!(listed(&mut s.tx, &s.others[0]).await.is_empty());
    assert_eq!(listed(&mut s.tx, &s.others[1]).await, [pair("evt_3", 3)]);
    let found = webhooks::get_event(&mut s.tx, &s.a, "evt_2").await;
    let data = found.expect("get").expect("evt_2").data.0;
    assert_eq!(data, serde_json::json!({"n": 2}));
    let found = webhooks::get_event(&mut s.tx, &s.others[0], "evt_1").await;
    assert!(found.expect("get").is_none());
    s.end().await;
}

crate::on_both_backends!(
    customers_stay_in_their_scope,
    meters_are_changed_in_their_scope_only,
    inserts_put_the_scope_first,
    sso_connections_are_read_and_deleted_in_their_scope,
    bulk_inserts_stay_in_their_scope,
);
