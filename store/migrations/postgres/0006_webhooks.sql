-- Outbound webhooks: the tenant's endpoints, the event outbox (written in the same transaction
-- as the change it reports), one delivery per event and endpoint, one attempt per HTTP try.

CREATE TABLE webhook_endpoints (
    id                       TEXT COLLATE "C" PRIMARY KEY,
    tenant_id                TEXT NOT NULL REFERENCES organizations(id),
    env                      TEXT NOT NULL CHECK (env IN ('live', 'test')),
    url                      TEXT NOT NULL,
    description              TEXT,
    -- JSON array of event types and patterns ("*", "invoice.*", "invoice.paid").
    enabled_events           TEXT NOT NULL,
    -- The signing secret (whsec_…), stored as is: unlike an API key it must be readable to
    -- sign every delivery, so it cannot be hashed. The API shows it in full only once.
    secret                   TEXT NOT NULL,
    -- After a rotation the old secret also signs, until previous_secret_expires_at.
    previous_secret          TEXT,
    previous_secret_expires_at BIGINT,
    status                   TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason          TEXT,
    -- Time of the first failed attempt since the last successful one (null: not failing).
    failing_since            BIGINT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_scope ON webhook_endpoints (tenant_id, env, id);

CREATE TABLE events (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES organizations(id),
    env        TEXT NOT NULL CHECK (env IN ('live', 'test')),
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_scope ON events (tenant_id, env, id);

CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES organizations(id),
    env              TEXT NOT NULL CHECK (env IN ('live', 'test')),
    event_id         TEXT NOT NULL REFERENCES events(id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         BIGINT NOT NULL,
    -- When the next attempt is due (pending only). A worker claims a delivery by moving it
    -- forward by a lease, so a replica that dies mid-send leaves it to be retried.
    next_attempt_at  BIGINT,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, env, event_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, env, endpoint_id);

CREATE TABLE webhook_attempts (
    id            TEXT COLLATE "C" PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES organizations(id),
    env           TEXT NOT NULL CHECK (env IN ('live', 'test')),
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries(id),
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id      TEXT NOT NULL REFERENCES events(id),
    attempted_at  BIGINT NOT NULL,
    succeeded     BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    duration_ms   BIGINT NOT NULL,
    -- The first KiB of the response body.
    response_body TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (tenant_id, env, endpoint_id, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, events, webhook_deliveries, webhook_attempts TO neoforge_tenant;
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON webhook_endpoints
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON events
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON webhook_deliveries
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON webhook_attempts
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
