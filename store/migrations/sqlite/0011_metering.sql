-- Usage metering. Events are kept raw (their id is the client's idempotency key, unique per
-- tenant and environment) and folded on ingest into rollups per meter, customer, group and
-- time bucket at three widths (minute, hour, day), so queries read rollups, not events.
-- Decimal aggregates are exact decimal strings merged by the application.

ALTER TABLE customers ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX customers_external ON customers (tenant_id, env, external_id);

CREATE TABLE meters (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES organizations(id),
    env            TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name           TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    aggregation    TEXT NOT NULL,
    value_property TEXT,
    filters        TEXT NOT NULL,
    group_by       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    archived_at    BIGINT
);
CREATE INDEX meters_scope ON meters (tenant_id, env, id);

CREATE TABLE usage_events (
    tenant_id   TEXT NOT NULL,
    env         TEXT NOT NULL,
    id          TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    ts          BIGINT NOT NULL,
    properties  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, id)
);
CREATE INDEX usage_events_customer ON usage_events (tenant_id, env, customer_id, ts);

CREATE TABLE meter_rollups (
    tenant_id   TEXT NOT NULL,
    env         TEXT NOT NULL,
    meter_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    width       BIGINT NOT NULL,
    bucket      BIGINT NOT NULL,
    group_key   TEXT NOT NULL,
    count       BIGINT NOT NULL,
    sum         TEXT NOT NULL,
    min         TEXT,
    max         TEXT,
    latest      TEXT,
    latest_at   BIGINT,
    area        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, env, meter_id, customer_id, width, bucket, group_key)
);

-- unique_count: the distinct values seen per hour.
CREATE TABLE meter_distinct (
    tenant_id   TEXT NOT NULL,
    env         TEXT NOT NULL,
    meter_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    group_key   TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, env, meter_id, customer_id, bucket, group_key, value)
);

-- Usage alerts sent: one per customer, feature, period and threshold.
CREATE TABLE usage_alerts (
    tenant_id    TEXT NOT NULL,
    env          TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    feature      TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    threshold    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, customer_id, feature, period_start, threshold)
);
