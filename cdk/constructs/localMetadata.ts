/**
 * Template metadata the local runtime reads, so that it can run each function in-process
 * exactly as the template wires it, with no second list of resources.
 */

/** `module#export` of the function's handler factory, relative to the project root. */
export const HANDLER_FACTORY_METADATA = 'git-geo:handler-factory';

/** Where the local HTTP server mounts the function's URL, such as `/webhook` or `/eu-west-1`. */
export const LOCAL_URL_PATH_METADATA = 'git-geo:local-url-path';
