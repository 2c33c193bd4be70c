// Device supervision: a device whose status goes offline, or that stays silent past its
// heartbeat interval, is reported offline; its return clears that.
import type { Context, Extension } from './context.js';

export interface DeviceHealth {
  online: boolean | null;
  lastSeen: number | null;
  firmware?: string;
}

export class Supervision implements Extension {
  readonly name = 'supervision';
  private readonly health = new Map<string, DeviceHealth>();
  private readonly startedAt: number;
  private timer?: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly ctx: Context) {
    for (const d of ctx.site.devices) this.health.set(d.id, { online: null, lastSeen: null });
    this.startedAt = ctx.now().getTime();
  }

  devices(): ReadonlyMap<string, DeviceHealth> {
    return this.health;
  }

  start(): void {
    const { bus } = this.ctx;
    this.unsubscribe.push(
      bus.on(
        'device.status',
        ({ deviceId, status }) => {
          const h = this.health.get(deviceId);
          if (!h) return;
          if (status.firmware) h.firmware = status.firmware;
          if (status.online) this.seen(deviceId);
          else this.setOnline(deviceId, false, 'reported offline (last will or shutdown)');
        },
        this.name,
      ),
      bus.on('device.event', ({ deviceId }) => this.seen(deviceId), this.name),
    );
    this.timer = setInterval(() => this.checkSilence(), 1000);
    this.timer.unref();
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
  }

  private seen(deviceId: string): void {
    const h = this.health.get(deviceId);
    if (!h) return;
    h.lastSeen = this.ctx.now().getTime();
    if (h.online !== true) this.setOnline(deviceId, true);
  }

  private checkSilence(): void {
    const now = this.ctx.now().getTime();
    for (const [id, h] of this.health) {
      // Wired devices have no heartbeat: their driver reports them once, and a lost pin is an error there.
      // HTTP cameras are asked only for pictures: one that fails then raises camera-fault.
      const transport = this.ctx.index.devices.get(id)?.transport;
      if (transport === 'gpio' || transport === 'http') continue;
      const limit = (this.ctx.index.devices.get(id)?.heartbeatSeconds ?? 60) * 1000;
      const since = h.lastSeen ?? this.startedAt;
      if (h.online !== false && now - since > limit)
        this.setOnline(id, false, h.lastSeen ? `silent for more than ${limit / 1000} s` : `not heard from since start (${limit / 1000} s)`);
    }
  }

  private setOnline(deviceId: string, online: boolean, why?: string): void {
    const h = this.health.get(deviceId)!;
    const was = h.online;
    h.online = online;
    if (online && was === false) {
      this.ctx.alarms.raise({ category: 'device', type: 'device-online', severity: 'info', source: deviceId });
    } else if (!online && was !== false) {
      this.ctx.alarms.raise({ category: 'device', type: 'device-offline', severity: 'alarm', source: deviceId, detail: { why } });
    }
  }
}
