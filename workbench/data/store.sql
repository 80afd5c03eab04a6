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

-- Campaign stage (issue 6; documented in docs/campaigns.md). Columns added to the tables above.
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS playbook VARCHAR;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS playbook_file VARCHAR;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS scores_as_of DATE;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS planned_cost DECIMAL(14,2);
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS holdout_draw INTEGER;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS filters JSON;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS closed_at TIMESTAMP;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS reason_family VARCHAR;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS colour VARCHAR;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS team VARCHAR;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS priority INTEGER;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS value DOUBLE;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS contact_cost DOUBLE;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS bundle_cost DOUBLE;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS bundle_categories VARCHAR;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS valid_until DATE;
-- Honest evaluation (issue 13): the draw that set a customer's arm, a treatment arm's name when a round has
-- several (rounds imported from other tools), and a round-level attribution window that overrides the channels'.
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS cohort_round VARCHAR;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS arm_name VARCHAR;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS window_days INTEGER;
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE contact_attempts ADD COLUMN IF NOT EXISTS attempts INTEGER;
ALTER TABLE contact_attempts ADD COLUMN IF NOT EXISTS imported_at TIMESTAMP;

-- Bundle -> spend categories per campaign, so the evaluation can judge "did they buy what was offered".
CREATE TABLE IF NOT EXISTS campaign_bundles (
    campaign_id    VARCHAR NOT NULL,
    bundle         VARCHAR NOT NULL,
    category       VARCHAR NOT NULL,
    kind           VARCHAR,              -- full_plan / favourite
    cost           DOUBLE,
    valid_days     INTEGER,
    PRIMARY KEY (campaign_id, bundle, category)
);

-- Customers who asked not to be contacted again (from call-team workbooks); every later round skips them.
-- Kept apart from customers.do_not_contact so a later CRM re-import cannot undo the request.
CREATE TABLE IF NOT EXISTS do_not_contact (
    customer_id    VARCHAR PRIMARY KEY,
    round_id       VARCHAR,
    source_file    VARCHAR,
    recorded_at    TIMESTAMP NOT NULL
);

-- Response analysis (issue 5): where each answer came from, so re-imports replace instead of adding,
-- and one row per case with its final status (completed / refused / not_reached / call_back), so cases
-- without answers still count in the response rates.
ALTER TABLE survey_responses ADD COLUMN IF NOT EXISTS case_id VARCHAR;
ALTER TABLE survey_responses ADD COLUMN IF NOT EXISTS source_sheet VARCHAR;
ALTER TABLE survey_responses ADD COLUMN IF NOT EXISTS source_row INTEGER;
ALTER TABLE survey_responses ADD COLUMN IF NOT EXISTS submission_key VARCHAR;
ALTER TABLE survey_responses ADD COLUMN IF NOT EXISTS imported_at TIMESTAMP;

CREATE TABLE IF NOT EXISTS survey_cases (
    survey_id      VARCHAR NOT NULL,
    case_id        VARCHAR NOT NULL,
    customer_id    VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,     -- completed / refused / not_reached / call_back
    interviewer    VARCHAR,
    attempts       INTEGER,
    answered_at    TIMESTAMP,
    source_file    VARCHAR,
    source_sheet   VARCHAR,
    source_row     INTEGER,
    submission_key VARCHAR,
    imported_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (survey_id, case_id)
);
ALTER TABLE survey_cases ADD COLUMN IF NOT EXISTS answer_hash VARCHAR;  -- status + answers, to tell re-imports apart

-- Customers whose personal data was erased on request (workbench purge): imports scrub them again, so a
-- later CRM export cannot bring the data back. See workbench/data/purge.py.
CREATE TABLE IF NOT EXISTS purged_customers (
    customer_id    VARCHAR PRIMARY KEY,
    purged_at      TIMESTAMP NOT NULL
);
