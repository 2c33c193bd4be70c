// Where Home Assistant's side of MQTT lives, for the controller that publishes there and for the
// brokers (embedded and Mosquitto) that let Home Assistant read it and nothing else.

export const HOMEASSISTANT_USERNAME = 'tobira-homeassistant';

/** Home Assistant's client id starts with this and a name of its own, e.g. `tobira:homeassistant:ha`. */
export function homeAssistantClientIdPrefix(base: string): string {
  return `${base}:homeassistant:`;
}

export class HomeAssistantTopics {
  constructor(
    readonly base: string,
    readonly discoveryPrefix: string,
    readonly nodeId: string,
  ) {}
  /** `{prefix}/{component}/{node}/{object}/config`: Home Assistant's discovery topic, retained. */
  config(component: 'lock' | 'binary_sensor' | 'alarm_control_panel' | 'event', objectId: string): string {
    return `${this.discoveryPrefix}/${component}/${this.nodeId}/${objectId}/config`;
  }
  /** tobira's own states for Home Assistant: under the base topic, apart from everything devices see. */
  get stateRoot(): string {
    return `${this.base}/ha`;
  }
  lock(doorId: string): string {
    return `${this.stateRoot}/lock/${doorId}`;
  }
  /**
   * Home Assistant requires a command topic on a lock and an alarm panel. Nothing subscribes to this
   * one and its login may not publish there: tobira takes no unlock and no disarm from Home Assistant.
   */
  refusedCommands(objectId: string): string {
    return `${this.stateRoot}/refused/${objectId}`;
  }
  contact(doorId: string): string {
    return `${this.stateRoot}/contact/${doorId}`;
  }
  zone(zoneId: string): string {
    return `${this.stateRoot}/zone/${zoneId}`;
  }
  get alarms(): string {
    return `${this.stateRoot}/alarms`;
  }
  /** Home Assistant's own birth and last will (its MQTT integration's default): the one topic it may write. */
  get haStatus(): string {
    return `${this.discoveryPrefix}/status`;
  }
}
