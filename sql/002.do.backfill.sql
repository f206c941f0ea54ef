-- E-022: a projection rebuilt from the events topic by a backfill job, next to the live one.
-- backfill_applied_log deliberately has no unique key: a double apply leaves two rows (counted by SQL).
CREATE TABLE backfill_balance (
  job_id      VARCHAR(64) NOT NULL,
  account_id  VARCHAR(64) NOT NULL,
  balance     BIGINT      NOT NULL,
  version     BIGINT      NOT NULL,
  PRIMARY KEY (job_id, account_id)
) ENGINE=InnoDB;

CREATE TABLE backfill_applied_log (
  id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  job_id      VARCHAR(64) NOT NULL,
  event_id    CHAR(36)    NOT NULL,
  applied_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  KEY backfill_applied_event (job_id, event_id)
) ENGINE=InnoDB;

-- The controlled job's progress per partition, written in the same transaction as the batch's effects.
CREATE TABLE backfill_checkpoint (
  job_id           VARCHAR(64) NOT NULL,
  topic_partition  INT         NOT NULL,
  next_offset      BIGINT      NOT NULL,
  updated_at       TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (job_id, topic_partition)
) ENGINE=InnoDB;
