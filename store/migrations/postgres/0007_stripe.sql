-- Stripe as a tenant's payment provider, per environment. Secrets are sealed by the
-- application's master key (crypto.rs); the database never holds them in clear.
CREATE TABLE payment_providers (
    tenant_id             TEXT NOT NULL REFERENCES organizations(id),
    env                   TEXT NOT NULL CHECK (env IN ('live', 'test')),
    provider              TEXT NOT NULL CHECK (provider IN ('stripe')),
    secret_key_sealed     TEXT NOT NULL,
    webhook_secret_sealed TEXT NOT NULL,
    key_hint              TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env)
);

-- The Stripe customer (cus_…) made for each NeoForge customer, once.
CREATE TABLE stripe_customers (
    tenant_id          TEXT NOT NULL REFERENCES organizations(id),
    env                TEXT NOT NULL CHECK (env IN ('live', 'test')),
    customer_id        TEXT NOT NULL,
    stripe_customer_id TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, customer_id)
);
CREATE UNIQUE INDEX stripe_customers_by_stripe_id ON stripe_customers (tenant_id, env, stripe_customer_id);

-- Webhook events already handled, so a redelivery does nothing.
CREATE TABLE stripe_events (
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env IN ('live', 'test')),
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    processed   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, env, event_id)
);

-- Which invoice a PaymentIntent collects (learnt from its metadata), for events about its
-- charges and disputes, which do not carry the invoice themselves.
CREATE TABLE stripe_payment_intents (
    tenant_id         TEXT NOT NULL REFERENCES organizations(id),
    env               TEXT NOT NULL CHECK (env IN ('live', 'test')),
    payment_intent_id TEXT NOT NULL,
    invoice_id        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, payment_intent_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON payment_providers TO neoforge_tenant;
ALTER TABLE payment_providers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON payment_providers
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON stripe_customers TO neoforge_tenant;
ALTER TABLE stripe_customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON stripe_customers
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON stripe_events TO neoforge_tenant;
ALTER TABLE stripe_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON stripe_events
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON stripe_payment_intents TO neoforge_tenant;
ALTER TABLE stripe_payment_intents ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON stripe_payment_intents
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
