/** Time-limited URLs that let a client download a stored object straight from the store. */
export interface ObjectUrls {
  /** A URL that answers a GET of `key` until it expires. */
  signedGetUrl(key: string): Promise<string>;
}
