-- Stored idempotent responses are sealed from now on (they may carry secrets); the plain
-- ones of before go, at the cost of replays within a day of the upgrade.
DELETE FROM idempotency_keys;
