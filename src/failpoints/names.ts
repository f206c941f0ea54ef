/**
 * Every failpoint in the services, at the places where a crash or error decides an experiment's outcome.
 * One list, so experiments and docs name them the same way.
 */
export const failpointNames = [
  // command-service
  'command.before-commit', //                    outbox mode: in the transaction (key claimed, account locked), writes and COMMIT not sent
  'command.after-commit-before-produce', //      direct mode: DB committed, event not produced (E-002 loss)
  'command.after-produce-before-commit', //      direct mode, produce-first: event out, DB not committed (phantom)
  // outbox-relay
  'relay.before-publish', //                     rows locked, nothing sent
  'relay.after-publish-before-mark', //          sent and acked, rows not marked (E-003 duplicates)
  'relay.after-mark', //                         marked and committed
  // consumer-service
  'consumer.before-process', //                  record fetched, nothing done
  'consumer.after-offset-commit-before-process', // commit-before-processing mode (E-004 loss)
  'consumer.inside-projection-tx', //            processed_event inserted, projection updated, not committed
  'consumer.after-side-effect-before-commit', // notification sent, DB not committed (E-003 side effect)
  'consumer.after-db-commit-before-offset-commit', // applied, offset not committed (redelivery)
  'consumer.after-commit-before-invalidate', //  projection committed, cache not invalidated (stale cache)
  'consumer.apply', //                           error here = a processing failure (retry topics / DLQ)
  // query-service
  'query.after-db-read-before-cache-set', //     the read-populate race of cache-aside (E-013)
  // replay-worker
  'replay.after-publish-before-audit',
  // backfill (E-022)
  'backfill.after-batch', //                     uncontrolled: a fetched batch applied, progress kept nowhere
  'backfill.after-checkpoint', //                controlled: a batch and its checkpoint committed together
] as const;

export type FailpointName = (typeof failpointNames)[number];
