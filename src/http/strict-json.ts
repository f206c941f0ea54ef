/**
 * Strict request bodies, for every service (money moves on what these bodies say):
 *
 * - A JSON object with the same key twice (`{"amount":1,"amount":2}`) is refused with 400 naming the
 *   key. JSON (RFC 8259) leaves duplicate names undefined; JSON.parse silently keeps the last one, so a
 *   proxy, a logger, an idempotency hash or a WAF that keeps the first would disagree with what the
 *   service applies. Ambiguous money is rejected, never guessed.
 * - Unknown properties are refused, not stripped: Fastify's ajv defaults to `removeAdditional: true`,
 *   which turns `additionalProperties: false` into "silently drop what you did not expect" (a deposit
 *   with a typo'd or extra field was applied). createHttpServer sets `removeAdditional: false` and
 *   `schemaErrorFormatter` below names the offending property in the 400's reason.
 */
import type { FastifySchemaValidationError } from 'fastify';

/**
 * Pure: the first object key that occurs twice in the same object of `text` (compared after JSON
 * unescaping, so "a" and "\u0061" are the same key), or undefined. `text` must already be valid JSON
 * (parse it first): the scan only tracks strings, nesting and whether a string is a key.
 */
export function findDuplicateKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}

/** Fastify's message per ajv error, except that an unexpected property is named. */
export function schemaErrorMessage(errors: FastifySchemaValidationError[], dataVar: string): string {
  return errors
    .map((error) => {
      const where = `${dataVar}${error.instancePath}`;
      const params = error.params as { additionalProperty?: unknown };
      if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
        return `${where} must NOT have additional properties: '${params.additionalProperty}' is not allowed`;
      }
      return `${where} ${error.message ?? 'is invalid'}`;
    })
    .join(', ');
}
