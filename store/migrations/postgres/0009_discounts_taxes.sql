-- Coupons, promotion codes (customer-facing codes for a coupon) and manual tax rates;
-- subscriptions carry a discount and default tax rates, invoices their discount and tax.
-- Percentages are exact decimal strings; amounts are minor units.
CREATE TABLE coupons (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES organizations(id),
    env                TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name               TEXT,
    percent_off        TEXT,
    amount_off         BIGINT,
    currency           TEXT,
    duration           TEXT NOT NULL CHECK (duration IN ('once', 'repeating', 'forever')),
    duration_in_months BIGINT,
    max_redemptions    BIGINT,
    redeem_by          BIGINT,
    times_redeemed     BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    archived_at        BIGINT,
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
    CHECK ((amount_off IS NULL) = (currency IS NULL))
);
CREATE INDEX coupons_tenant ON coupons (tenant_id, env, id);

CREATE TABLE promotion_codes (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES organizations(id),
    env             TEXT NOT NULL CHECK (env IN ('live', 'test')),
    coupon_id       TEXT NOT NULL REFERENCES coupons(id),
    code            TEXT NOT NULL,
    active          BIGINT NOT NULL DEFAULT 1,
    max_redemptions BIGINT,
    expires_at      BIGINT,
    times_redeemed  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
-- Codes are stored upper-case, so this makes them unique case-insensitively.
CREATE UNIQUE INDEX promotion_codes_code ON promotion_codes (tenant_id, env, code);

CREATE TABLE tax_rates (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES organizations(id),
    env          TEXT NOT NULL CHECK (env IN ('live', 'test')),
    display_name TEXT NOT NULL,
    percentage   TEXT NOT NULL,
    inclusive    BIGINT NOT NULL DEFAULT 0 CHECK (inclusive = 0),
    jurisdiction TEXT,
    active       BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL
);
CREATE INDEX tax_rates_tenant ON tax_rates (tenant_id, env, id);

-- JSON: `discounts::Discount` or null; a JSON array of `discounts::AppliedTaxRate`.
ALTER TABLE subscriptions ADD COLUMN discount TEXT;
ALTER TABLE subscriptions ADD COLUMN tax_rates TEXT NOT NULL DEFAULT '[]';

ALTER TABLE invoices ADD COLUMN discount_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN tax_amount BIGINT NOT NULL DEFAULT 0;
-- JSON arrays of `discounts::InvoiceDiscount` and `discounts::InvoiceTax`.
ALTER TABLE invoices ADD COLUMN discounts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE invoices ADD COLUMN taxes TEXT NOT NULL DEFAULT '[]';

GRANT SELECT, INSERT, UPDATE, DELETE ON coupons TO neoforge_tenant;
ALTER TABLE coupons ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON coupons
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON promotion_codes TO neoforge_tenant;
ALTER TABLE promotion_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON promotion_codes
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON tax_rates TO neoforge_tenant;
ALTER TABLE tax_rates ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON tax_rates
    USING (tenant_id = current_setting('neoforge.tenant_id', true) AND env = current_setting('neoforge.env', true));
