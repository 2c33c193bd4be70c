// All drivers behind one front: commands go to whichever transport a device uses and resolve with
// the answer their definition declares (src/devices/commands.ts); what comes back is checked for
// replays, answers are matched to the commands waiting for them, and events go on the bus.
import { CommandReplies } from '../devices/command-replies.js';
import { definitionOf, type CommandTimeouts, type ReplyOf } from '../devices/commands.js';
import type { Command, CommandBody } from '../devices/protocol.js';
import type { DeviceDriver, DriverListener } from '../devices/driver.js';
import type { SequenceStore } from '../store/sequence.js';
import type { Bus } from './bus.js';
import type { Counters } from './context.js';

export class DeviceHub {
  private readonly byDevice = new Map<string, DeviceDriver>();
  private readonly replies: CommandReplies;
  /** Command ids are unique across restarts: an answer to a previous run's command matches nothing. */
  private readonly idPrefix = Date.now().toString(36);
  private nextId = 0;

  constructor(
    private readonly drivers: { driver: DeviceDriver; deviceIds: readonly string[] }[],
    private readonly bus: Bus,
    private readonly sequences: Pick<SequenceStore, 'accept'>,
    private readonly counters: Counters,
    timeouts: CommandTimeouts,
  ) {
    for (const { driver, deviceIds } of drivers) for (const id of deviceIds) this.byDevice.set(id, driver);
    this.replies = new CommandReplies(timeouts);
  }

  async start(): Promise<void> {
    const listener: DriverListener = {
      event: (deviceId, event, receivedAt) => {
        if (event.boot !== undefined && event.seq !== undefined && !this.sequences.accept(deviceId, event.boot, event.seq)) {
          this.counters.duplicates++;
          return;
        }
        if (event.type === 'ack' || event.type === 'snapshot') {
          const answered = this.replies.answer(deviceId, event, receivedAt);
          if (answered.outcome === 'refused') this.rejected({ deviceId, reason: `${event.type} refused: ${answered.reason}` });
          // An ack is no sign of life (docs/device-protocol.md); a snapshot is, like any other event.
          if (event.type === 'ack') return;
        }
        const deviceAt = event.at;
        const occurredAt = deviceAt === undefined ? receivedAt : Math.min(deviceAt, receivedAt);
        this.bus.emit('device.event', { deviceId, event, receivedAt, ...(deviceAt === undefined ? {} : { deviceAt }), occurredAt });
      },
      status: (deviceId, status) => this.bus.emit('device.status', { deviceId, status }),
      rejected: (info) => this.rejected(info),
    };
    for (const { driver } of this.drivers) await driver.start(listener);
  }

  private rejected(info: { deviceId?: string; topic?: string; reason: string }): void {
    this.counters.rejected++;
    this.bus.emit('device.rejected', info);
  }

  /** Sends a command and resolves with the answer it declares, or a failure. Never rejects. */
  send<C extends CommandBody>(deviceId: string, command: C): Promise<ReplyOf<C['command']>> {
    return this.dispatch(deviceId, command) as Promise<ReplyOf<C['command']>>;
  }

  private dispatch(deviceId: string, body: CommandBody): Promise<ReplyOf<Command['command']>> {
    const driver = this.byDevice.get(deviceId);
    if (!driver) return Promise.resolve({ ok: false, error: `no driver for device "${deviceId}"` });
    const definition = definitionOf(body.command);
    const id = `${this.idPrefix}-${++this.nextId}`;
    const checked = definition.payload.safeParse({ id, ...body });
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return Promise.resolve({
        ok: false,
        error: `invalid ${body.command} command: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'rejected'}`,
      });
    }
    // Sent as given, id first: the schema's parse may reorder or copy, the bytes need not change.
    const command = { id, ...body } as Command;
    const deliver = () =>
      driver.deliver(deviceId, command).catch((err: unknown) => ({ ok: false as const, error: err instanceof Error ? err.message : String(err) }));
    if (definition.reply === 'none') return deliver();
    // Waiting before delivering: a pin answers while it is driven, a fast device before the PUBACK.
    const reply = this.replies.expect(id, deviceId, body.command);
    void deliver().then((sent) => {
      if (!sent.ok) this.replies.fail(id, sent);
    });
    return reply;
  }

  async stop(): Promise<void> {
    this.replies.failAll('controller stopping');
    for (const { driver } of [...this.drivers].reverse()) await driver.stop().catch(() => undefined);
  }
}
