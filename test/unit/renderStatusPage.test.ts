import { describe, expect, it } from '@jest/globals';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { RegionClientCache } from '../../lambdas/status/RegionClientCache.ts';
import { readDeploymentStatus, summarise } from '../../lambdas/status/deploymentStatus.ts';
import { renderStatusPage } from '../../lambdas/status/renderStatusPage.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';

const NOW = new Date('2026-01-01T12:00:00Z');
const state = (repository: string, fields: Partial<RepositoryState>): RepositoryState =>
  ({ repository, replicable: 'git', status: 'synced', attempts: 0, updatedAt: NOW.toISOString(), ...fields }) as RepositoryState;

describe('status page', () => {
  it('an unreachable region shows as such, with why, beside the regions that answered; markup is escaped', () => {
    const answered = summarise('eu-west-1', [state('<script>alert(1)</script>', { status: 'failed', lastError: { code: 'ERR_X', message: '', retryable: false, at: '' } })], { paused: false }, NOW, 900, { lagSloSeconds: 60 });
    const html = renderStatusPage({
      status: { generatedAt: NOW.toISOString(), lagSloSeconds: 60, regions: [answered, { region: 'ap-southeast-2', health: 'unreachable', reasons: ['could not read the region\'s registry: connect ECONNREFUSED'], checkedAt: NOW.toISOString() }] },
      refreshSeconds: 15,
      path: '/',
    });
    expect(html).toContain('<meta http-equiv="refresh" content="15">');
    expect(html).toContain('2 of 2 regions need attention: eu-west-1 (unhealthy), ap-southeast-2 (unreachable).');
    expect(html).toMatch(/<section class="region unreachable" aria-labelledby="region-ap-southeast-2-heading"><h2[^>]*>ap-southeast-2<span class="badge unreachable">Unreachable<\/span>/);
    expect(html).toContain('connect ECONNREFUSED');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<label for="repository">');
  });

  it('a region that accepts connections and never answers is reported unreachable after the timeout', async () => {
    // A black hole: the connection opens, no response ever comes.
    const sockets: Socket[] = [];
    const blackHole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const clients = new RegionClientCache(() => `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`);
    try {
      const status = await readDeploymentStatus([{ region: 'eu-west-1', registryTable: 'registry' }], clients, { leaseSeconds: 900, lagSloSeconds: 60, backupIntervalMinutes: 60, timeoutMs: 300 });
      expect(status.regions).toEqual([expect.objectContaining({ region: 'eu-west-1', health: 'unreachable', reasons: ["could not read the region's registry: no answer from eu-west-1 within 0.3 s"] })]);
    } finally {
      clients.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
    }
  });
});
