/**
 * In `git-geo local`, stdout carries the ready line and nothing else. Lambda logs go to
 * stderr: Powertools writes through the global console in dev mode, so the console's
 * stdout methods are pointed at stderr. Metrics are not emitted locally.
 */
export function quietLambdaLogs(verbose: boolean): void {
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= verbose ? 'INFO' : 'WARN';
  const toStderr = (...args: unknown[]): void => void process.stderr.write(`${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
