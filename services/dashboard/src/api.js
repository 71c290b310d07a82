// The association's national and federation APIs, as the dashboard reads them: messages are
// encoded and decoded by protobuf.js (this project's own, eval-free) from the JSON descriptor
// the build generated from the .proto files, and sent over gRPC-Web (grpc-web.js) to the
// page's own origin. Decoded messages are plain objects with camelCase fields, 64-bit counts
// as numbers, enums as their names and bytes as lowercase hex.

import { call, unary } from './grpc-web.js';
import { Schema } from './protobuf.js';

const NATIONAL = 'vidkryto.national.v1.NationalService';
const FEDERATION = 'vidkryto.federation.v1.FederationService';
/** Hromadas per ListMunicipalities page (the API's maximum). */
const MUNICIPALITY_PAGE = 500;
/** Nodes per ListNodes page (the API's maximum). */
const NODE_PAGE = 2000;
/** Pages followed at most: 1,470 hromadas are 3 pages; anything past this is a server bug. */
const PAGES_MAX = 20;

export class Api {
  /** @param schema the APIs' types (protobuf.js `Schema`) */
  constructor(schema) {
    this.schema = schema;
  }

  static async load(descriptorUrl) {
    const response = await fetch(descriptorUrl);
    if (!response.ok) throw new Error(`failed to load ${descriptorUrl}: HTTP ${response.status}`);
    return new Api(new Schema(await response.json()));
  }

  method(service, name) {
    return this.schema.method(service, name);
  }

  encode(method, request) {
    const type = method.requestType;
    const problem = type.verify(request);
    if (problem) throw new Error(`bad ${type.name}: ${problem}`);
    return type.encode(request);
  }

  decode(method, bytes) {
    return method.responseType.decode(bytes);
  }

  async unary(service, name, request = {}, options = {}) {
    const method = this.method(service, name);
    const bytes = await unary(`/${service}/${name}`, this.encode(method, request), options);
    return this.decode(method, bytes);
  }

  /** A server stream: `onMessage` gets each decoded message; resolves when it ends cleanly. */
  stream(service, name, request, onMessage, { signal } = {}) {
    const method = this.method(service, name);
    return call(`/${service}/${name}`, this.encode(method, request), {
      signal,
      onMessage: (bytes) => onMessage(this.decode(method, bytes)),
    });
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

  /** Every action-plan milestone of a hromada, soonest due first. */
  milestones(code) {
    return this.allPages(NATIONAL, 'ListMilestones', { code, pageSize: 1000 }, 'milestones');
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
