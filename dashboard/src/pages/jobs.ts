// Jobs: create from a pasted list or a CSV file, live progress, the resolution report, snapshots and changes, export.
import '../pages_extra.css';
import { registerPage, type PageCtx } from '../router';
import { api, docId } from '../api';
import {
  createJob,
  createJobFromCsv,
  getJob,
  isActive,
  jobBody,
  jobReport,
  jobSnapshots,
  parseIdentifiers,
  progressPercent,
  reportUrl,
  rerunJob,
  type IdentifierType,
  type Job,
  type ReportStatus,
} from '../api_jobs';
import { h, clear, fmtDate, fmtNum, fmtValue, spinner, emptyState } from '../dom';
import { dataTable, errorBox, idBadge, link, navigate, pageHeader, type Column } from '../ui';
import { rangeLabel } from '../urlstate';
import { exportPanel, fileLink } from '../export_panel';

const POLL_MS = 1000;

const statusPill = (s: unknown) => h('span', { class: `pill status-${String(s ?? '').toLowerCase()}`, 'data-testid': 'status-pill' }, String(s ?? '—'));

function progressBar(job: Job, testId?: string): HTMLElement {
  const pct = job.status === 'done' ? 100 : progressPercent(job.progress);
  return h(
    'span',
    { class: 'job-progress' },
    h('progress', { max: 100, value: pct, 'aria-label': `Progress of ${job.name ?? 'job'}`, 'data-testid': testId }),
    h('span', { class: 'small' }, `${pct}%`),
  );
}

const total = (j: Job, k: keyof NonNullable<Job['totals']>) => (typeof j.totals?.[k] === 'number' ? fmtNum(j.totals[k]) : '—');

const JOB_COLUMNS: Column[] = [
  { key: 'name', label: 'Name' },
  { key: 'researcher_id', label: 'Researcher', className: 'mono' },
  { key: 'status', label: 'Status', render: (d) => statusPill(d.status) },
  { key: 'progress', label: 'Progress', render: (d) => progressBar(d as Job) },
  { key: 'totals.identifiers', label: 'Identifiers', numeric: true, get: (d) => total(d as Job, 'identifiers') },
  { key: 'totals.matched', label: 'Matched', numeric: true, get: (d) => total(d as Job, 'matched') },
  { key: 'totals.missing', label: 'Missing', numeric: true, get: (d) => total(d as Job, 'missing') },
  { key: 'totals.ambiguous', label: 'Ambiguous', numeric: true, get: (d) => total(d as Job, 'ambiguous') },
  { key: 'created_at', label: 'Created', render: (d) => fmtDate(d.created_at), className: 'nowrap' },
];

/** /ui/jobs: the create form and the list of jobs (refreshed while any is queued or running). */
export async function renderJobsPage(ctx: PageCtx) {
  const listSec = h('section', { class: 'results', 'aria-label': 'Jobs' });
  const range = h('span', { class: 'range', 'data-testid': 'jobs-range' });
  ctx.main.append(
    pageHeader('Jobs', 'A researcher’s cohort request by accession numbers, patient IDs or study UIDs: resolved in the background, with a report per identifier.'),
    createForm(ctx),
    h('div', { class: 'toolbar' }, h('h2', { class: 'section-title' }, 'All jobs'), range),
    listSec,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  async function load(first: boolean) {
    if (first) listSec.append(spinner());
    try {
      const res = await api.list('/jobs', { sort: '-created_at', limit: 100 }, ctx.signal);
      clear(listSec);
      range.textContent = rangeLabel(0, res.results.length, res.total);
      listSec.append(
        res.results.length
          ? dataTable({ columns: JOB_COLUMNS, rows: res.results, rowHref: (d) => (docId(d) ? `/ui/jobs/${encodeURIComponent(docId(d))}` : null), testId: 'jobs-table', caption: 'Jobs, newest first' })
          : emptyState('No jobs yet.', 'Create one with the form above.'),
      );
      if (res.results.some((j) => isActive(j.status)) && !ctx.signal.aborted) timer = setTimeout(() => void load(false), POLL_MS * 2);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(listSec);
      listSec.append(errorBox(e, 'Could not load jobs'));
    }
  }
  await load(true);
}

function createForm(ctx: PageCtx): HTMLElement {
  const msg = h('div', { 'aria-live': 'polite' });
  const researchers = h('datalist', { id: 'job-researchers' });
  const name = h('input', { id: 'job-name', name: 'name', required: true, placeholder: 'Nodule cohort v1', autocomplete: 'off' });
  const researcher = h('input', { id: 'job-researcher', name: 'researcher_id', required: true, list: 'job-researchers', placeholder: 'r12345', autocomplete: 'off' });
  const sourcePaste = h('input', { type: 'radio', name: 'source', id: 'job-source-paste', value: 'paste', checked: true });
  const sourceCsv = h('input', { type: 'radio', name: 'source', id: 'job-source-csv', value: 'csv' });
  const idType = h(
    'select',
    { id: 'job-id-type', name: 'id_type' },
    h('option', { value: 'accession_number' }, 'Accession numbers'),
    h('option', { value: 'patient_id' }, 'Patient IDs'),
    h('option', { value: 'study_instance_uid' }, 'Study instance UIDs'),
  );
  const ids = h('textarea', { id: 'job-ids', name: 'identifiers', rows: 5, placeholder: 'One per line, or separated by commas or spaces', 'aria-describedby': 'job-ids-count', class: 'code' });
  const idsCount = h('div', { id: 'job-ids-count', class: 'field-msg muted' }, '0 identifiers');
  ids.addEventListener('input', () => (idsCount.textContent = `${fmtNum(parseIdentifiers(ids.value).length)} identifiers`));
  const file = h('input', { id: 'job-csv', name: 'csv', type: 'file', accept: '.csv,text/csv', 'aria-describedby': 'job-csv-hint' });
  const pastePart = h(
    'div',
    { class: 'filter-grid', 'data-part': 'paste' },
    h('div', { class: 'field' }, h('label', { for: 'job-id-type' }, 'Identifier type'), idType),
    h('div', { class: 'field span-3' }, h('label', { for: 'job-ids' }, 'Identifiers'), ids, idsCount),
  );
  const csvPart = h(
    'div',
    { class: 'field', 'data-part': 'csv', hidden: true },
    h('label', { for: 'job-csv' }, 'CSV file'),
    file,
    h('div', { id: 'job-csv-hint', class: 'field-msg muted' }, 'A header row naming any of the columns accession_number, patient_id, study_instance_uid; sent as text/csv.'),
  );
  const showPart = () => {
    pastePart.hidden = !sourcePaste.checked;
    csvPart.hidden = !sourceCsv.checked;
  };
  sourcePaste.addEventListener('change', showPart);
  sourceCsv.addEventListener('change', showPart);
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'job-create' }, 'Create job');
  const form = h(
    'form',
    { class: 'card create-form job-form', 'aria-labelledby': 'job-form-h' },
    h('h2', { id: 'job-form-h' }, 'New job'),
    h(
      'div',
      { class: 'filter-grid' },
      h('div', { class: 'field' }, h('label', { for: 'job-name' }, 'Job name', h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')), name),
      h('div', { class: 'field' }, h('label', { for: 'job-researcher' }, 'Researcher ID', h('span', { class: 'req', 'aria-hidden': 'true' }, ' *')), researcher, researchers),
    ),
    h(
      'fieldset',
      { class: 'source-choice' },
      h('legend', null, 'Identifiers from'),
      h('label', { for: 'job-source-paste' }, sourcePaste, ' a pasted list'),
      h('label', { for: 'job-source-csv' }, sourceCsv, ' an uploaded CSV file'),
    ),
    pastePart,
    csvPart,
    h('div', { class: 'form-actions' }, submit),
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    submit.disabled = true;
    try {
      let job: Job;
      if (sourceCsv.checked) {
        const f = file.files?.[0];
        if (!f) throw new Error('Choose a CSV file first.');
        job = await createJobFromCsv(await f.text(), researcher.value.trim(), name.value.trim(), ctx.signal);
      } else {
        const list = parseIdentifiers(ids.value);
        if (!list.length) throw new Error('Paste at least one identifier.');
        job = await createJob(jobBody(name.value.trim(), researcher.value.trim(), idType.value as IdentifierType, list), ctx.signal);
      }
      const id = docId(job) || String(job.inserted_id ?? '');
      navigate(`/ui/jobs/${encodeURIComponent(id)}`);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      msg.append(errorBox(e, 'Create failed'));
    } finally {
      submit.disabled = false;
    }
  });
  void api
    .list('/researchers', { limit: 500 }, ctx.signal)
    .then((res) => researchers.append(...res.results.map((r) => h('option', { value: String(r.researcher_id ?? '') }, String(r.name ?? '')))))
    .catch(() => undefined); // the field still takes any id
  return form;
}

const REPORT_COLUMNS: Column[] = [
  { key: 'identifier', label: 'Identifier', className: 'mono' },
  { key: 'type', label: 'Type', get: (d) => String(d.type ?? '').replace(/_/g, ' ') },
  { key: 'status', label: 'Status', render: (d) => h('span', { class: `pill report-${String(d.status ?? '')}` }, String(d.status ?? '—')) },
  { key: 'reason', label: 'Reason', className: 'reason' },
  { key: 'patient_id', label: 'Patient', className: 'mono' },
  { key: 'studies', label: 'Studies', numeric: true },
  { key: 'series', label: 'Series', numeric: true },
  { key: 'instances', label: 'Instances', numeric: true, get: (d) => (typeof d.instances === 'number' ? fmtNum(d.instances) : d.instances) },
];

const SNAPSHOT_COLUMNS: Column[] = [
  { key: 'at', label: 'When', render: (d) => fmtDate(d.at), className: 'nowrap' },
  { key: 'series', label: 'Series', numeric: true },
  { key: 'added', label: 'Added', numeric: true },
  { key: 'removed', label: 'Removed', numeric: true },
  { key: 'ingest', label: 'Ingest', get: (d) => fmtValue(d.ingest) },
  { key: 'hash', label: 'Hash', className: 'mono uid', get: (d) => String(d.hash ?? '').slice(0, 16) },
];

const TOTAL_CARDS: [string, string][] = [
  ['identifiers', 'Identifiers'],
  ['matched', 'Matched'],
  ['missing', 'Missing'],
  ['ambiguous', 'Ambiguous'],
  ['patients', 'Patients'],
  ['studies', 'Studies'],
  ['series', 'Series'],
  ['instances', 'Instances'],
];

/** /ui/jobs/{id}: progress (polled while queued/running), then totals, changes, snapshots, the report, export. */
export async function renderJobDetail(ctx: PageCtx) {
  const id = ctx.params.id!;
  const sp = new URLSearchParams(ctx.search);
  let status = (['matched', 'missing', 'ambiguous'].includes(sp.get('status') ?? '') ? sp.get('status') : '') as ReportStatus | '';
  let skip = Math.max(0, Number(sp.get('skip') ?? 0) || 0);
  const limit = 50;

  ctx.main.append(spinner());
  let job: Job;
  try {
    job = await getJob(id, ctx.signal);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    clear(ctx.main);
    ctx.main.append(pageHeader('Job'), errorBox(e, 'Could not load the job'), h('p', null, link('/ui/jobs', '← Back to jobs')));
    return;
  }
  clear(ctx.main);
  const headerBox = h('div');
  const progressSec = h('section', { class: 'card', 'aria-labelledby': 'h-progress' });
  const changesSec = h('section', { class: 'card', 'aria-labelledby': 'h-changes', 'data-testid': 'job-changes' });
  const reportSec = h('section', { class: 'card', 'aria-labelledby': 'h-report' });
  const snapSec = h('section', { class: 'card', 'aria-labelledby': 'h-snapshots' });
  const exportBox = h('div');
  ctx.main.append(h('p', { class: 'crumbs' }, link('/ui/jobs', 'Jobs'), ' / ', String(job.name ?? id)), headerBox, progressSec, changesSec, reportSec, snapSec, exportBox);

  let headerState = '';
  function drawHeader() {
    // Redrawn only when what it shows changes, so polling does not take the keyboard focus off its buttons.
    const state = `${String(job.status)}|${String(job.collection_id ?? '')}|${String(job.name ?? '')}`;
    if (state === headerState) return;
    headerState = state;
    clear(headerBox);
    const actions: Node[] = [];
    if (job.collection_id) actions.push(h('a', { href: `/ui/collections/${encodeURIComponent(String(job.collection_id))}`, 'data-link': '', class: 'btn', 'data-testid': 'open-collection' }, 'Open collection'));
    actions.push(
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          disabled: isActive(job.status),
          onclick: async () => {
            try {
              job = await rerunJob(id, ctx.signal);
              draw();
              poll();
            } catch (e) {
              if ((e as Error).name !== 'AbortError') progressSec.append(errorBox(e, 'Re-run failed'));
            }
          },
        },
        'Resolve again',
      ),
    );
    headerBox.append(pageHeader(String(job.name ?? 'Job'), h('span', null, 'Researcher ', h('code', null, String(job.researcher_id ?? '—')), ' · ', idBadge(id)), actions));
  }

  function drawProgress() {
    clear(progressSec);
    const pct = job.status === 'done' ? 100 : progressPercent(job.progress);
    progressSec.append(
      h('h2', { id: 'h-progress' }, 'Progress'),
      h(
        'div',
        { class: 'job-status-line', role: 'status', 'aria-live': 'polite' },
        statusPill(job.status),
        h('progress', { max: 100, value: pct, 'aria-label': 'Job progress', 'data-testid': 'job-progress' }),
        h('span', { 'data-testid': 'job-status' }, `${String(job.status ?? '—')} · ${pct}%`),
        job.updated_at ? h('span', { class: 'small muted' }, `updated ${fmtDate(job.updated_at)}`) : null,
      ),
      job.status === 'failed' && job.error ? h('div', { class: 'error-box', role: 'alert' }, h('div', { class: 'error-title' }, 'The job failed'), h('div', { class: 'error-message' }, typeof job.error === 'string' ? job.error : JSON.stringify(job.error))) : '',
      h(
        'div',
        { class: 'cards', 'data-testid': 'job-totals' },
        TOTAL_CARDS.map(([k, label]) =>
          h('div', { class: 'stat-card' + (k === 'missing' || k === 'ambiguous' ? ' warn-soft' : '') }, h('span', { class: 'stat-value', 'data-testid': `total-${k}` }, total(job, k as keyof NonNullable<Job['totals']>)), h('span', { class: 'stat-label' }, label)),
        ),
      ),
    );
  }

  function drawChanges() {
    clear(changesSec);
    changesSec.append(h('h2', { id: 'h-changes' }, 'Since the last snapshot'));
    const c = job.changes;
    if (!c) {
      changesSec.append(h('p', { class: 'muted' }, job.snapshot ? 'No change recorded.' : 'No snapshot yet: the job has not been resolved.'));
      return;
    }
    const newly = Array.isArray(c.newly_matched) ? c.newly_matched.map(String) : [];
    changesSec.append(
      h(
        'ul',
        { class: 'change-list' },
        h('li', null, c.since ? `Compared with the snapshot of ${fmtDate(c.since)}.` : 'Compared with the previous snapshot.'),
        h('li', { 'data-testid': 'newly-matched' }, `${fmtNum(newly.length)} identifier${newly.length === 1 ? '' : 's'} newly matched`, newly.length ? ': ' : '', newly.slice(0, 50).map((x, i) => [i ? ', ' : '', h('code', null, x)]), newly.length > 50 ? ' …' : ''),
        h('li', { 'data-testid': 'series-added' }, `${fmtNum(c.series_added ?? 0)} series added, ${fmtNum(c.series_removed ?? 0)} removed`),
      ),
      job.snapshot ? h('p', { class: 'small muted' }, `Current snapshot: ${fmtNum(job.snapshot.series ?? 0)} series, taken ${fmtDate(job.snapshot.at)}.`) : '',
    );
  }

  const statusSel = h(
    'select',
    { id: 'report-status', 'aria-label': 'Show identifiers with status' },
    ['', 'matched', 'missing', 'ambiguous'].map((s) => h('option', { value: s, selected: s === status }, s ? s : 'All statuses')),
  );
  const reportRange = h('span', { class: 'range', 'data-testid': 'report-range', 'aria-live': 'polite' });
  const reportBody = h('div');
  const csvBox = h('span');
  const prev = h('button', { type: 'button', class: 'btn small', 'data-page': 'prev', onclick: () => goReport(Math.max(0, skip - limit)) }, '‹ Prev');
  const next = h('button', { type: 'button', class: 'btn small', 'data-page': 'next', onclick: () => goReport(skip + limit) }, 'Next ›');
  statusSel.addEventListener('change', () => {
    status = statusSel.value as ReportStatus | '';
    goReport(0);
  });
  reportSec.append(
    h('div', { class: 'toolbar' }, h('h2', { id: 'h-report' }, 'Resolution report'), h('div', { class: 'pager' }, h('label', { for: 'report-status', class: 'small' }, 'Status '), statusSel, csvBox)),
    h('div', { class: 'toolbar' }, reportRange, h('div', { class: 'pager' }, prev, next)),
    reportBody,
  );

  function goReport(s: number) {
    skip = s;
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (skip) q.set('skip', String(skip));
    const qs = q.toString();
    history.replaceState(null, '', `/ui/jobs/${encodeURIComponent(id)}${qs ? '?' + qs : ''}`);
    void loadReport();
  }

  async function loadReport() {
    clear(csvBox);
    csvBox.append(fileLink(reportUrl(id, { format: 'csv', status }), `job-${id}-report${status ? '-' + status : ''}.csv`, 'Download CSV', { 'data-testid': 'report-csv' }, (e) => reportBody.prepend(errorBox(e, 'Download failed'))));
    reportBody.setAttribute('aria-busy', 'true');
    try {
      const res = await jobReport(id, { status, skip, limit }, ctx.signal);
      clear(reportBody);
      reportRange.textContent = rangeLabel(skip, res.results.length, res.total);
      prev.disabled = skip === 0;
      next.disabled = skip + res.results.length >= res.total;
      reportBody.append(res.results.length ? dataTable({ columns: REPORT_COLUMNS, rows: res.results, testId: 'report-table', caption: `Resolution report: ${reportRange.textContent}` }) : emptyState(status ? `No ${status} identifiers.` : 'The report is empty.'));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(reportBody);
      reportBody.append(errorBox(e, 'Could not load the report'));
    } finally {
      reportBody.removeAttribute('aria-busy');
    }
  }

  async function loadSnapshots() {
    clear(snapSec);
    snapSec.append(h('h2', { id: 'h-snapshots' }, 'Snapshots'));
    try {
      const res = await jobSnapshots(id, ctx.signal);
      snapSec.append(res.results.length ? dataTable({ columns: SNAPSHOT_COLUMNS, rows: res.results, testId: 'snapshots-table', caption: 'Snapshots of the resolved series' }) : emptyState('No snapshot yet.'));
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      snapSec.append(errorBox(e, 'Could not load the snapshots'));
    }
  }

  function drawExport() {
    clear(exportBox);
    if (job.collection_id && job.status === 'done') exportBox.append(exportPanel(String(job.collection_id), String(job.name ?? 'job'), 'job'));
  }

  function draw() {
    drawHeader();
    drawProgress();
    drawChanges();
    drawExport();
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  function poll() {
    clearTimeout(timer);
    if (!isActive(job.status) || ctx.signal.aborted) return;
    timer = setTimeout(async () => {
      try {
        job = await getJob(id, ctx.signal);
      } catch (e) {
        if ((e as Error).name === 'AbortError') return;
        progressSec.append(errorBox(e, 'Could not refresh the job'));
        return;
      }
      draw();
      if (isActive(job.status)) poll();
      else {
        void loadReport();
        void loadSnapshots();
      }
    }, POLL_MS);
  }

  draw();
  void loadReport();
  void loadSnapshots();
  poll();
}

registerPage({ path: '/ui/jobs', render: renderJobsPage, nav: 'jobs', title: 'Jobs' });
registerPage({ path: '/ui/jobs/:id', render: renderJobDetail, nav: 'jobs', title: 'Job' });
