import { describe, expect, it } from '@jest/globals';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';
import { formatDrillReport, runDrill } from '../../bin/ops/runDrill.ts';

describe('git-geo drill', () => {
  it('kills the primary mid-storm, promotes a region onto a fresh server, and reports the RTO and RPO it measured', async () => {
    const config = parseGeoConfig({
      stackPrefix: 'GitGeoDrill',
      primaryRegion: 'us-east-1',
      secondaryRegions: ['eu-west-1'],
      primaryUrls: ['http://127.0.0.1:1'],
      webhookSecretName: 'git-geo/webhook-secret',
      syncTimeoutSeconds: 60,
    });
    const lines: string[] = [];
    const report = await runDrill({ config, repositories: 2, stormSeconds: 2, commits: 300, log: (line) => lines.push(line) });
    expect(report.repositories).toBe(2);
    expect(report.repositoriesWritable).toBe(2);
    expect(report.pushesAcknowledged).toBeGreaterThan(0);
    expect(report.pushesLost).toBeGreaterThanOrEqual(0);
    expect(report.pushesLost).toBeLessThanOrEqual(report.pushesAcknowledged);
    expect(report.rtoSeconds).toBeGreaterThan(report.promotionSeconds);
    expect(report.pushesLost === 0 ? report.rpoSeconds === 0 : report.rpoSeconds > 0).toBe(true);
    // Neither following the new primary nor failing back costs a full copy.
    expect(report.fullCopyBytes).toBeGreaterThan(0);
    expect(report.afterPromotionFetchedBytes).toBeGreaterThan(0);
    expect(report.afterPromotionFetchedBytes).toBeLessThan(report.fullCopyBytes / 4);
    expect(report.failbackPushedBytes).toBeGreaterThan(0);
    expect(report.failbackPushedBytes).toBeLessThan(report.fullCopyBytes / 4);
    expect(report.afterFailbackFetchedBytes).toBe(0);
    const printed = formatDrillReport(report);
    expect(printed).toMatch(/RTO \d+\.\d s/);
    expect(printed).toMatch(new RegExp(`RPO ${report.pushesLost} of ${report.pushesAcknowledged} acknowledged pushes lost`));
    expect(lines.some((line) => line.startsWith('primary killed after'))).toBe(true);
  }, 240_000);
});
