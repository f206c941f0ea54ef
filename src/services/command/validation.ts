/**
 * Request schemas (fastify/ajv) and the limits behind them, in one place so tests and docs agree.
 * Fastify's ajv coerces types ("100" → 100); money must not arrive as a string or a float, so numeric
 * fields are also checked for being JSON numbers before the schema runs (`assertJsonNumbers`).
 * `additionalProperties: false` refuses unknown properties (400 naming them): createHttpServer turns
 * off ajv's `removeAdditional`, which would otherwise strip them silently.
 */
import { HttpError } from '../../http/server.ts';

/** avsc's safe Avro long is ±(2^53 − 2); amounts and balances stay within it end to end. */
export const maxAmount = 2 ** 53 - 2;
export const idPattern = '^[A-Za-z0-9_-]{1,64}$';
export const currencyPattern = '^[A-Z]{3}$';

const id = { type: 'string', pattern: idPattern } as const;
const amount = { type: 'integer', minimum: 1, maximum: maxAmount } as const;

export const accountParams = { type: 'object', required: ['id'], properties: { id } } as const;

export const openAccountBody = {
  type: 'object',
  required: ['owner', 'currency'],
  additionalProperties: false,
  properties: { accountId: id, owner: { type: 'string', minLength: 1, maxLength: 200 }, currency: { type: 'string', pattern: currencyPattern } },
} as const;

export const amountBody = { type: 'object', required: ['amount'], additionalProperties: false, properties: { amount } } as const;

export const transferBody = {
  type: 'object',
  required: ['fromAccountId', 'toAccountId', 'amount'],
  additionalProperties: false,
  properties: { transferId: id, fromAccountId: id, toAccountId: id, amount },
} as const;

export const isValidId = (value: unknown): value is string => typeof value === 'string' && new RegExp(idPattern).test(value);

export function isValidAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= maxAmount;
}

/** 400 unless each named field, when present, is a JSON number (not a string ajv would coerce). */
export function assertJsonNumbers(body: unknown, fields: string[]): void {
  if (body === null || typeof body !== 'object') return; // the schema reports a missing/non-object body
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && typeof value !== 'number') throw new HttpError(400, 'bad-request', `body/${field} must be a JSON integer, got ${typeof value}`);
  }
}
