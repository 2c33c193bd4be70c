import type { Api, ApiContext } from '../context.js';

// To be written.
export async function grantRoutes(_api: Api, _ctx: ApiContext): Promise<void> {}
