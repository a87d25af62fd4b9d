/** Set by the Lambda runtime in every function's process; the Lambda runtime API's address. */
const LAMBDA_RUNTIME_API = 'AWS_LAMBDA_RUNTIME_API';

/**
 * The handler a function's entry exports, built at cold start from `process.env`, but only
 * inside the Lambda runtime. Anywhere else the module only exports its handler factory: the
 * local runtime imports the same bundle `cdk deploy` ships and calls that factory with the
 * environment the template gives the function (and the hooks it observes clients with).
 */
export async function handlerAtColdStart<Handler>(
  factory: (env: Readonly<Record<string, string | undefined>>) => Handler | Promise<Handler>,
): Promise<Handler | undefined> {
  return process.env[LAMBDA_RUNTIME_API] === undefined ? undefined : await factory(process.env);
}
