// The markdown view of a results file: the headline against its targets, then one table per scenario.
import type { Results } from '../run.js';
import type { Summary } from './stats.js';

const f = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined ? '—' : Number(x.toFixed(digits)).toLocaleString('en'));
const n = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : Math.round(x).toLocaleString('en'));
const lat = (s: Summary | null | undefined) => (s ? `${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${n(s.count)}` : '— | — | — | 0');
const mark = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : '**MISSED**');

/** `oneCore`: the same quick run pinned to one core (quick-1core.json), shown beside this one's figures. */
export function renderMarkdown(r: Results, oneCore?: Results): string {
  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  p(`# tobira benchmark — ${r.mode} run${r.pinnedTo !== undefined ? ' on one core' : ''}`, '');
  p(
    `${r.startedAt} · ${r.durationSeconds ?? '?'} s · \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\` · what each figure means: [bench/README.md](../README.md)`,
    '',
  );
  p(
    `**Machine:** ${r.machine.cpuModel}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.platform} ${r.machine.kernel}, ${r.machine.memoryGB} GB.`,
    '',
  );
  if (r.pinnedTo !== undefined)
    p(
      `**Pinned:** the whole run (benchmark, daemon, brokers, helper processes) on CPU ${r.pinnedTo} (\`taskset -c ${r.pinnedTo}\`, \`--one-core\`), as on a one-core gateway; the machine's other cores stay free for other work.`,
      '',
    );
  if (r.loadNote) p(`**Load:** ${r.loadNote}. Figures taken while others use the machine are noisy (p99 and max most).`, '');
  p(`**Brokers:** ${r.brokers.map((b) => `${b.name} — ${b.detail}`).join('; ')}.`, '');
  if (r.mode === 'quick')
    p('> Quick run (CI): reduced sizes and sample counts; the figures only show that the harness works. The full run is `latest.md`.', '');

  p('## Headline', '', '| figure | value | target | |', '|---|---:|---|---|');
  for (const t of r.targets) p(`| ${t.what} | ${t.value === null ? '—' : f(t.value, 2)} | ${t.target} | ${mark(t.met)}${t.note ? ` (${t.note})` : ''} |`);
  p('');
  p(
    `**The floor.** The ratios divide by the _lean_ floor: the broker's software alone, plain, in its own process, echoing between two plain clients (${f(r.headline.floorEchoMs)} ms p50, the worse broker), plus one durable commit back to back. Like-for-like (an echo peer shaped like the daemon: its login, TLS, aedes in the peer's process for the embedded broker; the commit paced like the reads) the ratios are ${f(r.headline.decisionP50RatioLikeForLike, 2)} at p50 and ${f(r.headline.decisionP99RatioLikeForLike, 2)} at p99. The gap between the two floors is what the deployment's shape costs before any decision is made: TLS on every device leg, the broker sharing the daemon's process and event loop, and a commit after an idle pause (the disk and CPU gone idle) rather than right after another.`,
    '',
  );
  const gaps = r.decision
    .filter((d) => d.door === 'card' && d.credentials === Math.max(...r.config.sizes) && d.likeForLike)
    .map((d) => `${d.broker} ${f(d.floor.p50)} ms lean vs ${f(d.likeForLike!.floor.p50)} ms like-for-like`);
  if (gaps.length) p(`Card-only floors at p50: ${gaps.join('; ')}.`, '');
  const extra = Object.entries(r.headline).filter(([k]) =>
    ['walPeakMB', 'bytesWrittenPerDecision', 'floorEchoMs', 'cpuPerReadMs', 'burstP99Ratio', 'peakRssMB'].includes(k),
  );
  if (extra.length) p(`Headline keys: ${extra.map(([k, v]) => `\`${k}\` ${v === null ? '—' : f(v, 3)}`).join(', ')}.`, '');
  if (oneCore) {
    p(
      '### One core',
      '',
      `The same quick run with the daemon, the brokers and the clients pinned to one core (\`taskset -c 0\`, \`--one-core\`: [quick-1core.md](quick-1core.md), ${oneCore.startedAt}), beside this run's figures.`,
      '',
      '| headline | this run | one core |',
      '|---|---:|---:|',
    );
    for (const [k, v] of Object.entries(r.headline))
      p(`| \`${k}\` | ${v === null ? '—' : f(v, 3)} | ${oneCore.headline[k] == null ? '—' : f(oneCore.headline[k], 3)} |`);
    const pair = (x: Results) => {
      const d = x.decision.find((y) => y.broker === 'embedded' && y.door === 'card');
      return d ? `${f(d.latency.p50)} / ${f(d.latency.p99)}` : '—';
    };
    const burstOf = (x: Results) => {
      const b = x.burst.find((y) => y.broker === 'embedded' && !y.withApi);
      return b ? `${f(b.latency.p50)} / ${f(b.latency.p99)}` : '—';
    };
    p(`| quiet card read, embedded, p50 / p99 ms | ${pair(r)} | ${pair(oneCore)} |`);
    p(`| burst, embedded, p50 / p99 ms | ${burstOf(r)} | ${burstOf(oneCore)} |`, '');
  }

  p(
    '## Decision latency (quiet: one read at a time)',
    '',
    'Card event published by the reader → unlock command received by the lock, ms. Floor: echo + commit (card); 2 × echo + commit + one PIN check (card + PIN), with the lean echo and the back-to-back commit; like-for-like: with the daemon-shaped echo peer and the paced commit.',
    '',
  );
  p(
    '| broker | credentials | door | p50 | p99 | max | count | floor p50 | floor p99 | ratio p50 | ratio p99 | like-for-like floor p50 / p99 | like-for-like ratio p50 / p99 |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const d of r.decision)
    p(
      `| ${d.broker} | ${n(d.credentials)} | ${d.door} | ${lat(d.latency)} | ${f(d.floor.p50)} | ${f(d.floor.p99)} | ${f(d.ratioP50, 2)} | ${f(d.ratioP99, 2)} | ${f(d.likeForLike?.floor.p50)} / ${f(d.likeForLike?.floor.p99)} | ${f(d.likeForLike?.ratioP50, 2)} / ${f(d.likeForLike?.ratioP99, 2)} |`,
    );
  const pins = r.decision.filter((d) => d.door === 'card+pin');
  if (pins.length) {
    p('', 'Card + PIN, split: card → pin-required at the keypad, and PIN published → unlock (ms, p50 / p99 / max).', '');
    p('| broker | credentials | card → prompt | PIN → unlock |', '|---|---:|---|---|');
    for (const d of pins)
      p(
        `| ${d.broker} | ${n(d.credentials)} | ${f(d.promptLatency?.p50)} / ${f(d.promptLatency?.p99)} / ${f(d.promptLatency?.max)} | ${f(d.pinToUnlock?.p50)} / ${f(d.pinToUnlock?.p99)} / ${f(d.pinToUnlock?.max)} |`,
      );
  }
  p('');

  p('## The floor', '', '| what | broker | credentials | p50 | p99 | max | count |', '|---|---|---:|---:|---:|---:|---:|');
  for (const [broker, e] of Object.entries(r.floors.lean?.echo ?? {})) {
    if (!e) continue;
    if (!e.after.count) {
      p(`| lean MQTT echo, QoS 1, before the decision runs (**used in the ratio**) | ${broker} | | ${lat(e.pooled)} |`);
      continue;
    }
    p(`| lean MQTT echo, QoS 1, before the decision runs | ${broker} | | ${lat(e.before)} |`);
    p(`| lean MQTT echo, QoS 1, after | ${broker} | | ${lat(e.after)} |`);
    p(`| lean MQTT echo, pooled (**used in the ratio**) | ${broker} | | ${lat(e.pooled)} |`);
  }
  for (const [broker, e] of Object.entries(r.floors.echo)) {
    if (!e) continue;
    p(`| like-for-like MQTT echo (daemon-shaped echo peer), QoS 1, before the decision runs | ${broker} | | ${lat(e.before)} |`);
    p(`| like-for-like MQTT echo, after | ${broker} | | ${lat(e.after)} |`);
    p(`| like-for-like MQTT echo, pooled | ${broker} | | ${lat(e.pooled)} |`);
  }
  for (const c of r.floors.commit) {
    p(
      `| one durable commit of one entry-log row (WAL, synchronous=FULL), back to back (**lean, used in the ratio**) | ${c.broker} run | ${n(c.credentials)} | ${lat(c.backToBack)} |`,
    );
    p(`| the same, paced as the reads (like-for-like) | ${c.broker} run | ${n(c.credentials)} | ${lat(c.summary)} |`);
  }
  if (r.floors.plainEcho) p(`| MQTT echo over plain MQTT (not TLS), for what TLS adds | embedded | | ${lat(r.floors.plainEcho)} |`);
  if (r.floors.pinVerify) p(`| one argon2id PIN check (daemon's parameters) | | | ${lat(r.floors.pinVerify)} |`);
  const leanNotes = Object.entries(r.floors.lean?.echo ?? {}).map(
    ([b, e]) => `${b}: ${e?.process}${e?.noDelay ? ', TCP no-delay on both client sockets' : ''}`,
  );
  if (leanNotes.length)
    p(
      '',
      `Lean echo: client → broker → echoing client → broker → client, two plain mqtt.js clients (no TLS, no login), QoS 1 both ways; ${leanNotes.join('; ')}.`,
    );
  const echoNotes = Object.entries(r.floors.echo).map(([b, e]) => `${b}: ${e?.process}${e?.noDelay ? ', TCP no-delay on the device sockets' : ''}`);
  if (echoNotes.length)
    p('', `Like-for-like echo: reader → broker → echo peer → broker → lock, the same device clients as the decisions; ${echoNotes.join('; ')}.`);
  p('');

  p(
    '## Burst',
    '',
    "Open loop: reads sent on schedule over all doors whatever the answers do; latency from each read's publish to its unlock (ms). Denied: refused; every burst read is enrolled and granted, so under a backlog these are `controller-busy` (refused on arrival: too many reads waiting) or `stale-read` (older than `policy.maxReadAgeMs` when decided: the controller will not open late). Daemon CPU per read: the daemon process's user + system CPU over the burst and its drain, divided by the reads — unlike the latencies, little moved by other work on the machine.",
    '',
  );
  p(
    '| broker | API load | doors | target rate | sent rate | reads | lost | duplicated | denied | logged once | p50 | p99 | max | p99 ÷ quiet p99 | CPU: machine / ours / others (cores) | daemon CPU per read | decisions per commit |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  );
  for (const b of r.burst) {
    p(
      `| ${b.broker}${b.daemonCrashed ? ' (**daemon crashed**)' : ''} | ${b.withApi ? 'yes' : 'no'} | ${b.doors} | ${n(b.targetRate)}/s × ${b.seconds} s | ${n(b.sentRate)}/s | ${n(b.reads)}${b.unsent ? ` (+${n(b.unsent)} not sent)` : ''} | ${n(b.lost)} | ${n(b.duplicated)} | ${n(b.denied)} | ${b.log ? `${n(b.log.logged)} (missing ${n(b.log.missing)}, twice ${n(b.log.duplicated)}${b.log.unlockedNotLogged ? `, **${n(b.log.unlockedNotLogged)} unlocked without a record**` : ''})` : '—'} | ${f(b.latency.p50)} | ${f(b.latency.p99)} | ${f(b.latency.max)} | ${f(b.p99OverQuiet, 1)} (quiet ${f(b.quietP99)}) | ${b.cpu ? `${b.cpu.machineCores} / ${b.cpu.benchCores} / ${b.cpu.otherCores}` : '—'} | ${b.daemonCpuPerRead != null ? `${f(b.daemonCpuPerRead)} ms` : '—'} | ${b.commits ? f(b.commits.writes / Math.max(1, b.commits.commits), 1) : '—'} |`,
    );
  }
  for (const b of r.burst) {
    if (b.perSecond.length < 2) continue;
    const worst = b.perSecond.reduce((a, x) => ((x.p99 ?? 0) > (a.p99 ?? 0) ? x : a));
    p(
      '',
      `${b.broker}${b.withApi ? ' + API' : ''}: p99 per second of sending: ${b.perSecond.map((x) => f(x.p99, 1)).join(', ')} ms (worst in second ${worst.second}).`,
    );
  }
  p('');

  if (r.crashes.length) {
    p('### The daemon crashed', '');
    for (const c of r.crashes) {
      const line = c.output.split('\n').find((l) => /Error/.test(l)) ?? '';
      p(`- session \`${c.session}\`, during ${c.during}: exit ${c.code ?? c.signal}${line ? ` — \`${line.trim()}\`` : ''}`);
    }
    p('', '```', r.crashes[0]!.output.trim().split('\n').slice(-14).join('\n'), '```', '');
  }
  for (const b of r.burst) {
    if (b.brokerDropped)
      p(
        `Mosquitto dropped ${n(b.brokerDropped)} messages during the ${b.broker}${b.withApi ? ' + API' : ''} burst ($SYS/broker/publish/messages/dropped: a client's queue, max_queued_messages, was full).`,
        '',
      );
  }
  const warned = r.burst.filter((b) => b.daemonWarnings && Object.keys(b.daemonWarnings).length);
  if (warned.length) {
    p('Warnings and alarms the daemon logged during the bursts:', '');
    for (const b of warned)
      p(
        `- ${b.broker}${b.withApi ? ' + API' : ''}: ${Object.entries(b.daemonWarnings!)
          .sort((x, y) => y[1] - x[1])
          .slice(0, 5)
          .map(([k, v]) => `${n(v)} × ${k}`)
          .join('; ')}`,
      );
    p('');
  }

  p(
    '## API under load',
    '',
    'autocannon in its own process, every route at once, each at a fixed rate spread evenly over the second (one connection per request a second); response times in ms.',
    '',
  );
  p('| phase | route | p50 | p99 | max | count | rate/s | statuses |', '|---|---|---:|---:|---:|---:|---:|---|');
  for (const phase of r.api) {
    for (const route of phase.routes) {
      if (!route.available) p(`| ${phase.phase} | ${route.name} | ${route.why ?? 'not available'} | | | | | |`);
      else
        p(
          `| ${phase.phase} | ${route.name} | ${lat(route.latency)} | ${f(route.rate, 1)} | ${Object.entries(route.statuses)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')} |`,
        );
    }
  }
  if (!r.api.length) p('| — | not run | | | | | | |');
  p('');

  p('## Log integrity', '');
  const v = r.logIntegrity.verify;
  p('| figure | value |', '|---|---:|');
  p(`| records verified (hash chain, as \`tobira log verify\`) | ${v ? `${n(v.records)} ${v.ok ? 'ok' : '**BROKEN**'}` : '—'} |`);
  p(`| verification time | ${v ? `${f(v.seconds, 2)} s` : '—'} |`);
  p(`| verification rate | ${v ? `${n(v.recordsPerSec)} records/s` : '—'} |`);
  const a = r.logIntegrity.append;
  p(`| durable appends, one per commit (as each decision commits) | ${a ? `${n(a.perCommitPerSec)}/s` : '—'} |`);
  p(`| durable appends, ${a ? n(a.batchSize) : '1,000'} per commit | ${a ? `${n(a.batchedPerSec)}/s` : '—'} |`, '');

  p('## Decision latency during a backup', '');
  const b = r.duringBackup;
  if (b) {
    p(
      `Quiet reads one at a time (as above) for as long as \`tobira backup --recipient …\` ran beside the daemon on the big database (${n(b.dbMB)} MB; embedded broker): the database copied with SQLite's backup API from a snapshot of its own, then archived and encrypted (age). Against quiet reads on the same daemon just before.`,
      '',
    );
    p('| reads | count | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|');
    p(`| quiet, just before | ${n(b.quiet.count)} | ${f(b.quiet.p50, 2)} | ${f(b.quiet.p99, 2)} | ${f(b.quiet.max, 2)} |`);
    p(`| during the backup | ${n(b.during.count)} | ${f(b.during.p50, 2)} | ${f(b.during.p99, 2)} | ${f(b.during.max, 2)} |`);
    p(`| … while the database was copied | ${n(b.copy.count)} | ${f(b.copy.p50, 2)} | ${f(b.copy.p99, 2)} | ${f(b.copy.max, 2)} |`);
    p(`| … while it was archived and encrypted | ${n(b.encrypt.count)} | ${f(b.encrypt.p50, 2)} | ${f(b.encrypt.p99, 2)} | ${f(b.encrypt.max, 2)} |`);
    p(
      '',
      `p99 during ÷ quiet p99: ${f(b.p99OverQuiet, 2)}. Lost ${n(b.lost)}, denied ${n(b.denied)}. The backup ${b.finished ? 'took' : 'was stopped at the cap after'} ${f(b.seconds, 1)} s (database copy ${f(b.copySeconds, 1)} s, archive and encryption ${f(b.encryptSeconds, 1)} s)${b.archiveMB !== null ? `, ${n(b.archiveMB)} MB archive` : ''}.`,
      '',
    );
  } else p('not measured', '');

  p('## Footprint', '');
  const fp = r.footprint;
  if (fp) {
    p('| figure | value |', '|---|---:|');
    p(`| database | ${n(fp.credentials)} credentials, ${n(fp.logRows)} log rows, ${n(fp.dbMB)} MB |`);
    p(`| start-up to ready (process spawned → "ready" logged) | ${n(fp.readyMs)} ms |`);
    p(`| of which Node and module loading (spawned → first log line) | ${n(fp.bootMs)} ms |`);
    p(`| RSS at ready | ${f(fp.rssAtReadyMB, 1)} MB |`);
    p(`| RSS once devices connected | ${f(fp.rssSettledMB, 1)} MB |`);
    p(`| peak RSS over the session (burst and API included) | ${f(fp.peakRssMB, 1)} MB |`);
    p('', `${fp.note}.`, '');
  } else p('not measured', '');

  renderStorage(r, p);
  renderOverloadAndSoak(r, p);

  for (const pr of r.profiles) {
    p(
      `## Profile of the daemon: ${pr.scenario}`,
      '',
      `${f(pr.totalMs / 1000, 1)} s of samples (${f(pr.window.fromMs / 1000, 1)}–${f(pr.window.toMs / 1000, 1)} s after the process started), ${f(pr.idlePct, 1)}% idle. \`${pr.file.replace(/.*\/bench\//, 'bench/')}\` opens in Chrome DevTools.`,
      '',
    );
    p('| package | self ms | % |', '|---|---:|---:|');
    for (const x of pr.byPackage.slice(0, 12)) p(`| ${x.pkg} | ${f(x.selfMs, 0)} | ${f(x.pct, 1)} |`);
    p('', '| function (self time) | self ms | % |', '|---|---:|---:|');
    for (const x of pr.topFunctions.slice(0, 15)) p(`| \`${x.fn}\` | ${f(x.selfMs, 0)} | ${f(x.pct, 1)} |`);
    if (pr.inclusive.length) {
      p('', '| daemon function (inclusive, synchronous part) | ms | % |', '|---|---:|---:|');
      for (const x of pr.inclusive) p(`| \`${x.fn}\` | ${f(x.totalMs, 0)} | ${f(x.pct, 1)} |`);
    }
    p('');
  }

  p('## Closing note', '');
  const missed = r.targets.filter((t) => t.met === false);
  const na = r.targets.filter((t) => t.met === null);
  if (!missed.length) p('Every measured target was met.');
  else {
    p('Targets missed in this run:', '');
    for (const t of missed) p(`- ${t.what}: ${f(t.value, 2)} (target ${t.target})`);
  }
  if (na.length) p('', `Not measured: ${na.map((t) => `${t.what}${t.note ? ` (${t.note})` : ''}`).join('; ')}.`);
  for (const pr of missed.length ? r.profiles : []) {
    const top = pr.byPackage
      .filter((x) => !x.pkg.startsWith('(idle'))
      .slice(0, 4)
      .map((x) => `${x.pkg} ${f(x.pct, 1)}%`)
      .join(', ');
    const fns = pr.topFunctions
      .filter((x) => !x.fn.startsWith('(idle'))
      .slice(0, 4)
      .map((x) => `\`${x.fn}\` ${f(x.pct, 1)}%`)
      .join(', ');
    p('', `What the profile shows (${pr.scenario}): the daemon's thread was ${f(100 - pr.idlePct, 1)}% busy; by package ${top}; by function ${fns}.`);
  }
  if (r.crashes.length)
    p('', `The daemon crashed ${r.crashes.length} time(s): ${r.crashes.map((c) => `${c.session} during ${c.during}`).join('; ')} (see above).`);
  if (r.errors.length) p('', 'Problems with the run itself:', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`));
  p('');
  return out.join('\n');
}

/** Bytes written per decision, the WAL's size, and what they mean for an SD card (bench/lib/storage.ts). */
function renderStorage(r: Results, p: (...lines: string[]) => void): void {
  p('## Storage: bytes written per decision', '');
  const st = r.storage;
  if (!st?.runs.length) {
    p('not measured', '');
    return;
  }
  p(
    "The daemon's `/proc/<pid>/io` over each run (every thread: the decisions' commits and the WAL checkpoints into the database), divided by the entry-log records it appended; the WAL file sampled every 50 ms. `write_bytes`: page-cache memory dirtied (less what was truncated before written back), counted per folio, so on a kernel with large folios it overstates what reaches the disk; `wchar`: every byte passed to `write()` (SQLite's WAL frames and checkpoint copies as made, and a few hundred bytes of MQTT and log lines). See bench/README.md.",
    '',
    '| run | decisions | s | write_bytes per decision | wchar per decision | WAL peak MB | WAL at end MB |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const x of st.runs)
    p(
      `| ${x.label} | ${n(x.decisions)} | ${f(x.seconds, 1)} | ${n(x.bytesWrittenPerDecision)} | ${n(x.wcharPerDecision)} | ${f(x.walPeakMB, 2)} | ${f(x.walEndMB, 2)} |`,
    );
  p('');
  const e = st.endurance.fromWriteBytes ?? st.endurance.fromWchar;
  if (!e) return;
  p(
    `**What it means for a ${e.assumption.cardGB} GB SD card**: assumed endurance ${e.assumption.enduranceTBW} TB written (${e.assumption.basis}); write amplification inside the card ${e.assumption.writeAmplification}. Each from the larger of the quiet and burst figures.`,
    '',
    '| bytes per decision | reads a day | written a day | years at 1× | years at 10× |',
    '|---|---:|---:|---:|---:|',
  );
  for (const [what, x] of [
    ['write_bytes', st.endurance.fromWriteBytes],
    ['wchar', st.endurance.fromWchar],
  ] as const) {
    for (const d of x?.perDay ?? [])
      p(`| ${n(x!.bytesPerDecision)} (${what}, ${x!.basis}) | ${n(d.readsPerDay)} | ${f(d.gbPerDay, 2)} GB | ${f(d.yearsAt1x, 1)} | ${f(d.yearsAt10x, 1)} |`);
  }
  p('');
}

/** Overload (a burst at twice the capacity) and soak (bench/lib/overload.ts, soak.ts). */
function renderOverloadAndSoak(r: Results, p: (...lines: string[]) => void): void {
  const o = r.overload;
  if (o) {
    const c = o.capacity;
    p('## Overload: twice the capacity', '');
    p(
      c.how === 'measured'
        ? `Capacity: ${n(c.readsPerSec)} reads/s decided, closed loop (${c.window} reads outstanding per door, ${n(o.doors)} doors, ${f(c.seconds, 1)} s; p50 ${f(c.latency?.p50)} ms, p99 ${f(c.latency?.p99)} ms; daemon CPU ${f(c.daemonCpuMsPerRead)} ms per read).`
        : `Capacity: ${n(c.readsPerSec)} reads/s, given (--capacity).`,
      '',
      `Then ${n(o.rate)} reads/s, open loop, for ${n(o.seconds)} s (sent at ${n(o.sentRate)}/s). Outcomes from the entry log, read by read; refused = \`controller-busy\` (too many reads waiting: \`policy.maxReadsWaitingPerDoor\`, \`maxReadsWaiting\`).`,
      '',
    );
    p('| figure | value |', '|---|---:|');
    p(`| reads | ${n(o.reads)} |`);
    p(`| granted / refused / stale / other denials | ${n(o.granted)} / ${n(o.refused)} / ${n(o.stale)} / ${n(o.otherDenied)} |`);
    p(`| refused, by the daemon's /metrics (tobira_reads_refused_total) | ${n(o.metricsRefused)} |`);
    p(`| lost (no record, or a grant without its unlock) / not in the log / logged twice | ${n(o.lost)} / ${n(o.missing)} / ${n(o.duplicated)} |`);
    p(`| unlocks beyond the grants (a refused read opening) | ${n(o.extraUnlocks)} |`);
    p(`| refusal taken, after the read (p50 / p99 / max, ms) | ${f(o.refusalDecided.p50)} / ${f(o.refusalDecided.p99)} / ${f(o.refusalDecided.max)} |`);
    p(
      `| refusal seen at the reader, after the read (p50 / p99 / max, ms) | ${o.refusalSeen ? `${f(o.refusalSeen.p50)} / ${f(o.refusalSeen.p99)} / ${f(o.refusalSeen.max)}` : '— (indications did not line up with the log)'} |`,
    );
    p(`| granted: read → unlock (p50 / p99 / max, ms) | ${f(o.grantLatency.p50)} / ${f(o.grantLatency.p99)} / ${f(o.grantLatency.max)} |`);
    p(
      `| daemon RSS: before / highest sampled / peak (VmHWM, whole session) / after, MB | ${f(o.rss.before, 1)} / ${f(o.rss.maxSampled, 1)} / ${f(o.rss.peak, 1)} / ${f(o.rss.after, 1)} |`,
    );
    p(`| daemon V8 heap in use before / after, MB | ${f(o.heapMB.before, 1)} / ${f(o.heapMB.after, 1)} |`);
    p('');
  }
  const s = r.soak;
  if (s) {
    p('## Soak', '');
    p(
      `${n(s.reads)} reads at ${n(s.rate)}/s (sent at ${n(s.sentRate)}/s, ${f(s.seconds, 0)} s) over ${n(s.doors)} doors; per ${n(s.windowReads)} reads: the daemon's RSS and V8 heap, the reads' latency (read → unlock). ${n(s.denied)} denied (${n(s.refused)} refused as \`controller-busy\`), ${n(s.lost)} lost.`,
      '',
      `RSS **${s.rssFlat === null ? 'n/a' : s.rssFlat ? 'flat' : 'not flat'}**: ${f(s.rssSlopeMBPer100k, 2)} MB per 100,000 reads over the second half (heap ${f(s.heapSlopeMBPer100k, 2)}); there ${f(s.rss.afterWarmup, 1)} MB lowest, ${f(s.rss.max, 1)} MB highest, ${f(s.rss.last, 1)} MB at the end, peak ${f(s.rss.peak, 1)} MB. Latency **${s.latencyFlat === null ? 'n/a' : s.latencyFlat ? 'flat' : 'not flat'}**: last quarter ÷ second quarter ${f(s.latencyDrift.p50, 2)} at p50, ${f(s.latencyDrift.p99, 2)} at p99.`,
      '',
    );
    p('| reads | RSS MB | heap MB | p50 | p99 | max | denied (refused) | lost |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    const step = Math.max(1, Math.ceil(s.windows.length / 25));
    s.windows.forEach((w, i) => {
      if (i % step === 0 || i === s.windows.length - 1)
        p(
          `| ${n(w.reads)} | ${f(w.rssMB, 1)} | ${f(w.heapMB, 1)} | ${f(w.p50)} | ${f(w.p99)} | ${f(w.max)} | ${n(w.denied)} (${n(w.refused)}) | ${n(w.lost)} |`,
        );
    });
    p('');
  }
}
