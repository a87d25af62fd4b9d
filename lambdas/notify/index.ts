import { createNotifyHandler } from './createNotifyHandler.ts';
import { handlerAtColdStart } from '../shared/aws/lambdaEntry.ts';

// The factory, for the local runtime: it imports this bundle and calls it with the template's environment.
export { createNotifyHandler };

// Cold start: configuration and the webhook secret are checked before the first request.
export const handler = await handlerAtColdStart(createNotifyHandler);
