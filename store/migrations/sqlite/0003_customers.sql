-- The founder's own customers. Address, tax ids and metadata are JSON text validated by the
-- application; balance is integer minor units in the customer's currency (negative: credit).

CREATE TABLE customers (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES organizations(id),
    env                    TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name                   TEXT,
    email                  TEXT,
    address                TEXT,
    tax_ids                TEXT NOT NULL,
    metadata               TEXT NOT NULL,
    default_payment_method TEXT,
    currency               TEXT,
    balance                BIGINT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX customers_scope ON customers (tenant_id, env, id);
CREATE INDEX customers_email ON customers (tenant_id, env, email);
