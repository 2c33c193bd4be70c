// People (access holders and visitors), their training and pledges. A change of status applies to
// the next read at any door: the door flow reads the person from SQLite every time. Someone who
// has left is no longer an access holder: their grants end with them, in the same transaction.
import { trainingLapsesAt } from '../policy/access-rules.js';
import type { Grant } from '../store/grants.js';
import type { Paging } from '../store/paging.js';
import type { Person, PersonChanges, PersonFilter } from '../store/people.js';
import type { CredentialSummary } from '../store/credentials.js';
import type { PledgeRecord, TrainingRecord } from '../store/training.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { invalidField, siteOf, toIso, uniqueOrConflict } from './common.js';
import { notFound, ServiceError } from './errors.js';
import { accessChanged } from './dial-locks.js';
import type { ServiceDeps } from './index.js';

export interface TrainingStanding {
  status: 'current' | 'lapsed' | 'none';
  lastAt: string | null;
  lapsesAt: string | null;
}

export interface PledgeStanding {
  status: 'on-file' | 'none';
  signedAt: string | null;
}

/** Training (current while within the site's validity period) and pledge, as the policy judges them. */
export interface Standing {
  training: TrainingStanding;
  pledge: PledgeStanding;
}

/** One person with everything the registers show of them (never a PIN hash or an OTP seed). */
export interface PersonFile extends Person, Standing {
  credentials: CredentialSummary[];
  grants: Grant[];
}

export interface NewPerson {
  name: string;
  affiliation?: string;
  title?: string;
  /** The staff number (typed as "number#PIN" where a PIN comes first). */
  number?: number | null;
  roles?: string[];
}

type Page<T> = { items: T[]; total: number };

export class PeopleService {
  constructor(private readonly deps: ServiceDeps) {}

  private get store() {
    return this.deps.store;
  }

  /** The person, or not-found. */
  person(id: string): Person {
    const p = this.store.people.person(id);
    if (!p) throw notFound('person');
    return p;
  }

  list(f: PersonFilter): Page<Person> {
    return this.store.people.list(f);
  }

  /** The person with credentials (no secrets), training, pledge and every grant. */
  file(id: string): PersonFile {
    const person = this.person(id);
    const now = this.deps.now();
    return {
      ...person,
      credentials: this.store.credentials.summariesOf(person.id).items,
      ...this.standingOf(person.id, now),
      grants: this.store.grants.list({ personId: person.id, limit: 1000, offset: 0, now: now.toISOString() }).items,
    };
  }

  standingOf(personId: string, now: Date): Standing {
    const s = this.store.people.standing(personId);
    let training: TrainingStanding = { status: 'none', lastAt: null, lapsesAt: null };
    if (s.lastTrainingAt) {
      const lapses = trainingLapsesAt(s.lastTrainingAt, siteOf(this.deps).policy.trainingValidityMonths);
      const lapsesAt = Number.isNaN(lapses.getTime()) ? null : lapses.toISOString();
      training = { status: lapsesAt && lapses.getTime() > now.getTime() ? 'current' : 'lapsed', lastAt: s.lastTrainingAt, lapsesAt };
    }
    return { training, pledge: s.pledgeSignedAt ? { status: 'on-file', signedAt: s.pledgeSignedAt } : { status: 'none', signedAt: null } };
  }

  private numberFree(number: number | null | undefined, except?: string): void {
    if (number === null || number === undefined) return;
    const holder = this.store.people.personByNumber(number);
    if (holder && holder.id !== except) throw new ServiceError('conflict', `staff number ${number} is taken`);
  }

  /** Registers an access holder (staff): `person.create`. */
  enrol(actor: Actor, p: NewPerson): Person {
    this.numberFree(p.number);
    return uniqueOrConflict('the staff number', () =>
      this.store.transaction(() => {
        const person = this.store.people.addPerson({
          kind: 'staff',
          name: p.name,
          affiliation: p.affiliation ?? '',
          title: p.title ?? '',
          number: p.number ?? null,
          roles: p.roles ?? [],
        });
        recordChange(this.store, actor, 'person.create', `person:${person.id}`, {
          name: person.name,
          affiliation: person.affiliation,
          title: person.title,
          number: person.number,
          roles: person.roles,
        });
        return person;
      }),
    );
  }

  /** Changes details or status (`person.update`); leaving revokes every grant the person holds. */
  update(actor: Actor, id: string, fields: PersonChanges): Person {
    const before = this.person(id);
    this.numberFree(fields.number, before.id);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const [key, value] of Object.entries(fields) as [keyof PersonChanges, unknown][]) {
      if (value !== undefined && JSON.stringify(value) !== JSON.stringify(before[key])) changes[key] = { from: before[key], to: value };
    }
    const updated = uniqueOrConflict('the staff number', () =>
      this.store.transaction(() => {
        this.store.people.updatePerson(before.id, fields);
        const revoked: number[] = [];
        if (fields.status === 'left' && before.status !== 'left') {
          for (const grantId of this.store.grants.unrevokedOf(before.id)) {
            this.store.grants.revoke(grantId, actor.username);
            revoked.push(grantId);
          }
        }
        recordChange(this.store, actor, 'person.update', `person:${before.id}`, { changes, ...(revoked.length ? { revokedGrants: revoked } : {}) });
        return this.store.people.person(before.id)!;
      }),
    );
    if (changes.status) accessChanged(this.deps, before.id);
    return updated;
  }

  /** Completed trainings, newest first. */
  trainingsOf(id: string, page: Paging): Page<TrainingRecord> {
    return this.store.trainings.listOf(this.person(id).id, page);
  }

  /** Records a completed training (`training.record`); access lapses the site's validity period after the last one. */
  recordTraining(actor: Actor, id: string, t: { completedAt: string; course: string }): TrainingRecord {
    const person = this.person(id);
    const completedAt = toIso(t.completedAt);
    if (completedAt > this.deps.now().toISOString()) throw invalidField('completedAt', 'is in the future');
    return this.store.transaction(() => {
      const record = this.store.trainings.add(person.id, completedAt, t.course, actor.username);
      recordChange(this.store, actor, 'training.record', `person:${person.id}`, { trainingId: record.id, completedAt, course: t.course });
      return record;
    });
  }

  /** Confidentiality pledges, newest first. */
  pledgesOf(id: string, page: Paging): Page<PledgeRecord> {
    return this.store.pledges.listOf(this.person(id).id, page);
  }

  /** Records a signed confidentiality pledge (`pledge.record`). */
  recordPledge(actor: Actor, id: string, p: { signedAt: string; document: string }): PledgeRecord {
    const person = this.person(id);
    const signedAt = toIso(p.signedAt);
    if (signedAt > this.deps.now().toISOString()) throw invalidField('signedAt', 'is in the future');
    return this.store.transaction(() => {
      const record = this.store.pledges.add(person.id, signedAt, p.document, actor.username);
      recordChange(this.store, actor, 'pledge.record', `person:${person.id}`, { pledgeId: record.id, signedAt, document: p.document });
      return record;
    });
  }
}
