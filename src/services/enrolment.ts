// Enrolling an access holder in one go (`tobira people add`: the installer's and the demo's way):
// the person, a card, the PIN and duress PIN, training, pledge and grants. Each part is the same
// operation the API offers, with its rules and its own audit record, and all of it commits together
// or not at all: a refused part leaves no half-enrolled person behind.
import type { CredentialSummary } from '../store/credentials.js';
import type { Grant } from '../store/grants.js';
import type { Person } from '../store/people.js';
import { hashPin, isValidPin } from '../store/pin.js';
import type { Actor } from './actor.js';
import { invalidField } from './common.js';
import { DURESS_MUST_DIFFER, type CredentialService } from './credentials.js';
import { ServiceError } from './errors.js';
import type { GrantService } from './grants.js';
import type { ServiceDeps } from './index.js';
import type { NewPerson, PeopleService } from './people.js';

export interface HolderEnrolment extends NewPerson {
  card?: string;
  pin?: string;
  duressPin?: string;
  training?: { completedAt: string; course: string };
  pledge?: { signedAt: string; document: string };
  grants?: { areaId: string; purpose: string; outOfHours?: boolean }[];
}

export interface EnrolledHolder {
  person: Person;
  credentials: CredentialSummary[];
  /** Pending when the site's four-eyes rule wants a second person's approval. */
  grants: Grant[];
}

export class EnrolmentService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly people: PeopleService,
    private readonly credentials: CredentialService,
    private readonly grants: GrantService,
  ) {}

  async enrolHolder(actor: Actor, e: HolderEnrolment): Promise<EnrolledHolder> {
    // What takes time (hashing) or needs no database is checked before the transaction.
    if (e.pin !== undefined && !isValidPin(e.pin)) throw invalidField('pin', '4 to 12 digits');
    if (e.duressPin !== undefined && !isValidPin(e.duressPin)) throw invalidField('duressPin', '4 to 12 digits');
    if (e.pin !== undefined && e.pin === e.duressPin) throw new ServiceError('conflict', DURESS_MUST_DIFFER);
    const pinHash = e.pin !== undefined ? await hashPin(e.pin) : undefined;
    const duressHash = e.duressPin !== undefined ? await hashPin(e.duressPin) : undefined;
    return this.deps.store.transaction(() => {
      const person = this.people.enrol(actor, e);
      const credentials: CredentialSummary[] = [];
      if (e.card !== undefined) credentials.push(this.credentials.enrol(actor, person.id, { kind: 'card', value: e.card }));
      if (pinHash) credentials.push(this.credentials.addPin(actor, person.id, 'normal', pinHash));
      if (duressHash) credentials.push(this.credentials.addPin(actor, person.id, 'duress', duressHash));
      if (e.training) this.people.recordTraining(actor, person.id, e.training);
      if (e.pledge) this.people.recordPledge(actor, person.id, e.pledge);
      const grants = (e.grants ?? []).map((g) => this.grants.create(actor, { personId: person.id, ...g }));
      return { person, credentials, grants };
    });
  }
}
