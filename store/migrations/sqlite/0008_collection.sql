-- Invoices that move through draft → open → paid and are collected by the scheduler, with
-- dunning; subscriptions that carry prorations to their next invoice; per-tenant billing
-- settings (the dunning schedule).
ALTER TABLE invoices ADD COLUMN subtotal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN starting_balance BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN amount_due BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN attempt_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN due_at BIGINT;
ALTER TABLE invoices ADD COLUMN finalized_at BIGINT;
ALTER TABLE invoices ADD COLUMN payment_reference TEXT;
ALTER TABLE invoices ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN billing_reason TEXT NOT NULL DEFAULT 'subscription_cycle';
CREATE INDEX invoices_due ON invoices (due_at);

ALTER TABLE subscriptions ADD COLUMN pending_lines TEXT NOT NULL DEFAULT '[]';
CREATE INDEX subscriptions_due ON subscriptions (current_period_end);

CREATE TABLE billing_settings (
    tenant_id    TEXT NOT NULL REFERENCES organizations(id),
    env          TEXT NOT NULL CHECK (env IN ('live', 'test')),
    retry_days   TEXT NOT NULL,
    final_action TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env)
);
