/** The site cannot run here as configured (no GPIO, port taken, retention too short...): a message for a person, no stack. */
export class StartupError extends Error {}
