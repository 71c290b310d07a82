// The hromada's portal: petitions for residents, in the browser, on the node's own origin.
// The API's codecs come from the node's descriptor set at run time (@bufbuild/protobuf builds
// them from data, never by compiling code, so the page's policy forbids eval), and calls go
// over gRPC-Web (@connectrpc/connect-web). Text from the API is only ever set as text.

import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';

import { lang, t } from './i18n.js';

const NODE_SERVICE = 'vidkryto.node.v1.NodeService';
/** Longest any call may take. */
const CALL_TIMEOUT_MS = 15_000;

const main = document.getElementById('main');

/** An element with attributes and children (strings become text, never markup). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** A UUIDv7 for a command's request id (a retry sends the same one). */
function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i += 1) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function connect() {
  const response = await fetch('/api/descriptor.binpb');
  if (!response.ok) throw new Error(`the API's descriptor: HTTP ${response.status}`);
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await response.arrayBuffer()));
  const service = createFileRegistry(set).getService(NODE_SERVICE);
  if (!service) throw new Error(`the node does not offer ${NODE_SERVICE}`);
  const transport = createGrpcWebTransport({ baseUrl: location.origin, useBinaryFormat: true });
  return createClient(service, transport);
}

async function session() {
  const response = await fetch('/auth/session');
  return response.ok ? response.json() : { signed_in: false };
}

function formatDate(ts) {
  if (!ts) return '';
  const ms = Number(ts.seconds) * 1000;
  return new Date(ms).toLocaleDateString(lang() === 'en' ? 'en-GB' : 'uk-UA', { timeZone: 'Europe/Kyiv' });
}

function progress(p) {
  const pct = p.signatureThreshold ? Math.min(100, (100 * p.signatureCount) / p.signatureThreshold) : 0;
  return el('div', { class: 'progress', role: 'img', 'aria-label': t('signatures')(p.signatureCount, p.signatureThreshold) },
    el('span', { style: undefined, 'data-width': pct.toFixed(0) }));
}

/** Widths from data attributes (the policy allows no inline styles). */
function applyWidths(root) {
  for (const bar of root.querySelectorAll('[data-width]')) bar.style.width = `${bar.dataset.width}%`;
}

function show(...children) {
  main.replaceChildren(...children);
  applyWidths(main);
  main.setAttribute('aria-busy', 'false');
}

/** Petitions shown per page of the list. */
const LIST_PAGE = 50;

async function listView(client, isCurrent) {
  const list = el('ul', { class: 'petitions' });
  const more = el('button', { type: 'button', id: 'more' }, t('more'));
  // Only petitions past moderation are listed: one in moderation, rejected or erased shows
  // nothing a resident can read or sign, and many of them must not push the others off.
  const load = async (pageToken) => {
    const page = await client.listPetitions({ pageSize: LIST_PAGE, pageToken }, { timeoutMs: CALL_TIMEOUT_MS });
    if (!isCurrent()) return;
    for (const p of page.petitions.filter((x) => x.textPublic)) {
      list.append(el('li', {},
        el('h2', {}, el('a', { href: `#/petition/${p.petitionId}` }, p.title || '—')),
        el('p', { class: 'meta' }, `${t('status')[p.status] ?? '—'} · ${t('signatures')(p.signatureCount, p.signatureThreshold)}`),
        progress(p)));
    }
    applyWidths(list);
    more.hidden = !page.nextPageToken;
    more.onclick = () => load(page.nextPageToken);
    return page;
  };
  await load('');
  if (!isCurrent()) return;
  const none = list.childElementCount ? [] : [el('p', {}, t('none'))];
  show(el('h1', {}, t('title')), list, ...none, more);
}

async function petitionView(client, id, who, notice, isCurrent = () => true) {
  let p;
  try {
    p = await client.getPetition({ petitionId: id }, { timeoutMs: CALL_TIMEOUT_MS });
    if (!isCurrent()) return;
  } catch (e) {
    if (!isCurrent()) return;
    show(el('p', { class: 'error' }, t('notFound')), el('p', {}, el('a', { href: '#/' }, t('back'))));
    return;
  }
  const outcome = el('div', { 'aria-live': 'polite', id: 'outcome' });
  const parts = [
    el('p', {}, el('a', { href: '#/' }, t('back'))),
    el('h1', {}, p.title || '—'),
    el('p', { class: 'meta' }, `${t('category')}: ${p.category} · ${t('status')[p.status] ?? '—'}`),
    el('p', { class: 'meta' }, t('signatures')(p.signatureCount, p.signatureThreshold),
      p.collectionClosesAt ? ` · ${t('closes')(formatDate(p.collectionClosesAt))}` : ''),
    progress(p),
    el('p', {}, p.text),
  ];
  if (p.answerResponse) parts.push(el('h2', {}, t('answer')), el('p', {}, p.answerResponse));
  if (notice) outcome.append(notice);
  if (p.status === 3 && !notice) {
    if (p.signedByCaller) {
      parts.push(el('p', { class: 'notice', id: 'already' }, t('alreadySigned')));
    } else if (who.signed_in && who.resident) {
      const button = el('button', { type: 'button', id: 'sign' }, t('sign'));
      button.addEventListener('click', async () => {
        button.disabled = true;
        button.textContent = t('signing');
        try {
          const result = await client.signPetition(
            { requestId: uuidv7(), petitionId: id, signerSubject: '' }, { timeoutMs: CALL_TIMEOUT_MS });
          // Shown again with the count as the node now has it, and what was recorded.
          await petitionView(client, id, { ...who, signedSeq: String(result.firstSeq) },
            el('p', { class: 'notice', id: 'signed' }, t('signed')(String(result.firstSeq))));
          main.focus();
        } catch (e) {
          const why = e instanceof ConnectError ? e.rawMessage : String(e);
          outcome.replaceChildren(el('p', { class: 'error' }, t('failed')(why)));
          button.disabled = false;
          button.textContent = t('sign');
        }
      });
      parts.push(button);
    } else {
      const next = `/${location.search}#/petition/${id}`;
      parts.push(el('a', { class: 'button', href: `/auth/sign-in?next=${encodeURIComponent(next)}` }, t('signIn')));
    }
  }
  parts.push(outcome);
  show(...parts);
}

function header(who) {
  const box = document.getElementById('who');
  if (who.signed_in) {
    const form = el('form', { method: 'post', action: '/auth/sign-out' }, el('button', { type: 'submit' }, t('signOut')));
    box.replaceChildren(el('span', {}, `${t('signedInAs')} `), form);
  } else {
    box.replaceChildren();
  }
  const other = lang() === 'en' ? 'uk' : 'en';
  const switcher = document.getElementById('lang');
  switcher.textContent = other === 'en' ? 'English' : 'Українська';
  switcher.setAttribute('lang', other);
  switcher.href = `?lang=${other}${location.hash}`;
  document.documentElement.lang = lang();
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  document.title = t('title');
}

/** The navigation in progress: a reply to an earlier one is dropped. */
let navigation = 0;

async function route(client, who) {
  navigation += 1;
  const mine = navigation;
  const isCurrent = () => mine === navigation;
  main.setAttribute('aria-busy', 'true');
  const match = /^#\/petition\/([0-9a-f-]{36})$/.exec(location.hash);
  try {
    if (match) await petitionView(client, match[1], who, undefined, isCurrent);
    else await listView(client, isCurrent);
  } catch (e) {
    show(el('p', { class: 'error' }, t('failed')(e instanceof ConnectError ? e.rawMessage : String(e))));
  }
  main.focus();
}

async function start() {
  const [client, who] = await Promise.all([connect(), session()]);
  header(who);
  window.addEventListener('hashchange', () => route(client, who));
  await route(client, who);
}

start().catch((e) => show(el('p', { class: 'error' }, t('failed')(String(e)))));
