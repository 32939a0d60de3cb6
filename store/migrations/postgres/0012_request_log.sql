-- The request log: one row per API request made with an API key (the platform's own traffic),
-- written in batches by a background task, never on the request's path. Durations are
-- microseconds.

CREATE TABLE request_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env IN ('live', 'test')),
    api_key_id  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    method      TEXT NOT NULL,
    -- The route template (`/v1/api_keys/{id}`), never the concrete path: ids stay out of it.
    route       TEXT NOT NULL,
    status      BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX request_log_scope ON request_log (tenant_id, env, id);
CREATE INDEX request_log_key_time ON request_log (tenant_id, env, api_key_id, created_at);
CREATE INDEX request_log_time ON request_log (tenant_id, env, created_at);

GRANT SELECT, INSERT ON request_log TO neoforge_tenant;
ALTER TABLE request_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON request_log
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
