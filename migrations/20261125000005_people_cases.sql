-- People and human cases: diagnosis, imaging stage with history, treatment, follow-up (DOMAIN.md §2).
-- These are personal health data: see ARCHITECTURE.md, "Privacy".

CREATE TABLE people (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    household_id    bigint REFERENCES households (id),
    village_id      integer NOT NULL REFERENCES villages (id),
    name            text NOT NULL CHECK (name <> ''),
    -- 身份证号: 17 digits and a check character (GB 11643); the checksum is verified in the domain type.
    id_number       char(18) CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    sex             sex NOT NULL,
    birth_date      date NOT NULL CHECK (birth_date >= DATE '1900-01-01'),
    ethnicity       text,
    occupation      text,
    phone           text CHECK (phone ~ '^[0-9+\- ]{5,20}$'),
    link_method     link_method NOT NULL,
    link_distance_m double precision CHECK (link_distance_m >= 0),
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE UNIQUE INDEX people_id_number_key ON people (id_number) WHERE id_number IS NOT NULL;
-- The second deduplication key: name + birth date + village.
CREATE INDEX people_name_birth_village_idx ON people (name, birth_date, village_id);
CREATE INDEX people_village_idx ON people (village_id);
CREATE INDEX people_household_idx ON people (household_id);
CREATE TRIGGER people_touch BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE case_type AS ENUM ('CE', 'AE');
-- WS 257-2006: 疑似 suspected, 临床诊断 clinical, 确诊 confirmed.
CREATE TYPE diagnosis_class AS ENUM ('suspected', 'clinical', 'confirmed');
CREATE TYPE case_organ AS ENUM ('liver', 'lung', 'brain', 'bone', 'kidney', 'spleen', 'multiple', 'other');
CREATE TYPE discovery_route AS ENUM ('screening', 'hospital_report', 'follow_up', 'other');
CREATE TYPE case_status AS ENUM ('under_treatment', 'watch_and_wait', 'cured', 'died', 'lost_to_follow_up');

CREATE TABLE cases (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES people (id),
    -- The village of residence when reported; the case is counted there.
    village_id      integer NOT NULL REFERENCES villages (id),
    case_type       case_type NOT NULL,
    diagnosis_class diagnosis_class NOT NULL,
    organ           case_organ NOT NULL,
    discovery_route discovery_route NOT NULL,
    onset_on        date,
    diagnosed_on    date,
    reported_on     date NOT NULL,
    nndrs_id        text UNIQUE,
    reporting_unit  text,
    -- A report for a person already known to the register (about 39% nationally).
    is_revisit      boolean NOT NULL DEFAULT false,
    status          case_status NOT NULL DEFAULT 'under_treatment',
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    CHECK (onset_on IS NULL OR diagnosed_on IS NULL OR onset_on <= diagnosed_on),
    CHECK (diagnosed_on IS NULL OR diagnosed_on <= reported_on)
);
CREATE INDEX cases_person_idx ON cases (person_id);
CREATE INDEX cases_village_date_idx ON cases (village_id, reported_on);
CREATE TRIGGER cases_touch BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE imaging_modality AS ENUM ('ultrasound', 'ct', 'mri', 'xray');
-- WHO-IWGE cyst stages for CE (Chinese types I–V map onto them).
CREATE TYPE ce_stage AS ENUM ('CL', 'CE1', 'CE2', 'CE3a', 'CE3b', 'CE4', 'CE5');
-- PNM for AE: parasitic mass, neighbouring organs, metastasis; x = not assessable.
CREATE TYPE pnm_p AS ENUM ('P0', 'P1', 'P2', 'P3', 'P4', 'Px');
CREATE TYPE pnm_n AS ENUM ('N0', 'N1', 'Nx');
CREATE TYPE pnm_m AS ENUM ('M0', 'M1', 'Mx');

-- Every exam is kept: the stage history of a case is its imaging exams in date order.
CREATE TABLE imaging_exams (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES cases (id),
    examined_on     date NOT NULL,
    modality        imaging_modality NOT NULL DEFAULT 'ultrasound',
    ce_stage        ce_stage,
    pnm_p           pnm_p,
    pnm_n           pnm_n,
    pnm_m           pnm_m,
    largest_cyst_mm integer CHECK (largest_cyst_mm > 0),
    examiner        text,
    created_by      text NOT NULL DEFAULT 'system',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    -- Exactly one staging system per exam.
    CHECK (
        (ce_stage IS NOT NULL AND pnm_p IS NULL AND pnm_n IS NULL AND pnm_m IS NULL)
        OR (ce_stage IS NULL AND pnm_p IS NOT NULL AND pnm_n IS NOT NULL AND pnm_m IS NOT NULL)
    ),
    UNIQUE (case_id, examined_on, modality)
);
CREATE TRIGGER imaging_exams_touch BEFORE UPDATE ON imaging_exams FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The staging system must be the case's own: WHO-IWGE for CE, PNM for AE.
CREATE FUNCTION imaging_stage_matches_case() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t case_type;
BEGIN
    SELECT case_type INTO t FROM cases WHERE id = NEW.case_id;
    IF t = 'CE' AND NEW.ce_stage IS NULL THEN
        RAISE EXCEPTION 'a CE case is staged with WHO-IWGE (CL, CE1…CE5), not PNM'
            USING ERRCODE = 'check_violation', COLUMN = 'ce_stage';
    ELSIF t = 'AE' AND NEW.pnm_p IS NULL THEN
        RAISE EXCEPTION 'an AE case is staged with PNM, not WHO-IWGE'
            USING ERRCODE = 'check_violation', COLUMN = 'pnm_p';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER imaging_exams_stage_matches BEFORE INSERT OR UPDATE ON imaging_exams
    FOR EACH ROW EXECUTE FUNCTION imaging_stage_matches_case();

CREATE TYPE treatment_kind AS ENUM ('albendazole', 'surgery', 'percutaneous');

CREATE TABLE treatments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id             bigint NOT NULL REFERENCES cases (id),
    kind                treatment_kind NOT NULL,
    started_on          date NOT NULL,
    ended_on            date,
    -- Albendazole: mg per kg per day (usually 10–15) and adherence.
    dose_mg_per_kg      numeric(5, 1) CHECK (dose_mg_per_kg > 0 AND dose_mg_per_kg <= 50),
    adherence_pct       smallint CHECK (adherence_pct BETWEEN 0 AND 100),
    adverse_events      text,
    -- Surgery: where, what, and the subsidy paid.
    hospital            text,
    procedure           text,
    subsidy_yuan        numeric(10, 2) CHECK (subsidy_yuan >= 0),
    created_by          text NOT NULL DEFAULT 'system',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    CHECK (ended_on IS NULL OR ended_on >= started_on),
    CHECK (kind <> 'albendazole' OR dose_mg_per_kg IS NOT NULL),
    CHECK (kind = 'albendazole' OR hospital IS NOT NULL)
);
CREATE INDEX treatments_case_idx ON treatments (case_id);
CREATE TRIGGER treatments_touch BEFORE UPDATE ON treatments FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TYPE followup_outcome AS ENUM ('stable', 'improved', 'progressed', 'cured', 'died', 'not_found');

-- A follow-up is scheduled (due_on) and then done (visited_on); a due one not visited is overdue.
CREATE TABLE followups (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id             bigint NOT NULL REFERENCES cases (id),
    due_on              date NOT NULL,
    visited_on          date,
    outcome             followup_outcome,
    ultrasound_done     boolean NOT NULL DEFAULT false,
    visited_by          text,
    notes               text,
    created_by          text NOT NULL DEFAULT 'system',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    CHECK ((visited_on IS NULL) = (outcome IS NULL)),
    UNIQUE (case_id, due_on)
);
CREATE INDEX followups_due_idx ON followups (due_on) WHERE visited_on IS NULL;
CREATE TRIGGER followups_touch BEFORE UPDATE ON followups FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
