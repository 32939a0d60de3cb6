-- Hosted checkout: sessions (a link, its token's hash, that completes once) and the pricing
-- tables whose buttons start them.

CREATE TABLE pricing_tables (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES organizations(id),
    env        TEXT NOT NULL CHECK (env IN ('live', 'test')),
    config     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX pricing_tables_scope ON pricing_tables (tenant_id, env, id);

CREATE TABLE checkout_sessions (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES organizations(id),
    env                   TEXT NOT NULL CHECK (env IN ('live', 'test')),
    token_hash            TEXT NOT NULL UNIQUE,
    mode                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    customer_id           TEXT,
    customer_email        TEXT,
    line_items            TEXT NOT NULL,
    currency              TEXT,
    trial_days            BIGINT,
    allow_promotion_codes BIGINT NOT NULL,
    promotion_code        TEXT,
    success_url           TEXT NOT NULL,
    cancel_url            TEXT NOT NULL,
    test_clock            TEXT,
    pricing_table_id      TEXT,
    subscription_id       TEXT,
    invoice_id            TEXT,
    expires_at            BIGINT NOT NULL,
    completed_at          BIGINT,
    created_at            BIGINT NOT NULL
);
CREATE INDEX checkout_sessions_scope ON checkout_sessions (tenant_id, env, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON pricing_tables, checkout_sessions TO neoforge_tenant;
ALTER TABLE pricing_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON pricing_tables
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
ALTER TABLE checkout_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON checkout_sessions
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
