-- Credit notes: what was given back on a paid invoice, refunded through the payment provider
-- or credited to the customer's balance. Numbered per tenant and environment.
CREATE TABLE credit_notes (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES organizations(id),
    env           TEXT NOT NULL CHECK (env IN ('live', 'test')),
    number        TEXT NOT NULL,
    invoice_id    TEXT NOT NULL REFERENCES invoices(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    refund_amount BIGINT NOT NULL,
    credit_amount BIGINT NOT NULL,
    reason        TEXT,
    memo          TEXT,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, env, number)
);
CREATE INDEX credit_notes_scope ON credit_notes (tenant_id, env, id);
CREATE INDEX credit_notes_invoice ON credit_notes (tenant_id, env, invoice_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON credit_notes TO neoforge_tenant;
ALTER TABLE credit_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON credit_notes
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
