// The association's national and federation APIs, as the dashboard reads them, through the
// shared client (rpc.js: @bufbuild/protobuf codecs built from the association's own descriptor
// set, @connectrpc/connect-web over gRPC-Web to the page's own origin). Replies reach the views
// as plain objects (`plain`): camelCase fields, 64-bit counts as numbers, enums as their names
// and bytes as lowercase hex.

import { CALL_TIMEOUT_MS, loadRegistry, plain, service, serviceClient } from './rpc.js';

const NATIONAL = 'vidkryto.national.v1.NationalService';
const FEDERATION = 'vidkryto.federation.v1.FederationService';
const AUDIT = 'vidkryto.audit.v1.AuditService';
/** Hromadas per ListMunicipalities page (the API's maximum). */
const MUNICIPALITY_PAGE = 500;
/** Nodes per ListNodes page (the API's maximum). */
const NODE_PAGE = 2000;
/** Pages followed at most: 1,470 hromadas are 3 pages; anything past this is a server bug. */
const PAGES_MAX = 20;

export class Api {
  /** @param registry the API's types (a @bufbuild/protobuf registry) */
  constructor(registry) {
    this.services = new Map([NATIONAL, FEDERATION].map((name) => [name, {
      desc: service(registry, name),
      client: serviceClient(registry, name),
    }]));
    /** The audit API's own client (its messages as they are): receipts are checked with it. */
    this.audit = serviceClient(registry, AUDIT);
  }

  static async load(descriptorUrl) {
    return new Api(await loadRegistry(descriptorUrl));
  }

  /** The method `name` of `serviceName` and the client that calls it. */
  method(serviceName, name) {
    const found = this.services.get(serviceName);
    const method = found?.desc.methods.find((m) => m.name === name);
    if (!method) throw new Error(`the API has no ${serviceName}/${name}`);
    return { method, call: found.client[method.localName] };
  }

  async unary(serviceName, name, request = {}, { timeoutMs = CALL_TIMEOUT_MS, signal } = {}) {
    const { method, call } = this.method(serviceName, name);
    return plain(method.output, await call(request, { timeoutMs, signal }));
  }

  /** A server stream: `onMessage` gets each message; resolves when it ends cleanly. */
  async stream(serviceName, name, request, onMessage, { signal } = {}) {
    const { method, call } = this.method(serviceName, name);
    for await (const message of call(request, { signal })) onMessage(plain(method.output, message));
  }

  // The national projections.

  summary() {
    return this.unary(NATIONAL, 'GetNationalSummary');
  }

  async oblasts() {
    return (await this.unary(NATIONAL, 'ListOblasts')).oblasts;
  }

  /** The `field` lists of every page of an AIP-158 list method, in order. */
  async allPages(service, name, request, field) {
    const all = [];
    let pageToken = '';
    for (let page = 0; page < PAGES_MAX; page += 1) {
      const answer = await this.unary(service, name, { ...request, pageToken });
      all.push(...answer[field]);
      pageToken = answer.nextPageToken;
      if (!pageToken) return all;
    }
    throw new Error(`${name} did not end within ${PAGES_MAX} pages`);
  }

  /** Every hromada matching the filters. */
  municipalities({ oblast = '', enrolledOnly = false, orderBy = '' } = {}) {
    return this.allPages(NATIONAL, 'ListMunicipalities', {
      pageSize: MUNICIPALITY_PAGE, oblast, enrolledOnly, orderBy,
    }, 'municipalities');
  }

  municipality(code) {
    return this.unary(NATIONAL, 'GetMunicipality', { code });
  }

  async timeSeries(area, weeks) {
    return (await this.unary(NATIONAL, 'GetTimeSeries', { area, weeks })).weeks;
  }

  leaderboard({ metric, limit, oblast = '', ascending = false }) {
    return this.unary(NATIONAL, 'GetLeaderboard', { metric, limit, oblast, ascending });
  }

  /**
   * Independent assessments of an area (empty for the nation, an oblast or a hromada's
   * code): the newest page and the area's independent figures.
   */
  assessments(area = '', pageSize = 100) {
    return this.unary(NATIONAL, 'ListAssessments', { area, pageSize });
  }

  /** Every action-plan milestone of a hromada, soonest due first. */
  milestones(code) {
    return this.allPages(NATIONAL, 'ListMilestones', { code, pageSize: 1000 }, 'milestones');
  }

  /** One page of the practice catalogue (SearchPractices). */
  practices(request) {
    return this.unary(NATIONAL, 'SearchPractices', request);
  }

  answerDays(area = '') {
    return this.unary(NATIONAL, 'GetAnswerDays', { area });
  }

  /** The live updates: one message per committed batch, the first with the current state. */
  watchUpdates(onUpdate, options) {
    return this.stream(NATIONAL, 'WatchUpdates', {}, onUpdate, options);
  }

  // Federation health.

  /** Every enrolled node. */
  nodes() {
    return this.allPages(FEDERATION, 'ListNodes', { pageSize: NODE_PAGE }, 'nodes');
  }

  node(code) {
    return this.unary(FEDERATION, 'GetNode', { code });
  }

  /** The newest quarantine records, at most `pageSize`. */
  async quarantine(pageSize, code = '') {
    return (await this.unary(FEDERATION, 'ListQuarantine', { pageSize, code })).records;
  }

  async forks(code = '') {
    return (await this.unary(FEDERATION, 'ListForks', { code })).forks;
  }
}
