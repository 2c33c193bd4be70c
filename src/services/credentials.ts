// Credentials: cards and biometric references enrolled as read, PINs kept only as argon2id hashes,
// door OTP seeds shown once as an otpauth:// URI and kept sealed. A duress PIN must differ from the
// person's PIN, or a normal entry would raise the duress alarm (or a duress entry would not).
import { generateSecret, generateURI } from 'otplib';
import type { CredentialStatus, CredentialUse } from '../policy/vocabulary.js';
import type { CredentialSummary } from '../store/credentials.js';
import type { Paging } from '../store/paging.js';
import { hashPin, isValidPin, verifyPin } from '../store/pin.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { invalidField, uniqueOrConflict } from './common.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import type { PeopleService } from './people.js';

export const DURESS_MUST_DIFFER = 'the duress PIN and the PIN must differ';

export class CredentialService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly people: PeopleService,
  ) {}

  private get store() {
    return this.deps.store;
  }

  /** A person's credentials: kind, use, status, created; card numbers shown, PIN and OTP values never. */
  of(personId: string, page?: Paging): { items: CredentialSummary[]; total: number } {
    return this.store.credentials.summariesOf(this.people.person(personId).id, page);
  }

  /** Enrols a card or a biometric reference (`credential.enrol`); a conflict when it is enrolled already. */
  enrol(actor: Actor, personId: string, c: { kind: 'card' | 'bio'; value: string }): CredentialSummary {
    const person = this.people.person(personId);
    const { kind, value } = c;
    if (kind === 'card' && !/[0-9A-Za-z]/.test(value)) throw invalidField('value', 'a card number needs at least one letter or digit');
    const existing = this.store.credentials.find(kind, value);
    if (existing) {
      throw new ServiceError(
        'conflict',
        `this ${kind} is enrolled already${existing.personId === person.id ? ' for this person' : ''} (credential ${existing.id}, ${existing.status})`,
      );
    }
    return uniqueOrConflict(`this ${kind}`, () =>
      this.store.transaction(() => {
        const added = this.store.credentials.add(person.id, kind, value);
        recordChange(this.store, actor, 'credential.enrol', `credential:${added.id}`, { personId: person.id, kind, value: added.value });
        return this.store.credentials.summary(added.id)!;
      }),
    );
  }

  /**
   * Sets the PIN or the duress PIN (`credential.pin-set`), replacing the previous one of that use,
   * and clears the person's PIN failures. Refused when it equals the PIN of the other use.
   */
  async setPin(actor: Actor, personId: string, p: { pin: string; duress?: boolean }): Promise<CredentialSummary> {
    const use: CredentialUse = p.duress ? 'duress' : 'normal';
    const pinHash = await this.hashNewPin(personId, p.pin, use);
    return this.addPin(actor, personId, use, pinHash);
  }

  /**
   * The hash of a PIN about to be set, once it is checked: 4 to 12 digits, and not the person's
   * PIN of the other use. Hashing and checking take time: done before the change's transaction.
   */
  async hashNewPin(personId: string, pin: string, use: CredentialUse): Promise<string> {
    const person = this.people.person(personId);
    if (!isValidPin(pin)) throw invalidField('pin', '4 to 12 digits');
    for (const other of this.store.credentials.activeOf(person.id, 'pin').filter((c) => c.use !== use)) {
      if (await verifyPin(other.value, pin)) throw new ServiceError('conflict', DURESS_MUST_DIFFER);
    }
    return hashPin(pin);
  }

  /** Sets a PIN checked and hashed by hashNewPin (`credential.pin-set`). */
  addPin(actor: Actor, personId: string, use: CredentialUse, pinHash: string): CredentialSummary {
    const person = this.people.person(personId);
    return this.store.transaction(() => {
      const replaced = this.store.credentials.revokeAllOf(person.id, 'pin', use);
      const added = this.store.credentials.add(person.id, 'pin', pinHash, use);
      this.store.people.clearPinFailures(person.id);
      recordChange(this.store, actor, 'credential.pin-set', `credential:${added.id}`, { personId: person.id, use, replaced });
      return this.store.credentials.summary(added.id)!;
    });
  }

  /** A new door OTP seed, replacing any (`credential.otp-enrol`): its otpauth:// URI is returned once, never again. */
  enrolOtp(actor: Actor, personId: string): { credential: CredentialSummary; otpauthUri: string } {
    const person = this.people.person(personId);
    const secret = generateSecret();
    const otpauthUri = generateURI({ issuer: 'tobira', label: person.name, secret });
    const credential = this.store.transaction(() => {
      const replaced = this.store.credentials.revokeAllOf(person.id, 'otp');
      const added = this.store.credentials.add(person.id, 'otp', secret);
      recordChange(this.store, actor, 'credential.otp-enrol', `credential:${added.id}`, { personId: person.id, replaced });
      return this.store.credentials.summary(added.id)!;
    });
    return { credential, otpauthUri };
  }

  /** Suspends, reactivates or revokes a credential (`credential.status-change`); a revocation is final. */
  setStatus(actor: Actor, credentialId: number, status: CredentialStatus): CredentialSummary {
    const credential = this.store.credentials.summary(credentialId);
    if (!credential) throw notFound('credential');
    if (credential.status === 'revoked' && status !== 'revoked') throw new ServiceError('conflict', 'a revoked credential stays revoked: enrol a new one');
    return this.store.transaction(() => {
      this.store.credentials.setStatus(credential.id, status);
      recordChange(this.store, actor, 'credential.status-change', `credential:${credential.id}`, {
        personId: credential.personId,
        kind: credential.kind,
        from: credential.status,
        to: status,
      });
      return this.store.credentials.summary(credential.id)!;
    });
  }
}
