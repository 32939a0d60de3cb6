-- Transactional email: each tenant environment's settings, and the outbox. An email is
-- written in the transaction of the event it is about (one per event and kind), rendered
-- (sender, subject, bodies) by the worker when it first takes it, and sent;
-- `next_attempt_at` is set while it waits to be sent.

CREATE TABLE email_settings (
    tenant_id  TEXT NOT NULL REFERENCES organizations(id),
    env        TEXT NOT NULL CHECK (env IN ('live', 'test')),
    settings   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, env)
);

CREATE TABLE emails (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES organizations(id),
    env             TEXT NOT NULL CHECK (env IN ('live', 'test')),
    kind            TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    customer_id     TEXT,
    recipient       TEXT NOT NULL,
    sender_name     TEXT,
    reply_to        TEXT,
    subject         TEXT,
    html            TEXT,
    text            TEXT,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    UNIQUE (event_id, kind)
);
CREATE INDEX emails_scope ON emails (tenant_id, env, id);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON email_settings, emails TO neoforge_tenant;
ALTER TABLE email_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON email_settings
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
ALTER TABLE emails ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_wall ON emails
    USING (tenant_id = current_setting('neoforge.tenant_id', true)
           AND env = current_setting('neoforge.env', true));
