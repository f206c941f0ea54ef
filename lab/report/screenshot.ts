/**
 * Headless screenshot of a report, failing when the page logs console errors.
 *
 *   npx tsx lab/report/screenshot.ts reports/latest/report.html /tmp/report.png [--size 1400,1800]
 *
 * Uses the machine's Chromium (Debian: `apt-get install -y chromium`; CHROMIUM=/path overrides) with
 * Chromium's own logging (`--enable-logging=stderr`), which prints every console message as a
 * `CONSOLE` line: no Puppeteer/Playwright download for one screenshot. Also fails when the markup
 * loads anything from outside the file. Exit code: 0 fine, 1 console messages, external loads or no
 * screenshot, 2 usage or no Chromium.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export function findChromium(): string | undefined {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of CANDIDATES) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const candidate = path.join(dir, name);
      if (dir && fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Console messages in Chromium's stderr log. The log does not say a message's level (`console.error`
 * comes out as `INFO:CONSOLE`), and the report runs no script, so every console message counts.
 */
export function consoleErrors(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /:CONSOLE[:(]/.test(line) || /Uncaught/.test(line));
}

/**
 * References that would load something from outside the file (CSP-blocked loads are not logged by
 * Chromium, so look at the markup): src/href/url() to a scheme or protocol-relative URL. Links
 * (<a href>) are navigation, not loads, and may point anywhere.
 */
export function externalLoads(html: string): string[] {
  const withoutLinks = html.replace(/<a\b[^>]*>/gi, '');
  const found = [
    ...withoutLinks.matchAll(/\b(?:src|href|xlink:href)\s*=\s*["']?\s*((?:[a-z][a-z0-9+.-]*:|\/\/)[^"'\s>]*)/gi),
    ...withoutLinks.matchAll(/url\(\s*["']?\s*((?:[a-z][a-z0-9+.-]*:|\/\/)[^"')\s]*)/gi),
    ...withoutLinks.matchAll(/@import\s+["']([^"']+)/gi),
  ].map((m) => m[1]!);
  return found.filter((url) => !/^data:/i.test(url));
}

export function screenshot(html: string, png: string, size = '1400,1800'): { ok: boolean; errors: string[]; log: string } {
  const chromium = findChromium();
  if (!chromium) throw new Error('no Chromium found (apt-get install -y chromium, or set CHROMIUM=/path/to/chrome)');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'report-shot-'));
  fs.mkdirSync(path.dirname(path.resolve(png)), { recursive: true });
  fs.rmSync(png, { force: true });
  try {
    const result = spawnSync(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      '--hide-scrollbars', '--enable-logging=stderr', '--v=0',
      `--user-data-dir=${profile}`, `--screenshot=${path.resolve(png)}`, `--window-size=${size}`,
      pathToFileURL(path.resolve(html)).href,
    ], { encoding: 'utf8', timeout: 90_000 });
    const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    const errors = [...consoleErrors(log), ...externalLoads(fs.readFileSync(html, 'utf8')).map((url) => `loads ${url}`)];
    if (result.error) errors.push(`chromium: ${result.error.message}`);
    const wrote = fs.existsSync(png) && fs.statSync(png).size > 0;
    if (!wrote) errors.push('chromium wrote no screenshot');
    return { ok: errors.length === 0, errors, log };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const sizeAt = argv.indexOf('--size');
  const size = sizeAt >= 0 ? argv[sizeAt + 1] : undefined;
  const [html, png] = sizeAt < 0 ? argv : [...argv.slice(0, sizeAt), ...argv.slice(sizeAt + 2)];
  if (!html || !png || !fs.existsSync(html)) {
    console.error('usage: npx tsx lab/report/screenshot.ts <report.html> <out.png> [--size W,H]');
    return 2;
  }
  let outcome;
  try {
    outcome = screenshot(html, png, size);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  for (const line of outcome.errors) console.error(`problem: ${line}`);
  if (outcome.ok) console.log(`${png} (no console errors)`);
  if (process.env.DEBUG_SCREENSHOT) console.error(outcome.log);
  return outcome.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exit(main(process.argv.slice(2)));
}
