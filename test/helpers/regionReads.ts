import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { TestBed } from './testRuntime.ts';

/** A new repository on the primary with a working copy, and its URLs at a region and at the primary. */
export async function openRepository(
  bed: TestBed,
  repository: RepositoryPath,
  region = 'eu-west-1',
): Promise<{ readonly url: string; readonly primaryUrl: string; readonly work: string }> {
  await bed.createRepository(repository);
  return {
    url: `${bed.runtime.regions[region]!.gitUrl}/${repository}.git`,
    primaryUrl: `${bed.primary.url}/${repository}.git`,
    work: await bed.workingCopy(repository),
  };
}

/** Upload-pack requests the primary answered for the repository since `mark` (an index into its requests). */
export function primaryUploadPacks(bed: TestBed, repository: RepositoryPath, mark: number): string[] {
  return bed.primary.requests
    .slice(mark)
    .filter((request) => request.path.startsWith(`/${repository}.git/`) && request.service === 'git-upload-pack')
    .map((request) => `${request.method} ${request.path}`);
}

/** Names of the packs a region's bucket holds for the repository (`pack-<checksum>`). */
export async function storedPackNames(bed: TestBed, repository: RepositoryPath, region = 'eu-west-1'): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const object of bed.runtime.mirrors(region).list(`${repository}.git/objects/pack/`)) {
    if (object.key.endsWith('.pack')) names.add(object.key.slice(object.key.lastIndexOf('/') + 1, -'.pack'.length));
  }
  return names;
}
