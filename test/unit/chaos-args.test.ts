import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendFaultLog, ChaosUsageError, parseChaos, readFaultLog } from '../../lab/nemesis/chaos.ts';

const parse = (line: string) => parseChaos(line.split(' ').filter(Boolean));

describe('lab chaos arguments', () => {
  it('reads every action', () => {
    expect(parse('broker kill 2')).toEqual({ kind: 'broker', verb: 'kill', broker: 2 });
    for (const verb of ['stop', 'start', 'pause', 'resume']) expect(parse(`broker ${verb} 3`)).toEqual({ kind: 'broker', verb, broker: 3 });
    expect(parse('link delay broker-1 250')).toEqual({ kind: 'link', verb: 'delay', target: 'broker-1', ms: 250 });
    expect(parse('link cut replication-3-from-1')).toEqual({ kind: 'link', verb: 'cut', target: 'replication-3-from-1' });
    expect(parse('link heal mysql')).toEqual({ kind: 'link', verb: 'heal', target: 'mysql' });
    expect(parse('service kill relay')).toEqual({ kind: 'service', verb: 'kill', name: 'relay' });
    expect(parse('heal all')).toEqual({ kind: 'heal-all' });
  });

  it('refuses what it cannot mean, saying why and how it is used', () => {
    const refused: Array<[string, RegExp]> = [
      ['', /what fault/],
      ['brokers kill 2', /unknown chaos target 'brokers'/],
      ['broker explode 2', /unknown broker action 'explode'/],
      ['broker kill', /expected 1 argument/],
      ['broker kill 2 3', /expected 1 argument/],
      ['broker kill two', /node id/],
      ['broker kill 0', /node id/],
      ['link delay mysql', /expected 2 argument/],
      ['link delay mysql 1.5', /whole milliseconds/],
      ['link delay mysql -5', /whole milliseconds/],
      ['link cut', /expected 1 argument/],
      ['link drop mysql', /unknown link action 'drop'/],
      ['service stop relay', /unknown service action 'stop'/],
      ['heal', /'heal' takes 'all'/],
      ['heal everything', /'heal' takes 'all'/],
      ['heal all now', /'heal' takes 'all'/],
    ];
    for (const [line, why] of refused) {
      expect(() => parse(line), line).toThrow(ChaosUsageError);
      expect(() => parse(line), line).toThrow(why);
      expect(() => parse(line), line).toThrow(/usage: npx lab chaos/);
    }
  });

  it('appends the fault log as JSON lines and reads it back in order', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lab-faults-')), 'faults.jsonl');
    expect(readFaultLog(file)).toEqual([]);
    appendFaultLog({ at: '2026-01-01T00:00:00.000Z', action: 'broker kill', target: 'broker-2' }, file);
    appendFaultLog({ at: '2026-01-01T00:00:01.000Z', action: 'link delay', target: 'mysql', detail: { ms: 100 } }, file);
    expect(readFaultLog(file)).toEqual([
      { at: '2026-01-01T00:00:00.000Z', action: 'broker kill', target: 'broker-2' },
      { at: '2026-01-01T00:00:01.000Z', action: 'link delay', target: 'mysql', detail: { ms: 100 } },
    ]);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
