-- Metering's tables are keyed by their primary keys and nothing else: as WITHOUT ROWID
-- tables their rows live in the primary key's B-tree, so an ingested event or a rollup
-- change writes one tree fewer.

CREATE TABLE usage_events_new (
    tenant_id   TEXT NOT NULL,
    env         TEXT NOT NULL,
    id          TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    ts          BIGINT NOT NULL,
    properties  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, id)
) WITHOUT ROWID;
INSERT INTO usage_events_new SELECT tenant_id, env, id, event_type, customer_id, ts, properties, received_at FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE INDEX usage_events_customer ON usage_events (tenant_id, env, customer_id, ts);

CREATE TABLE meter_rollups_new (
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
) WITHOUT ROWID;
INSERT INTO meter_rollups_new SELECT tenant_id, env, meter_id, customer_id, width, bucket, group_key, count, sum, min, max, latest, latest_at, area FROM meter_rollups;
DROP TABLE meter_rollups;
ALTER TABLE meter_rollups_new RENAME TO meter_rollups;

CREATE TABLE meter_distinct_new (
    tenant_id   TEXT NOT NULL,
    env         TEXT NOT NULL,
    meter_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    bucket      BIGINT NOT NULL,
    group_key   TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, env, meter_id, customer_id, bucket, group_key, value)
) WITHOUT ROWID;
INSERT INTO meter_distinct_new SELECT tenant_id, env, meter_id, customer_id, bucket, group_key, value FROM meter_distinct;
DROP TABLE meter_distinct;
ALTER TABLE meter_distinct_new RENAME TO meter_distinct;
