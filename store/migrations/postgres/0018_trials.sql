-- Trials: what their end does without a payment method (cancel, pause or create_invoice),
-- and when `subscription.trial_will_end` is due (set while it has not been sent).
ALTER TABLE subscriptions ADD COLUMN missing_payment_method TEXT NOT NULL DEFAULT 'cancel';
ALTER TABLE subscriptions ADD COLUMN trial_will_end_at BIGINT;
CREATE INDEX subscriptions_trial_will_end ON subscriptions (trial_will_end_at)
    WHERE trial_will_end_at IS NOT NULL;
