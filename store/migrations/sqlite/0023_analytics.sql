-- Revenue analytics: each customer's MRR as last recorded, and every change of it, written
-- in the transaction of the subscription change that caused it. MRR amounts are exact
-- decimal strings in minor units.

CREATE TABLE customer_mrr (
    tenant_id     TEXT NOT NULL REFERENCES organizations(id),
    env           TEXT NOT NULL CHECK (env IN ('live', 'test')),
    customer_id   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    mrr           TEXT NOT NULL,
    -- When the customer first had MRR (cohorts; a later start is a reactivation).
    first_paid_at BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, customer_id)
);

CREATE TABLE mrr_movements (
    tenant_id       TEXT NOT NULL REFERENCES organizations(id),
    env             TEXT NOT NULL CHECK (env IN ('live', 'test')),
    id              TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    -- The event of the subscription change that caused it.
    cause           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    mrr_before      TEXT NOT NULL,
    mrr_after       TEXT NOT NULL,
    delta           TEXT NOT NULL,
    -- On the customer's clock (a sandbox test clock's, if it follows one).
    at              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env, id)
);
CREATE INDEX mrr_movements_time ON mrr_movements (tenant_id, env, currency, at);
