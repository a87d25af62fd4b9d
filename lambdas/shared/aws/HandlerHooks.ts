import type { Pluggable } from '@smithy/types';

/**
 * A plugin for any SDK client. Each client's plugins are typed by its own commands' inputs
 * and outputs; one plugin that serves every client can only be typed loosely (the SDK's own
 * generic plugins are `Pluggable<any, any>` too).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClientPlugin = Pluggable<any, any>;

/**
 * Optional extras a handler factory accepts besides its environment. Deployed handlers
 * get none; the local runtime passes them to observe the real clients, for example to
 * count every request a function makes (the benchmarks' cost figures).
 */
export interface HandlerHooks {
  /** SDK plugins (middleware) added to every AWS client the handler creates. */
  readonly clientPlugins?: readonly AnyClientPlugin[];
}

/** Applies the hooks' plugins to a freshly created client, and answers it. */
export function withHooks<Client extends { readonly middlewareStack: { use(plugin: AnyClientPlugin): void } }>(
  client: Client,
  hooks: HandlerHooks | undefined,
): Client {
  for (const plugin of hooks?.clientPlugins ?? []) client.middlewareStack.use(plugin);
  return client;
}
