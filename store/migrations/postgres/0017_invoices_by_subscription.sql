-- A renewal reads its subscription's recent invoices to bill usage that arrived late.
CREATE INDEX invoices_subscription ON invoices (tenant_id, env, subscription_id, created_at);
