// Moved to src/services/auth.ts (sign-in is an application service); kept while other modules move.
export * from '../services/auth.js';
