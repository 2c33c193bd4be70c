// Reading a live stream (text/event-stream) in the API tests: one parser for every test that holds
// GET /api/v1/stream open.

/** One block of the stream: its event name, id and data line, and the raw text (a comment such as `: heartbeat`). */
export interface SseBlock {
  raw: string;
  event?: string;
  id?: string;
  data?: string;
}

/** Reads a stream's body block by block until it ends; an abort (the test closing it) ends it quietly. */
export async function readSse(body: ReadableStream<Uint8Array> | null, onBlock: (block: SseBlock) => void): Promise<void> {
  if (!body) return;
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      for (let cut = text.indexOf('\n\n'); cut >= 0; cut = text.indexOf('\n\n')) {
        const raw = text.slice(0, cut);
        text = text.slice(cut + 2);
        onBlock({ raw, event: /^event: (.*)$/m.exec(raw)?.[1], id: /^id: (.*)$/m.exec(raw)?.[1], data: /^data: (.*)$/m.exec(raw)?.[1] });
      }
    }
  } catch {
    // aborted
  }
}
