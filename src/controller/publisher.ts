// Controller → everyone: raised events and entry-log records go out on tobira/events/{category};
// an alarm's lifecycle changes (acknowledged, escalated, cleared) on tobira/events/alarm beside them.
import type { MqttDriver } from '../devices/mqtt-driver.js';
import type { Context, Extension } from './context.js';

export class Publisher implements Extension {
  readonly name = 'publisher';
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly mqtt: MqttDriver,
  ) {}

  start(): void {
    this.unsubscribe.push(
      this.ctx.bus.on('raised', (e) => this.mqtt.publishEvent(e.category, e), this.name),
      this.ctx.bus.on('alarm.changed', (c) => this.mqtt.publishEvent('alarm', { event: 'alarm.changed', ...c }), this.name),
      this.ctx.bus.on('entry', (r) => this.mqtt.publishEvent(r.kind === 'decision' ? 'access' : 'door', { type: 'entry', ...r }), this.name),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
