-- Collection: when an invoice was paid, and why its last payment attempt failed.
ALTER TABLE invoices ADD COLUMN paid_at BIGINT;
ALTER TABLE invoices ADD COLUMN payment_error TEXT;
