/** The configuration a function needs to read the primary (or the host `git-geo promote` made primary): a pick mask of GeoConfigFields. */
export const PRIMARY_ACCESS_FIELDS = {
  primaryRegion: true,
  primaryUrls: true,
  primaryCredentialsSecretName: true,
  promotionCredentialsSecretName: true,
  refNamespaces: true,
  primaryTimeoutSeconds: true,
  primaryOverrideCacheSeconds: true,
} as const;
