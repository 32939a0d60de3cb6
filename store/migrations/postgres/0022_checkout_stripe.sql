-- Checkout through Stripe and with taxes: the Stripe Checkout Session a hosted checkout last
-- sent its customer to, and the tax rates (ids, as a JSON list) its subscription or invoice
-- is taxed with.
ALTER TABLE checkout_sessions ADD COLUMN stripe_session_id TEXT;
ALTER TABLE checkout_sessions ADD COLUMN tax_rates TEXT NOT NULL DEFAULT '[]';
