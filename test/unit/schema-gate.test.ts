/** The gate's decisions on a registry stand-in (the HTTP side runs in lab/integration/schema-gate.test.ts). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Level } from '../../lab/schema/compatibility.ts';
import { check, GateError, targets, type RegistryApi } from '../../lab/schema/gate.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-unit-'));
const file = (name: string, fields: object[]) => {
  fs.writeFileSync(path.join(dir, name), JSON.stringify({ type: 'record', name: 'T', fields }));
  return path.join(dir, name);
};
const v1 = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'a', type: 'int' }] });
const addsField = file('adds.avsc', [{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }]);
const widens = file('widens.avsc', [{ name: 'a', type: 'long' }]);

function registry(level: Level | undefined, compatible: boolean | undefined, versions = [v1]): RegistryApi {
  return { versions: async () => versions, level: async () => level, compatible: async () => compatible } as unknown as RegistryApi;
}

async function run(api: RegistryApi, target: string, forced?: Level) {
  const lines: string[] = [];
  const code = await check(api, [{ subject: 's', file: target }], (line) => lines.push(line), forced);
  return { code, text: lines.join('\n') };
}

describe('schema check', () => {
  it('exit 1 naming the field for a breaking change, 0 for a compatible one', async () => {
    expect(await run(registry('BACKWARD', false), addsField)).toEqual({ code: 1, text: expect.stringContaining('T.b: field b has no default') });
    expect((await run(registry('BACKWARD', true), widens)).code).toBe(0);
  });

  it('checks under BACKWARD when no level is set anywhere, and says so', async () => {
    expect(await run(registry(undefined, undefined), addsField)).toEqual({ code: 1, text: expect.stringContaining("Confluent's default") });
  });

  it('NONE passes but warns that nothing was checked; --level overrides it', async () => {
    expect(await run(registry('NONE', true), addsField)).toEqual({ code: 0, text: expect.stringContaining('nothing is checked') });
    expect((await run(registry('NONE', true), addsField, 'BACKWARD')).code).toBe(1);
  });

  it('fails when the registry refuses what the gate would pass (the two disagree)', async () => {
    expect(await run(registry('BACKWARD', false), widens)).toEqual({ code: 1, text: expect.stringContaining('disagree') });
  });

  it('a subject not registered yet has nothing to break', async () => {
    expect(await run(registry('BACKWARD', undefined, []), addsField)).toEqual({ code: 0, text: expect.stringContaining('not registered yet') });
  });
});

describe('targets', () => {
  it('reads subject=file arguments, and rejects anything else with an example', () => {
    expect(targets(['s-value=x.avsc'], '/repo')).toEqual([{ subject: 's-value', file: '/repo/x.avsc' }]);
    expect(() => targets(['x.avsc'], '/repo')).toThrow(GateError);
  });

  it('defaults to the manifest, files relative to it', () => {
    const manifest = path.join(dir, 'subjects.json');
    fs.writeFileSync(manifest, JSON.stringify({ 'w-value': 'adds.avsc' }));
    expect(targets([], '/elsewhere', manifest)).toEqual([{ subject: 'w-value', file: addsField }]);
  });
});
