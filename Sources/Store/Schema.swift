/// The tsee schema, one ``Migration`` per version. Append new steps; never edit a released one.
///
/// Secrets (client secret, access tokens) never go in the database: no table has a column for them.
enum Schema {
    static let migrations: [Migration] = [
        Migration(
            "action log, rule state, devices, cycles",
            sql: """
                CREATE TABLE actions (
                    id               INTEGER PRIMARY KEY,
                    time             INTEGER NOT NULL,
                    rule             TEXT    NOT NULL CHECK (rule <> ''),
                    tuid             TEXT    NOT NULL CHECK (tuid <> ''),
                    action           TEXT    NOT NULL CHECK (action IN ('move', 'send', 'assign', 'log')),
                    parameters       TEXT    NOT NULL DEFAULT '{}',
                    dry_run          INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
                    outcome          TEXT    NOT NULL,
                    http_status      INTEGER,
                    error            TEXT,
                    transaction_id   INTEGER,
                    confirmed_at     INTEGER,
                    confirmed_values TEXT,
                    confirm_state    TEXT    CHECK (confirm_state IN ('pending', 'confirmed', 'unconfirmed')),
                    firing_key       TEXT    NOT NULL UNIQUE,
                    created_at       INTEGER NOT NULL,
                    completed_at     INTEGER
                ) STRICT;
                CREATE INDEX actions_time ON actions (time);
                CREATE INDEX actions_rule_time ON actions (rule, time);
                CREATE INDEX actions_tuid_time ON actions (tuid, time);
                CREATE INDEX actions_open ON actions (id) WHERE outcome = 'intent';
                CREATE INDEX actions_unconfirmed ON actions (id) WHERE confirm_state IN ('pending', 'unconfirmed');

                -- The log is append-only: no row is deleted, and what was decided is never rewritten.
                CREATE TRIGGER actions_no_delete BEFORE DELETE ON actions
                BEGIN SELECT RAISE(ABORT, 'the action log is append-only'); END;
                CREATE TRIGGER actions_immutable
                BEFORE UPDATE OF id, time, rule, tuid, action, parameters, dry_run, firing_key, created_at ON actions
                BEGIN SELECT RAISE(ABORT, 'the action log is append-only'); END;

                CREATE TABLE rule_state (
                    rule       TEXT    NOT NULL CHECK (rule <> ''),
                    tuid       TEXT    NOT NULL CHECK (tuid <> ''),
                    dry_run    INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
                    state      BLOB    NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (rule, tuid, dry_run)
                ) STRICT, WITHOUT ROWID;

                CREATE TABLE devices (
                    tuid         TEXT    NOT NULL CHECK (tuid <> ''),
                    dry_run      INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
                    cursor_ts    INTEGER,
                    observations BLOB,
                    updated_at   INTEGER NOT NULL,
                    PRIMARY KEY (tuid, dry_run)
                ) STRICT, WITHOUT ROWID;

                CREATE TABLE cycles (
                    id          INTEGER PRIMARY KEY,
                    started_at  INTEGER NOT NULL,
                    finished_at INTEGER,
                    dry_run     INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
                    devices     INTEGER,
                    messages    INTEGER,
                    firings     INTEGER,
                    actions     INTEGER,
                    errors      INTEGER,
                    duration_ms INTEGER
                ) STRICT;
                """
        ),
        Migration(
            "notify actions, why and severity in the log, deployment identity",
            sql: """
                CREATE TABLE actions_v2 (
                    id               INTEGER PRIMARY KEY,
                    time             INTEGER NOT NULL,
                    rule             TEXT    NOT NULL CHECK (rule <> ''),
                    tuid             TEXT    NOT NULL CHECK (tuid <> ''),
                    action           TEXT    NOT NULL CHECK (action IN ('move', 'send', 'assign', 'log', 'notify')),
                    parameters       TEXT    NOT NULL DEFAULT '{}',
                    dry_run          INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
                    outcome          TEXT    NOT NULL,
                    http_status      INTEGER,
                    error            TEXT,
                    transaction_id   INTEGER,
                    confirmed_at     INTEGER,
                    confirmed_values TEXT,
                    confirm_state    TEXT    CHECK (confirm_state IN ('pending', 'confirmed', 'unconfirmed')),
                    firing_key       TEXT    NOT NULL UNIQUE,
                    created_at       INTEGER NOT NULL,
                    completed_at     INTEGER,
                    why              TEXT,
                    severity         TEXT
                ) STRICT;
                INSERT INTO actions_v2 (id, time, rule, tuid, action, parameters, dry_run, outcome, http_status, error,
                    transaction_id, confirmed_at, confirmed_values, confirm_state, firing_key, created_at, completed_at)
                SELECT id, time, rule, tuid, action, parameters, dry_run, outcome, http_status, error,
                    transaction_id, confirmed_at, confirmed_values, confirm_state, firing_key, created_at, completed_at
                FROM actions;
                DROP TABLE actions;
                ALTER TABLE actions_v2 RENAME TO actions;
                CREATE INDEX actions_time ON actions (time);
                CREATE INDEX actions_rule_time ON actions (rule, time);
                CREATE INDEX actions_tuid_time ON actions (tuid, time);
                CREATE INDEX actions_open ON actions (id) WHERE outcome = 'intent';
                CREATE INDEX actions_unconfirmed ON actions (id) WHERE confirm_state IN ('pending', 'unconfirmed');
                CREATE TRIGGER actions_no_delete BEFORE DELETE ON actions
                BEGIN SELECT RAISE(ABORT, 'the action log is append-only'); END;
                CREATE TRIGGER actions_immutable
                BEFORE UPDATE OF id, time, rule, tuid, action, parameters, dry_run, firing_key, created_at, why,
                    severity ON actions
                BEGIN SELECT RAISE(ABORT, 'the action log is append-only'); END;

                -- Facts about the database itself: which deployment (base URL, client id) its state belongs to.
                CREATE TABLE meta (
                    key   TEXT NOT NULL PRIMARY KEY,
                    value TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """
        ),
        Migration(
            "process heartbeats and device leases",
            sql: """
                -- Written by PostgreSQL's several processes; on SQLite (one process per file) only the heartbeat.
                CREATE TABLE processes (
                    owner         TEXT    NOT NULL PRIMARY KEY CHECK (owner <> ''),
                    host          TEXT    NOT NULL,
                    pid           INTEGER NOT NULL,
                    started_at    INTEGER NOT NULL,
                    heartbeat_at  INTEGER NOT NULL,
                    lease_seconds INTEGER NOT NULL CHECK (lease_seconds > 0),
                    devices       INTEGER NOT NULL DEFAULT 0
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE leases (
                    tuid       TEXT    NOT NULL PRIMARY KEY CHECK (tuid <> ''),
                    owner      TEXT    NOT NULL,
                    expires_at INTEGER NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX leases_owner ON leases (owner);
                """
        ),
    ]
}
