// PINs are kept only as argon2id hashes. The cost is set for a Raspberry-Pi-class gateway: a PIN is
// checked on every card + PIN entry, so it must stay in single-digit milliseconds there, while a
// stolen database still costs an attacker a memory-hard hash per guess.
import { hash, verify } from '@node-rs/argon2';

const PIN_HASH = { algorithm: 2 /* argon2id */, memoryCost: 4096, timeCost: 2, parallelism: 1 } as const;

export function isValidPin(pin: string): boolean {
  return /^\d{4,12}$/.test(pin);
}

export function hashPin(pin: string): Promise<string> {
  if (!isValidPin(pin)) throw new Error('a PIN is 4 to 12 digits');
  return hash(pin, PIN_HASH);
}

/** Whether `pin` is the one hashed; throws on a malformed hash (a fault to report, not a wrong PIN). */
export function checkPin(pinHash: string, pin: string): Promise<boolean> {
  return verify(pinHash, pin);
}

/** Never throws: a malformed hash is simply not a match. */
export async function verifyPin(pinHash: string, pin: string): Promise<boolean> {
  try {
    return await checkPin(pinHash, pin);
  } catch {
    return false;
  }
}
