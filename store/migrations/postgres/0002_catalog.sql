-- The billing catalog: products (with their features) and prices. Both live in one
-- environment of one tenant. Structured parts (features, metadata, price terms) are JSON text,
-- validated by the application before they are written.

CREATE TABLE products (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name        TEXT NOT NULL,
    description TEXT,
    features    TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX products_scope ON products (tenant_id, env, id);

CREATE TABLE prices (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env IN ('live', 'test')),
    product_id  TEXT NOT NULL REFERENCES products(id),
    currency    TEXT NOT NULL,
    nickname    TEXT,
    terms       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT
);
CREATE INDEX prices_scope ON prices (tenant_id, env, id);
CREATE INDEX prices_product ON prices (tenant_id, env, product_id, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON products, prices TO neoforge_tenant;
ALTER TABLE products ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON products
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
ALTER TABLE prices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON prices
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
