import { createStatusHandler } from './createStatusHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createStatusHandler };

// Cold start: configuration is checked before the first request.
export const handler = await handlerAtColdStart(createStatusHandler);
