"""The journal's tables (SQL), one version number; `sqlite.py` creates and checks them.

A change to the tables raises SCHEMA_VERSION, changes SCHEMA (what a new journal gets)
and adds the step from the version before to MIGRATIONS (what an existing one gets): an
older gateway refuses a newer journal rather than misread it.
"""

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE files (
    id            INTEGER PRIMARY KEY,
    tenant        TEXT NOT NULL DEFAULT '',
    inbox         TEXT NOT NULL,
    name          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    path          TEXT,
    state         TEXT NOT NULL,
    duplicate_of  INTEGER REFERENCES files(id),
    error         TEXT,
    registered_at TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_state ON files(state);
CREATE INDEX files_path ON files(path);
CREATE INDEX files_tenant_sha256 ON files(tenant, sha256);

CREATE TABLE cases (
    id                    INTEGER PRIMARY KEY,
    file_id               INTEGER NOT NULL REFERENCES files(id),
    tenant                TEXT NOT NULL DEFAULT '',
    key                   TEXT NOT NULL,
    innsender_referanse   TEXT NOT NULL,
    begjaeringsdato       TEXT NOT NULL,
    state                 TEXT NOT NULL,
    payload               TEXT NOT NULL,
    source                TEXT NOT NULL,
    ekstern_saksreferanse TEXT,
    korrelasjonsid        TEXT,
    meldingsid            TEXT,
    errors                TEXT NOT NULL DEFAULT '[]',
    duplicate_of          INTEGER REFERENCES cases(id),
    attempts              INTEGER NOT NULL DEFAULT 0,
    next_attempt_at       TEXT,
    submitted_at          TEXT,
    finished_at           TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    UNIQUE (file_id, key)
);
CREATE INDEX cases_business_key ON cases(innsender_referanse, begjaeringsdato);
CREATE INDEX cases_state ON cases(state);
CREATE INDEX cases_tenant_business_key ON cases(tenant, innsender_referanse, begjaeringsdato);

CREATE TABLE transitions (
    id         INTEGER PRIMARY KEY,
    entity     TEXT NOT NULL CHECK (entity IN ('file', 'case')),
    entity_id  INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    at         TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX transitions_entity ON transitions(entity, entity_id);

CREATE TABLE intents (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases(id),
    operation  TEXT NOT NULL,
    meldingsid TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX intents_case ON intents(case_id);

CREATE TABLE attachments (
    case_id     INTEGER NOT NULL REFERENCES cases(id),
    filnavn     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    uuid        TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (case_id, filnavn, sha256)
);

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

# Each step takes the journal from version N-1 to N (keyed by N), in one transaction.
MIGRATIONS: dict[int, str] = {
    # Version 2: tenants (vendor mode). Rows written before belong to the implicit
    # single tenant, ''; cases carry the tenant too, so per-tenant queries need no join.
    2: """
ALTER TABLE files ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE INDEX files_tenant_sha256 ON files(tenant, sha256);
CREATE INDEX cases_tenant_business_key ON cases(tenant, innsender_referanse, begjaeringsdato);
""",
}
