-- Tables the workbench fills itself (the importable tables come from schema.yaml).
-- Later stages add their columns here; every statement must be idempotent.

CREATE TABLE IF NOT EXISTS imports (
    import_id      INTEGER PRIMARY KEY,
    table_name     VARCHAR NOT NULL,
    file_name      VARCHAR NOT NULL,
    sheet          VARCHAR,
    sha256         VARCHAR NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_inserted  BIGINT NOT NULL,
    rows_updated   BIGINT NOT NULL,
    rows_skipped   BIGINT NOT NULL,      -- already present (re-import, overlapping export)
    imported_at    TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS surveys (
    survey_id      VARCHAR PRIMARY KEY,
    template       VARCHAR NOT NULL,
    title_en       VARCHAR,
    title_zh       VARCHAR,
    definition     JSON NOT NULL,        -- the validated template, as loaded
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS survey_sample (
    survey_id      VARCHAR NOT NULL,
    customer_id    VARCHAR NOT NULL,
    stratum        VARCHAR NOT NULL,
    role           VARCHAR NOT NULL,     -- 'main' or 'reserve'
    reserve_rank   INTEGER,
    design_weight  DOUBLE NOT NULL,
    interviewer    VARCHAR,
    seed           BIGINT NOT NULL,
    PRIMARY KEY (survey_id, customer_id)
);

CREATE TABLE IF NOT EXISTS survey_responses (
    survey_id      VARCHAR NOT NULL,
    customer_id    VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,     -- completed / refused / not_reached / call_back
    question       VARCHAR NOT NULL,
    answer         VARCHAR,
    interviewer    VARCHAR,
    answered_at    TIMESTAMP,
    source_file    VARCHAR
);

CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id    VARCHAR PRIMARY KEY,
    playbook       VARCHAR NOT NULL,
    definition     JSON NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS rounds (
    round_id       VARCHAR PRIMARY KEY,
    campaign_id    VARCHAR NOT NULL,
    round_date     DATE NOT NULL,
    budget         DECIMAL(14,2),
    holdout_share  DOUBLE NOT NULL,
    seed           BIGINT NOT NULL,
    status         VARCHAR NOT NULL,     -- open / closed
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS assignments (
    round_id       VARCHAR NOT NULL,
    customer_id    VARCHAR NOT NULL,
    arm            VARCHAR NOT NULL,     -- treatment / holdout / excluded
    exclusion      VARCHAR,
    tier           INTEGER,
    stage          VARCHAR,
    reason         VARCHAR,
    reason_source  VARCHAR,              -- known / inferred
    script_step    INTEGER,
    channel        VARCHAR,
    time_window    VARCHAR,
    bundle         VARCHAR,
    agent          VARCHAR,
    PRIMARY KEY (round_id, customer_id)
);

CREATE TABLE IF NOT EXISTS contact_attempts (
    round_id       VARCHAR NOT NULL,
    customer_id    VARCHAR NOT NULL,
    attempt_date   DATE,
    channel        VARCHAR,
    agent          VARCHAR,
    outcome        VARCHAR NOT NULL,     -- reached / not_reached / wrong_number / refused / interested / booked / do_not_contact
    notes          VARCHAR,
    source_file    VARCHAR
);
