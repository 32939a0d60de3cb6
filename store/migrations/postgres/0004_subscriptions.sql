-- Test clocks (sandbox only), subscriptions and their invoices, and per-tenant counters
-- (invoice numbers). Items and invoice lines are JSON text written by the application.

CREATE TABLE test_clocks (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env = 'test'),
    name        TEXT NOT NULL,
    frozen_time BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX test_clocks_scope ON test_clocks (tenant_id, env, id);

ALTER TABLE customers ADD COLUMN test_clock TEXT REFERENCES test_clocks(id);

CREATE TABLE subscriptions (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES organizations(id),
    env                  TEXT NOT NULL CHECK (env IN ('live', 'test')),
    customer_id          TEXT NOT NULL REFERENCES customers(id),
    status               TEXT NOT NULL,
    items                TEXT NOT NULL,
    currency             TEXT NOT NULL,
    billing_cycle_anchor BIGINT NOT NULL,
    periods              BIGINT NOT NULL,
    current_period_start BIGINT NOT NULL,
    current_period_end   BIGINT NOT NULL,
    trial_end            BIGINT,
    cancel_at_period_end BIGINT NOT NULL,
    canceled_at          BIGINT,
    created_at           BIGINT NOT NULL
);
CREATE INDEX subscriptions_scope ON subscriptions (tenant_id, env, id);
CREATE INDEX subscriptions_customer ON subscriptions (tenant_id, env, customer_id);

CREATE TABLE invoices (
    id              TEXT COLLATE "C" PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES organizations(id),
    env             TEXT NOT NULL CHECK (env IN ('live', 'test')),
    number          TEXT NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers(id),
    subscription_id TEXT REFERENCES subscriptions(id),
    status          TEXT NOT NULL,
    currency        TEXT NOT NULL,
    total           BIGINT NOT NULL,
    lines           TEXT NOT NULL,
    period_start    BIGINT NOT NULL,
    period_end      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, env, number)
);
CREATE INDEX invoices_scope ON invoices (tenant_id, env, id);

CREATE TABLE counters (
    tenant_id TEXT NOT NULL REFERENCES organizations(id),
    env       TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name      TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, name)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON test_clocks, subscriptions, invoices, counters TO neoforge_tenant;
ALTER TABLE test_clocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON test_clocks
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON subscriptions
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON invoices
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
ALTER TABLE counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON counters
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
