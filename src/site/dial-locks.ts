// A door's mechanical dial lock (`doors[].dialLock`): a restricted-area door locked with a dial as well
// as the controller's lock. Its code's rotation is tracked like a safe's dial (docs/safes.md), and the
// access holders of the door's area are the ones who may know it. The fields and their limits are a
// safe's (src/site/safes.ts); `{}` is a dial lock with the defaults.
import { z } from 'zod';
import { dialLockFields } from './safes.js';

export const doorDialLockSchema = z.strictObject(dialLockFields);
export type DoorDialLock = z.infer<typeof doorDialLockSchema>;

type Problem = { path: (string | number)[]; message: string };

/**
 * What zod cannot see alone. A door's dial lock takes the door's id, as a safe's takes the safe's, so
 * a door and a safe may not share an id. The area needs no check here: a door's area has a door, so it
 * is a restricted area by definition, and an unknown area is reported with the door.
 */
export function checkDoorDialLocks(site: { doors: { id: string }[]; safes: { id: string }[] }): Problem[] {
  const safes = new Set(site.safes.map((s) => s.id));
  const problems: Problem[] = [];
  site.doors.forEach((door, i) => {
    if (safes.has(door.id)) {
      problems.push({
        path: ['doors', i, 'id'],
        message: `"${door.id}" is already a safe's id: a dial lock takes its door's or safe's id, so they may not share one`,
      });
    }
  });
  return problems;
}
