import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Stack, Validations, type App } from 'aws-cdk-lib';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildTestApp, tempOutdir, testApp } from './testApp.ts';

/**
 * cdk-nag v3 is a CDK policy-validation plugin. Its findings surface at synthesis:
 * - `validation-report.json` in the cloud assembly lists each plugin that found something
 *   (pluginName 'AwsSolutions', conclusion 'failure', violations with ruleName and severity);
 *   with no findings its pluginReports is empty;
 * - then it depends on the app mode (aws-cdk-lib's cdkAppMode): in-memory (NODE_ENV=test, as
 *   under jest) synthesis throws a ValidationFailed error whose message is the whole report;
 *   in an unknown mode (a plain script) it prints the findings with console.error and throws
 *   ValidationFailed naming the report file; under the CDK CLI ('process') it prints them and
 *   sets process.exitCode = 1 without throwing. Template.fromStack synthesizes too, so it throws
 *   the same way.
 */
interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: 'success' | 'failure';
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

function readReport(outdir: string): ValidationReport {
  return JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
}

/** Synthesizes and answers the error synthesis threw, if any. */
function synthError(app: App): Error | undefined {
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** An unencrypted bucket with every public-access block off. */
function addOpenBucket(stack: Stack): CfnBucket {
  return new CfnBucket(stack, 'OpenBucket', {
    publicAccessBlockConfiguration: { blockPublicAcls: false, blockPublicPolicy: false, ignorePublicAcls: false, restrictPublicBuckets: false },
  });
}

describe('cdk-nag (AwsSolutions)', () => {
  const outdirs: string[] = [];
  // Outside jest's in-memory mode synthesis prints findings with console.error; the tests read the report.
  const silenceConsoleError = () => jest.spyOn(console, 'error').mockImplementation(() => undefined);
  let consoleError: ReturnType<typeof silenceConsoleError>;

  beforeEach(() => {
    consoleError = silenceConsoleError();
  });
  afterEach(() => {
    consoleError.mockRestore();
    for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('git-geo synthesizes with nag on (the default) and no findings', () => {
    const geo = buildTestApp({}, { nag: undefined });
    outdirs.push(geo.outdir);
    expect(synthError(geo.app)).toBeUndefined();
    const report = readReport(geo.outdir);
    expect(report.pluginReports.filter((plugin) => plugin.conclusion === 'failure')).toEqual([]);
    const errors = report.pluginReports.flatMap((plugin) => plugin.violations).filter((violation) => violation.severity === 'error');
    expect(errors).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();
  });

  it('the same checks fail synthesis for an unencrypted bucket with public access unblocked', () => {
    const outdir = tempOutdir();
    outdirs.push(outdir);
    const app = testApp({ outdir });
    const stack = new Stack(app, 'NagCanFail', { env: { account: '123456789012', region: 'us-east-1' } });
    const bucket = addOpenBucket(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

    const error = synthError(app);
    expect(error?.name).toBe('ValidationFailed');
    // CDK names the report by its absolute path, or relative to the working directory when that is shorter.
    const reported = /can be found in: (\S+validation-report\.json)/.exec(error?.message ?? '')?.[1];
    expect(reported && resolve(reported)).toBe(join(outdir, 'validation-report.json'));

    const report = readReport(outdir);
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === 'AwsSolutions');
    expect(nag?.conclusion).toBe('failure');
    const rules = nag?.violations.filter((violation) => violation.severity === 'error').map((violation) => violation.ruleName) ?? [];
    // S1: no access logs; S2: public access not blocked; S10: TLS not required.
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S2', 'AwsSolutions-S10']));
    for (const violation of nag?.violations ?? []) {
      expect(violation.violatingConstructs.map((construct) => construct.constructPath)).toEqual([bucket.node.path]);
    }
  });

  it("buildApp's nag plugin is really active: the same bucket added to git-geo's primary stack fails synthesis", () => {
    const geo = buildTestApp({}, { nag: undefined });
    outdirs.push(geo.outdir);
    addOpenBucket(geo.primary);
    expect(synthError(geo.app)?.name).toBe('ValidationFailed');
    const rules = readReport(geo.outdir).pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName));
    expect(rules).toContain('AwsSolutions-S2');
  });

  it('with nag off, the same open bucket synthesizes without findings', () => {
    const geo = buildTestApp({}, { nag: false });
    outdirs.push(geo.outdir);
    addOpenBucket(geo.primary);
    expect(synthError(geo.app)).toBeUndefined();
    const report = join(geo.outdir, 'validation-report.json');
    if (existsSync(report)) expect(readReport(geo.outdir).pluginReports).toEqual([]);
  });
});
