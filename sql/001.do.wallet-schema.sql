-- Wallet ledger schema (roadmap B-0310). Runs on MariaDB 10.11 and MySQL 8.
-- Money is BIGINT minor units (cents). Timestamps have microseconds: experiments order events by them.

CREATE TABLE accounts (
  id          VARCHAR(64)  NOT NULL PRIMARY KEY,
  owner       VARCHAR(200) NOT NULL,
  currency    CHAR(3)      NOT NULL,
  balance     BIGINT       NOT NULL DEFAULT 0,
  -- Aggregate version: 1 after opening, +1 per event; becomes the envelope's aggregateVersion.
  version     BIGINT       NOT NULL DEFAULT 1,
  created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  CONSTRAINT accounts_balance_not_negative CHECK (balance >= 0)
) ENGINE=InnoDB;

CREATE TABLE transfers (
  id               VARCHAR(64)  NOT NULL PRIMARY KEY,
  from_account_id  VARCHAR(64)  NOT NULL,
  to_account_id    VARCHAR(64)  NOT NULL,
  amount           BIGINT       NOT NULL,
  created_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY transfers_from (from_account_id),
  KEY transfers_to (to_account_id),
  CONSTRAINT transfers_amount_positive CHECK (amount > 0)
) ENGINE=InnoDB;

-- One row per balance change: the domain's own audit trail, and what conservation checks sum.
CREATE TABLE ledger_entries (
  id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id  VARCHAR(64)  NOT NULL,
  amount      BIGINT       NOT NULL,            -- signed: + credit, - debit
  kind        VARCHAR(32)  NOT NULL,            -- deposit | withdrawal | transfer-debit | transfer-credit
  reference   VARCHAR(64)  NULL,                -- transfer id
  event_id    CHAR(36)     NOT NULL,
  created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY ledger_account (account_id),
  UNIQUE KEY ledger_event (event_id)
) ENGINE=InnoDB;

-- A retried HTTP request with the same key returns the first response instead of applying again.
CREATE TABLE idempotency_keys (
  idempotency_key  VARCHAR(128) NOT NULL PRIMARY KEY,
  request_hash     CHAR(64)     NOT NULL,
  status_code      SMALLINT     NOT NULL,
  response_body    TEXT         NOT NULL,
  created_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- Transactional outbox: written in the same transaction as the domain change, published by the relay.
CREATE TABLE outbox_event (
  id                 BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id           CHAR(36)      NOT NULL,
  aggregate_type     VARCHAR(64)   NOT NULL,
  aggregate_id       VARCHAR(64)   NOT NULL,
  aggregate_version  BIGINT        NOT NULL,
  event_type         VARCHAR(64)   NOT NULL,
  -- Relays lease shards (GET_LOCK) so one aggregate's events are published by one relay at a time, in order.
  shard              SMALLINT      NOT NULL,
  payload            TEXT          NOT NULL,    -- the envelope as JSON; the relay encodes it (Avro, registry)
  headers            TEXT          NOT NULL,    -- JSON object of Kafka headers
  created_at         TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  published_at       TIMESTAMP(6)  NULL,
  attempts           INT           NOT NULL DEFAULT 0,
  last_error         VARCHAR(1000) NULL,
  UNIQUE KEY outbox_event_id (event_id),
  KEY outbox_pending (shard, published_at, id)
) ENGINE=InnoDB;

-- Consumer dedupe: inserted in the same transaction as the projection change; the primary key *is* the check.
CREATE TABLE processed_event (
  consumer_group  VARCHAR(128) NOT NULL,
  event_id        CHAR(36)     NOT NULL,
  processed_at    TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (consumer_group, event_id),
  KEY processed_event_age (processed_at)
) ENGINE=InnoDB;

-- The read model the query-service serves.
CREATE TABLE account_balance_view (
  account_id     VARCHAR(64)  NOT NULL PRIMARY KEY,
  owner          VARCHAR(200) NOT NULL,
  currency       CHAR(3)      NOT NULL,
  balance        BIGINT       NOT NULL,
  version        BIGINT       NOT NULL,          -- aggregateVersion of the last applied event
  last_event_id  CHAR(36)     NOT NULL,
  updated_at     TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- Every application of an event to the projection, deliberately without a unique key: a naive consumer
-- that applies an event twice leaves two rows, which is how checkers count double-applies.
CREATE TABLE applied_event_log (
  id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  consumer_group  VARCHAR(128) NOT NULL,
  event_id        CHAR(36)     NOT NULL,
  account_id      VARCHAR(64)  NOT NULL,
  applied_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY applied_event (event_id)
) ENGINE=InnoDB;

-- One row per DLQ record a replay looked at: who, when, what, result.
CREATE TABLE replay_audit (
  id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  replay_id       CHAR(36)      NOT NULL,
  operator        VARCHAR(128)  NOT NULL,
  reason          VARCHAR(500)  NOT NULL,
  replayed_at     TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  dlq_topic       VARCHAR(255)  NOT NULL,
  dlq_partition   INT           NOT NULL,
  dlq_offset      BIGINT        NOT NULL,
  event_id        CHAR(36)      NULL,
  event_type      VARCHAR(64)   NULL,
  error_class     VARCHAR(128)  NULL,
  target_topic    VARCHAR(255)  NOT NULL,
  dry_run         BOOLEAN       NOT NULL,
  result          VARCHAR(32)   NOT NULL,       -- replayed | dry-run | filtered | failed
  detail          VARCHAR(1000) NULL,
  KEY replay_run (replay_id)
) ENGINE=InnoDB;
