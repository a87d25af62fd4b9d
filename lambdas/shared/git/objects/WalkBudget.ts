import { LimitExceededError } from '../../errors/index.ts';

/**
 * The most objects one object walk may visit (commits, trees, blobs and tags, each time it
 * takes one): a walk holds a few hundred bytes per object it visits, so this bounds its memory
 * and time whatever the repository's size. Past it, the walk stops with a LimitExceededError.
 */
export class WalkBudget {
  private visitedObjects = 0;

  constructor(readonly maxObjects: number) {}

  /** Objects visited so far. */
  get visited(): number {
    return this.visitedObjects;
  }

  visit(): void {
    if (++this.visitedObjects > this.maxObjects) {
      throw new LimitExceededError(`this fetch needs an object walk of more than ${this.maxObjects.toLocaleString('en')} objects, the most one request may walk`, {
        data: { limit: this.maxObjects },
      });
    }
  }
}

/** No limit (tests, and callers that bound the work another way). */
export const UNLIMITED_WALK = { visit: (): void => undefined } as const;

/** What a walk needs of its budget. */
export type Budget = Pick<WalkBudget, 'visit'>;
