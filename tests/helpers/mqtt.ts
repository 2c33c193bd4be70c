// A plain MQTT client, as an attacker or a third-party tool would connect.
import mqtt from 'mqtt';

/** Connects a raw MQTT client; resolves with the client or the connection error. */
export function rawConnect(url: string, opts: mqtt.IClientOptions): Promise<{ client?: mqtt.MqttClient; error?: Error }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 4, ...opts });
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ error });
    });
    // Closed before a CONNACK without an error (a TLS server dropping a plain client): refused too.
    client.once('close', () => {
      client.end(true);
      resolve({ error: new Error('connection closed before CONNACK') });
    });
  });
}
