/**
 * The interface text, in one catalogue: `i18n/en/<feature>.ts` each export `text`, a map of
 * dotted keys to English; a translation adds a folder beside `en` with the same keys.
 * `{name}` placeholders are filled from `vars`.
 */
type Catalogue = Record<string, string>;

const parts = import.meta.glob<{ text: Catalogue }>("./en/*.ts", { eager: true });
const english: Catalogue = Object.assign({}, ...Object.values(parts).map((p) => p.text));

export function t(key: string, vars?: Record<string, string | number>): string {
  const text = english[key];
  if (text === undefined) {
    if (import.meta.env.DEV) console.warn(`missing text: ${key}`);
    return key;
  }
  return vars ? text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : text;
}
