// The application services: the one way into the rules for the API and the CLI. An operation
// checks its rules, makes its change and its audit record in one transaction, and returns a typed
// result or throws a ServiceError. Routes and CLI commands call only these; they hold no rules and
// no SQL.
import type { Controller } from '../controller/controller.js';
import type { SiteFile } from '../site/schema.js';
import type { Store } from '../store/index.js';
import { AccountService } from './accounts.js';
import { AreaService } from './areas.js';
import { AuditLogService } from './audit-log.js';
import { AuthService } from './auth.js';
import { DeviceService } from './devices.js';
import { DoorService } from './doors.js';
import { EntryService } from './entries.js';
import { EventService } from './events.js';
import { AlarmService } from './alarms.js';
import { running } from './running.js';
import { SecurityService } from './security.js';
import { StatusService } from './status.js';
import { VisitService } from './visits.js';
import { CredentialService } from './credentials.js';
import { EnrolmentService } from './enrolment.js';
import { GrantService } from './grants.js';
import { LedgerService } from './ledger.js';
import { PeopleService } from './people.js';
import { PeopleImportService } from './people-import.js';
import { SnapshotService } from './snapshots.js';
import { ZoneService } from './zones.js';
import { SafeService } from './safes.js';
import { PatrolService } from './patrols.js';
import { KeyService } from './keys.js';
import { DialLockService } from './dial-locks.js';
import { ReminderService } from './reminders.js';
import { FloorPlanService } from './floor-plans.js';

export type { Actor } from './actor.js';
export { assertMayApprove, localOperator } from './actor.js';
export { recordChange } from './audit.js';
export { ServiceError, type ServiceErrorKind } from './errors.js';

export interface ServiceDeps {
  store: Store;
  now: () => Date;
  /** The running controller; absent in CLI commands that work on the database alone. */
  controller?: Controller;
  /** The site file as it stands; absent: the controller's (which a reload replaces). */
  site?: () => SiteFile;
}

/** Every service, built once per process (the API decorates fastify with it). */
export interface Services {
  deps: ServiceDeps;
  /** Sign-in, sessions and refresh tokens (opened on first use: it opens the accounts' sealed seeds). */
  readonly auth: AuthService;
  accounts: AccountService;
  doors: DoorService;
  areas: AreaService;
  devices: DeviceService;
  events: EventService;
  alarms: AlarmService;
  visits: VisitService;
  entries: EntryService;
  auditLog: AuditLogService;
  status: StatusService;
  security: SecurityService;
  people: PeopleService;
  credentials: CredentialService;
  grants: GrantService;
  ledger: LedgerService;
  enrolment: EnrolmentService;
  peopleImport: PeopleImportService;
  snapshots: SnapshotService;
  zones: ZoneService;
  safes: SafeService;
  patrols: PatrolService;
  keys: KeyService;
  dialLocks: DialLockService;
  /** Every reminder due or overdue, of every kind: sources register here. */
  reminders: ReminderService;
  floorPlans: FloorPlanService;
}

export function createServices(deps: ServiceDeps): Services {
  let auth: AuthService | undefined;
  const authService = () => (auth ??= new AuthService(deps.store, () => running(deps).ctx.site.api, deps.now));
  const doors = new DoorService(deps);
  const people = new PeopleService(deps);
  const credentials = new CredentialService(deps, people);
  const grants = new GrantService(deps);
  const dialLocks = new DialLockService(deps);
  const reminders = new ReminderService(deps.now);
  reminders.register('dial-rotation', (now) => dialLocks.reminders(now));
  const keys = new KeyService(deps);
  reminders.register('key-loan', (now) => keys.reminders(now));
  return {
    deps,
    get auth() {
      return authService();
    },
    accounts: new AccountService(deps, authService),
    doors,
    areas: new AreaService(deps, doors),
    devices: new DeviceService(deps),
    events: new EventService(deps),
    alarms: new AlarmService(deps),
    visits: new VisitService(deps),
    entries: new EntryService(deps),
    auditLog: new AuditLogService(deps),
    status: new StatusService(deps),
    security: new SecurityService(deps),
    people,
    credentials,
    grants,
    ledger: new LedgerService(deps, people),
    enrolment: new EnrolmentService(deps, people, credentials, grants),
    peopleImport: new PeopleImportService(deps, people, credentials, grants),
    snapshots: new SnapshotService(deps),
    zones: new ZoneService(deps),
    safes: new SafeService(deps),
    patrols: new PatrolService(deps),
    keys,
    dialLocks,
    reminders,
    floorPlans: new FloorPlanService(deps),
  };
}
