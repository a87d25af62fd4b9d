import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { RegionResources } from './target.ts';

/** Invokes one of a region's functions and answers its result; a function error is thrown with its message. */
export async function invokeRegionFunction<T>(resources: RegionResources, functionName: string, payload: unknown): Promise<T> {
  const lambda = new LambdaClient({ ...clientConfig(resources.region, resources.lambdaEndpoint ?? resources.awsEndpoint), requestHandler: { requestTimeout: 16 * 60_000 } });
  try {
    const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
    const text = Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8');
    if (response.FunctionError) {
      const failure = (text ? JSON.parse(text) : {}) as { errorMessage?: string; errorType?: string };
      throw new Error(`${functionName} failed: ${failure.errorType ?? 'Error'}: ${failure.errorMessage ?? text}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  } finally {
    lambda.destroy();
  }
}
