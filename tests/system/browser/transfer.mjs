// Bytes a page's first view costs over the network: every response's headers and body as
// sent (compressed when the server compressed it), as Chromium counts them. Long-lived
// streams (the dashboard's live updates) are left out: they never finish.

/** How long one response's sizes may take to be known. */
const SIZES_TIMEOUT_MS = 10_000;

/** Starts counting `page`'s responses; the function returned stops and sums them. */
export function countTransfers(page) {
  const responses = [];
  const onResponse = (response) => responses.push(response);
  page.on('response', onResponse);
  return async () => {
    page.off('response', onResponse);
    let total = 0;
    const largest = [];
    for (const response of responses) {
      if (response.url().includes('WatchUpdates')) continue;
      const sizes = await Promise.race([
        response.request().sizes(),
        new Promise((resolve) => { setTimeout(() => resolve(null), SIZES_TIMEOUT_MS); }),
      ]).catch(() => null);
      if (!sizes) continue;
      const bytes = sizes.responseHeadersSize + sizes.responseBodySize;
      total += bytes;
      largest.push([bytes, new URL(response.url()).pathname.split('/').pop(), response.headers()['content-encoding'] ?? 'identity']);
    }
    largest.sort((a, b) => b[0] - a[0]);
    return { bytes: total, responses: responses.length, largest: largest.slice(0, 4).map((l) => l.join(' ')) };
  };
}
