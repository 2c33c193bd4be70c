// The site file's `backups:` section: scheduled, encrypted backups of the data directory and the
// site file (src/controller/backups.ts; docs/backup.md). Encrypted to age public keys only: the
// identity that opens them is kept off the gateway, and no passphrase goes in the site file
// (anyone who reads the file, or a backup of it, would hold the key to every backup).
import { isAbsolute } from 'node:path';
import { z } from 'zod';

const AGE_RECIPIENT = /^age1[0-9a-z]{20,}$/;
const recipient = z.string().regex(AGE_RECIPIENT, 'an age public key (age1…, from `age-keygen -y` or age.identityToRecipient)');

export const backupsSchema = z
  .strictObject({
    /** Where the archives go (absolute): a disk or share other than the SD card, ideally. */
    directory: z.string().min(1).refine(isAbsolute, 'an absolute path'),
    /** A backup every this many hours (fractions allowed); the first one when the newest in the directory is that old. */
    everyHours: z
      .number()
      .positive()
      .max(24 * 31, 'at most 744 hours (31 days)')
      .default(24),
    /** Verified archives kept; older ones are deleted after a new one verified. */
    retention: z.number().int().min(1).max(1000).default(7),
    /** age public keys the archives are encrypted to (one, or a list). */
    recipient: z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(recipient).min(1)),
    /** Refused with its reason, rather than as an unknown key. */
    passphrase: z
      .unknown()
      .refine(
        () => false,
        'a passphrase does not go in the site file (whoever reads the file could open every backup): give recipient: age1… and keep its identity off the gateway',
      )
      .optional(),
  })
  .optional();

export type BackupSchedule = NonNullable<z.infer<typeof backupsSchema>>;
