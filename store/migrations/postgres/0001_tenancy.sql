-- Tenancy: users, sessions, organizations, roles, memberships, invitations, API keys, audit.
-- Ids use the C collation so that ORDER BY id is byte order, as on SQLite (cursor pagination).
-- Times are unix milliseconds (BIGINT) on both backends.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE organizations (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE roles (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES organizations(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, id);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES organizations(id),
    env          TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_scope ON api_keys (tenant_id, env, id);

CREATE TABLE audit_events (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    env         TEXT NOT NULL CHECK (env IN ('live', 'test')),
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    ip          TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_scope ON audit_events (tenant_id, env, id);

-- Idempotency records, keyed by a hash of the caller's credential and the client's key.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    status       BIGINT,
    content_type TEXT,
    body         TEXT,
    PRIMARY KEY (scope, key)
);

-- Row-level security: a second wall behind the tenant_id/env filters. The app connects as the
-- table owner (which bypasses RLS) and switches to neoforge_tenant inside tenant-scoped
-- transactions (Db::read_scoped, Db::write_scoped), where only the scope's rows are visible.
-- Roles are cluster-wide: several databases may race to create the same one.
DO $$
BEGIN
    BEGIN
        CREATE ROLE neoforge_tenant NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    IF NOT pg_has_role(current_user, 'neoforge_tenant', 'MEMBER') THEN
        EXECUTE format('GRANT neoforge_tenant TO %I', current_user);
    END IF;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO neoforge_tenant;

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON roles
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON memberships
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON invitations
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON api_keys
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON audit_events
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
