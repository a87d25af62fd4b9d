/** A full ref name from the short name and `ref_type` GitHub and Gitea send in create and delete events. */
export function fullRefName(ref: string, refType: 'branch' | 'tag'): string {
  if (ref.startsWith('refs/')) return ref;
  return refType === 'tag' ? `refs/tags/${ref}` : `refs/heads/${ref}`;
}
