/**
 * The lab console (`npx lab console`) on the real cluster, in headless Chromium (playwright-core driving
 * Debian's chromium): a topic with its leader, ISR and offsets, the consumer group with its lag, an
 * unpublished outbox row, and a poison record's dead letter with its error class, all on the page, with
 * no console error. The screenshot is kept at reports/screenshots/console.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEnvelope } from '../../src/contract.ts';
import { poisonRecord } from '../clients/poison-producer.ts';
import { writeOutboxRows } from '../clients/outbox-writer.ts';
import { accountStream, recordSender } from '../clients/record-sender.ts';
import { startConsole, type RunningConsole } from '../console/server.ts';
import { repoRoot } from '../infra/paths.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { waitFor } from '../infra/ports.ts';
import { waitApplied } from '../observe/database.ts';
import { recordCount } from '../observe/topic.ts';
import { findChromium } from '../report/screenshot.ts';

const env = labEnvironment();
const arena = fileArena(env, 'console', 2);
const shot = path.join(repoRoot, 'reports', 'screenshots', 'console.png');
let browser: Browser;
let running: RunningConsole;
let poisonId: string;

beforeAll(async () => {
  const sender = await recordSender(env, arena.config.topics);
  arena.defer(sender.close);
  await arena.start('consumer', { groupId: `${arena.id}.projection`, logLevel: 'error' });
  const stream = accountStream(sender, ['acct-0', 'acct-1'], 2);
  await stream.open();
  await waitApplied(arena.database.pool, stream.openings.map((e) => e.eventId), 'the account openings');
  const poison = await poisonRecord(sender.encode, 'unknown-account', 'acct-9');
  await sender.send(0, poison.key, poison.value, poison.headers);
  poisonId = poison.eventId;
  await waitFor('the poison record in the DLQ', async () => (await recordCount(arena.admin, arena.config.topics.dlq)) === 1, { timeoutMs: 60_000 });
  // No relay runs: this row stays unpublished, so the outbox section has a backlog to show.
  await writeOutboxRows(arena.database.pool, [newEnvelope({ type: 'FundsDeposited', accountId: 'acct-0', amount: 5 }, { id: 'acct-0', version: 9 })]);
  running = await startConsole(env);
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no Chromium: apt-get install -y chromium (npm run setup installs it)');
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

describe('lab console', () => {
  it('shows topics with leader/ISR/offsets, the group\'s lag, the outbox backlog and the decoded dead letter, without console errors', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const problems: string[] = [];
    page.on('console', (m) => void (['error', 'warning'].includes(m.type()) && problems.push(m.text())));
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(running.url);
    await page.fill('#filter', arena.id);
    const shows = (section: string, text: string, timeout = 30_000) => page.locator(section).getByText(text).first().waitFor({ timeout });
    await shows('#topics', arena.config.topics.events);

    const topics = await page.locator('#topics tbody tr').allTextContents();
    const events = topics.filter((row) => row.startsWith(arena.config.topics.events) && !row.startsWith(`${arena.config.topics.events}.`));
    expect(events).toHaveLength(2); // one row per partition, each with its leader, 3 replicas and offsets
    expect(await page.locator('#topics').textContent()).not.toContain('none'); // every partition has a leader

    await shows('#groups', `${arena.id}.projection`);
    await shows('#outbox', arena.database.name);
    const outboxRow = (await page.locator('#outbox tbody tr').allTextContents()).find((row) => row.startsWith(arena.database.name));
    expect(outboxRow).toMatch(new RegExp(`^${arena.database.name}1`)); // one unpublished row

    await page.click('#load-dlq');
    await shows('#dlq', 'unknown-account', 60_000);
    const letter = (await page.locator('#dlq tbody tr').allTextContents()).find((row) => row.startsWith(arena.config.topics.dlq));
    expect(letter).toContain('unknown-account');
    expect(letter).toContain(`"eventId": "${poisonId}"`); // the envelope, decoded through the registry

    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
  }, 180_000);
});
