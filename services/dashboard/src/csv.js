// CSV export: RFC 4180 (comma-separated, CRLF line ends, fields with a comma, quote or line
// break enclosed in double quotes, quotes doubled), UTF-8 with a byte-order mark so that
// spreadsheet programs show Cyrillic names correctly.

const BOM = '\uFEFF';

/**
 * One field, quoted when it must be. Text that a spreadsheet would take for a formula (a
 * leading `=`, `+`, `-`, `@`, tab or carriage return: titles and summaries come from hromadas
 * and monitors) gets a leading apostrophe; numbers stay numbers.
 */
export function csvField(value) {
  let text = value == null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text) && !/^[-+]?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The whole file's text: a header row, then one row per record. */
export function toCsv(header, rows) {
  const lines = [header, ...rows].map((row) => row.map(csvField).join(','));
  return `${BOM}${lines.join('\r\n')}\r\n`;
}

/** Makes the browser save `text` as `filename`. */
export function download(filename, text) {
  const blob = new Blob([text], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the object URL is no longer needed after it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
