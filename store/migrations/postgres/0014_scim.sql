-- SCIM 2.0 provisioning (RFC 7643/7644): an organization's directory pushes users and groups.
-- A SCIM user links to a NeoForge account (users) and its membership in the organization;
-- deactivating it suspends the membership. Resources are kept as the JSON the directory sent
-- (checked against the published schemas), with the columns filters and uniqueness need.

ALTER TABLE memberships ADD COLUMN suspended_at BIGINT;

CREATE TABLE scim_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES organizations(id),
    -- Where the directory's webhook events go: the creator's environment.
    env          TEXT NOT NULL CHECK (env IN ('live', 'test')),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX scim_tokens_tenant ON scim_tokens (tenant_id, id);

CREATE TABLE scim_users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES organizations(id),
    -- The linked account; NULL until the resource carries an email address.
    user_id       TEXT REFERENCES users(id),
    external_id   TEXT,
    -- userName is unique per organization, case-insensitively: this is its lower case.
    user_name_key TEXT NOT NULL,
    active        BIGINT NOT NULL,
    resource      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, user_name_key),
    UNIQUE (tenant_id, user_id)
);
CREATE INDEX scim_users_external ON scim_users (tenant_id, external_id);

CREATE TABLE scim_groups (
    id               TEXT COLLATE "C" PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES organizations(id),
    external_id      TEXT,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    resource         TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX scim_groups_tenant ON scim_groups (tenant_id, id);
CREATE INDEX scim_groups_name ON scim_groups (tenant_id, display_name_key);
CREATE INDEX scim_groups_external ON scim_groups (tenant_id, external_id);

-- A group's members: SCIM users or groups of the same organization.
CREATE TABLE scim_group_members (
    tenant_id   TEXT NOT NULL REFERENCES organizations(id),
    group_id    TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    display     TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX scim_group_members_member ON scim_group_members (tenant_id, member_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON scim_tokens, scim_users, scim_groups, scim_group_members
    TO neoforge_tenant;
-- Directory data belongs to the organization, not to one environment (like memberships).
ALTER TABLE scim_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON scim_tokens
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE scim_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON scim_users
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE scim_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON scim_groups
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
ALTER TABLE scim_group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON scim_group_members
    USING (tenant_id = current_setting('neoforge.tenant_id', true));
