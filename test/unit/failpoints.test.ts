import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailpointError, Failpoints, failpointNames, parseFailpointList, parseFailpointSpec } from '../../src/failpoints/index.ts';

const name = 'relay.after-publish-before-mark';

describe('failpoint specs', () => {
  it('parses every action and option', () => {
    expect(parseFailpointSpec('crash')).toEqual({ action: { kind: 'crash' } });
    expect(parseFailpointSpec('error')).toEqual({ action: { kind: 'error', message: '' } });
    expect(parseFailpointSpec('error(boom)')).toEqual({ action: { kind: 'error', message: 'boom' } });
    expect(parseFailpointSpec('sleep(250)')).toEqual({ action: { kind: 'sleep', ms: 250 } });
    expect(parseFailpointSpec('crash(skip=2,count=1)')).toEqual({ action: { kind: 'crash' }, skip: 2, count: 1 });
    expect(parseFailpointSpec('error(p=0.25)')).toEqual({ action: { kind: 'error', message: '' }, probability: 0.25 });
    expect(parseFailpointList('a=crash; b=sleep(5)')).toEqual([
      ['a', { action: { kind: 'crash' } }],
      ['b', { action: { kind: 'sleep', ms: 5 } }],
    ]);
  });

  it('rejects bad specs with the reason', () => {
    expect(() => parseFailpointSpec('explode')).toThrow(/expected off \| error/);
    expect(() => parseFailpointSpec('sleep')).toThrow(/sleep needs milliseconds/);
    expect(() => parseFailpointSpec('error(p=2)')).toThrow(/p must be in \[0, 1\]/);
    expect(() => parseFailpointSpec('crash(count=-1)')).toThrow(/whole number/);
    expect(() => new Failpoints().set('no.such.point', 'crash')).toThrow(/unknown failpoint/);
  });
});

describe('Failpoints', () => {
  it('costs nothing when off: hit() returns undefined synchronously', () => {
    const points = new Failpoints();
    for (const point of failpointNames) expect(points.hit(point)).toBeUndefined();
    points.set('consumer.apply', 'error');
    expect(points.hit(name)).toBeUndefined(); // another point armed: still free for this one
  });

  it('fires error with count and skip, and counts hits', async () => {
    const points = new Failpoints();
    points.set(name, 'error(skip=1,count=2)');
    expect(points.hit(name)).toBeUndefined(); // skipped
    await expect(points.hit(name)).rejects.toBeInstanceOf(FailpointError);
    await expect(points.hit(name)).rejects.toThrow(/relay.after-publish-before-mark fired/);
    expect(points.hit(name)).toBeUndefined(); // count exhausted
    expect(points.stats()[name]).toMatchObject({ hits: 4, fired: 2 });
  });

  it('sleeps for the given time', async () => {
    const points = new Failpoints();
    points.set(name, 'sleep(60)');
    const start = performance.now();
    await points.hit(name);
    expect(performance.now() - start).toBeGreaterThanOrEqual(55);
  });

  it('fires with a seeded probability, reproducibly', () => {
    const run = () => {
      const points = new Failpoints();
      points.seed(42);
      points.set(name, 'sleep(0,p=0.3)');
      return Array.from({ length: 200 }, () => points.hit(name) !== undefined);
    };
    const first = run();
    expect(run()).toEqual(first);
    const fired = first.filter(Boolean).length;
    expect(fired).toBeGreaterThan(30);
    expect(fired).toBeLessThan(90);
  });

  it('logs a crash before crashing, so the harness can count crashes of dead processes', () => {
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fp-')), 'crashes.jsonl');
    const points = new Failpoints({
      logFile,
      crash: (point) => {
        throw new Error(`crashed at ${point}`);
      },
    });
    points.set(name, 'crash(count=1)');
    expect(() => points.hit(name)).toThrow(`crashed at ${name}`);
    expect(JSON.parse(fs.readFileSync(logFile, 'utf8').trim())).toMatchObject({ failpoint: name, action: 'crash', pid: process.pid });
  });

  it('clears one or all points', () => {
    const points = new Failpoints();
    points.set(name, 'error');
    points.set('consumer.apply', 'error');
    points.clear(name);
    expect(Object.keys(points.stats())).toEqual(['consumer.apply']);
    points.set('consumer.apply', 'off');
    expect(points.stats()).toEqual({});
  });
});
