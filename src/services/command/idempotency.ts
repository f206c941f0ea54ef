/**
 * Idempotency keys: a client retrying a POST (timeout, lost response) with the same `Idempotency-Key`
 * gets the first response instead of a second deposit. The key row is inserted FIRST in the command's
 * own transaction, so
 *   - two concurrent requests with one key serialise on the key's primary key (the second INSERT waits
 *     for the first transaction and then fails with a duplicate key, or succeeds if the first rolled back);
 *   - the key is stored exactly when the domain change commits: a crash before COMMIT leaves neither.
 * A key reused with a different request (method, path or body) is a client bug: 422, never a replay.
 * Rejected commands (404, 409, …) roll back and store nothing: nothing was applied, so a retry is simply
 * evaluated again against the current state.
 */
import { HttpError } from '../../http/server.ts';
import type { Query, Statement } from './query.ts';

// What "the same request" means lives in its own module: the bench's bare-SQL baseline writes key rows
// too, without loading the HTTP server this module needs.
export { canonicalJson, requestHash } from './request-hash.ts';

export const idempotencyKeyHeader = 'idempotency-key';
export const replayedHeader = 'Idempotent-Replayed';
/** The column is VARCHAR(128). */
export const maxIdempotencyKeyLength = 128;

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

/** Validates the header value; throws 400 when absent or unusable. */
export function requireIdempotencyKey(value: string | string[] | undefined): string {
  const key = Array.isArray(value) ? value[0] : value;
  if (key === undefined || key.trim() === '') throw new HttpError(400, 'missing-idempotency-key', 'the Idempotency-Key header is required on every POST');
  if (key.length > maxIdempotencyKeyLength) throw new HttpError(400, 'invalid-idempotency-key', `the Idempotency-Key header is longer than ${maxIdempotencyKeyLength} characters`);
  return key;
}

/** Thrown inside the transaction when the key is already stored; the caller answers from the store. */
export class KeyAlreadyUsed extends Error {
  override name = 'KeyAlreadyUsed';
  constructor(readonly key: string) {
    super(`idempotency key '${key}' is already stored`);
  }
}

/**
 * Claims the key in the current transaction (placeholder response, completed before COMMIT). Sent in the
 * first round trip, before any account lock: a duplicate request waits here for the first one's
 * transaction, not on the account. A duplicate key error (1062) from it is `KeyAlreadyUsed`.
 */
export function claimKey(key: string, hash: string): Statement {
  return { sql: "INSERT INTO idempotency_keys (idempotency_key, request_hash, status_code, response_body) VALUES (?, ?, 0, '')", params: [key, hash] };
}

export function completeKey(key: string, response: StoredResponse): Statement {
  return { sql: 'UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE idempotency_key = ?', params: [response.statusCode, JSON.stringify(response.body), key] };
}

/**
 * The stored response for a replay (outside the failed transaction: only committed keys are visible).
 * 422 when the key was first used for a different request.
 */
export async function storedResponse(query: Query, key: string, hash: string): Promise<StoredResponse> {
  const rows = await query<Array<{ request_hash: string; status_code: number; response_body: string }>>(
    'SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE idempotency_key = ?',
    [key],
  );
  const row = rows[0];
  // Only possible if the key was deleted between the failed INSERT and this read (e.g. a retention job).
  if (!row) throw new HttpError(409, 'idempotency-key-in-flux', `idempotency key '${key}' vanished; retry the request`);
  if (row.request_hash !== hash) {
    throw new HttpError(422, 'idempotency-key-reused', `idempotency key '${key}' was already used for a different request`);
  }
  return { statusCode: Number(row.status_code), body: JSON.parse(row.response_body) as unknown };
}
