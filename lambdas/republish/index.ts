import { createRepublishHandler } from './createRepublishHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createRepublishHandler };

// Cold start: configuration is checked before the first scheduled run.
export const handler = await handlerAtColdStart(createRepublishHandler);
