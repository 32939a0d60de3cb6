-- Enterprise identity: single sign-on connections, claimed email domains, pending logins and
-- the SAML assertions already used. Sessions started by single sign-on are bound to the
-- connection's organization and environment.

ALTER TABLE sessions ADD COLUMN tenant_id TEXT REFERENCES organizations(id);
ALTER TABLE sessions ADD COLUMN env TEXT;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sso_connections (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES organizations(id),
    env           TEXT NOT NULL CHECK (env IN ('live', 'test')),
    kind          TEXT NOT NULL CHECK (kind IN ('oidc', 'saml')),
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    -- Kind-specific settings that may be shown (issuer, client id, IdP metadata), as JSON.
    settings      TEXT NOT NULL,
    -- The OIDC client secret or the SAML SP private key, sealed with the master key.
    secret_sealed TEXT NOT NULL,
    default_role  TEXT NOT NULL,
    role_mappings TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT,
    last_error    TEXT,
    last_error_at BIGINT
);
CREATE INDEX sso_connections_scope ON sso_connections (tenant_id, env, id);

CREATE TABLE sso_domains (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES organizations(id),
    domain             TEXT NOT NULL,
    verification_token TEXT NOT NULL,
    verified_at        BIGINT,
    sso_required       BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    UNIQUE (tenant_id, domain)
);
-- A domain belongs to at most one organization once verified.
CREATE UNIQUE INDEX sso_domains_verified ON sso_domains (domain) WHERE verified_at IS NOT NULL;

CREATE TABLE sso_login_requests (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id),
    -- OIDC only: the nonce and PKCE verifier; a SAML request id is the row id.
    nonce         TEXT,
    pkce_verifier TEXT,
    redirect_to   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE TABLE saml_assertions (
    connection_id TEXT NOT NULL REFERENCES sso_connections(id),
    assertion_id  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
