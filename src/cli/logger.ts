// pino JSON logs; pretty when a person is watching a terminal.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(level = process.env.TOBIRA_LOG_LEVEL ?? 'info'): Logger {
  const options = { level, base: { app: 'tobira' }, redact: ['*.password', '*.secret', 'secrets'] };
  if (process.stdout.isTTY) return pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l' }));
  return pino(options);
}
