-- A SCIM token belongs to the environment it was made in: the wall hides the other's.
DROP POLICY tenant_wall ON scim_tokens;
CREATE POLICY tenant_wall ON scim_tokens
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));

-- Stored idempotent responses are sealed from now on (they may carry secrets); the plain
-- ones of before go, at the cost of replays within a day of the upgrade.
DELETE FROM idempotency_keys;
