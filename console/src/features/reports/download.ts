/** Saving a file the API answered (a report as CSV or XLSX) under the name the server gives it. */

/** The file name of a Content-Disposition header (RFC 6266), or `fallback`. */
export function fileName(disposition: string | null, fallback: string): string {
  if (!disposition) return fallback;
  let name: string | undefined;
  const encoded = /filename\*\s*=\s*utf-8''([^;]+)/i.exec(disposition);
  if (encoded) {
    try {
      name = decodeURIComponent(encoded[1].trim());
    } catch {
      name = undefined;
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(disposition);
    name = plain?.[1]?.replace(/\\(.)/g, "$1") ?? plain?.[2];
  }
  // A name, never a path.
  return name ? name.replace(/[/\\]/g, "_") : fallback;
}

/** Hands `blob` to the browser's downloads, as clicking a link to it would. */
export function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has taken the blob by then; until revoked it holds memory.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
