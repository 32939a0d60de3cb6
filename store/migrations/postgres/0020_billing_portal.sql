-- The customer portal: each tenant environment's settings, and portal sessions. A session
-- is a link (its token's hash) that opens once, before `link_expires_at`, into a browser
-- session of one customer (its cookie's hash) that lasts until `expires_at`.

CREATE TABLE portal_settings (
    tenant_id  TEXT NOT NULL REFERENCES organizations(id),
    env        TEXT NOT NULL CHECK (env IN ('live', 'test')),
    settings   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env)
);

CREATE TABLE portal_sessions (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES organizations(id),
    env               TEXT NOT NULL CHECK (env IN ('live', 'test')),
    customer_id       TEXT NOT NULL REFERENCES customers(id),
    return_url        TEXT,
    link_hash         TEXT NOT NULL UNIQUE,
    link_expires_at   BIGINT NOT NULL,
    opened_at         BIGINT,
    cookie_hash       TEXT UNIQUE,
    csrf              TEXT,
    expires_at        BIGINT,
    offered_retention BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- Why a subscription was canceled, as its customer said.
ALTER TABLE subscriptions ADD COLUMN cancellation_reason TEXT;

GRANT SELECT, INSERT, UPDATE, DELETE ON portal_settings, portal_sessions TO neoforge_tenant;
ALTER TABLE portal_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON portal_settings
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
ALTER TABLE portal_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON portal_sessions
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
