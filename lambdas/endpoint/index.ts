import { createEndpointHandler } from './createEndpointHandler.ts';

// Cold start: configuration is checked before the first request. The handler streams its
// responses (middy wraps it with the Lambda runtime's awslambda.streamifyResponse).
export const handler = createEndpointHandler(process.env);
