/**
 * Strict request bodies (issue 7): unknown properties are refused by name instead of stripped, and a
 * JSON object with the same key twice is refused instead of last-wins. Through a real Fastify app
 * (createHttpServer, inject: no socket, no infrastructure).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/server.ts';
import { findDuplicateKey } from '../../src/http/strict-json.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ServiceMetrics } from '../../src/observability/metrics.ts';
import { amountBody, transferBody } from '../../src/services/command/validation.ts';

describe('findDuplicateKey', () => {
  it('finds a key twice in the same object, also when escaped differently', () => {
    expect(findDuplicateKey('{"amount":1,"amount":2}')).toBe('amount');
    expect(findDuplicateKey('{"amount":1,"\\u0061mount":2}')).toBe('amount');
    expect(findDuplicateKey('{"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}}')).toBe('e');
    expect(findDuplicateKey('[{"x":1},{"y":1,"y":1}]')).toBe('y');
  });

  it('accepts the same key in different objects, keys inside strings and string values equal to keys', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeUndefined();
    expect(findDuplicateKey('{"a":"a","b":"\\"a\\":1,\\"a\\":2","c":["a","a"]}')).toBeUndefined();
    expect(findDuplicateKey('{"a\\\\":1,"a":2}')).toBeUndefined();
    expect(findDuplicateKey('{}')).toBeUndefined();
    expect(findDuplicateKey('[1,"x",null]')).toBeUndefined();
    expect(findDuplicateKey('"just a string"')).toBeUndefined();
  });
});

describe('createHttpServer request bodies', () => {
  const app = createHttpServer({ metrics: new ServiceMetrics('strict-json-test'), logger: createLogger('strict-json-test', 'silent') });
  const seen: unknown[] = [];
  app.post('/deposits', { schema: { body: amountBody } }, async (request) => {
    seen.push(request.body);
    return { ok: true };
  });
  app.post('/transfers', { schema: { body: transferBody } }, async () => ({ ok: true }));
  afterAll(() => app.close());
  const send = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

  it('refuses an unknown property with 400 naming it, and never calls the handler', async () => {
    const response = await send('/deposits', '{"amount":5,"memo":"gift"}');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'bad-request', reason: "body must NOT have additional properties: 'memo' is not allowed" });
    expect(seen).toEqual([]);
    const transfer = await send('/transfers', '{"fromAccountId":"a","toAccountId":"b","amount":5,"fee":1}');
    expect(transfer.statusCode).toBe(400);
    expect(transfer.json().reason).toContain("'fee'");
  });

  it('refuses a duplicated key with 400 duplicate-key naming it', async () => {
    const response = await send('/deposits', '{"amount":1,"amount":2}');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'duplicate-key', reason: "body has the key 'amount' more than once; send each property once" });
    expect(seen).toEqual([]);
  });

  it('still refuses malformed JSON and prototype poisoning, and accepts a well-formed body', async () => {
    expect((await send('/deposits', '{"amount":')).statusCode).toBe(400);
    expect((await send('/deposits', '{"amount":5,"__proto__":{"x":1}}')).statusCode).toBe(400);
    const ok = await send('/deposits', '{"amount":5}');
    expect(ok.statusCode).toBe(200);
    expect(seen).toEqual([{ amount: 5 }]);
  });
});
