import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { git } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventually } from '../helpers/eventually.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { deliver, genericDelivery } from '../helpers/webhookSamples.ts';

const DAMAGED_REGION = 'eu-west-1';
const LAGGING_REGION = 'ap-southeast-2';
const REFRESH_SECONDS = 3;
// Above what a sync takes on a loaded machine, so only the storm exceeds it.
const LAG_SLO_SECONDS = 15;
const SCREENSHOTS = join(PROJECT_ROOT, 'test-output', 'status-page');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The status page, read by a real headless Chromium against git-geo local while things go
 * wrong: a repository fails permanently, verification finds damage in one region, and a push
 * storm builds lag in another. Each condition must show within a refresh the page does itself
 * (no reload from the test). A screenshot per state goes to test-output/status-page/.
 */
describe('status page in a browser', () => {
  let bed: TestBed;
  let browser: Browser;
  let page: Page;

  const region = (name: string): string => `section[aria-labelledby="region-${name}-heading"]`;
  const textOf = async (selector: string): Promise<string> => await page.$eval(selector, (element) => (element as unknown as { innerText: string }).innerText);

  /**
   * Waits for the page to reload by itself (its meta refresh) until `check` holds: the condition
   * is already recorded, so it must show on the next reload, or the one after it (when a reload
   * was under way as it was recorded).
   */
  async function shownWithinARefresh(check: () => Promise<boolean>): Promise<void> {
    for (let reloads = 0; reloads < 2; reloads++) {
      await page.waitForNavigation({ timeout: (REFRESH_SECONDS + 20) * 1000, waitUntil: 'load' });
      if (await check()) return;
    }
    throw new Error(`not shown within a refresh; the page says:\n${await textOf('main')}`);
  }

  async function screenshot(state: string): Promise<void> {
    await page.screenshot({ path: `${join(SCREENSHOTS, state)}.png`, fullPage: true });
  }

  /** Creates and pushes a repository on the primary (the webhook is sent by notifyPushes). */
  async function pushed(path: string, commits = 1): Promise<RepositoryPath> {
    const repository = parseRepositoryPath(path);
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, commits, 'base');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    return repository;
  }

  async function mirrored(path: string, commits = 1): Promise<RepositoryPath> {
    const repository = await pushed(path, commits);
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 90_000 });
    return repository;
  }

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    bed = await startTestBed({
      config: {
        secondaryRegions: [DAMAGED_REGION, LAGGING_REGION],
        statusPageRefreshSeconds: REFRESH_SECONDS,
        replicationLagSloSeconds: LAG_SLO_SECONDS,
        // Damage is flagged for an operator at once, so it stays visible (no repair races the page).
        maxVerificationRepairs: 0,
        verifyIntervalHours: 0,
      },
    });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await bed?.stop();
  });

  it('the ready line names the page; with every region caught up it says all are healthy, without a script', async () => {
    expect(bed.runtime.readyLine().statusUrl).toBe(bed.runtime.statusUrl);
    await mirrored('ops/healthy', 2);
    const response = await page.goto(bed.runtime.statusUrl, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.$$eval('script', (scripts) => scripts.length)).toBe(0);
    await eventually(async () => ((await textOf('header')).includes('All 2 regions are healthy') ? true : (await page.reload(), undefined)), { timeoutMs: 30_000 });
    for (const name of [DAMAGED_REGION, LAGGING_REGION]) {
      const section = await textOf(region(name));
      expect(section).toContain('Healthy');
      expect(section).toMatch(/Synced\s+1\s+\(100%\)/);
    }
    // Accessible: a language, one h1, a heading per region, the search field labelled.
    expect(await page.$eval('html', (html) => (html as unknown as { lang: string }).lang)).toBe('en');
    expect(await page.$$eval('h1', (headings) => headings.length)).toBe(1);
    expect(await textOf('label[for="repository"]')).toContain('Find a repository');
    await screenshot('1-healthy');

    // The deployed page: each region's status function behind its Function URL (IAM auth in AWS) serves the same page.
    const url = bed.runtime.stacks.flatMap((stack) => stack.functionUrls).find((candidate) => candidate.functionName.includes(DAMAGED_REGION) && candidate.functionName.includes('StatusPage'));
    expect(url).toBeDefined();
    const deployed = await fetch(url!.url);
    expect(deployed.status).toBe(200);
    expect(deployed.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await deployed.text()).toMatch(/<h2 id="region-eu-west-1-heading">eu-west-1<span class="badge healthy">Healthy<\/span>/);
  }, 180_000);

  it('a repository that fails permanently: the regions turn unhealthy with the cause and the repository behind it', async () => {
    const missing = parseRepositoryPath('ops/not-on-primary');
    const response = await deliver(bed.runtime.webhookUrl, genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: missing } }));
    expect(response.status).toBe(202);
    for (const name of [DAMAGED_REGION, LAGGING_REGION]) {
      await eventually(async () => ((await bed.runtime.registry(name).get(missing))?.status === 'failed' ? true : undefined));
    }
    await shownWithinARefresh(async () => (await textOf(region(DAMAGED_REGION))).includes('failed permanently') && (await textOf(region(LAGGING_REGION))).includes('failed permanently'));
    const section = await textOf(region(DAMAGED_REGION));
    expect(section).toContain('Unhealthy');
    expect(section).toMatch(/1 repository failed permanently: ERR_REPOSITORY_NOT_FOUND/);
    // The failures table names the cause and the repository behind it.
    const row = await page.$eval(`${region(DAMAGED_REGION)} table.failures tbody tr`, (tr) => (tr as unknown as { innerText: string }).innerText);
    expect(row).toContain('ERR_REPOSITORY_NOT_FOUND');
    expect(row).toContain('permanent');
    expect(row).toContain(missing);
    await screenshot('2-permanent-failure');

    // The search shows that repository in every region, through the page's own form.
    await page.type('#repository', missing);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
    const results = await textOf('main table');
    expect(results).toContain(`State of ${missing} in every region`);
    for (const name of [DAMAGED_REGION, LAGGING_REGION]) expect(results).toMatch(new RegExp(`${name}\\s+failed[\\s\\S]*ERR_REPOSITORY_NOT_FOUND`));
    await screenshot('3-repository-search');
    await page.goto(bed.runtime.statusUrl, { waitUntil: 'load' });
  }, 180_000);

  it("a region's verification finds damage: that region shows it, the other does not", async () => {
    const damaged = await mirrored('ops/damaged');
    const store = bed.runtime.mirrors(DAMAGED_REGION);
    const packs = (await store.get(`${damaged}.git/objects/info/packs`))!.toString();
    const pack = /P (pack-[0-9a-f]+)\.pack/.exec(packs)![1]!;
    await store.delete([`${damaged}.git/objects/pack/${pack}.pack`]);
    // The region's own verification schedule, as it runs every verifyScheduleMinutes.
    const verify = bed.runtime.lambdas.find((lambda) => lambda.name === bed.runtime.regions[DAMAGED_REGION]!.verifyFunctionName)!;
    const rule = bed.runtime.scheduler.ruleTargeting(verify.fn.arn, { action: 'verify' })!;
    expect(rule).toBeDefined();
    await bed.runtime.scheduler.fire(rule);
    expect((await bed.runtime.registry(DAMAGED_REGION).get(damaged))?.status).toBe('verification_failed');

    // The run's damage and its record come from two writes; a refresh that read between them shows the first alone.
    const lastRun = /Last verification run\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;
    await shownWithinARefresh(async () => {
      const text = await textOf(region(DAMAGED_REGION));
      return text.includes('verification found damage') && lastRun.test(text);
    });
    const section = await textOf(region(DAMAGED_REGION));
    expect(section).toMatch(/verification found damage in 1 mirror/);
    expect(section).toMatch(/repairs given up for 1 mirror/);
    expect(section).toContain(damaged);
    expect(section).toMatch(lastRun);
    expect(await textOf(region(LAGGING_REGION))).not.toContain('verification found damage');
    await screenshot('4-verification-damage');
  }, 180_000);

  it('a push storm builds lag: the backlog and its age show before any sync takes it, past the objective it degrades the region, then the lag it caught up with is on the chart', async () => {
    // The region's sync stops taking events (its queue fills); its announcements still arrive, as they do in a storm.
    const sync = (source: { region: string; functionName: string }): boolean => source.region === LAGGING_REGION && !/Announce/i.test(source.functionName);
    expect(await bed.runtime.eventSourceMappings.setEnabledWhere(sync, false)).toBeGreaterThan(0);
    const storm = await Promise.all(Array.from({ length: 5 }, (_, index) => pushed(`ops/storm-${index}`)));
    expect(await bed.notifyPushes()).toEqual(storm.map(() => 202));
    const stormAt = Date.now();
    const behind = (text: string): number => Number(/Behind\s+(\d+)/.exec(text)?.[1] ?? 0);
    // Within a refresh: the events wait in the queue, the five repositories are behind, and the backlog has an age.
    await shownWithinARefresh(async () => {
      const text = await textOf(region(LAGGING_REGION));
      return /Events queued\s+5\b/.test(text) && behind(text) >= 5 && /Backlog age\s+\d/.test(text);
    });
    // The other region syncs as usual: it catches up (the page may show it a moment behind under load).
    for (const until = Date.now() + 90_000; behind(await textOf(region(DAMAGED_REGION))) >= 5; ) {
      if (Date.now() > until) throw new Error(`${DAMAGED_REGION} did not catch up; the page says:\n${await textOf('main')}`);
      await page.waitForNavigation({ timeout: (REFRESH_SECONDS + 20) * 1000, waitUntil: 'load' });
    }
    await screenshot('5-push-storm-backlog');

    // The backlog ages past the objective with no sync having run: the page says so, and the region is degraded.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stormAt + (LAG_SLO_SECONDS + 1) * 1000 - Date.now())));
    const pastObjective = /5 repositories behind; the oldest unreplicated push is \d+ s old \(objective 15 s\)/;
    await shownWithinARefresh(async () => pastObjective.test(await textOf(region(LAGGING_REGION))));
    expect(await textOf(`${region(LAGGING_REGION)} h2`)).toMatch(/Degraded|Unhealthy/);
    expect(await textOf(region(DAMAGED_REGION))).not.toMatch(pastObjective);
    await screenshot('6-push-storm-backlog-past-objective');

    // It catches up: the lag those syncs had is above the objective, on the chart and in p99.
    await bed.runtime.eventSourceMappings.setEnabledWhere(sync, true);
    for (const repository of storm) await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [LAGGING_REGION], timeoutMs: 90_000 });
    await shownWithinARefresh(async () => /lag p99 .* is above the objective/.test(await textOf(region(LAGGING_REGION))));
    expect(await textOf(region(LAGGING_REGION))).not.toMatch(pastObjective);
    const chart = await page.$(`${region(LAGGING_REGION)} svg[role="img"]`);
    expect(chart).not.toBeNull();
    expect(await page.$eval(`${region(LAGGING_REGION)} svg title`, (title) => (title as unknown as { textContent: string }).textContent)).toMatch(/worst \d+(\.\d)? s, objective 15 s/);
    await screenshot('7-push-storm-lag');
  }, 240_000);

  it('read during an outage of one region: the page still answers, names the region that is unreachable and why, and shows the other region in full', async () => {
    bed.runtime.outage.takeDown(LAGGING_REGION);
    try {
      await shownWithinARefresh(async () => (await textOf(`${region(LAGGING_REGION)} h2`)).includes('Unreachable'));
      expect(await textOf('header')).toContain(`${LAGGING_REGION} (unreachable)`);
      const down = await textOf(region(LAGGING_REGION));
      expect(down).toMatch(/could not read the region's registry: its AWS endpoint did not answer: the connection failed \(.+\)/);
      expect(down).toContain('the other regions are unaffected');
      // The region that answers keeps its figures and its problems.
      const up = await textOf(region(DAMAGED_REGION));
      expect(up).toMatch(/Repositories\s+\d+/);
      expect(up).toMatch(/verification found damage in 1 mirror/);
      expect(await page.$(`${region(DAMAGED_REGION)} svg[role="img"]`)).not.toBeNull();
      // A search still answers: the repository's state where it can be read, and why it cannot elsewhere.
      await page.type('#repository', 'ops/healthy');
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
      const results = await textOf('main table');
      expect(results).toMatch(new RegExp(`${DAMAGED_REGION}\\s+(synced|verified)`));
      expect(results).toMatch(new RegExp(`${LAGGING_REGION}\\s+Unreachable`));
      await screenshot('8-region-outage');

      // The page the other region deploys says the same.
      const url = bed.runtime.stacks.flatMap((stack) => stack.functionUrls).find((candidate) => candidate.functionName.includes(DAMAGED_REGION) && candidate.functionName.includes('StatusPage'));
      const deployed = await (await fetch(url!.url)).text();
      expect(deployed).toMatch(/<h2 id="region-ap-southeast-2-heading">ap-southeast-2<span class="badge unreachable">Unreachable<\/span>/);
      expect(deployed).toMatch(/<h2 id="region-eu-west-1-heading">eu-west-1<span class="badge unhealthy">Unhealthy<\/span>/);
    } finally {
      bed.runtime.outage.bringBack(LAGGING_REGION);
    }
    await page.goto(bed.runtime.statusUrl, { waitUntil: 'load' });
    await shownWithinARefresh(async () => !(await textOf(`${region(LAGGING_REGION)} h2`)).includes('Unreachable'));
  }, 180_000);
});
