import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TARGET_FILE, localDescriptorFile, resolveTarget, TARGET_ENV } from '../../bin/ops/target.ts';
import { projectConfig } from '../../bin/commands/projectConfig.ts';

/** How GIT_GEO_TARGET chooses the deployment; the commands against each are in operatorCli and redriveCommand. */
describe('resolveTarget', () => {
  it('aws and aws:<prefix> name the deployed stacks, with cdk.json or the given prefix', () => {
    expect(resolveTarget({ [TARGET_ENV]: 'aws' })).toMatchObject({ kind: 'aws', config: { stackPrefix: projectConfig().stackPrefix } });
    const staging = resolveTarget({ [TARGET_ENV]: 'aws:Staging' });
    expect(staging).toMatchObject({ kind: 'aws', config: { stackPrefix: 'Staging' } });
    expect(staging.description).toContain(`${TARGET_ENV}=aws:Staging`);
  });

  it('a file that is not a descriptor is refused with what is wrong with it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'git-geo-target-'));
    await writeFile(join(dir, 'text'), 'not json');
    await writeFile(join(dir, 'partial.json'), JSON.stringify({ pid: 1, awsEndpoint: 'http://127.0.0.1:1' }));
    expect(() => resolveTarget({ [TARGET_ENV]: join(dir, 'text') })).toThrow(expect.objectContaining({ code: 'ERR_NO_TARGET', message: expect.stringContaining('not JSON') }));
    expect(() => resolveTarget({ [TARGET_ENV]: join(dir, 'partial.json') })).toThrow(expect.objectContaining({ code: 'ERR_NO_TARGET', message: expect.stringMatching(/lambdaEndpoint/) }));
  });

  it('git-geo local writes where GIT_GEO_TARGET points, else the known file; never "aws"', () => {
    expect(localDescriptorFile({})).toBe(DEFAULT_TARGET_FILE);
    expect(localDescriptorFile({ [TARGET_ENV]: '/tmp/x/local.json' })).toBe('/tmp/x/local.json');
    expect(() => localDescriptorFile({ [TARGET_ENV]: 'aws' })).toThrow(expect.objectContaining({ code: 'ERR_NO_TARGET' }));
  });
});
