import { createEndpointHandler } from './createEndpointHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createEndpointHandler };

// Cold start: configuration is checked before the first request. The handler streams its
// responses (middy wraps it with the Lambda runtime's awslambda.streamifyResponse).
export const handler = await handlerAtColdStart(createEndpointHandler);
