/**
 * The gate's field-by-field Avro check against the verdicts Avro's rules give (BACKWARD: the new schema
 * reads old data; FORWARD: the old schema reads new data), and against avsc's own resolver.
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { compatibilityFindings, parse, readerIssues } from '../../lab/schema/compatibility.ts';

const record = (fields: object[], extra: object = {}) => ({ type: 'record', name: 'Transfer', namespace: 'lab.wallet', fields, ...extra });
const base = record([{ name: 'id', type: 'string' }, { name: 'amount', type: 'int' }, { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['DEBIT', 'CREDIT'] } }]);
const changes: Record<string, { next: object; backward: boolean; forward: boolean }> = {
  'add a field without default': { next: record([...base.fields, { name: 'memo', type: 'string' }]), backward: false, forward: true },
  'remove a field without default': { next: record(base.fields.filter((f) => (f as { name: string }).name !== 'id')), backward: true, forward: false },
  'add a field with a default': { next: record([...base.fields, { name: 'memo', type: 'string', default: '' }]), backward: true, forward: true },
  'rename with an alias on the new field': { next: record([{ name: 'transferId', type: 'string', aliases: ['id'] }, ...base.fields.slice(1)]), backward: true, forward: false },
  'int → long': { next: record([base.fields[0]!, { name: 'amount', type: 'long' }, base.fields[2]!]), backward: true, forward: false },
  'add an enum symbol': { next: record([...base.fields.slice(0, 2), { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['DEBIT', 'CREDIT', 'FEE'] } }]), backward: true, forward: false },
  'int → string': { next: record([base.fields[0]!, { name: 'amount', type: 'string' }, base.fields[2]!]), backward: false, forward: false },
};

describe('Avro compatibility, field by field', () => {
  for (const [change, { next, backward, forward }] of Object.entries(changes)) {
    it(`${change}: BACKWARD ${backward ? '✓' : '✗'}, FORWARD ${forward ? '✓' : '✗'} — and avsc's resolver agrees`, () => {
      expect(readerIssues(parse(next), parse(base)).length === 0).toBe(backward);
      expect(readerIssues(parse(base), parse(next)).length === 0).toBe(forward);
      // avsc's resolver is the decoder the services use: its verdict must be the same.
      const resolves = (reader: object, writer: object) => {
        try {
          avro.Type.forSchema(reader as avro.Schema).createResolver(avro.Type.forSchema(writer as avro.Schema));
          return true;
        } catch {
          return false;
        }
      };
      expect(resolves(next, base)).toBe(backward);
      expect(resolves(base, next)).toBe(forward);
    });
  }

  it('names the field and the reason', () => {
    const [finding] = readerIssues(parse(changes['add a field without default']!.next), parse(base));
    expect(finding).toEqual({ path: 'Transfer.memo', message: expect.stringContaining('field memo has no default') });
    const [typeChange] = readerIssues(parse(changes['int → string']!.next), parse(base));
    expect(typeChange).toEqual({ path: 'Transfer.amount', message: 'type changed from int to string: int data cannot be read as string' });
  });

  it('an enum with a default reads unknown symbols', () => {
    const withDefault = record([...base.fields.slice(0, 2), { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['DEBIT', 'CREDIT', 'OTHER'], default: 'OTHER' } }]);
    const wider = record([...base.fields.slice(0, 2), { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['DEBIT', 'CREDIT', 'OTHER', 'FEE'] } }]);
    expect(readerIssues(parse(withDefault), parse(wider))).toEqual([]);
  });

  it('unions: nullable widening reads old data; narrowing a union does not', () => {
    const nullable = record([{ name: 'id', type: ['null', 'string'], default: null }, ...base.fields.slice(1)]);
    expect(readerIssues(parse(nullable), parse(base))).toEqual([]);
    expect(readerIssues(parse(base), parse(nullable))).toEqual([{ path: 'Transfer.id', message: 'type changed from null to string: null data cannot be read as string' }]);
  });

  it('recursive records terminate', () => {
    const node = { type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'], default: null }] };
    expect(readerIssues(parse(node), parse(node))).toEqual([]);
  });

  it('levels: transitive checks every version, FULL both directions, NONE nothing', () => {
    const v1 = parse(base);
    const v2 = parse(changes['add a field with a default']!.next);
    const v3 = parse(record([...base.fields.slice(1), { name: 'memo', type: 'string', default: '' }])); // drops id: fine for v2 readers? no default on id
    expect(compatibilityFindings(v3, [v1, v2], 'NONE')).toEqual([]);
    expect(compatibilityFindings(v3, [v1, v2], 'BACKWARD')).toEqual([]);
    expect(compatibilityFindings(v3, [v1, v2], 'FORWARD').map((f) => [f.version, f.direction, f.path])).toEqual([[2, 'old reads new', 'Transfer.id']]);
    expect(compatibilityFindings(v3, [v1, v2], 'FULL_TRANSITIVE').map((f) => f.version)).toEqual([1, 2]);
  });

  it('an invalid schema fails with avsc\'s reason', () => {
    expect(() => parse({ type: 'record', name: 'X', fields: [{ name: 'a', type: 'nope' }] })).toThrow(/nope/);
  });
});
