-- kmsgate schema: the whole model of kms-model.md section 2.
-- Hostnames (KMS hosts, desktops, activation clients) are stored lowercase and
-- checked to be so: lookups compare lower(input) with the stored value, which
-- makes them case-insensitive without an extension.

CREATE TABLE kms_hosts (
  id                        bigserial PRIMARY KEY,
  name                      text NOT NULL UNIQUE
                            CHECK (name = lower(name) AND length(name) BETWEEN 1 AND 253),
  family                    text NOT NULL CHECK (family IN ('windows', 'office')),
  threshold                 integer NOT NULL CHECK (threshold BETWEEN 1 AND 10000),
  capacity                  integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
  margin                    integer NOT NULL DEFAULT 0 CHECK (margin BETWEEN 0 AND 10000),
  renewal_interval_minutes  integer NOT NULL DEFAULT 10080
                            CHECK (renewal_interval_minutes BETWEEN 15 AND 43200),
  description               text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pools (
  id                        bigserial PRIMARY KEY,
  name                      text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  kms_host_id               bigint NOT NULL REFERENCES kms_hosts (id),
  platform                  text NOT NULL CHECK (platform IN ('horizon', 'citrix', 'other')),
  -- NULL: the KMS host's renewal interval applies.
  renewal_interval_minutes  integer CHECK (renewal_interval_minutes BETWEEN 15 AND 43200),
  unique_cmids              boolean NOT NULL DEFAULT true,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  -- Target of the desktops' composite key below.
  UNIQUE (id, kms_host_id)
);
CREATE INDEX pools_kms_host ON pools (kms_host_id);

CREATE TABLE desktops (
  id                  bigserial PRIMARY KEY,
  hostname            text NOT NULL UNIQUE
                      CHECK (hostname = lower(hostname) AND length(hostname) BETWEEN 1 AND 253),
  pool_id             bigint NOT NULL,
  -- Carried with the pool so that a desktop can never move to a pool of another
  -- KMS host: its CMID lives in the old host's cache (the composite key refuses it).
  kms_host_id         bigint NOT NULL,
  cmid                uuid,
  -- Time of the activation request that set cmid; an older event never replaces it.
  cmid_seen_at        timestamptz,
  state               text NOT NULL DEFAULT 'active'
                      CHECK (state IN ('active', 'powered_off', 'decommissioned')),
  last_activation_at  timestamptz,
  decommissioned_at   timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (pool_id, kms_host_id) REFERENCES pools (id, kms_host_id),
  CHECK ((state = 'decommissioned') = (decommissioned_at IS NOT NULL))
);
CREATE INDEX desktops_pool_state ON desktops (pool_id, state);
CREATE INDEX desktops_host_cmid ON desktops (kms_host_id, cmid);

-- One row per event 12290. The natural key makes re-ingest a no-op.
CREATE TABLE activation_requests (
  kms_host_id        bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  cmid               uuid NOT NULL,
  requested_at       timestamptz NOT NULL,
  client             text NOT NULL CHECK (client = lower(client) AND length(client) BETWEEN 1 AND 253),
  hresult            bigint CHECK (hresult BETWEEN 0 AND 4294967295),
  required_count     smallint CHECK (required_count IN (5, 25)),
  is_vm              boolean,
  license_status     smallint CHECK (license_status BETWEEN 0 AND 6),
  minutes_to_expiry  bigint CHECK (minutes_to_expiry >= 0),
  activation_id      uuid,
  ingested_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kms_host_id, cmid, requested_at, client)
);
CREATE INDEX activation_requests_host_time ON activation_requests (kms_host_id, requested_at);

-- Per-CMID summary kept by ingest in the same transaction, so the forecast
-- reads one row per CMID instead of every request.
CREATE TABLE cmids (
  kms_host_id       bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  cmid              uuid NOT NULL,
  first_request_at  timestamptz NOT NULL,
  last_request_at   timestamptz NOT NULL,
  request_count     bigint NOT NULL CHECK (request_count >= 1),
  last_client       text NOT NULL,
  required_count    smallint CHECK (required_count IN (5, 25)),
  PRIMARY KEY (kms_host_id, cmid),
  CHECK (first_request_at <= last_request_at)
);
CREATE INDEX cmids_host_last ON cmids (kms_host_id, last_request_at);

CREATE TABLE count_observations (
  id              bigserial PRIMARY KEY,
  kms_host_id     bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  count           integer NOT NULL CHECK (count BETWEEN 0 AND 100000),
  observed_at     timestamptz NOT NULL,
  modelled_count  integer NOT NULL CHECK (modelled_count >= 0),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX count_observations_host_time ON count_observations (kms_host_id, observed_at DESC);

CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  role          text NOT NULL CHECK (role IN ('reader', 'hook', 'admin')),
  token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Reserved plans. "expired" is not stored: a reserved plan whose expires_at
-- has passed is expired, so nothing has to run for expiry to take effect.
CREATE TABLE plans (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kms_host_id   bigint NOT NULL REFERENCES kms_hosts (id) ON DELETE CASCADE,
  state         text NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
  at            timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  request       jsonb NOT NULL,
  caller        text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  committed_at  timestamptz,
  released_at   timestamptz,
  CHECK ((state = 'committed') = (committed_at IS NOT NULL)),
  CHECK ((state = 'released') = (released_at IS NOT NULL))
);
CREATE INDEX plans_host_state ON plans (kms_host_id, state, expires_at);

CREATE TABLE plan_decommissions (
  plan_id     uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  desktop_id  bigint NOT NULL REFERENCES desktops (id),
  PRIMARY KEY (plan_id, desktop_id)
);
CREATE INDEX plan_decommissions_desktop ON plan_decommissions (desktop_id);

CREATE TABLE plan_provisions (
  plan_id  uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  pool_id  bigint NOT NULL REFERENCES pools (id),
  count    integer NOT NULL CHECK (count BETWEEN 1 AND 100000),
  PRIMARY KEY (plan_id, pool_id)
);

-- Every gate evaluation, kept as an audit trail (the host name is copied so
-- the record survives the host's deletion).
CREATE TABLE decisions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kms_host         text NOT NULL,
  kms_host_id      bigint REFERENCES kms_hosts (id) ON DELETE SET NULL,
  evaluated_at     timestamptz NOT NULL DEFAULT now(),
  decision         text NOT NULL CHECK (decision IN ('go', 'no-go')),
  http_status      integer NOT NULL,
  request          jsonb NOT NULL,
  response         jsonb NOT NULL,
  caller           text NOT NULL,
  token_id         uuid,
  plan_id          uuid REFERENCES plans (id) ON DELETE SET NULL,
  idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  request_hash     text,
  UNIQUE (token_id, idempotency_key)
);
CREATE INDEX decisions_time ON decisions (evaluated_at DESC);
CREATE INDEX decisions_host_time ON decisions (kms_host, evaluated_at DESC);
